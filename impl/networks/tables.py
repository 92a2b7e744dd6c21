"""torchsummary-format tables of the built networks, beside the numbers the reports document.

Rows follow torchsummary's rules (hooks on every non-container module, numbered in call order; parameters are
each module's own weight and bias; sizes in MB assume 4-byte floats), so report 000's tables come out line for
line. Every value that differs from the report is marked with `<-- report: ...`.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

import spec
from impl.networks.build import build_spec
from spec.network import NetworkSpec

MIB = 1024.0**2
DEFAULT_WIDTHS = (20, 27, 16)  # torchsummary's "{:>20}  {:>25} {:>15}"


@dataclass
class Table:
    rows: list[tuple[str, list[int], int]]  # ("Conv2d-1", [-1, 64, 32, 32], 4864)
    total: int
    trainable: int
    input_mb: float
    pass_mb: float
    params_mb: float
    widths: tuple[int, int, int] = DEFAULT_WIDTHS
    marks: dict[str, str] = field(default_factory=dict)  # row name or total field -> what the report says

    @property
    def total_mb(self) -> float:
        return self.input_mb + self.pass_mb + self.params_mb

    def size_lines(self) -> list[str]:
        return [f"Input size (MB): {self.input_mb:0.2f}", f"Forward/backward pass size (MB): {self.pass_mb:0.2f}",
                f"Params size (MB): {self.params_mb:0.2f}", f"Estimated Total Size (MB): {self.total_mb:0.2f}"]

    def render(self) -> str:
        w1, w2, w3 = self.widths
        dash, eq = "-" * (w1 + w2 + w3 + 1), "=" * (w1 + w2 + w3 + 1)

        def mark(key: str) -> str:
            return f"  <-- report: {self.marks[key]}" if key in self.marks else ""

        out = [dash, f"{'Layer (type)':>{w1}}{'Output Shape':>{w2}}{'Param #':>{w3}}", eq]
        out += [f"{name:>{w1}}{str(shape):>{w2}}{params:>{w3},}{mark(name)}" for name, shape, params in self.rows]
        out += [eq, f"Total params: {self.total:,}{mark('total')}", f"Trainable params: {self.trainable:,}",
                f"Non-trainable params: {self.total - self.trainable:,}", dash]
        out += [line + mark(line.split(":")[0]) for line in self.size_lines()] + [dash]
        return "\n".join(out)


def measure(model: nn.Module, input_shape: tuple[int, ...]) -> Table:
    """Run `model` once on a batch of 2 and collect torchsummary's rows and totals."""
    rows: list[tuple[str, list[int], int]] = []

    def hook(module: nn.Module, _inputs: object, output: torch.Tensor) -> None:
        own = ("weight", "bias", "parametrizations.weight.original")  # the last: a spectral-normalised weight
        params = sum(p.numel() for n, p in module.named_parameters() if n in own)
        rows.append((f"{type(module).__name__}-{len(rows) + 1}", [-1, *output.shape[1:]], params))

    handles = [m.register_forward_hook(hook) for name, m in model.named_modules()
               if not isinstance(m, (nn.Sequential, nn.ModuleList, nn.ModuleDict)) and m is not model
               and ".parametrizations." not in f".{name}."]
    try:
        with torch.no_grad():
            model(torch.rand(2, *input_shape))
    finally:
        for h in handles:
            h.remove()
    total = sum(r[2] for r in rows)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    activations = sum(math.prod(r[1][1:]) for r in rows)  # torchsummary: batch -1, then abs()
    return Table(rows=rows, total=total, trainable=min(trainable, total), input_mb=math.prod(input_shape) * 4 / MIB,
                 pass_mb=2 * activations * 4 / MIB, params_mb=total * 4 / MIB)


_ROW = re.compile(r"^\s*(\w+-\d+)\s+(\[[-\d, ]+\])\s+([\d,]+)\s*$")
_SIZE = re.compile(r"^(Input size|Forward/backward pass size|Params size|Estimated Total Size) \(MB\): ([\d.]+)$")


def parse_documented(text: str) -> dict[str, Any]:
    """A report's torchsummary block as data: rows, totals, the four MB lines and its column widths."""
    lines = text.strip("\n").splitlines()
    header = next(line for line in lines if "Layer (type)" in line)
    w1 = header.index("Layer (type)") + len("Layer (type)")
    w2 = header.index("Output Shape") + len("Output Shape") - w1
    out: dict[str, Any] = {"rows": [], "sizes": {}, "widths": (w1, w2, len(header) - w1 - w2)}
    for line in lines:
        if m := _ROW.match(line):
            out["rows"].append((m[1], json.loads(m[2]), int(m[3].replace(",", ""))))
        elif m := _SIZE.match(line.strip()):
            out["sizes"][m[1]] = float(m[2])
        elif line.startswith(("Total params:", "Trainable params:", "Non-trainable params:")):
            key, value = line.split(":")
            out[key.split()[0].lower()] = int(value.strip().replace(",", ""))
    return out


def table_for(net: NetworkSpec) -> tuple[Table, dict[str, Any] | None]:
    """The measured table of a network and its documented table (None if no report prints one)."""
    table = measure(build_spec(net).eval(), net.input)
    ev = next((e for e in net.evidence if e.kind == "summary"), None)
    if ev is None:
        return table, None
    doc = parse_documented(ev.text)
    table.widths = doc["widths"]
    for (name, shape, params), documented in zip(table.rows, doc["rows"]):
        if (name, shape, params) != documented:
            table.marks[name] = f"{documented[0]} {documented[1]} {documented[2]:,}"
    for extra in doc["rows"][len(table.rows):]:
        table.marks[f"missing {extra[0]}"] = str(extra)
    if doc.get("total") != table.total:
        table.marks["total"] = f"{doc.get('total', 0):,}"
    for line in table.size_lines():
        key, value = line.split(": ")
        documented = doc["sizes"].get(key.removesuffix(" (MB)"))
        if documented is not None and f"{documented:0.2f}" != value:
            table.marks[key] = f"{documented:0.2f}"
    return table, doc


def networks_of(name: str) -> list[NetworkSpec]:
    reg = spec.registry()
    item = reg.load(name)
    if name in reg.experiments:
        return list(reg.pair(name))
    assert isinstance(item, NetworkSpec)  # load() looks a name up among the networks first
    return [item]
