"""torchsummary and torchinfo tables -> stated rows and totals, and each layer's arguments inferred from its
output shape and parameter count (kernel, stride, padding, bias), with the other candidates named as guesses."""

from __future__ import annotations

import math
import re
from typing import Any

from impl.printouts.errors import IngestRefused
from impl.printouts.find import Printout
from impl.printouts.parsed import Parsed, Row
from spec.layers import ELEMENTWISE, LAYERS, MAX_PARAMETERS

_SUMMARY_ROW = re.compile(r"^\s*(?P<type>[A-Za-z_]\w*)-(?P<idx>\d+)\s*\[(?P<shape>[-\d,\s]+)\]\s*(?P<params>[\d,\s]+)$")
_INFO_ROW = re.compile(r"^[│├└─|`\s-]*(?P<type>[A-Za-z_]\w*)(?::\s*(?P<depth>\d+)-(?P<idx>\d+))?\s*"
                       r"\[(?P<shape>[\d,\s]+)\]\s*(?P<params>[\d,\s]+|--)\s*$")
_TOTAL = re.compile(r"^(?P<key>Total|Trainable|Non-trainable) params:\s*(?P<value>[\d,\s.]+[KMG]?)$")
_SIZE = re.compile(r"^(?P<key>Input size|Forward/backward pass size|Params size|Estimated Total Size) \(MB\):\s*"
                   r"(?P<value>[\d.,\s]+)$")


def _int(text: str) -> int:
    value = int(re.sub(r"[,\s]", "", text))
    if value > 1000 * MAX_PARAMETERS:
        raise IngestRefused(f"a stated count of {value:,} is absurd for a layer (over {1000 * MAX_PARAMETERS:,})")
    return value


def parse_table(printout: Printout) -> Parsed:
    """The stated rows (leaf layers only) and totals of a torchsummary or torchinfo table."""
    out = Parsed(printout)
    lines = list(enumerate(printout.lines, printout.first))
    row_pattern = _SUMMARY_ROW if printout.kind == "torchsummary" else _INFO_ROW
    joined: list[tuple[int, str]] = []
    for number, raw in lines:  # a row wrapped in transcription: joined when the two halves make a row
        line = raw.strip()
        if joined and not _known(joined[-1][1], row_pattern) and _known(f"{joined[-1][1]} {line}", row_pattern):
            joined[-1] = (joined[-1][0], f"{joined[-1][1]} {line}")
        else:
            joined.append((number, line))
    info: list[tuple[int, Row]] = []
    for number, line in joined:
        if not line or set(line) <= set("-=─═") or "Layer (type" in line or "mult-adds" in line:
            continue
        if m := _TOTAL.match(line):
            key = m["key"].lower()
            out.totals[key] = _int(m["value"]) if m["value"].strip()[-1].isdigit() else float("nan")
            out.total_lines[key] = (number, line)
        elif m := _SIZE.match(line):
            out.totals[m["key"]] = float(re.sub(r"[,\s]", "", m["value"]))
            out.total_lines[m["key"]] = (number, line)
        elif printout.kind == "torchsummary" and (m := _SUMMARY_ROW.match(line)):
            shape = tuple(_int(v) for v in re.split(r"[,\s]+", m["shape"].strip()) if v)
            out.rows.append(Row(m["type"].removeprefix("Parametrized"), tuple(abs(v) for v in shape[1:]),
                                _int(m["params"]), number, line))
        elif printout.kind == "torchinfo" and (m := _INFO_ROW.match(line)):
            shape = tuple(_int(v) for v in re.split(r"[,\s]+", m["shape"].strip()) if v)
            depth = int(m["depth"]) if m["depth"] else 0
            params = None if m["params"] == "--" else _int(m["params"])
            info.append((depth, Row(m["type"].removeprefix("Parametrized"), shape[1:], params, number, line)))
        else:
            out.skipped.append((number, "not a row, total or size line of the table"))
    for i, (depth, row) in enumerate(info):  # torchinfo: leaves only (a row whose next row is no deeper)
        if depth and (i + 1 == len(info) or info[i + 1][0] <= depth):
            out.rows.append(row)
    if not out.rows:
        out.unreadable = "no layer row could be read"
    return out


