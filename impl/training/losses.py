"""The loss families: what each one means for training, in one record per family.

A `LossFamily` holds its discriminator and generator losses (plain functions of the discriminator's raw outputs)
and the rules that go with it: whether the discriminator's output is a logit (BCE: a final Sigmoid is folded into
the loss, the same function as nn.BCELoss on its output but stable and autocast-safe), whether the critic is
clipped after each update, whether a gradient penalty is added, and how many critic steps a generator step takes
when the spec states none. Every other module asks this record instead of comparing loss names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from spec.recipe import LOSSES


def bce_d(real: torch.Tensor, fake: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """-log D(x) - log(1 - D(G(z))), the two terms averaged ('mean', course baseline) or added ('sum', tutorial)."""
    loss = F.binary_cross_entropy_with_logits(real, torch.ones_like(real)) + \
        F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))
    return loss / 2 if reduction == "mean" else loss


def bce_g(fake: torch.Tensor) -> torch.Tensor:
    """Non-saturating generator loss -log D(G(z)), as the course baseline and the PyTorch tutorial use."""
    return F.binary_cross_entropy_with_logits(fake, torch.ones_like(fake))


def wgan_d(real: torch.Tensor, fake: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Critic loss -mean(D(x)) + mean(D(G(z))) (report 003's loss_D)."""
    return fake.mean() - real.mean()


def wgan_g(fake: torch.Tensor) -> torch.Tensor:
    return -fake.mean()


def lsgan_d(real: torch.Tensor, fake: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Least squares (a=0, b=1): 1/2 E[(D(x) - 1)^2] + 1/2 E[D(G(z))^2]."""
    return 0.5 * ((real - 1).square().mean() + fake.square().mean())


def lsgan_g(fake: torch.Tensor) -> torch.Tensor:
    return 0.5 * (fake - 1).square().mean()


def hinge_d(real: torch.Tensor, fake: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    return F.relu(1 - real).mean() + F.relu(1 + fake).mean()


def hinge_g(fake: torch.Tensor) -> torch.Tensor:
    return -fake.mean()


def gradient_penalty(critic: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor,
                     fake: torch.Tensor) -> torch.Tensor:
    """WGAN-GP: E[(||grad D(x_hat)||_2 - 1)^2] on random interpolates of real and fake images."""
    alpha = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), device=real.device, dtype=real.dtype)
    mixed = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=True)
    penalty: torch.Tensor = (grad.flatten(1).norm(dim=1) - 1).square().mean()
    return penalty


@dataclass(frozen=True)
class LossFamily:
    """One loss family and the training rules that go with it."""

    name: str
    d_loss: Callable[[torch.Tensor, torch.Tensor, str], torch.Tensor]  # (real scores, fake scores, reduction)
    g_loss: Callable[[torch.Tensor], torch.Tensor]  # (fake scores)
    logits: bool = False  # the discriminator's score is a logit: its last Sigmoid is folded into the loss
    clips: bool = False  # the critic's weights are clipped after each update (the spec's clip_value)
    penalty: bool = False  # a gradient penalty is added to the critic loss (the spec's gp_weight)
    n_critic: int = 1  # critic steps per generator step when the spec states none
    critic: bool = False  # the score estimates a Wasserstein distance: D(x) - D(G(z)) is logged

    def mean_output(self, score: torch.Tensor) -> torch.Tensor:
        """The mean discriminator output as the report would see it: a probability for BCE, the score otherwise."""
        return torch.sigmoid(score).mean() if self.logits else score.mean()


def _family(name: str, d_loss: Callable[[torch.Tensor, torch.Tensor, str], torch.Tensor],
            g_loss: Callable[[torch.Tensor], torch.Tensor], logits: bool = False, critic: bool = False) -> LossFamily:
    """A family's record, its training rules taken from spec/recipe.py (the one home of what each family reads)."""
    rules = LOSSES[name]
    return LossFamily(name, d_loss, g_loss, logits=logits, clips="clip_value" in rules.reads,
                      penalty="gp_weight" in rules.reads, n_critic=rules.n_critic, critic=critic)


FAMILIES: dict[str, LossFamily] = {
    "bce": _family("bce", bce_d, bce_g, logits=True),
    "wgan": _family("wgan", wgan_d, wgan_g, critic=True),
    "wgan-gp": _family("wgan-gp", wgan_d, wgan_g, critic=True),
    "lsgan": _family("lsgan", lsgan_d, lsgan_g),
    "hinge": _family("hinge", hinge_d, hinge_g),
}


def clip_weights(model: nn.Module, bound: float) -> None:
    """WGAN weight clipping: every critic parameter into [-bound, bound], in place."""
    with torch.no_grad():
        params: list[torch.Tensor] = [p for p in model.parameters()]
        torch._foreach_clamp_min_(params, -bound)
        torch._foreach_clamp_max_(params, bound)
