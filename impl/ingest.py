"""Read a new report's network printouts into spec files, checking every number it states.

    python -m impl.ingest report.md --id r005              # spec/networks/r005-*.toml + spec/drafts/r005-*.toml
    python -m impl.ingest report.txt --id r005 --json      # the per-printout summary as JSON
    python -m impl.ingest report.txt --id r005 --out specs/ --force

Finds print(model) module trees, torchsummary and torchinfo tables (also garbled by a transcription), rebuilds
each network (exactly from a module tree; from a table by inferring kernel, stride, padding and bias), pairs
generator and discriminator, checks every stated shape, count and size against the rebuilt network, and writes
the networks, draft errata and a draft experiment. Each printout gets a summary: layers read, totals stated and
built, mismatches, guesses, lines skipped and why.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import spec
from impl.core import cli
from impl.core.errors import boundary
from impl.networks.printout import compare
from impl.printouts.errors import IngestRefused
from impl.printouts.pipeline import Ingested, Network, ingest_text
from impl.printouts.write import errata_file, experiment_file, network_file, write_all
from spec.network import Evidence

MAX_BYTES = 16 * 2**20  # a report's text; a longer file is not a course report


def read_report(path: Path) -> str:
    """The report's text; IngestRefused for a missing, empty, binary or oversized file."""
    try:
        with path.open("rb") as f:
            data = f.read(MAX_BYTES + 1)
    except OSError as exc:
        raise IngestRefused(f"{path}: cannot read it ({exc.strerror}); give the report as text") from None
    if len(data) > MAX_BYTES:
        raise IngestRefused(f"{path}: over {MAX_BYTES // 2**20} MB, not a course report; give its text only")
    if b"\0" in data:
        raise IngestRefused(f"{path}: a binary file (it holds NUL bytes); give the report as plain text or Markdown")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise IngestRefused(f"{path}: not UTF-8 text (byte {exc.start}); convert it to UTF-8 first") from None
    if not text.strip():
        raise IngestRefused(f"{path}: empty; give the report's text")
    return text


def _prefix(given: str) -> tuple[str, str]:
    if not re.fullmatch(r"[a-z][a-z0-9]*", given) or len(given) > 20:
        raise IngestRefused(f"--id {given!r}: use a short lowercase id such as r005")
    digits = re.sub(r"\D", "", given)
    return given, digits or given


def _evidence(net: Any, report: str) -> list[dict[str, Any]]:
    """The printout as evidence when the rebuilt network reproduces it exactly (so the registry tests hold)."""
    p = net.parsed
    source = f"{report} line {p.printout.first}"
    if net.mismatches or p.guesses and p.kind == "repr":
        return []
    if p.kind == "torchsummary":
        return [{"kind": "summary", "source": source, "text": p.printout.text.strip("\n"),
                 "note": "torchsummary table as printed in the report"}]
    if p.kind == "repr":
        from impl.networks.build import build_spec

        ev = Evidence(kind="printout", source=source, text=p.printout.text)
        if compare(ev, repr(build_spec(net.spec))).ok:
            return [{"kind": "printout", "source": source, "text": p.printout.text.strip("\n")}]
    return []


def _table(net: Network) -> dict[str, Any]:
    assert net.table is not None  # built() keeps networks with a spec; spec and table are always set together
    return net.table


def plan_files(result: Ingested) -> dict[str, str]:
    files = {f"networks/{n.name}.toml": network_file(_table(n), _evidence(n, result.report)) for n in result.built()}
    drafts = result.errata()
    if drafts:
        files[f"drafts/{result.prefix}-errata.toml"] = errata_file(drafts)
    for i, (pair, recipe) in enumerate(experiments(result), 1):
        files[f"drafts/{result.prefix}-experiment{i if i > 1 else ''}.toml"] = experiment_file(recipe, pair)
    return files


