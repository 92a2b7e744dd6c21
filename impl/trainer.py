"""One training loop for every loss family.

A step consumes one batch and updates the discriminator (critic) once; the generator is updated on every
n_critic-th step (n_critic = 1 for BCE, LSGAN and hinge). So report 001's "40,050 steps, generator every 5 steps"
is 40,050 critic steps and 8,010 generator steps. Weight clipping follows each critic update.

Nothing here reads a tensor back to the host: per-step statistics accumulate on the device and the caller
reads them every `log_every` steps, so a GPU never waits on Python. Every piece of state a step changes is
changed in place, so that a block of steps can be captured as a CUDA graph (impl/fastpath.py) and replayed.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

import spec
from impl.build import SpecNet, build_spec
from impl.data import DataError, to_unit
from impl.fastpath import Block, first_line, optimizer_options, rehearsal
from impl.losses import FAMILIES, clip_weights, gradient_penalty
from spec.experiment import ExperimentSpec

STATS = ("d_loss", "g_loss", "d_real", "d_fake")


@dataclass
class Settings:
    """A run's resolved settings: the spec's values with the command line's overrides applied."""

    experiment: str
    batch_size: int
    epochs: int
    max_steps: int | None  # stop after this many steps (batches) in total, if set
    seed: int
    device: str
    log_every: int = 50
    precision: str = "fp32"  # "bf16": forward passes under bfloat16 autocast (weights and optimizers stay fp32)
    channels_last: bool = False  # NHWC memory layout for the conv networks (faster convolutions on GPUs)
    graph: bool = False  # train in blocks of n_critic steps, each replayed as one CUDA graph on a GPU
    compile: bool = False  # torch.compile the networks' training calls (fewer, fused kernels; slow first steps)


def network_signature(net: SpecNet) -> dict[str, str]:
    """Module path -> 'Type(args)' plus the forward order: what a checkpoint's weights depend on."""
    sig = {m.path: f"{m.type}({json.dumps(m.args, sort_keys=True)})" for m in net.spec.modules}
    sig["<forward>"] = " ".join(s.label for s in net.spec.forward)
    return sig


