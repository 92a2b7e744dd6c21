"""The scorecard: every claim's verdict with its evidence, as scorecard.md, scorecard.json and a section of the
HTML report (impl/evidence.py: the numbers per seed, the arms' sample grids side by side, the curves read).
Every row says the data it was decided on and the length its runs trained for."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from impl.errors import RunError
from impl.pages import html
from impl.runs import folder as rundir
from impl.verdicts import evidence
from impl.verdicts.decide import MARKDOWN_HEADER, Verdict, decide
from spec.claim import ClaimSpec

if TYPE_CHECKING:
    from impl.arms.engine import Planned

MIN_N = 20  # generated images per run below which the metrics mean nothing
ARMS_HEADING = "## Arms: their run folders (config.json, metrics.json, metrics.jsonl, ...) and lengths"


def runs_by_key(items: list[Planned]) -> dict[str, list[Path]]:
    """Each arm's run folders (by its canonical key), in seed order."""
    runs: dict[str, list[Path]] = {}
    for item in sorted(items, key=lambda i: i.seed):
        runs.setdefault(item.arm.key(), []).append(item.folder)
    return runs


def decide_all(claims: list[ClaimSpec], items: list[Planned]) -> list[Verdict]:
    """Each claim decided from the runs of its arms, in seed order."""
    runs = runs_by_key(items)
    return [decide(claim, runs) for claim in claims]


def lengths(items: list[Planned]) -> dict[str, str]:
    """Each arm's run folders and trained length beside the recipe's: 'in `r004-mlp/seed-*/`: 2,811 steps
    (3 epochs) = the recipe's length'."""
    out = {}
    for item in items:
        if item.seed or item.arm.key() in out:
            continue
        try:
            config = rundir.read_config(item.folder)
        except RunError:  # a run that never started: the verdict says it is not measurable
            continue
        spe, total = config.get("steps_per_epoch") or 1, config["total_steps"]
        documented = config.get("recipe", {}).get("epochs", {}).get("value")
        full = documented * spe if isinstance(documented, int) else None
        out[item.arm.key()] = f"in `{item.folder.parent.name}/seed-*/`: {total:,} steps ({total / spe:.3g} epochs)" + \
            (" = the recipe's length" if full == total else f" of the recipe's {full:,}" if full else "")
    return out


def markdown(verdicts: list[Verdict], claims: list[ClaimSpec], meta: dict[str, Any], arms: dict[str, str]) -> str:
    counts = {v: sum(x.verdict == v for x in verdicts) for v in ("holds", "does not hold", "inconclusive",
                                                                   "not measurable here")}
    faces = f"face claims decided on {meta['faces']}; " if any(c.data == "anime-faces" for c in claims) else ""
    head = [f"# Scorecard: reports {', '.join(meta['reports'])}", "",
            f"{meta['seeds']} seeds per arm"
            + (f" at batch {meta['batch_size']} (--quick: a smoke run, its verdicts mean nothing)"
               if meta.get("batch_size") else "")
            + f"; {meta['n']:,} generated images per run for the metrics; device "
            f"{meta['device']}; {faces}wall time {meta['wall_s']:,.0f} s over all its "
            f"calls ({meta.get('this_call_s', meta['wall_s']):,.0f} s in the last).", "",
            " · ".join(f"{n} {v}" for v, n in counts.items()), "", MARKDOWN_HEADER,
            *(v.markdown_row() for v in verdicts), "", ARMS_HEADING, "",
            *(f"- `{key}` {text}" for key, text in arms.items()), "", "## Readings and proxies", ""]
    by_id = {c.id: c for c in claims}
    for v in verdicts:
        c = by_id[v.claim]
        notes = "; ".join(x for x in (c.reading, f"proxy: {c.proxy}" if c.proxy else "", c.reason) if x)
        head.append(f"- `{c.id}` ({c.report} {c.section}): {c.paraphrase}" + (f" {notes}" if notes else ""))
    return "\n".join(head) + "\n"


def write(out: Path, claims: list[ClaimSpec], verdicts: list[Verdict], items: list[Planned], meta: dict) -> None:
    """OUT/scorecard.json, OUT/scorecard.md and OUT/report.html (the scorecard above every run's section)."""
    arms = lengths(items)
    meta = meta | {"finished": time.strftime("%Y-%m-%d %H:%M:%S"), "arm_lengths": arms}
    rundir.write_json(out / "scorecard.json", {**meta, "claims": [v.to_json() for v in verdicts]})
    text = markdown(verdicts, claims, meta, arms)
    (out / "scorecard.md").write_text(text, encoding="utf-8")
    lead = evidence.section(verdicts, claims, runs_by_key(items))
    runs = [i.folder for i in sorted(items, key=lambda i: (i.arm.key(), i.seed)) if (i.folder / "config.json").exists()]
    title = f"gan-spec scorecard: reports {', '.join(meta['reports'])}"
    page = html.build(runs, title=title, lead=lead, css=evidence.CSS, warn=False)
    (out / "report.html").write_text(page, encoding="utf-8")
    print(text + f"\nevidence beside every verdict: {out / 'report.html'}")
