"""The training steps of one run, for every loss family, and the state they carry: the step count, the block that
a CUDA graph replays, and the statistics.

A step consumes one batch and updates the discriminator (critic) once; the generator is updated on every
n_critic-th step (n_critic = 1 for BCE, LSGAN and hinge). So report 001's "40,050 steps, generator every 5 steps"
is 40,050 critic steps and 8,010 generator steps. Weight clipping follows each critic update.

Nothing here reads a tensor back to the host: per-step statistics accumulate on the device and the caller
reads them every `log_every` steps, so a GPU never waits on Python. Every piece of state a step changes is
changed in place, so that a block of steps can be captured as a CUDA graph (impl/fastpath.py) and replayed.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import torch
from torch import nn

from impl.core.errors import UsageError, first_line
from impl.runs.checkpoint import load_optimizer, network_signature
from impl.training.batches import Batches
from impl.training.fastpath import Block, rehearsal
from impl.training.losses import FAMILIES, clip_weights, gradient_penalty
from impl.training.pair import build_networks, distribute, make_optimizers
from impl.training.settings import Settings
from spec.experiment import ExperimentSpec

STATS = ("d_loss", "g_loss", "d_real", "d_fake")


def total_steps(settings: Settings, steps_per_epoch: int) -> int:
    """A run's length: --steps alone is the length; epochs alone (the recipe's, or --epochs) give epochs x steps per
    epoch; both: the smaller."""
    limits = [n for n in (settings.max_steps, settings.epochs and settings.epochs * steps_per_epoch) if n]
    return min(limits)


def check_batch_norm(nets: list[nn.Module], local_batch: int, experiment: str) -> None:
    """BatchNorm in training mode needs two or more images per batch on each process; refused before any folder."""
    if local_batch < 2 and any(isinstance(m, nn.modules.batchnorm._BatchNorm) for net in nets for m in net.modules()):
        raise UsageError(f"batch size {local_batch} per process: {experiment}'s networks use BatchNorm, which needs at "
                         "least 2 images per batch; pass a --batch-size of 2 or more")


class Trainer:
    """One run's networks, optimizers and training state, and the steps that advance it.

    `advance()` trains one step, or a whole block of n_critic steps where the fast path can replay it as a CUDA
    graph; `read_stats()` returns the statistics since the last read; `state_dict()`/`load_state_dict()` are
    what a checkpoint holds. Under torchrun each process holds one; only the first writes files."""

    def __init__(self, exp: ExperimentSpec, images: torch.Tensor, settings: Settings, rank: int = 0,
                 world_size: int = 1, sync_bn: bool = False) -> None:
        self.exp, self.settings, self.rank, self.world_size = exp, settings, rank, world_size
        self.device = torch.device(settings.device)
        self.family = FAMILIES[exp.loss.value]
        self.n_critic = exp.n_critic.value if exp.n_critic else self.family.n_critic
        # read_experiment refuses a clipping or penalised family without its clip_value or gp_weight
        assert exp.clip_value is not None or not self.family.clips
        assert exp.gp_weight is not None or not self.family.penalty
        self.clip = exp.clip_value.value if self.family.clips and exp.clip_value is not None else None
        self.gp_weight = exp.gp_weight.value if self.family.penalty and exp.gp_weight is not None else None
        self.reduction = exp.d_loss.value if exp.d_loss else "mean"
        self.G, self.D = build_networks(exp, settings.seed, self.device, settings.channels_last)
        self.batches = Batches(images, settings.batch_size, settings.seed, self.device, rank, world_size,
                               settings.channels_last)
        check_batch_norm([self.G, self.D], self.batches.local, exp.name)
        self.steps_per_epoch = self.batches.steps_per_epoch
        self.total_steps = total_steps(settings, self.steps_per_epoch)
        self.g_call: Callable[..., torch.Tensor]
        self.d_call: Callable[..., torch.Tensor]
        self.g_call, self.d_call = distribute(self.G, self.D, sync_bn, self.device) if world_size > 1 \
            else (self.G, self.D)
        self.graphs = settings.fast and world_size == 1  # DDP's gradient hooks are not captured: eager under DDP
        self.opt_g, self.opt_d = make_optimizers(exp, self.G, self.D, self.device, settings.fast, self.graphs,
                                                 settings.precision == "bf16")
        self.g_params = [p for p in self.G.parameters() if p.requires_grad]
        gen = torch.Generator().manual_seed(settings.seed + 1)
        self.fixed_noise = torch.randn(exp.samples.value, *self.G.spec.input, generator=gen).to(self.device)
        self.step = 0
        # Device-side state, always updated in place (a captured graph holds these addresses):
        self.step_t = torch.tensor(0, device=self.device)  # the step on the device: no host copy per step
        self.first_bad_step = torch.tensor(-1, device=self.device)
        self.g_loss_now = torch.zeros((), device=self.device)  # the latest generator loss
        self.sums = torch.zeros(len(STATS), device=self.device)  # STATS summed since the last read
        self.pending = 0  # steps summed in `sums`
        self._block_idx = torch.zeros(self.n_critic * settings.batch_size, dtype=torch.long, device=self.device)
        self._block: Block | None = None  # made on first use, after a resume has loaded its state
        if settings.compile:  # False when it fell back: config.json says what ran
            self.settings = dataclasses.replace(settings, compile=self._compile())

    def _compile(self) -> bool:
        """torch.compile the network calls, so that BatchNorm, activations and elementwise work can fuse into fewer
        kernels. Compiled now, in one rehearsed step that leaves no trace; if torch.compile cannot handle these
        networks (a stride assertion in convolution_backward was seen with channels_last), the plain calls stay after
        one warning and False is returned. A critic with a gradient penalty stays uncompiled: the penalty
        differentiates twice, which compiled graphs do not support."""
        plain = self.g_call, self.d_call
        self.g_call = torch.compile(self.g_call)
        if not self.family.penalty:
            self.d_call = torch.compile(self.d_call)
        try:
            with rehearsal([self.G, self.D], [self.opt_g, self.opt_d], [self.g_loss_now]):
                self.trial_step()
        except torch.OutOfMemoryError:
            raise
        except Exception as exc:
            print(f"warning: torch.compile failed ({first_line(exc)}); training uncompiled", file=sys.stderr)
            self.g_call, self.d_call = plain
            return False
        return True

    def device_state(self) -> list[torch.Tensor]:
        """The on-device counters and sums a block changes besides the networks and optimizers."""
        return [self.step_t, self.first_bad_step, self.g_loss_now, self.sums]

    # ------------------------------------------------------------------ one step
    def autocast(self) -> torch.autocast:
        # autocast's cache of cast weights must not outlive a captured graph's region: off under graphs
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.settings.precision == "bf16",
                              cache_enabled=not self.graphs)

    def noise(self) -> torch.Tensor:
        """A batch of latent vectors. Every process draws the whole batch and keeps its share, so the processes
        see different noise and together exactly what a single process would."""
        return self.batches.share(torch.randn(self.settings.batch_size, *self.G.spec.input, device=self.device))

    def _score(self, x: torch.Tensor) -> torch.Tensor:
        return self.d_call(x, logits=self.family.logits).reshape(-1)

    def _critic_update(self, real: torch.Tensor) -> dict[str, torch.Tensor]:
        with self.autocast():
            with torch.no_grad():  # the critic's step needs G's output, not its graph: no activations kept
                fake = self.g_call(self.noise())
            real_score, fake_score = self._score(real).float(), self._score(fake).float()
            d_loss = self.family.d_loss(real_score, fake_score, self.reduction)
            if self.gp_weight:
                d_loss = d_loss + self.gp_weight * gradient_penalty(self._score, real, fake.float())
        self.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()  # type: ignore[no-untyped-call]  # torch leaves Tensor.backward unannotated
        self.opt_d.step()
        if self.clip is not None:
            clip_weights(self.D, self.clip)
        return {"d_loss": d_loss.detach(), "d_real": self.family.mean_output(real_score.detach()),
                "d_fake": self.family.mean_output(fake_score.detach())}

    def _generator_update(self) -> None:
        with self.autocast():
            g_loss = self.family.g_loss(self._score(self.g_call(self.noise())).float())
        self.opt_g.zero_grad(set_to_none=True)
        # the generator's gradients only: D's weight gradients would be dropped before D's next update (its
        # zero_grad), so autograd skips them; under DDP every parameter it wraps must receive one
        # torch leaves Tensor.backward unannotated
        g_loss.backward(inputs=self.g_params if self.world_size == 1 else None)  # type: ignore[no-untyped-call]
        self.opt_g.step()
        self.g_loss_now.copy_(g_loss.detach())

    def trial_step(self) -> None:
        """One critic and one generator update on the first batch (for a rehearsal: compiling, warming up)."""
        self._critic_update(self.batches.real(self.batches.indices(0)))
        self._generator_update()

    def _account(self, stats: dict[str, torch.Tensor]) -> None:
        """Sum the step's statistics and remember the first step whose losses are not finite, on the device."""
        stats["g_loss"] = self.g_loss_now.clone()
        self.sums += torch.stack([stats[k] for k in STATS])
        finite = torch.isfinite(stats["d_loss"]) & torch.isfinite(stats["g_loss"])
        self.first_bad_step.copy_(torch.where(~finite & (self.first_bad_step < 0), self.step_t, self.first_bad_step))
        self.step_t += 1

    def train_step(self) -> dict[str, torch.Tensor]:
        """One batch: a discriminator update, and a generator update on every n_critic-th step."""
        stats = self._critic_update(self.batches.real(self.batches.indices(self.step)))
        if (self.step + 1) % self.n_critic == 0:
            self._generator_update()
        self._account(stats)
        self.step += 1
        self.pending += 1
        return stats

    # ------------------------------------------------------------------ blocks
    def block_body(self) -> None:
        """n_critic steps ending in a generator update, on the batches in _block_idx: what the CUDA graph holds."""
        b = self.settings.batch_size
        for k in range(self.n_critic):
            stats = self._critic_update(self.batches.real(self._block_idx[k * b:(k + 1) * b]))
            if k == self.n_critic - 1:
                self._generator_update()
            self._account(stats)

    def advance(self, limit: int) -> int:
        """Train one step, or on the fast path one whole block when it starts at a generator boundary and ends
        inside the epoch and before step `limit`. Returns the number of steps done."""
        n, spe = self.n_critic, self.steps_per_epoch
        if not self.graphs or self.step % n or self.step + n > min(limit, (self.step // spe + 1) * spe):
            self.train_step()
            return 1
        self._block_idx.copy_(self.batches.indices(self.step, n))
        if self._block is None:
            self._block = Block(self.block_body, [self.G, self.D], [self.opt_g, self.opt_d], self.device_state(),
                                self.device)
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
        means, count = self.sums / max(self.pending, 1), self.pending
        self.sums.zero_()
        self.pending = 0
        return means, count

    def reduce_mean(self, tensor: torch.Tensor) -> torch.Tensor:
        """The mean of a tensor over the processes (itself when there is one)."""
        if self.world_size > 1:
            torch.distributed.all_reduce(tensor)
            tensor /= self.world_size
        return tensor

    @property
    def epoch(self) -> int:
        return self.step // self.steps_per_epoch

    @torch.no_grad()
    def samples(self, noise: torch.Tensor | None = None) -> torch.Tensor:
        was_training = self.G.training
        self.G.eval()  # running batch-norm statistics, as the course baseline samples
        try:
            images: torch.Tensor = self.G(self.fixed_noise if noise is None else noise.to(self.device)).cpu()
            return images
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
                "last_g_loss": self.g_loss_now.cpu(),
                # a stop between two logging steps: the interval's sums so far, so that the resumed run logs the
                # row the uninterrupted one does (zero at a logging step)
                "stat_sums": self.sums.cpu().clone(), "stat_steps": self.pending}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.G.load_state_dict(state["G"])
        self.D.load_state_dict(state["D"])
        for opt, key in ((self.opt_g, "opt_g"), (self.opt_d, "opt_d")):
            load_optimizer(opt, state[key])
        self._block = None  # a graph captured before would keep updating the replaced optimizer state
        self.step = int(state["step"])
        self.step_t.fill_(self.step)
        self.fixed_noise = state["fixed_noise"].to(self.device)
        self.g_loss_now.copy_(state["last_g_loss"])
        self.sums.copy_(state.get("stat_sums", torch.zeros(len(STATS))))  # a checkpoint from before they were kept
        self.pending = int(state.get("stat_steps", 0))
        torch.set_rng_state(state["rng"]["cpu"].cpu())
        if "cuda" in state["rng"] and self.device.type == "cuda":
            torch.cuda.set_rng_state(state["rng"]["cuda"].cpu(), self.device)
