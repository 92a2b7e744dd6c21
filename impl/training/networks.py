"""Everything a run builds before its first step: the two networks (seeded, in the run's memory layout), their
DistributedDataParallel wrappers under torchrun, their optimizers, and torch.compile of their training calls."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import torch
from torch import nn

import spec
from impl.errors import first_line
from impl.networks.build import SpecNet, build_spec
from impl.training.fastpath import optimizer_options, rehearsal
from spec.experiment import ExperimentSpec

if TYPE_CHECKING:
    from impl.training.trainer import Trainer


def build_networks(exp: ExperimentSpec, seed: int, device: torch.device,
                   channels_last: bool = False) -> tuple[SpecNet, SpecNet]:
    """(G, D) of an experiment, initialised from `seed` (which also starts the global noise stream), on `device`."""
    reg = spec.registry()
    torch.manual_seed(seed)  # initial weights and, after this, the noise stream (the same on every process)
    g = build_spec(reg.networks[exp.generator.value]).to(device)
    d = build_spec(reg.networks[exp.discriminator.value]).to(device)
    if channels_last:
        g.to(memory_format=torch.channels_last)
        d.to(memory_format=torch.channels_last)
    return g, d


def distribute(g: SpecNet, d: SpecNet, sync_bn: bool, device: torch.device) -> tuple[nn.Module, nn.Module]:
    """DistributedDataParallel wrappers; the trainer keeps the plain networks for state and sampling."""
    from torch.nn.parallel import DistributedDataParallel as DDP

    if sync_bn:
        for net in (g, d):
            for name, child in list(net.named_children()):
                setattr(net, name, nn.SyncBatchNorm.convert_sync_batchnorm(child))
            net.rebind()
    ids = [device.index] if device.type == "cuda" else None
    return DDP(g, device_ids=ids), DDP(d, device_ids=ids)


def make_optimizers(exp: ExperimentSpec, g: nn.Module, d: nn.Module, device: torch.device, fast: bool,
                    graphs: bool) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer]:
    """The documented optimizer for each network, with the fast path's implementation options (same arithmetic)."""
    name = exp.optimizer["name"].value
    kwargs = exp.optimizer_kwargs() | optimizer_options(name, device, fast, graphs)
    return getattr(torch.optim, name)(g.parameters(), **kwargs), getattr(torch.optim, name)(d.parameters(), **kwargs)


def compile_calls(trainer: Trainer) -> bool:
    """torch.compile the trainer's network calls, so that BatchNorm, activations and elementwise work can fuse into
    fewer kernels. Compiled now, in one rehearsed step that leaves no trace; if torch.compile cannot handle these
    networks (a stride assertion in convolution_backward was seen with channels_last), the trainer keeps its plain
    calls after one warning and False is returned. A critic with a gradient penalty stays uncompiled: the penalty
    differentiates twice, which compiled graphs do not support."""
    plain = trainer.g_call, trainer.d_call
    trainer.g_call = torch.compile(trainer.g_call)
    if not trainer.family.penalty:
        trainer.d_call = torch.compile(trainer.d_call)
    try:
        with rehearsal([trainer.G, trainer.D], [trainer.opt_g, trainer.opt_d], [trainer.g_loss_now]):
            trainer.trial_step()
    except torch.OutOfMemoryError:
        raise
    except Exception as exc:
        print(f"warning: torch.compile failed ({first_line(exc)}); training uncompiled", file=sys.stderr)
        trainer.g_call, trainer.d_call = plain
        return False
    return True