def experiments(result: Ingested) -> list[tuple[dict[str, str], dict[str, Any]]]:
    """One draft experiment per generator: its networks (the discriminator printed next to it), and each recipe
    value first stated after its printouts and before the next experiment's (else the report's first mention)."""
    built = result.built()
    gens = [n for n in built if n.role == "generator"] or built[:1]
    out = []
    for k, g in enumerate(gens):
        d = min((n for n in built if n.role == "discriminator"),
                key=lambda n: abs(n.parsed.printout.first - g.parsed.printout.first), default=None)
        nets = [n for n in (g, d) if n is not None]
        start = max(n.parsed.printout.last for n in nets)
        end = min((n.parsed.printout.first for n in gens[k + 1:]), default=10**9)
        recipe: dict[str, Any] = {}
        for found in sorted(result.recipe, key=lambda f: (not start < f.line < end, f.line)):
            recipe.setdefault(found.key, {"value": found.value, "status": "documented",
                                          "source": f"{result.report} line {found.line}", "quote": found.excerpt})
        out.append(({n.role: n.name for n in nets}, recipe))
    return out


def _check_loads(root: Path, files: dict[str, str]) -> None:
    """The new files load with spec's strict loader beside the folder's own (checked on a copy first)."""
    if not (root / "networks").is_dir():
        return
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "spec"
        shutil.copytree(root, copy, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
        write_all(copy, files, force=True)
        try:
            spec.load_registry(copy)
        except spec.SpecError as exc:
            raise IngestRefused(f"the ingested networks would not load: {str(exc).replace(str(copy), str(root))}") \
                from None


def _taken(root: Path, prefix: str) -> list[str]:
    return sorted(p.name for p in (root / "networks").glob(f"{prefix}-*.toml")) if (root / "networks").is_dir() else []


def _say(result: Ingested, written: list[Path]) -> None:
    for net in result.networks:
        p, s = net.parsed, net.summary()
        head = f"lines {p.printout.first}-{p.printout.last} {p.kind} ({net.role})"
        if net.spec is None:
            print(f"{head}: NOT rebuilt: {p.unreadable}")
        else:
            stated = f"{s['total_stated']:,}" if s["total_stated"] is not None else "not stated"
            print(f"{head} -> {net.name}: {s['layers_read']} layers, total stated {stated}, built "
                  f"{s['total_built']:,}, {len(net.mismatches)} mismatch(es), {len(p.guesses)} guess(es)")
        for m in net.mismatches:
            print(f"  mismatch line {m.line}: the report says {m.said}, rebuilt {m.built or '(see the line)'}")
        for guess in p.guesses:
            print(f"  guess: {guess}")
        for line, why in p.skipped:
            print(f"  skipped line {line}: {why}")
    print(f"{len(result.errata())} draft errata; wrote {len(written)} file(s)")
    for path in written:
        print(f"  {path}")


@boundary("impl.ingest")
def main(argv: list[str] | None = None) -> int:
    parser = cli.parser("python -m impl.ingest", __doc__)
    parser.add_argument("report", type=Path, help="the report as plain text or Markdown")
    parser.add_argument("--id", required=True, help="the new report's id, e.g. r005 (names r005-g, r005-d, ...)")
    parser.add_argument("--out", type=Path, default=None, help="the spec folder to write into (default: spec/)")
    parser.add_argument("--json", action="store_true", help="print the per-printout summary as JSON")
    parser.add_argument("--force", action="store_true", help="overwrite files of an id already taken")
    args = parser.parse_args(argv)
    prefix, report = _prefix(args.id)
    root = args.out if args.out is not None else spec.spec_dir()
    if (taken := _taken(root, prefix)) and not args.force:
        raise IngestRefused(f"--id {prefix}: already taken in {root / 'networks'} ({taken[0]}); choose another "
                            "id or pass --force")
    text = read_report(args.report)
    result = ingest_text(text, report, prefix, root)
    if not result.networks:
        raise IngestRefused(f"{args.report}: no network printout (module tree, torchsummary or torchinfo table) "
                            "found; docs/spec-format.md shows the forms ingest reads")
    if not result.built():
        if not args.json:
            _say(result, [])
        raise IngestRefused(f"{args.report}: none of its {len(result.networks)} printout(s) could be rebuilt "
                            "(the summary above says why); nothing written")
    files = plan_files(result)
    _check_loads(root, files)
    written = write_all(root, files, args.force)
    if args.json:
        print(json.dumps({"report": report, "id": prefix, "printouts": [n.summary() for n in result.networks],
                          "errata": result.errata(), "written": [str(p) for p in written]}, indent=2,
                         ensure_ascii=False))
    else:
        _say(result, written)
    return 0


if __name__ == "__main__":
    sys.exit(main())
