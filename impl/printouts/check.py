"""Every number a printout states, against the rebuilt network: each row's output shape and parameters, the
totals, trainable and non-trainable counts, torchsummary's four size estimates, and the arithmetic between them.
Each mismatch is a draft erratum with its line and excerpt."""

from __future__ import annotations

import math
from dataclasses import dataclass

from impl.networks.build import build_spec
from impl.networks.printout import normalize
from impl.networks.tables import measure
from impl.printouts.parsed import Parsed
from spec.network import NetworkSpec


@dataclass(frozen=True)
class Mismatch:
    line: int
    excerpt: str
    said: str
    built: str
    what: str  # "row", "total", "trainable", "size", "arithmetic", "printout", "read", "pairing"
    quotes: tuple[str, ...] = ()  # the report's lines behind it, when more than the excerpt


def check(parsed: Parsed, net: NetworkSpec) -> list[Mismatch]:
    """The stated numbers of `parsed` that the rebuilt `net` does not reproduce."""
    model = build_spec(net).eval()
    out: list[Mismatch] = []
    if parsed.kind == "repr":
        return _check_repr(parsed, repr(model))
    table = measure(model, net.input)
    for i, row in enumerate(parsed.rows):
        if i >= len(table.rows):
            out.append(Mismatch(row.line, row.text, f"{row.type} {list(row.shape)}", "no such layer", "row"))
            continue
        name, shape, params = table.rows[i]
        built_shape = tuple(shape[1:])
        if built_shape != row.shape or (row.params is not None and params != row.params):
            out.append(Mismatch(row.line, row.text, f"{list(row.shape)} {row.params or 0:,}",
                                f"{list(built_shape)} {params:,}", "row"))
    trainable = table.trainable
    built = {"total": table.total, "trainable": trainable, "non-trainable": table.total - trainable}
    for key, value in built.items():
        if key in parsed.totals and parsed.totals[key] != value:
            line, text = parsed.total_lines[key]
            out.append(Mismatch(line, text, f"{parsed.totals[key]:,}", f"{value:,}", "total"))
    out += _arithmetic(parsed)
    if parsed.kind == "torchsummary":
        sizes = dict(line.split(": ") for line in table.size_lines())
        for size_key, stated in sizes.items():
            short = size_key.removesuffix(" (MB)")
            if short in parsed.totals and f"{parsed.totals[short]:0.2f}" != stated:
                line, text = parsed.total_lines[short]
                out.append(Mismatch(line, text, f"{parsed.totals[short]:0.2f}", stated, "size"))
    return out


def _arithmetic(parsed: Parsed) -> list[Mismatch]:
    """The stated numbers against each other: rows sum to the total, trainable + non-trainable = total, the four
    size lines add up (torchsummary rounds each to 0.01)."""
    out, totals = [], parsed.totals
    stated_rows = sum(r.params or 0 for r in parsed.rows)
    if "total" in totals and stated_rows != totals["total"] and parsed.kind == "torchsummary":
        line, text = parsed.total_lines["total"]
        out.append(Mismatch(line, text, f"{totals['total']:,}", f"the rows sum to {stated_rows:,}", "arithmetic"))
    if all(k in totals for k in ("total", "trainable", "non-trainable")) and \
            totals["trainable"] + totals["non-trainable"] != totals["total"]:
        line, text = parsed.total_lines["non-trainable"]
        out.append(Mismatch(line, text, f"{totals['trainable']:,} + {totals['non-trainable']:,}",
                            f"{totals['total']:,}", "arithmetic"))
    parts = ("Input size", "Forward/backward pass size", "Params size")
    if all(k in totals for k in (*parts, "Estimated Total Size")):
        added = sum(totals[k] for k in parts)
        if not math.isclose(added, totals["Estimated Total Size"], abs_tol=0.021):
            line, text = parsed.total_lines["Estimated Total Size"]
            out.append(Mismatch(line, text, f"{totals['Estimated Total Size']:.2f}",
                                f"the three sizes add to {added:.2f}", "arithmetic"))
    return out


def _check_repr(parsed: Parsed, model_repr: str) -> list[Mismatch]:
    """A module tree read exactly prints back line for line; read flat, only its layer lines are compared."""
    built = normalize(model_repr)
    flat = any(g.startswith("nesting not readable") for g in parsed.guesses)
    out = [Mismatch(line, excerpt, excerpt, "", "read") for line, excerpt, _ in parsed.problems]
    if flat:
        return out
    for i, (said, made) in enumerate(zip(normalize(parsed.printout.text), built)):
        renamed = said.endswith("(") and made.endswith(": Sequential(") and said.split(":")[0] == made.split(":")[0]
        if said != made and not renamed:  # a ModuleList, ModuleDict or custom container is built as a Sequential
            out.append(Mismatch(parsed.printout.first + i, said, said, made, "printout"))
            break
    return out
