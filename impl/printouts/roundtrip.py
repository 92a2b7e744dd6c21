"""Printouts made on purpose, to measure ingest: random networks of the supported layers, printed by torch
(repr), in torchsummary's format (gan-spec's own table maker) and by torchinfo, garbled by the seeded noise model,
read back. A round trip succeeds when the rebuilt network has the original's parameter count and every layer's
output shape.

    python -m impl.printouts.roundtrip --n 40       # success rate per printout kind and noise level
"""

from __future__ import annotations

import argparse
import random
import sys

import torch
from torch import nn

import spec
from impl.networks.build import build_spec
from impl.networks.tables import Table, measure
from impl.printouts.noise import garble
from impl.printouts.pipeline import Network, ingest_text

PRINTOUTS = ("repr", "torchsummary", "torchinfo")
LEVELS = (0.0, 0.1, 0.3)


def random_network(rng: random.Random) -> tuple[nn.Module, tuple[int, ...]]:
    """A generator-like or discriminator-like nn.Sequential of supported layers, and its input shape."""
    if rng.random() < 0.5:  # a discriminator: an image down to one score
        side, channels = rng.choice((16, 32)), rng.choice((1, 3))
        image = (channels, side, side)
        layers: list[nn.Module] = []
        for _ in range(rng.randint(1, 3)):
            out = rng.choice((4, 8, 16))
            k, s = rng.choice(((3, 2), (4, 2), (5, 2), (3, 1)))
            layers.append(nn.Conv2d(channels, out, k, s, (k - 1) // 2, bias=rng.random() < 0.5))
            if rng.random() < 0.5:
                layers.append(rng.choice((nn.BatchNorm2d(out), nn.InstanceNorm2d(out, affine=True))))
            layers.append(rng.choice((nn.LeakyReLU(0.2), nn.ReLU(), nn.ELU(), nn.SiLU(), nn.GELU())))
            if rng.random() < 0.3:
                layers.append(rng.choice((nn.Dropout(0.3), nn.Dropout2d(0.25))))
            channels = out
            side = (side + 2 * ((k - 1) // 2) - k) // s + 1
        layers += [nn.Flatten(), nn.Linear(channels * side * side, 1)] + [nn.Sigmoid()] * (rng.random() < 0.5)
        return nn.Sequential(*layers), image
    nz, channels, side = rng.choice((16, 32, 100)), rng.choice((16, 32)), rng.choice((2, 4))
    layers = [nn.Linear(nz, channels * side * side, bias=rng.random() < 0.5)]
    layers += [nn.BatchNorm1d(channels * side * side)] * (rng.random() < 0.5) + [nn.ReLU()]
    layers.append(nn.Unflatten(1, (channels, side, side)))
    for _ in range(rng.randint(1, 3)):
        out = rng.choice((3, 8, 16))
        if rng.random() < 0.3:
            layers += [nn.Upsample(scale_factor=2), nn.Conv2d(channels, out, 3, 1, 1)]
        else:
            layers.append(nn.ConvTranspose2d(channels, out, 4, 2, 1, bias=rng.random() < 0.5))
        layers += [nn.BatchNorm2d(out)] * (rng.random() < 0.5) + [rng.choice((nn.ReLU(True), nn.LeakyReLU(0.1)))]
        channels = out
    layers.append(nn.Tanh())
    return nn.Sequential(*layers), (nz,)


def printout(model: nn.Module, input_shape: tuple[int, ...], kind: str) -> str:
    if kind == "repr":
        return repr(model)
    if kind == "torchsummary":
        return measure(model.eval(), input_shape).render()
    import torchinfo

    return str(torchinfo.summary(model.eval(), input_size=(2, *input_shape), verbose=0))


def round_trip(model: nn.Module, input_shape: tuple[int, ...], kind: str, level: float, seed: int) -> str:
    """'' when the printout, garbled at `level`, reads back as the same network; else what went wrong."""
    return read_back(model, input_shape, kind, level, seed)[1]


def read_back(model: nn.Module, input_shape: tuple[int, ...], kind: str, level: float,
              seed: int) -> tuple[Network | None, str]:
    """The ingested network of the garbled printout (None if not one) and '' or what differs from `model`."""
    text = garble(printout(model, input_shape, kind), level, seed)
    side = f"Images are {input_shape[1]}x{input_shape[1]}." if len(input_shape) == 3 else "Noise of 100 values."
    result = ingest_text(f"A report.\n{side}\n\n```\n{text}\n```\n", "999", "r999", spec.spec_dir())
    if len(result.networks) != 1:
        return None, f"{len(result.networks)} printouts found"
    net = result.networks[0]
    if net.spec is None:
        return net, f"unreadable: {net.unreadable}"
    want = measure(model.eval(), input_shape)
    got = measure(build_spec(net.spec).eval(), net.spec.input)
    if got.total != want.total:
        return net, f"{got.total:,} parameters, not {want.total:,}"

    def shapes(t: Table) -> list[list[int]]:
        return [r[1] for r in t.rows if not r[0].startswith(("Unflatten", "Flatten"))]

    return net, "" if shapes(got) == shapes(want) else f"shapes {shapes(got)} != {shapes(want)}"


def success_rates(n: int, seed: int = 0) -> dict[tuple[str, float], tuple[int, int]]:
    """(printout kind, noise level) -> (round trips that succeeded, tried), over `n` seeded random networks."""
    out = {}
    for kind in PRINTOUTS:
        for level in LEVELS:
            ok = 0
            for i in range(n):
                torch.manual_seed(i)
                model, shape = random_network(random.Random(seed * 100_003 + i))
                ok += not round_trip(model, shape, kind, level, seed + i)
            out[(kind, level)] = (ok, n)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m impl.printouts.roundtrip", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=40, help="random networks per printout kind and noise level")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    for (kind, level), (ok, n) in success_rates(args.n, args.seed).items():
        print(f"{kind:13} noise {level:.1f}: {ok}/{n} round trips ({ok / n:.0%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
