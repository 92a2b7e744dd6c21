"""Network spec -> nn.Module, with the module names, nesting and forward order the report documents."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

import spec
from spec.network import ModuleSpec, NetworkSpec, Step

_CLASSES: dict[str, type[SpecNet]] = {}


def _layer(m: ModuleSpec) -> nn.Module:
    args = {k: tuple(v) if isinstance(v, list) else v for k, v in m.args.items()}
    layer: nn.Module = getattr(nn, m.type)(**args)
    if m.spectral_norm:
        layer = nn.utils.parametrizations.spectral_norm(layer)
    return layer


def _op(step: Step) -> Callable[[torch.Tensor], torch.Tensor]:
    if step.op == "reshape":
        shape = tuple(step.args["shape"])
        return lambda x: x.reshape(x.shape[0], *shape)  # reshape, not view: channels_last inputs are not contiguous
    if step.op == "flatten":
        return lambda x: x.flatten(1)
    if step.op == "leaky_relu":
        slope = step.args["negative_slope"]
        return lambda x: F.leaky_relu(x, slope)
    functions: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {"relu": F.relu, "tanh": torch.tanh,
                                                                     "sigmoid": torch.sigmoid}
    return functions[step.op]


class SpecNet(nn.Module):
    """A network built from its spec. `print()` shows the documented module tree; `forward` runs the documented
    steps (leaf modules and functional ops) in order, so a reshape the report never printed still happens."""

    def __init__(self, net: NetworkSpec) -> None:
        super().__init__()
        self.spec = net
        for m in net.modules:
            parent = self.get_submodule(m.parent) if m.parent else self
            parent.add_module(m.name, nn.Sequential() if m.type == "Sequential" else _layer(m))
        self.rebind()
        last = net.forward[-1]
        last_type = net.module(last.module).type if last.module else last.op
        self.ends_with_sigmoid = last_type in ("Sigmoid", "sigmoid")
        if net.init.value == "dcgan":
            self.apply(dcgan_init)

    def rebind(self) -> None:
        """Resolve the forward steps to the current submodules (again after a layer swap such as SyncBatchNorm)."""
        self._steps = [self.get_submodule(s.module) if s.module else _op(s) for s in self.spec.forward]

    def forward(self, x: torch.Tensor, logits: bool = False) -> torch.Tensor:
        """The documented forward pass; `logits=True` stops before a final sigmoid, for BCE-with-logits training
        (same math, numerically stable). A keyword of forward, so that DistributedDataParallel sees the call."""
        steps = self._steps[:-1] if logits and self.ends_with_sigmoid else self._steps
        for step in steps:
            x = step(x)
        return x

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self(x, logits=True)
        return out

    def trace(self, x: torch.Tensor) -> list[tuple[Step, torch.Tensor, torch.Tensor]]:
        """Run the forward pass and return every step with its input and output, in execution order."""
        out = []
        for step, fn in zip(self.spec.forward, self._steps):
            y = fn(x)
            out.append((step, x, y))
            x = y
        return out


def dcgan_init(m: nn.Module) -> None:
    """The DCGAN initialisation used by the course baseline and the PyTorch tutorial (report 002 prints it):
    conv weights ~ N(0, 0.02); batch-norm weights ~ N(1, 0.02), biases 0."""
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


def build_spec(net: NetworkSpec) -> SpecNet:
    # One Python class per documented class name, so repr() prints "Generator(" as the report did.
    cls = _CLASSES.setdefault(net.class_name, type(net.class_name, (SpecNet,), {"__module__": __name__}))
    return cls(net)


def build(name: str) -> SpecNet:
    """The nn.Module of the network spec `name`."""
    net = spec.load(name)
    if not isinstance(net, NetworkSpec):
        raise spec.SpecError(f"{name!r} is an experiment; use impl.build_pair({name!r}) for its two networks")
    return build_spec(net)


def build_pair(experiment: str) -> tuple[SpecNet, SpecNet]:
    """(generator, discriminator) of an experiment."""
    exp = spec.load(experiment)
    if isinstance(exp, NetworkSpec):
        raise spec.SpecError(f"{experiment!r} is a network; use impl.build({experiment!r})")
    return build(exp.generator.value), build(exp.discriminator.value)