def _known(line: str, row: re.Pattern[str]) -> bool:
    return bool(row.match(line) or _TOTAL.match(line) or _SIZE.match(line))


def infer(row: Row, current: tuple[int, ...] | None) -> tuple[dict[str, Any], tuple[int, ...] | None, list[str]]:
    """The arguments of the layer `row` states, given the shape it receives (None: the first layer, unknown).
    Returns (args, the shape its input must be reshaped to first or None, guesses). ValueError if none fit."""
    kind, out, params = row.type, row.shape, row.params or 0
    if kind not in LAYERS or kind == "Sequential":
        raise ValueError(f"layer type {kind!r} is not in spec/layers.py's table")
    guesses: list[str] = []
    if kind == "Linear":
        width = out[-1]
        flat = math.prod(current) if current else None
        fits = [(params // width - b, b == 1) for b in (1, 0) if params % width == 0 and params // width - b > 0]
        fits = [f for f in fits if flat is None or f[0] == flat] or fits
        fits.sort(key=lambda f: (not (f[0] % 10 == 0 or f[0] & (f[0] - 1) == 0), not f[1]))  # a round size first
        if not fits:
            raise ValueError(f"{params:,} parameters are not in x {width} (+ {width} bias) for any in")
        if len(fits) > 1:
            guesses.append(f"{row.type} {params:,}: in={fits[0][0]} with bias chosen; in={fits[1][0]} without fits too")
        reshape = (flat,) if flat is not None and current is not None and len(current) > 1 else None
        return {"in_features": fits[0][0], "out_features": width, "bias": fits[0][1]}, reshape, guesses
    if kind in ("Conv2d", "ConvTranspose2d"):
        return _conv(kind, row, current, params, guesses)
    if kind in ("BatchNorm1d", "BatchNorm2d", "InstanceNorm1d", "InstanceNorm2d"):
        key = "affine"
        args: dict[str, Any] = {"num_features": out[0], key: params == 2 * out[0]}
        if params not in (0, 2 * out[0]):
            raise ValueError(f"{params:,} parameters fit no {kind}({out[0]}): 0 or {2 * out[0]:,}")
        return args, _reshape_to(out, current), guesses
    if kind == "LayerNorm":
        for n in range(1, len(out) + 1):
            if 2 * math.prod(out[-n:]) == params:
                return {"normalized_shape": list(out[-n:]) if n > 1 else out[-1]}, None, guesses
        raise ValueError(f"{params:,} parameters fit no LayerNorm over the trailing sizes of {list(out)}")
    if kind == "Upsample" and current and len(current) == 3:
        if out[1] % current[1] == 0 and out[2] % current[2] == 0 and out[1] // current[1] == out[2] // current[2]:
            return {"scale_factor": float(out[1] // current[1])}, None, guesses
        return {"size": [out[1], out[2]]}, None, guesses
    if kind == "Unflatten":
        return {"dim": 1, "unflattened_size": list(out)}, None, guesses
    if kind == "Embedding":
        return {"num_embeddings": params // out[-1], "embedding_dim": out[-1]}, None, guesses
    if kind == "PReLU":
        return {"num_parameters": max(params, 1)}, None, guesses
    if kind in ELEMENTWISE or kind in ("Flatten", "Identity"):
        args = {}
        if kind == "LeakyReLU":
            args["negative_slope"] = 0.2
            guesses.append(f"{row.type} (line {row.line}): negative_slope not shown; 0.2, the DCGAN convention")
        elif kind in ("Dropout", "Dropout2d"):
            guesses.append(f"{row.type} (line {row.line}): p not shown; torch's default 0.5")
        return args, _reshape_to(out, current) if kind != "Flatten" else None, guesses
    raise ValueError(f"no rule infers the arguments of {kind} from a table row")


def _reshape_to(out: tuple[int, ...], current: tuple[int, ...] | None) -> tuple[int, ...] | None:
    if current is not None and current != out and math.prod(current) == math.prod(out):
        return out
    return None


def _conv(kind: str, row: Row, current: tuple[int, ...] | None, params: int,
          guesses: list[str]) -> tuple[dict[str, Any], tuple[int, ...] | None, list[str]]:
    cout, size_out = row.shape[0], row.shape[1:]
    if len(row.shape) != 3:
        raise ValueError(f"{kind} output {list(row.shape)} is not (channels, height, width)")
    found = []
    for bias in (True, False):
        weights = params - (cout if bias else 0)
        for k in range(1, 12):
            if weights <= 0 or weights % (cout * k * k):
                continue
            cin = weights // (cout * k * k)
            for size_in, reshape in _inputs(cin, current, size_out, kind):
                for s, p, op in _geometry(kind, size_in, size_out[0], k):
                    found.append(({"in_channels": cin, "out_channels": cout, "kernel_size": k, "stride": s,
                                   "padding": p, "bias": bias} | ({"output_padding": op} if op else {}), reshape,
                                  size_in))
    if not found:
        raise ValueError(f"no kernel, stride and padding make {params:,} parameters and {list(row.shape)} from "
                         f"{list(current) if current else 'the input'}")
    found.sort(key=lambda c: _preference(kind, c[0], c[2], size_out[0]))
    args, reshape, _ = found[0]
    if len(found) > 1:
        others = "; ".join(_spelled(c[0]) for c in found[1:4]) + ("; ..." if len(found) > 4 else "")
        guesses.append(f"{kind} (line {row.line}): {len(found)} candidates fit; chose {_spelled(args)}; "
                       f"also {others}")
    return args, reshape, guesses


def _spelled(args: dict[str, Any]) -> str:
    extra = f" output_padding {args['output_padding']}" if args.get("output_padding") else ""
    return f"k{args['kernel_size']} s{args['stride']} p{args['padding']}{extra} bias {args['bias']}"


def _inputs(cin: int, current: tuple[int, ...] | None, size_out: tuple[int, ...],
            kind: str) -> list[tuple[int, tuple[int, ...] | None]]:
    """Possible input sizes (square) and the reshape needed to get there."""
    if current is None:  # the first layer: a generator's 1x1 latent map, or a discriminator's image
        return [(1, None)] if kind == "ConvTranspose2d" else [(size_out[0] * s, None) for s in (2, 1, 4)]
    if len(current) == 3:
        return [(current[1], None)] if current[0] == cin and current[1] == current[2] else []
    side = math.isqrt(math.prod(current) // cin) if math.prod(current) % cin == 0 else 0
    return [(side, (cin, side, side))] if side and cin * side * side == math.prod(current) else []


def _geometry(kind: str, size_in: int, size_out: int, k: int) -> list[tuple[int, int, int]]:
    out = []
    for s in range(1, 5):
        for p in range(0, k + 1):
            for op in range(0, s) if kind == "ConvTranspose2d" else (0,):
                made = (size_in - 1) * s - 2 * p + k + op if kind == "ConvTranspose2d" \
                    else (size_in + 2 * p - k) // s + 1
                if made == size_out:
                    out.append((s, p, op))
    return out


def _preference(kind: str, args: dict[str, Any], size_in: int,
                size_out: int) -> tuple[bool, float, float, int, bool, int]:
    """Prefer stride 1 on a 1x1 input and a whole-map kernel to a 1x1 output, else the stride nearest the size
    ratio; then padding nearest (k-1)/2, no output padding, bias (torch's default), the smaller kernel."""
    k, s, p = args["kernel_size"], args["stride"], args["padding"]
    ratio = size_out / size_in if kind == "ConvTranspose2d" else size_in / size_out
    whole_map = (size_in == 1 or (size_out == 1 and k == size_in)) and p == 0
    return (not (whole_map and s == 1), abs(s - ratio), abs(p - (k - 1) / 2), args.get("output_padding", 0),
            not args["bias"], k)
