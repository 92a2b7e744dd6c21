"""Parsed printouts -> spec network tables -> NetworkSpec, through spec's own strict reader (the same one every
spec file goes through), so an ingested network is built by impl.networks.build like any other.

The forward pass is the leaves in printed order; where two layers do not chain (a Linear after a feature map, a
BatchNorm2d after a Linear) a flatten or reshape is inserted and marked inferred, as a report never prints them.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from impl.printouts.errors import IngestRefused
from impl.printouts.parsed import Parsed
from impl.printouts.tables import infer
from spec.fields import SpecError
from spec.layers import check_args, output_shape
from spec.network import NetworkSpec, read_network

_NEEDS_MAP = {"Conv2d": "in_channels", "ConvTranspose2d": "in_channels", "BatchNorm2d": "num_features",
              "InstanceNorm2d": "num_features"}
_NEEDS_VECTOR = {"Linear", "BatchNorm1d"}


def role_of(parsed: Parsed) -> str:
    """generator or discriminator: from the class name, else from the first and last layers."""
    name = parsed.class_name.lower()
    if "gen" in name or name in ("g", "netg"):
        return "generator"
    if "dis" in name or "critic" in name or name in ("d", "netd"):
        return "discriminator"
    kinds = [m["type"] for m in parsed.modules if m["type"] != "Sequential"] or [r.type for r in parsed.rows]
    if kinds and ("ConvTranspose2d" in kinds or kinds[-1] == "Tanh"):
        return "generator"
    return "discriminator"


def network_table(parsed: Parsed, name: str, report: str, input_shape: tuple[int, ...] | None,
                  image_side: int) -> dict[str, Any]:
    """The spec table of the network `parsed` describes; ValueError naming the line that does not chain."""
    source = f"{report} line {parsed.printout.first} ({parsed.kind})"
    if parsed.kind == "repr":
        modules, forward, shape = _from_repr(parsed, input_shape, image_side, source)
    else:
        modules, forward, shape = _from_table(parsed, input_shape, source)
    role = role_of(parsed)
    return {"name": name, "role": role, "title": f"{role} read from report {report}'s {parsed.kind} at line "
            f"{parsed.printout.first}", "class": parsed.class_name if parsed.class_name != "Sequential" else
            "Sequential", "input": list(shape), "source": source,
            "init": {"value": "default", "status": "inferred", "source": source,
                     "note": "a printout shows no initialisation: PyTorch's default assumed"},
            "forward": forward, "module": modules}


def to_spec(table: dict[str, Any], file: Path) -> NetworkSpec:
    """Through spec's strict reader; a network over the size budget refuses the whole report."""
    try:
        return read_network(table, file)
    except SpecError as exc:
        if "over the budget" in str(exc):
            raise IngestRefused(f"{table['source']}: {str(exc).split(': ', 1)[-1]}") from None
        raise ValueError(str(exc).split(f"{file}:", 1)[-1]) from None


def _first_input(kind: str, args: dict[str, Any], image_side: int) -> tuple[int, ...]:
    if kind in ("Linear",):
        return (args["in_features"],)
    if kind == "BatchNorm1d":
        return (args["num_features"],)
    if kind == "ConvTranspose2d":
        return (args["in_channels"], 1, 1)
    if kind in _NEEDS_MAP:
        return (args[_NEEDS_MAP[kind]], image_side, image_side)
    raise ValueError(f"the first layer, {kind}, does not tell the input shape")


