"""The peer gan-spec's CPU path is timed against: a plain eager PyTorch training loop of the same two networks.

Written the way the reports' code and pytorch/examples' `dcgan/main.py` are written, with nothing of gan-spec's
machinery (no blocks, no device-side statistics, no autocast): per step `D.zero_grad()`, the discriminator on a
real batch and on `G(z).detach()`, `backward()` on each, `optD.step()`; then, on every n_critic-th step,
`G.zero_grad()`, the discriminator on the same fake batch, `backward()`, `optG.step()` (main.py reuses its fake
batch for the generator step; gan-spec draws fresh noise, one generator forward more per step: `flops` counts
each loop's own work). BCE is `nn.BCELoss` on the Sigmoid output as main.py has it; the other loss families are
their textbook expressions, with the critic clipped after its step (WGAN) or a gradient penalty (WGAN-GP).

The real batches are slices of a float tensor already in [-1, 1], in a shuffled order: a DataLoader at its best.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

import spec
from impl.networks.build import SpecNet, build_spec
from spec.experiment import ExperimentSpec


def _gradient_penalty(d: nn.Module, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    alpha = torch.rand(real.shape[0], *([1] * (real.dim() - 1)))
    mixed = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(d(mixed).sum(), mixed, create_graph=True)
    return (grad.flatten(1).norm(dim=1) - 1).square().mean()


class PlainLoop:
    """One experiment's networks and documented optimizers, trained by `step()` as a plain script would."""

    def __init__(self, exp: ExperimentSpec, real: torch.Tensor, batch: int, seed: int = 0) -> None:
        reg = spec.registry()
        torch.manual_seed(seed)
        self.G: SpecNet = build_spec(reg.networks[exp.generator.value])
        self.D: SpecNet = build_spec(reg.networks[exp.discriminator.value])
        name, kwargs = exp.optimizer["name"].value, exp.optimizer_kwargs()
        self.opt_g = getattr(torch.optim, name)(self.G.parameters(), **kwargs)
        self.opt_d = getattr(torch.optim, name)(self.D.parameters(), **kwargs)
        self.loss, self.batch = exp.loss.value, batch
        self.n_critic = exp.n_critic.value if exp.n_critic else 1
        self.clip = exp.clip_value.value if self.loss == "wgan" else None
        self.gp = exp.gp_weight.value if self.loss == "wgan-gp" else None
        self.real = real
        self.order = torch.randperm(len(real))
        self.steps = 0
        # main.py's BCELoss on the Sigmoid output; a discriminator without a final Sigmoid (report 004's MLP) gives
        # logits, and its script would use BCEWithLogitsLoss
        self.criterion = nn.BCELoss() if self.D.ends_with_sigmoid else nn.BCEWithLogitsLoss()

    def _batch(self) -> torch.Tensor:
        start = (self.steps * self.batch) % (len(self.real) - self.batch + 1)
        return self.real[self.order[start:start + self.batch]]

    def _d_terms(self) -> tuple[Callable[[torch.Tensor], torch.Tensor], Callable[[torch.Tensor], torch.Tensor]]:
        """(loss on the real outputs, loss on the fake outputs) of the discriminator, as the scripts write them."""
        if self.loss == "bce":
            return (lambda out: self.criterion(out, torch.ones_like(out)),
                    lambda out: self.criterion(out, torch.zeros_like(out)))
        if self.loss == "lsgan":
            return lambda out: 0.5 * (out - 1).square().mean(), lambda out: 0.5 * out.square().mean()
        if self.loss == "hinge":
            return lambda out: torch.relu(1 - out).mean(), lambda out: torch.relu(1 + out).mean()
        return lambda out: -out.mean(), lambda out: out.mean()  # wgan, wgan-gp

    def _g_term(self, out: torch.Tensor) -> torch.Tensor:
        if self.loss == "bce":
            return self.criterion(out, torch.ones_like(out))
        if self.loss == "lsgan":
            return 0.5 * (out - 1).square().mean()
        return -out.mean()

    def step(self) -> float:
        """One batch: a discriminator step, and a generator step on every n_critic-th; returns the D loss read back
        with `.item()`, as the scripts print it."""
        real = self._batch()
        real_term, fake_term = self._d_terms()
        self.D.zero_grad()
        err_real = real_term(self.D(real).view(-1))
        err_real.backward()
        noise = torch.randn(self.batch, *self.G.spec.input)
        g_step = (self.steps + 1) % self.n_critic == 0
        with torch.set_grad_enabled(g_step):  # a critic-only step needs no graph of G (WassersteinGAN's main.py)
            fake = self.G(noise)
        err_fake = fake_term(self.D(fake.detach()).view(-1))
        if self.gp:
            err_fake = err_fake + self.gp * _gradient_penalty(self.D, real, fake.detach())
        err_fake.backward()
        self.opt_d.step()
        if self.clip is not None:
            for p in self.D.parameters():
                p.data.clamp_(-self.clip, self.clip)
        self.steps += 1
        if g_step:
            self.G.zero_grad()
            err_g = self._g_term(self.D(fake).view(-1))
            err_g.backward()
            self.opt_g.step()
        return (err_real + err_fake).item()
