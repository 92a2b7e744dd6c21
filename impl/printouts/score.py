"""How well ingest reads the reports gan-spec already holds: each network spec/ holds against what ingest rebuilt
from the same report's printouts, and the draft errata against spec/errata.toml.

    python -m impl.printouts.score ../shared/seeds        # a table per network, then precision and recall

A network is `equal` when an ingested one has its parameter count and every per-layer output shape; `lines lost`
when the count is equal and the ingested shapes are the spec's with some layers missing (a printout that lost
lines); otherwise the closest ingested network and what differs, or the printouts of that report that could not
be read and why. A spec network that no report prints (source code, prose or a gan-spec addition) says so.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import spec
from impl.printouts.pipeline import Ingested, Network, ingest_text
from spec.network import NetworkSpec

# The errata about numbers a printout or the stated arithmetic gets wrong (the rest are about names, layout,
# prose, recipes or code): what draft errata can be expected to find.
NUMBER_LEVEL = ("e02-001-step-counts", "e03-002-printouts-garbled", "e05-003-printouts-ocr",
                "e07-004-printed-generator-56px", "e13-002-printout-mixes-networks")


@dataclass(frozen=True)
class Outcome:
    network: str
    report: str
    verdict: str  # "equal", "lines lost", "differs", "unreadable", "not printed"
    detail: str


def leaf_shapes(net: NetworkSpec) -> list[tuple[str, tuple[int, ...]]]:
    return [(next(m.type for m in net.modules if m.path == s.module), shape)
            for s, shape in zip(net.forward, net.shapes) if s.module]


def _subsequence(short: Sequence[object], long: Sequence[object]) -> bool:
    it = iter(long)
    return all(any(x == y for y in it) for x in short)


def outcomes(reg: spec.Registry, ingested: dict[str, Ingested]) -> list[Outcome]:
    out = []
    for net in reg.networks.values():
        reports = sorted({e.source[:3] for e in net.evidence if e.kind in ("summary", "printout")})
        if not reports:
            out.append(Outcome(net.name, "-", "not printed", "no report prints it (code, prose or an addition)"))
        for report in reports:
            out.append(_outcome(net, report, ingested.get(report)))
    return out


def _spec(net: Network) -> NetworkSpec:
    assert net.spec is not None  # only called on the networks _outcome keeps, those with a spec
    return net.spec


def _outcome(net: NetworkSpec, report: str, result: Ingested | None) -> Outcome:
    if result is None:
        return Outcome(net.name, report, "unreadable", "the report's text is not there")
    want = leaf_shapes(net)
    built = [n for n in result.built() if n.role == net.role and n.spec is not None]
    for candidate in built:
        got = leaf_shapes(_spec(candidate))
        if _spec(candidate).parameters == net.parameters and got == want:
            return Outcome(net.name, report, "equal", f"{candidate.name} (line {candidate.parsed.printout.first})")
    for candidate in built:
        got = leaf_shapes(_spec(candidate))
        if _spec(candidate).parameters == net.parameters and _subsequence(got, want):
            return Outcome(net.name, report, "lines lost", f"{candidate.name} (line {candidate.parsed.printout.first})"
                           f": {len(want) - len(got)} of {len(want)} layers missing, their shapes equal")
    same_types = [c for c in built if [t for t, _ in leaf_shapes(_spec(c))] == [t for t, _ in want]] or \
        [c for c in built if _subsequence([t for t, _ in leaf_shapes(_spec(c))], [t for t, _ in want])]
    if same_types:
        c = same_types[0]
        return Outcome(net.name, report, "differs", f"{c.name} (line {c.parsed.printout.first}): "
                       f"{_spec(c).parameters:,} parameters, spec {net.parameters:,}; "
                       f"{len(leaf_shapes(_spec(c)))} of {len(want)} layers read")
    unread = [n for n in result.networks if n.spec is None and n.role == net.role]
    why = "; ".join(f"line {n.parsed.printout.first}: {n.unreadable}" for n in unread) or "no printout matched"
    return Outcome(net.name, report, "unreadable" if unread else "differs", why)


def precision_recall(reg: spec.Registry, ingested: dict[str, Ingested]) -> tuple[int, int, int, int, list[str]]:
    """(drafts that match a recorded erratum, drafts, number-level errata found, number-level errata, found ids).
    A draft matches an erratum of its report when one of its quotes contains one of the erratum's, or the other
    way round (whitespace-normalised)."""

    def norm(s: str) -> str:
        return " ".join(s.split())

    errata = {e.id: e for e in reg.errata}
    hits, drafts, found = 0, 0, set()
    for report, result in ingested.items():
        for draft in result.errata():
            drafts += 1
            matched = [e.id for e in errata.values() if e.report == report and any(
                norm(q) in norm(d) or norm(d) in norm(q) for q in e.quotes for d in draft["quotes"])]
            hits += bool(matched)
            found |= set(matched)
    number = [i for i in NUMBER_LEVEL if i in errata]
    return hits, drafts, len(found & set(number)), len(number), sorted(found)


def ingest_reports(folder: Path) -> dict[str, Ingested]:
    root = spec.spec_dir()
    return {f.name[:3]: ingest_text(f.read_text(encoding="utf-8"), f.name[:3], f"x{f.name[:3]}", root)
            for f in sorted(folder.glob("[0-9][0-9][0-9]_*.txt"))}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    folder = Path(args[0]) if args else Path("../shared/seeds")
    if not folder.is_dir():
        print(f"error: {folder}: no such folder of reports (NNN_*.txt)", file=sys.stderr)
        return 2
    reg = spec.registry()
    ingested = ingest_reports(folder)
    for o in outcomes(reg, ingested):
        print(f"{o.network:22} {o.report:4} {o.verdict:12} {o.detail}")
    hits, drafts, found, number, ids = precision_recall(reg, ingested)
    print(f"draft errata: {drafts}, matching a recorded erratum: {hits} (precision {hits / max(drafts, 1):.2f}); "
          f"number-level errata found: {found} of {number} (recall {found / max(number, 1):.2f}); matched: "
          f"{', '.join(ids)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
