"""The scorecard: every claim's verdict with its evidence, as scorecard.md, scorecard.json and a section of the
HTML report (the verdict beside the numbers per seed, the arms' sample grids side by side and their loss curves).
Every row says the data it was decided on and the length its runs trained for."""

from __future__ import annotations

import base64
import html
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from impl import report, rundir
from impl.verdict import MARKDOWN_HEADER, Verdict, decide
from spec.claim import ClaimSpec

if TYPE_CHECKING:
    from impl.reproduce import Planned

MIN_N = 20  # generated images per run below which the metrics mean nothing
COLOURS = {"holds": "#186a3b", "does not hold": "#a61b1b", "inconclusive": "#9a6700", "not measurable here": "#555"}


def decide_all(claims: list[ClaimSpec], items: list[Planned]) -> list[Verdict]:
    """Each claim decided from the runs of its arms, in seed order."""
    runs: dict[str, list[Path]] = {}
    for item in sorted(items, key=lambda i: i.seed):
        runs.setdefault(item.arm.key(), []).append(item.folder)
    return [decide(claim, runs) for claim in claims]


def lengths(items: list[Planned]) -> dict[str, str]:
    """Each arm's trained length beside the recipe's: '2,811 of 2,811 steps (3 of 3 epochs)'."""
    out = {}
    for item in items:
        if item.seed or item.arm.key() in out:
            continue
        try:
            config = rundir.read_config(item.folder)
        except Exception:  # a run that never started: the verdict says it is not measurable
            continue
        spe, total = config.get("steps_per_epoch") or 1, config["total_steps"]
        documented = config.get("recipe", {}).get("epochs", {}).get("value")
        full = documented * spe if isinstance(documented, int) else None
        out[item.arm.key()] = f"{total:,} steps ({total / spe:.3g} epochs)" + \
            (" = the recipe's length" if full == total else f" of the recipe's {full:,}" if full else "")
    return out


def markdown(verdicts: list[Verdict], claims: list[ClaimSpec], meta: dict[str, Any], arms: dict[str, str]) -> str:
    counts = {v: sum(x.verdict == v for x in verdicts) for v in ("holds", "does not hold", "inconclusive",
                                                                   "not measurable here")}
    head = [f"# Scorecard: reports {', '.join(meta['reports'])}", "",
            f"{meta['seeds']} seeds per arm"
            + (f" at batch {meta['batch_size']} (--quick: a smoke run, its verdicts mean nothing)"
               if meta.get("batch_size") else "")
            + f"; {meta['n']:,} generated images per run for the metrics; device "
            f"{meta['device']}; face claims decided on {meta['faces']}; wall time {meta['wall_s']:,.0f} s.", "",
            " · ".join(f"{n} {v}" for v, n in counts.items()), "", MARKDOWN_HEADER,
            *(v.markdown_row() for v in verdicts), "", "## Arms and their lengths", "",
            *(f"- `{key}`: {text}" for key, text in arms.items()), "", "## Readings and proxies", ""]
    by_id = {c.id: c for c in claims}
    for v in verdicts:
        c = by_id[v.claim]
        notes = "; ".join(x for x in (c.reading, f"proxy: {c.proxy}" if c.proxy else "", c.reason) if x)
        head.append(f"- `{c.id}` ({c.report} {c.section}): {c.paraphrase}" + (f" {notes}" if notes else ""))
    return "\n".join(head) + "\n"


def _grid(run: Path) -> str:
    grids = sorted((run / "samples").glob("epoch_*.png")) or sorted((run / "samples").glob("*.png"))
    if not grids or not grids[-1].is_file():
        return ""
    data = base64.b64encode(grids[-1].read_bytes()).decode()
    return f'<img alt="samples" src="data:image/png;base64,{data}">'


def claim_html(v: Verdict, claim: ClaimSpec) -> str:
    """One claim: its verdict and why, the quote, the numbers per seed, and each arm's first-seed samples."""
    esc = html.escape
    rows = "".join(f"<tr><td>{esc(arm)}</td>" + "".join(
        f"<td>{'-' if x is None else report.number(float(x))}</td>" for x in values) + "</tr>"
        for arm, values in v.values.items())
    effect = "" if v.effect is None else f"effect {report.number(v.effect)}" + \
        (f" [{report.number(v.ci[0])}, {report.number(v.ci[1])}]" if v.ci else "")
    grids = "".join(f"<figure>{_grid(Path(paths[0]))}<figcaption>{esc(arm)}, seed 0</figcaption></figure>"
                    for arm, paths in v.runs.items() if paths)
    return (f'<div class=claim><h3><span class=verdict style="background:{COLOURS.get(v.verdict, "#555")}">'
            f"{esc(v.verdict)}</span> {esc(v.claim)}</h3><blockquote>{esc(v.quote)}</blockquote>"
            f"<p>{esc(claim.paraphrase)} <i>{esc(claim.reading)}</i></p>"
            f"<p>measure <code>{esc(v.measure)}</code>, rule {esc(v.rule)}; decided on {esc(v.data_label)}; "
            f"{esc(effect)}; {esc(v.reason)}</p>"
            + (f"<table><tr><th>arm</th>{''.join(f'<th>seed {i}</th>' for i in range(v.n or 0))}</tr>{rows}</table>"
               if rows else "") + f"<div class=grids>{grids}</div></div>")


CSS = """.claim{border-left:4px solid #ccc;padding-left:1em;margin:1.5em 0}.verdict{color:#fff;padding:2px 8px;
border-radius:3px;font-size:.85em}.grids{display:flex;gap:1em;flex-wrap:wrap}.grids img{max-width:420px}
blockquote{color:#444;margin:.3em 0}"""


def write(out: Path, claims: list[ClaimSpec], verdicts: list[Verdict], items: list[Planned], meta: dict) -> None:
    """OUT/scorecard.json, OUT/scorecard.md and OUT/report.html (the scorecard above every run's section)."""
    arms = lengths(items)
    meta = meta | {"finished": time.strftime("%Y-%m-%d %H:%M:%S"), "arm_lengths": arms}
    rundir.write_json(out / "scorecard.json", {**meta, "claims": [v.to_json() for v in verdicts]})
    text = markdown(verdicts, claims, meta, arms)
    (out / "scorecard.md").write_text(text, encoding="utf-8")
    by_id = {c.id: c for c in claims}
    section = "".join(claim_html(v, by_id[v.claim]) for v in verdicts)
    runs = [i.folder for i in sorted(items, key=lambda i: (i.arm.key(), i.seed)) if (i.folder / "config.json").exists()]
    page = report.build(runs)
    page = page.replace("</style>", CSS + "</style>", 1).replace(
        "<h2>Comparison</h2>", f"<h2>Scorecard</h2>{section}<h2>Comparison</h2>", 1)
    (out / "report.html").write_text(page, encoding="utf-8")
    print(text + f"\nevidence beside every verdict: {out / 'report.html'}")
