"""One training loop for every loss family.

A step consumes one batch and updates the discriminator (critic) once; the generator is updated on every
n_critic-th step (n_critic = 1 for BCE, LSGAN and hinge). So report 001's "40,050 steps, generator every 5 steps"
is 40,050 critic steps and 8,010 generator steps. Weight clipping follows each critic update.

Nothing here reads a tensor back to the host: per-step statistics stay on the device and the caller reads
them every `log_every` steps, so a GPU never waits on Python.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

import spec
from impl.build import SpecNet, build_spec
from impl.data import DataError, to_unit
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
        opt_cls = getattr(torch.optim, exp.optimizer["name"].value)
        self.opt_g = opt_cls(self.G.parameters(), **exp.optimizer_kwargs())
        self.opt_d = opt_cls(self.D.parameters(), **exp.optimizer_kwargs())
        gen = torch.Generator().manual_seed(settings.seed + 1)
        self.fixed_noise = torch.randn(exp.samples.value, *self.G.spec.input, generator=gen).to(self.device)
        self.step = 0
        self._step_t = torch.tensor(0, device=self.device)  # the step on the device: no host copy per step
        self.first_bad_step = torch.tensor(-1, device=self.device)
        self._last_g = {"g_loss": torch.zeros((), device=self.device)}
        self._perm_epoch, self._perm = -1, torch.empty(0)

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
    def _batch(self, step: int) -> torch.Tensor:
        epoch, index = divmod(step, self.steps_per_epoch)
        if epoch != self._perm_epoch:  # one shuffle per epoch, from (seed, epoch): resumable without saved state
            gen = torch.Generator().manual_seed(self.settings.seed * 1_000_003 + epoch)
            self._perm, self._perm_epoch = torch.randperm(len(self.images), generator=gen).to(self.device), epoch
        b, mine = self.settings.batch_size, self.local_batch * self.rank
        batch = self._perm[index * b:(index + 1) * b][mine:mine + self.local_batch]  # this process's share
        real = to_unit(self.images[batch])
        return real.contiguous(memory_format=torch.channels_last) if self.settings.channels_last else real

    def autocast(self) -> torch.autocast:
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.settings.precision == "bf16")

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
    def train_step(self) -> dict[str, torch.Tensor]:
        """One batch: a discriminator update, and a generator update on every n_critic-th step."""
        real = self._batch(self.step)
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
        stats = {"d_loss": d_loss.detach(), "d_real": self._mean_output(real_score.detach()),
                 "d_fake": self._mean_output(fake_score.detach())}
        if (self.step + 1) % self.n_critic == 0:
            with self.autocast():
                g_loss = self.g_loss_fn(self._score(self.g_call(self.noise())).float())
            self.opt_g.zero_grad(set_to_none=True)
            g_loss.backward()
            self.opt_g.step()
            self._last_g = {"g_loss": g_loss.detach()}
        stats.update(self._last_g)
        finite = torch.isfinite(stats["d_loss"]) & torch.isfinite(stats["g_loss"])
        self.first_bad_step = torch.where(~finite & (self.first_bad_step < 0), self._step_t, self.first_bad_step)
        self._step_t += 1
        self.step += 1
        return stats

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
                "last_g_loss": self._last_g["g_loss"].cpu()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.G.load_state_dict(state["G"])
        self.D.load_state_dict(state["D"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.step = int(state["step"])
        self._step_t.fill_(self.step)
        self.fixed_noise = state["fixed_noise"].to(self.device)
        self._last_g = {"g_loss": state["last_g_loss"].to(self.device)}
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