def _adapter(kind: str, args: dict[str, Any], shape: tuple[int, ...], source: str) -> dict[str, Any] | None:
    """The flatten or reshape a forward pass needs before this layer, or None if it takes `shape` as it is."""
    note = {"status": "inferred", "source": source}
    if kind in _NEEDS_VECTOR and len(shape) == 3:
        return {"op": "flatten", **note, "note": f"{kind} takes a vector; the {list(shape)} map is flattened"}
    if kind in _NEEDS_MAP and len(shape) == 1:
        channels = args[_NEEDS_MAP[kind]]
        side = math.isqrt(shape[0] // channels)
        if channels * side * side == shape[0]:
            return {"op": "reshape", "shape": [channels, side, side], **note,
                    "note": f"{kind} takes a map; {shape[0]:,} values reshaped to {channels}x{side}x{side}"}
    return None


def _from_repr(parsed: Parsed, input_shape: tuple[int, ...] | None, image_side: int,
               source: str) -> tuple[list[dict[str, Any]], list[Any], tuple[int, ...]]:
    leaves = [m for m in parsed.modules if m["type"] != "Sequential"]
    if not leaves:
        raise ValueError("no layer was read")
    first = leaves[0]
    full = check_args(first["type"], first["args"], first["path"])
    start = input_shape if input_shape is not None else _first_input(first["type"], full, image_side)
    if input_shape is None and first["type"] in ("Conv2d", "BatchNorm2d", "InstanceNorm2d"):
        parsed.guesses.append(f"input {list(start)}: a module tree does not show the image side; {image_side} is "
                              "the first of the text's size, 28, 32, 64, 128, 96, 256 whose layers chain")
    shape, forward = start, []
    for module in leaves:
        line = parsed.lines[module["path"]]
        full = check_args(module["type"], module["args"], f"line {line}")
        if (step := _adapter(module["type"], full, shape, source)) is not None:
            forward.append(step)
            shape = output_shape(step["op"], step, shape, f"line {line}")
        try:
            shape = output_shape(module["type"], full, shape, f"line {line}")
        except SpecError as exc:
            parsed.problems.append((line, parsed.line_text(line), str(exc).split("; fix")[0]))
            raise ValueError(str(exc).split("; fix")[0]) from None
        forward.append(module["path"])
    return [_with_source(m, parsed, source) for m in parsed.modules], forward, start


def _with_source(module: dict[str, Any], parsed: Parsed, source: str) -> dict[str, Any]:
    line = parsed.lines.get(module["path"])
    return {**module, "source": source.replace(f"line {parsed.printout.first}", f"line {line}")} if line else module


def _from_table(parsed: Parsed, input_shape: tuple[int, ...] | None,
                source: str) -> tuple[list[dict[str, Any]], list[Any], tuple[int, ...]]:
    modules: list[dict[str, Any]] = []
    forward: list[Any] = []
    shape, start = input_shape, input_shape
    for i, row in enumerate(parsed.rows):
        try:
            args, reshape, guesses = infer(row, shape)
        except IngestRefused:
            raise
        except ValueError as exc:
            parsed.problems.append((row.line, row.text, str(exc)))
            raise ValueError(f"line {row.line}: {exc}") from None
        parsed.guesses += guesses
        full = check_args(row.type, args, f"line {row.line}")
        if shape is None:
            start = shape = _table_input(row.type, full, row.shape)
        if reshape is not None and reshape != shape:
            op = {"op": "flatten"} if len(reshape) == 1 else {"op": "reshape", "shape": list(reshape)}
            forward.append({**op, "status": "inferred", "source": source,
                            "note": f"{row.type} on line {row.line} takes {list(reshape)}; a table shows no reshape"})
            shape = reshape
        shape = output_shape(row.type, full, shape, f"line {row.line}")
        path = str(i)
        modules.append({"path": path, "type": row.type, "args": args, "status": "inferred",
                        "source": f"{source.split(' line ')[0]} line {row.line}",
                        "note": f"arguments inferred from the table row {row.text!r}"}
                       | ({"spectral_norm": True} if "Parametrized" in row.text.split("-")[0] else {}))
        parsed.lines[path] = row.line
        forward.append(path)
    assert start is not None
    return modules, forward, start


def _table_input(kind: str, args: dict[str, Any], out: tuple[int, ...]) -> tuple[int, ...]:
    if kind == "Conv2d":
        for side in (out[1] * args["stride"], out[1] * 2, out[1], out[1] * 4):
            if output_shape(kind, args, (args["in_channels"], side, side), "first row")[1:] == out[1:]:
                return (args["in_channels"], side, side)
    return _first_input(kind, args, 0)
