"""One report's text -> its printouts read, networks rebuilt and paired, stated numbers checked, drafts made."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from impl.printouts.check import Mismatch, check
from impl.printouts.errors import IngestRefused
from impl.printouts.find import find_printouts
from impl.printouts.noise import clean_with_repairs
from impl.printouts.parsed import Parsed
from impl.printouts.rebuild import network_table, role_of, to_spec
from impl.printouts.recipe import Found, find_recipe
from impl.printouts.reprs import parse_repr
from impl.printouts.tables import parse_table
from spec.network import NetworkSpec

_SIDE = re.compile(r"(\d{2,3})\s*[x×*]\s*(\d{2,3})")


@dataclass
class Network:
    parsed: Parsed
    role: str
    name: str = ""
    table: dict[str, Any] | None = None
    spec: NetworkSpec | None = None
    mismatches: list[Mismatch] = field(default_factory=list)

    @property
    def unreadable(self) -> str:
        return self.parsed.unreadable

    def summary(self) -> dict[str, Any]:
        p = self.parsed
        stated = p.totals.get("total")
        return {"kind": p.kind, "lines": [p.printout.first, p.printout.last], "class": p.class_name,
                "role": self.role, "name": self.name if self.spec else "", "rebuilt": self.spec is not None,
                "unreadable": p.unreadable, "layers_read": len([m for m in p.modules if m["type"] != "Sequential"])
                or len(p.rows), "total_stated": stated, "total_built": self.spec.parameters if self.spec else None,
                "mismatches": [vars(m) for m in self.mismatches], "guesses": p.guesses,
                "skipped": [{"line": line, "why": why} for line, why in p.skipped]}


@dataclass
class Ingested:
    report: str  # "005"
    prefix: str  # "r005": network names are r005-g, r005-d, r005-g2, ...
    networks: list[Network]
    recipe: list[Found]
    repairs: list[tuple[int, str, str]] = field(default_factory=list)  # (line, as printed, as repaired)

    def built(self) -> list[Network]:
        return [n for n in self.networks if n.spec is not None]

    def errata(self) -> list[dict[str, Any]]:
        """Draft errata in spec/errata.toml's form: one per mismatch, with its line and excerpt."""
        out: list[dict[str, Any]] = []
        for net in self.networks:
            found = net.mismatches if net.spec else [Mismatch(line, text, text, "", "read")
                                                     for line, text, _ in net.parsed.problems]
            whys = {line: why for line, _, why in net.parsed.problems}
            for m in dict.fromkeys(found):
                subject = net.name if net.spec else f"{net.parsed.kind} at line {net.parsed.printout.first}"
                truth = f"the rebuilt network gives {m.built}" if m.built else whys.get(m.line, "unreadable")
                truth = f"{m.said}, but {m.built}" if m.what == "pairing" else truth
                out.append({"id": f"d{len(out) + 1:02d}-{self.report}-line-{m.line}", "report": self.report,
                            "subject": subject, "said": m.said, "truth": truth, "line": m.line, "kind": m.what,
                            "how": "gan-spec ingest rebuilt the network from the printout and measured it "
                                   "(torchsummary's rules)", "quotes": list(m.quotes or (m.excerpt,))})
        for line, said, meant in self.repairs:
            out.append({"id": f"d{len(out) + 1:02d}-{self.report}-line-{line}", "report": self.report,
                        "subject": f"line {line}", "said": said, "truth": f"a transcription misreading of {meant!r}",
                        "line": line, "kind": "transcription", "how": "gan-spec ingest's repair of known OCR "
                        "misreadings (impl/printouts/noise.py)", "quotes": [said]})
        return out


def image_side(text: str) -> int:
    """The image side the text states first (64 for "64x64"), else 64."""
    for m in _SIDE.finditer(text):
        if m[1] == m[2] and 8 <= int(m[1]) <= 1024:
            return int(m[1])
    return 64


def ingest_text(text: str, report: str, prefix: str, spec_root: Path) -> Ingested:
    cleaned, repairs = clean_with_repairs(text)
    side = image_side(cleaned)
    parsed = [parse_repr(p) if p.kind == "repr" else parse_table(p) for p in find_printouts(cleaned)]
    networks = [Network(p, role_of(p)) for p in parsed]
    counts = {"generator": 0, "discriminator": 0}
    for net in networks:
        counts[net.role] += 1
        net.name = f"{prefix}-{net.role[0]}" + (str(counts[net.role]) if counts[net.role] > 1 else "")
    pairs = _pairs(networks)
    for role in ("generator", "discriminator"):  # generators first: a discriminator takes its generator's output
        for i, net in enumerate(networks):
            if net.role == role and not net.unreadable:
                _build(net, report, side, pairs.get(i), spec_root)
    return Ingested(report, prefix, networks, find_recipe(cleaned), repairs)


def _pairs(networks: list[Network]) -> dict[int, Network]:
    """Discriminator index -> its generator: the printout just before it if that is a generator not yet paired,
    else the one just after it (reports print G then D, or D then G)."""
    out: dict[int, Network] = {}
    taken: set[int] = set()
    for i, net in enumerate(networks):
        if net.role != "discriminator":
            continue
        for j in (i - 1, i + 1):
            if 0 <= j < len(networks) and networks[j].role == "generator" and j not in taken:
                out[i] = networks[j]
                taken.add(j)
                break
    return out


def _build(net: Network, report: str, side: int, generator: Network | None, spec_root: Path) -> None:
    paired = generator.spec.output if generator and generator.spec else None
    file = spec_root / "networks" / f"{net.name}.toml"
    errors: list[str] = []
    sides = list(dict.fromkeys((side, 28, 32, 64, 128, 96, 256)))  # the image side a printout does not show
    tries = [(paired, side)] * bool(paired) + [(None, s) for s in sides]
    guesses, problems = list(net.parsed.guesses), list(net.parsed.problems)
    first_problems: list[tuple[int, str, str]] = []
    for given, image in tries:
        net.parsed.guesses, net.parsed.problems = list(guesses), list(problems)
        try:
            table = network_table(net.parsed, net.name, report, given, image)
            net.spec, net.table = to_spec(table, file), table
            break
        except IngestRefused:
            raise
        except ValueError as exc:
            errors.append(str(exc))
            first_problems = first_problems or list(net.parsed.problems)
    if net.spec is None:
        net.parsed.unreadable, net.parsed.problems, net.parsed.guesses = errors[0], first_problems, guesses
        return
    net.mismatches = check(net.parsed, net.spec)
    if generator and paired and net.spec.input != paired:
        net.parsed.guesses.append(f"not paired: it takes {list(net.spec.input)}, the generator {generator.name} "
                                  f"makes {list(paired)}")
        net.mismatches.append(_pairing(net, generator))


def _pairing(net: Network, generator: Network) -> Mismatch:
    """A generator whose output its discriminator cannot take, quoting the generator's layers that set the size."""
    g, p = generator.spec, generator.parsed
    assert g is not None and net.spec is not None
    sizing = [p.line_text(p.lines[m.path]) for m in g.modules if m.type in ("ConvTranspose2d", "Upsample", "Linear")
              and m.path in p.lines]
    return Mismatch(p.printout.first, sizing[0] if sizing else p.line_text(p.printout.first),
                    f"{generator.name} makes {list(g.output)}", f"{net.name} takes {list(net.spec.input)}", "pairing",
                    tuple(sizing))