class Trainer:
    def __init__(self, exp: ExperimentSpec, images: torch.Tensor, settings: Settings, rank: int = 0,
                 world_size: int = 1, sync_bn: bool = False) -> None:
        self.exp, self.settings, self.rank, self.world_size = exp, settings, rank, world_size
        self.device = torch.device(settings.device)
        reg = spec.registry()
        torch.manual_seed(settings.seed)  # initial weights and, after this, the noise stream (same on every rank)
        self.G = build_spec(reg.networks[exp.generator.value]).to(self.device)
        self.D = build_spec(reg.networks[exp.discriminator.value]).to(self.device)
        if settings.channels_last:
            self.G.to(memory_format=torch.channels_last)
            self.D.to(memory_format=torch.channels_last)
        if settings.batch_size % world_size:
            raise DataError(f"batch size {settings.batch_size} does not split over {world_size} processes; "
                            "pass a --batch-size divisible by the number of processes")
        self.g_call, self.d_call = self._distribute(sync_bn) if world_size > 1 else (self.G, self.D)
        self.local_batch = settings.batch_size // world_size
        self.images = images.to(self.device)
        self.steps_per_epoch = len(images) // settings.batch_size  # partial last batch dropped: fixed shapes
        if self.steps_per_epoch == 0:
            raise DataError(f"batch size {settings.batch_size} is larger than the data set ({len(images)} images); "
                             "pass a smaller --batch-size")
        self.total_steps = settings.epochs * self.steps_per_epoch
        if settings.max_steps is not None:
            self.total_steps = min(self.total_steps, settings.max_steps)
        self.n_critic = exp.n_critic.value if exp.n_critic else 1
        self.clip = exp.clip_value.value if exp.loss.value == "wgan" else None
        self.gp_weight = exp.gp_weight.value if exp.loss.value == "wgan-gp" else None
        self.d_loss_fn, self.g_loss_fn = FAMILIES[exp.loss.value]
        self.reduction = exp.d_loss.value if exp.d_loss else "mean"
        name = exp.optimizer["name"].value
        self.graph = settings.graph and world_size == 1  # DDP's gradient hooks are not captured: eager under DDP
        kwargs = exp.optimizer_kwargs() | optimizer_options(name, self.device, settings.graph, self.graph)
        self.opt_g = getattr(torch.optim, name)(self.G.parameters(), **kwargs)
        self.opt_d = getattr(torch.optim, name)(self.D.parameters(), **kwargs)
        gen = torch.Generator().manual_seed(settings.seed + 1)
        self.fixed_noise = torch.randn(exp.samples.value, *self.G.spec.input, generator=gen).to(self.device)
        self.step = 0
        # Device-side state, always updated in place (a captured graph holds these addresses):
        self._step_t = torch.tensor(0, device=self.device)  # the step on the device: no host copy per step
        self.first_bad_step = torch.tensor(-1, device=self.device)
        self._g_loss = torch.zeros((), device=self.device)  # the latest generator loss
        self._acc = torch.zeros(len(STATS), device=self.device)  # STATS summed since the last read
        self.pending = 0  # steps summed in _acc
        self._perm_epoch, self._perm = -1, torch.empty(0)
        self._block_idx = torch.zeros(self.n_critic * settings.batch_size, dtype=torch.long, device=self.device)
        self._block: Block | None = None  # made on first use, after a resume has loaded its state
        if settings.compile:
            self._compile()

    def _compile(self) -> None:
        """torch.compile the networks' training calls, so that BatchNorm, activations and elementwise work can fuse
        into fewer kernels. Compiled now, in one rehearsed step that leaves no trace; if torch.compile cannot
        handle these networks (a stride assertion in convolution_backward was seen with channels_last), training
        goes on uncompiled after one warning. WGAN-GP's critic stays uncompiled: its gradient penalty
        differentiates twice, which compiled graphs do not support."""
        plain = self.g_call, self.d_call
        self.g_call = torch.compile(self.g_call)
        if self.exp.loss.value != "wgan-gp":
            self.d_call = torch.compile(self.d_call)
        try:
            with rehearsal([self.G, self.D], [self.opt_g, self.opt_d], [self._g_loss]):
                self._critic_update(self._batch(0))
                self._generator_update()
        except torch.OutOfMemoryError:
            raise
        except Exception as exc:
            print(f"warning: torch.compile failed ({first_line(exc)}); training uncompiled", file=sys.stderr)
            self.g_call, self.d_call = plain
            self.settings.compile = False  # what config.json, checkpoints and the speed summary then say

    def _distribute(self, sync_bn: bool) -> tuple[nn.Module, nn.Module]:
        """DistributedDataParallel wrappers; the trainer keeps the plain networks for state and sampling."""
        from torch.nn.parallel import DistributedDataParallel as DDP

        if sync_bn:
            for net in (self.G, self.D):
                for name, child in list(net.named_children()):
                    setattr(net, name, nn.SyncBatchNorm.convert_sync_batchnorm(child))
                net.rebind()
        ids = [self.device.index] if self.device.type == "cuda" else None
        return DDP(self.G, device_ids=ids), DDP(self.D, device_ids=ids)

    def reduce_mean(self, tensor: torch.Tensor) -> torch.Tensor:
        """The mean of a tensor over the processes (itself when there is one)."""
        if self.world_size > 1:
            torch.distributed.all_reduce(tensor)
            tensor /= self.world_size
        return tensor

    # ------------------------------------------------------------------ data
    def _order(self, epoch: int) -> torch.Tensor:
        if epoch != self._perm_epoch:  # one shuffle per epoch, from (seed, epoch): resumable without saved state
            gen = torch.Generator().manual_seed(self.settings.seed * 1_000_003 + epoch)
            self._perm, self._perm_epoch = torch.randperm(len(self.images), generator=gen).to(self.device), epoch
        return self._perm

    def _real(self, indices: torch.Tensor) -> torch.Tensor:
        """This process's share of a global batch of image indices, as floats in [-1, 1]."""
        mine = indices[self.local_batch * self.rank:self.local_batch * (self.rank + 1)]
        real = to_unit(torch.index_select(self.images, 0, mine))
        return real.contiguous(memory_format=torch.channels_last) if self.settings.channels_last else real

    def _batch(self, step: int) -> torch.Tensor:
        epoch, index = divmod(step, self.steps_per_epoch)
        b = self.settings.batch_size
        return self._real(self._order(epoch)[index * b:(index + 1) * b])

    def autocast(self) -> torch.autocast:
        # autocast's cache of cast weights must not outlive a captured graph's region: off under graphs
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.settings.precision == "bf16",
                              cache_enabled=not self.graph)

    def noise(self) -> torch.Tensor:
        """A batch of latent vectors. Every process draws the whole batch and keeps its share, so the processes
        see different noise and together exactly what a single process would."""
        z = torch.randn(self.settings.batch_size, *self.G.spec.input, device=self.device)
        return z[self.local_batch * self.rank:self.local_batch * (self.rank + 1)]

    def _score(self, x: torch.Tensor) -> torch.Tensor:
        # BCE trains on logits (a final Sigmoid is folded into the loss); other losses use the output as is.
        return self.d_call(x, logits=self.exp.loss.value == "bce").reshape(-1)

    def _mean_output(self, score: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(score).mean() if self.exp.loss.value == "bce" else score.mean()

    # ------------------------------------------------------------------ one step
    def _critic_update(self, real: torch.Tensor) -> dict[str, torch.Tensor]:
        with self.autocast():
            fake = self.g_call(self.noise()).detach()
            real_score, fake_score = self._score(real).float(), self._score(fake).float()
            d_loss = self.d_loss_fn(real_score, fake_score, self.reduction)
            if self.gp_weight:
                d_loss = d_loss + self.gp_weight * gradient_penalty(lambda x: self._score(x), real, fake.float())
        self.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        self.opt_d.step()
        if self.clip is not None:
            clip_weights(self.D, self.clip)
        return {"d_loss": d_loss.detach(), "d_real": self._mean_output(real_score.detach()),
                "d_fake": self._mean_output(fake_score.detach())}

    def _generator_update(self) -> None:
        with self.autocast():
            g_loss = self.g_loss_fn(self._score(self.g_call(self.noise())).float())
        self.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        self.opt_g.step()
        self._g_loss.copy_(g_loss.detach())

    def _account(self, stats: dict[str, torch.Tensor]) -> None:
        """Sum the step's statistics and remember the first step whose losses are not finite, on the device."""
        stats["g_loss"] = self._g_loss.clone()
        self._acc += torch.stack([stats[k] for k in STATS])
        finite = torch.isfinite(stats["d_loss"]) & torch.isfinite(stats["g_loss"])
        self.first_bad_step.copy_(torch.where(~finite & (self.first_bad_step < 0), self._step_t, self.first_bad_step))
        self._step_t += 1

    def train_step(self) -> dict[str, torch.Tensor]:
        """One batch: a discriminator update, and a generator update on every n_critic-th step."""
        stats = self._critic_update(self._batch(self.step))
        if (self.step + 1) % self.n_critic == 0:
            self._generator_update()
        self._account(stats)
        self.step += 1
        self.pending += 1
        return stats

    def _block_body(self) -> None:
        """n_critic steps ending in a generator update, on the batches in _block_idx: what the CUDA graph holds."""
        b = self.settings.batch_size
        for k in range(self.n_critic):
            stats = self._critic_update(self._real(self._block_idx[k * b:(k + 1) * b]))
            if k == self.n_critic - 1:
                self._generator_update()
            self._account(stats)

    def advance(self, limit: int) -> int:
        """Train one step, or with graphs on one whole block when it starts at a generator boundary and ends
        inside the epoch and before step `limit`. Returns the number of steps done."""
        n, spe = self.n_critic, self.steps_per_epoch
        epoch, index = divmod(self.step, spe)
        if not self.graph or self.step % n or self.step + n > min(limit, (epoch + 1) * spe):
            self.train_step()
            return 1
        b = self.settings.batch_size
        self._block_idx.copy_(self._order(epoch)[index * b:(index + n) * b])
        if self._block is None:
            self._block = Block(self._block_body, [self.G, self.D], [self.opt_g, self.opt_d],
                                [self._step_t, self.first_bad_step, self._g_loss, self._acc], self.device)
        self._block()
        self.step += n
        self.pending += n
        return n

    @property
    def replaying(self) -> bool:
        """True once its blocks run as a captured CUDA graph (False before the first block, on the CPU, or after
        a failed capture)."""
        return self._block is not None and self._block.captured

    def read_stats(self) -> tuple[torch.Tensor, int]:
        """The mean of each of STATS over the steps since the last read, and their number (still on the device)."""
        means, count = self._acc / max(self.pending, 1), self.pending
        self._acc.zero_()
        self.pending = 0
        return means, count

    def speed_summary(self) -> str:
        """How this trainer runs, in one line: e.g. 'fast path: CUDA graphs, bf16, channels_last, Adam(fused)'."""
        opt = optimizer_options(type(self.opt_d).__name__, self.device, self.settings.graph, self.graph)
        parts = (["CUDA graphs"] if self.graph and self.device.type == "cuda" else []) \
            + (["torch.compile"] if self.settings.compile else []) + [self.settings.precision] \
            + (["channels_last"] if self.settings.channels_last else []) \
            + [f"{type(self.opt_d).__name__}({', '.join(k for k, v in opt.items() if v) or 'default'})"]
        return ("fast path: " if self.settings.graph else "eager: ") + ", ".join(parts)

    @property
    def epoch(self) -> int:
        return self.step // self.steps_per_epoch

    @torch.no_grad()
    def samples(self, noise: torch.Tensor | None = None) -> torch.Tensor:
        was_training = self.G.training
        self.G.eval()  # running batch-norm statistics, as the course baseline samples
        try:
            return self.G(self.fixed_noise if noise is None else noise.to(self.device)).cpu()
        finally:
            self.G.train(was_training)

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        rng = {"cpu": torch.get_rng_state()}
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(self.device)
        return {"experiment": self.exp.name, "settings": asdict(self.settings), "step": self.step,
                "networks": {"G": network_signature(self.G), "D": network_signature(self.D)},
                "G": self.G.state_dict(), "D": self.D.state_dict(), "opt_g": self.opt_g.state_dict(),
                "opt_d": self.opt_d.state_dict(), "rng": rng, "fixed_noise": self.fixed_noise.cpu(),
                "last_g_loss": self._g_loss.cpu()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.G.load_state_dict(state["G"])
        self.D.load_state_dict(state["D"])
        for opt, key in ((self.opt_g, "opt_g"), (self.opt_d, "opt_d")):
            load_optimizer(opt, state[key])
        self._block = None  # a graph captured before would keep updating the replaced optimizer state
        self.step = int(state["step"])
        self._step_t.fill_(self.step)
        self.fixed_noise = state["fixed_noise"].to(self.device)
        self._g_loss.copy_(state["last_g_loss"])
        torch.set_rng_state(state["rng"]["cpu"].cpu())
        if "cuda" in state["rng"] and self.device.type == "cuda":
            torch.cuda.set_rng_state(state["rng"]["cuda"].cpu(), self.device)


def signature_difference(saved: dict[str, dict[str, str]], current: dict[str, dict[str, str]]) -> str:
    """The first difference between two runs' network signatures, in words ('' if none)."""
    for role in ("G", "D"):
        a, b = saved.get(role, {}), current[role]
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                return (f"{role} module {key!r}: checkpoint has {a.get(key, 'nothing')}, "
                        f"spec now has {b.get(key, 'nothing')}")
    return ""


IMPLEMENTATION_FLAGS = ("capturable", "fused", "foreach")


def load_optimizer(opt: torch.optim.Optimizer, saved: dict[str, Any]) -> None:
    """Load an optimizer's state but keep this run's implementation flags: torch's load_state_dict takes the
    checkpoint's (a GPU run's capturable=True would break a resume on the CPU, a CPU run's False a capture
    on the GPU). Step counters go where the flags want them: on the parameter's device when capturable or
    fused, else on the CPU (no host sync to read them)."""
    flags = [{k: g[k] for k in IMPLEMENTATION_FLAGS if k in g} for g in opt.param_groups]
    opt.load_state_dict(saved)
    for group, own in zip(opt.param_groups, flags):
        group.update(own)
        on_device = group.get("capturable") or group.get("fused")
        for p in group["params"]:
            state = opt.state.get(p, {})
            if isinstance(state.get("step"), torch.Tensor):
                state["step"] = state["step"].to(p.device if on_device else "cpu", torch.float32)
