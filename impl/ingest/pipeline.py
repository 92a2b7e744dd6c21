"""One report's text -> its printouts read, networks rebuilt and paired, stated numbers checked, drafts made."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from impl.ingest.check import Mismatch, check
from impl.ingest.find import find_printouts
from impl.ingest.noise import clean
from impl.ingest.parsed import Parsed
from impl.ingest.rebuild import network_table, role_of, to_spec
from impl.ingest.recipe import Found, find_recipe
from impl.ingest.reprs import parse_repr
from impl.ingest.tables import parse_table
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

    def built(self) -> list[Network]:
        return [n for n in self.networks if n.spec is not None]

    def errata(self) -> list[dict[str, Any]]:
        """Draft errata in spec/errata.toml's form: one per mismatch, with its line and excerpt."""
        out = []
        for net in self.networks:
            found = net.mismatches if net.spec else [Mismatch(line, text, text, "", "read")
                                                     for line, text, _ in net.parsed.problems]
            whys = {line: why for line, _, why in net.parsed.problems}
            for m in dict.fromkeys(found):
                subject = net.name if net.spec else f"{net.parsed.kind} at line {net.parsed.printout.first}"
                truth = f"the rebuilt network gives {m.built}" if m.built else whys.get(m.line, "unreadable")
                out.append({"id": f"d{len(out) + 1:02d}-{self.report}-line-{m.line}", "report": self.report,
                            "subject": subject, "said": m.said, "truth": truth, "line": m.line, "kind": m.what,
                            "how": "gan-spec ingest rebuilt the network from the printout and measured it "
                                   "(torchsummary's rules)", "quotes": [m.excerpt]})
        return out


def image_side(text: str) -> int:
    """The image side the text states first (64 for "64x64"), else 64."""
    for m in _SIDE.finditer(text):
        if m[1] == m[2] and 8 <= int(m[1]) <= 1024:
            return int(m[1])
    return 64


def ingest_text(text: str, report: str, prefix: str, spec_root: Path) -> Ingested:
    cleaned = clean(text)
    side = image_side(cleaned)
    parsed = [parse_repr(p) if p.kind == "repr" else parse_table(p) for p in find_printouts(cleaned)]
    networks = [Network(p, role_of(p)) for p in parsed]
    counts = {"generator": 0, "discriminator": 0}
    for net in networks:
        counts[net.role] += 1
        net.name = f"{prefix}-{net.role[0]}" + (str(counts[net.role]) if counts[net.role] > 1 else "")
    for role in ("generator", "discriminator"):  # generators first: a discriminator takes its generator's output
        for i, net in enumerate(networks):
            if net.role == role and not net.unreadable:
                _build(net, report, side, _paired_output(networks, i), spec_root)
    return Ingested(report, prefix, networks, find_recipe(cleaned))


def _paired_output(networks: list[Network], at: int) -> tuple[int, ...] | None:
    if networks[at].role != "discriminator":
        return None
    order = list(range(at - 1, -1, -1)) + list(range(at + 1, len(networks)))
    for j in order:
        if networks[j].role == "generator" and networks[j].spec is not None:
            return networks[j].spec.output
    return None


def _build(net: Network, report: str, side: int, paired: tuple[int, ...] | None, spec_root: Path) -> None:
    file = spec_root / "networks" / f"{net.name}.toml"
    errors: list[str] = []
    problems = list(net.parsed.problems)
    for given in ([paired, None] if paired else [None]):
        try:
            table = network_table(net.parsed, net.name, report, given, side)
            net.spec, net.table = to_spec(table, file), table
            break
        except ValueError as exc:
            errors.append(str(exc))
            if paired:  # the unpaired retry must not list the paired attempt's problems twice
                problems = list(net.parsed.problems)
    if net.spec is None:
        net.parsed.unreadable = errors[0]
        if paired:
            net.parsed.problems = problems
        return
    if paired and net.spec.input != paired:
        net.parsed.guesses.append(f"not paired: its first layer cannot take the generator's output {list(paired)}")
    net.mismatches = check(net.parsed, net.spec)
