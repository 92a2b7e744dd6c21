"""Everything a run builds before its first step: the two networks (seeded, in the run's memory layout), their
DistributedDataParallel wrappers under torchrun and their optimizers."""

from __future__ import annotations

import torch
from torch import nn

import spec
from impl.networks.build import SpecNet, build_spec
from impl.training.fastpath import optimizer_options
from spec.experiment import ExperimentSpec


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
                # torch leaves convert_sync_batchnorm unannotated
                setattr(net, name, nn.SyncBatchNorm.convert_sync_batchnorm(child))  # type: ignore[no-untyped-call]
            net.rebind()
    ids = [device.index] if device.type == "cuda" else None
    return DDP(g, device_ids=ids), DDP(d, device_ids=ids)


def make_optimizers(exp: ExperimentSpec, g: nn.Module, d: nn.Module, device: torch.device, fast: bool,
                    graphs: bool, bf16: bool = False) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer]:
    """The documented optimizer for each network, with the fast path's implementation options (same arithmetic)."""
    name = exp.optimizer["name"].value
    kwargs = exp.optimizer_kwargs() | optimizer_options(name, device, fast, graphs, bf16)
    return getattr(torch.optim, name)(g.parameters(), **kwargs), getattr(torch.optim, name)(d.parameters(), **kwargs)
