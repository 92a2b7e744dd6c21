"""The evidence beside each verdict in the scorecard's HTML: the claim's words, the verdict and why, the numbers
per seed, the arms' last sample grids side by side, for a claim read from a curve (per-epoch metrics or a logged
loss) that curve for every arm and seed, and for a latent claim the probe's grid at its value.

Run folders are read through impl.runfiles like the rest of the report: values escaped, PNGs only from inside
the run, re-encoded.
"""

from __future__ import annotations

import io
from pathlib import Path

from impl.pages import charts, html
from impl.runs.folder import RunFolder
from impl.runs.untrusted import esc, image
from impl.verdicts.readings import curve
from impl.verdicts.verdict import SMOKE, Verdict
from spec.claim import ClaimSpec

COLOURS = {"holds": "#186a3b", "does not hold": "#a61b1b", "inconclusive": "#9a6700", "not measurable here": "#555",
           SMOKE: "#888"}
CSS = """.claim{border-left:4px solid #ccc;padding-left:1em;margin:1.5em 0}.verdict{color:#fff;padding:2px 8px;
border-radius:3px;font-size:.85em;white-space:nowrap}.grids{display:flex;gap:1em;flex-wrap:wrap}
.grids img{max-width:420px}blockquote{color:#444;margin:.3em 0}.counts span{margin-right:1.2em}"""


def last_grid(run: Path, caption: str) -> str:
    """The run's last sample grid as a figure, or nothing when it has none (or none that is safe to show)."""
    folder = RunFolder(run, trusted=False)
    grids = folder.grids("epoch_*.png") or folder.grids()
    if not grids:
        return ""
    img = image(run, grids[-1])
    return "" if isinstance(img, str) else html.figure(img, f"{caption} ({grids[-1].stem})")


def latent_grid(claim: ClaimSpec, runs: dict[str, list[str]]) -> str:
    """For a claim read from report 004's latent probe: the probe's grid at the claim's value, first seed."""
    if claim.measure is None or claim.measure.kind != "latent" or claim.measure.value is None:
        return ""
    out = []
    for arm, paths in runs.items():
        if paths:
            path = Path(paths[0]) / RunFolder.latent_grid(claim.measure.value)
            img = image(Path(paths[0]), path) if path.is_file() else "missing"
            if not isinstance(img, str):
                out.append(html.figure(img, f"{arm}, seed 0: latent positions set to {claim.measure.value:g} "
                                              "(rows: positions, columns: the 8 latent vectors)"))
    return "".join(out)


def curve_chart(claim: ClaimSpec, runs: dict[str, list[str]]) -> str:
    """The curve the claim's measurement reads, for every arm (one colour) and seed (dotted after the first)."""
    if claim.measure is None or claim.measure.kind not in ("epoch_series", "loss_curve"):
        return ""
    lines = [(arm, *curve(claim.measure, Path(path))) for arm, paths in runs.items() for path in paths]
    xlabel = "epoch" if claim.measure.kind == "epoch_series" else "step (batches)"
    fig = charts.series_chart(lines, xlabel, claim.measure.key, f"{claim.measure.key} of every arm and seed")
    if fig is None:
        return ""
    from PIL import Image

    img = Image.open(io.BytesIO(charts.png_bytes(fig)))
    return html.figure(img, f"{claim.measure.key} by {xlabel}: what {claim.measure.describe()} is read from")


def numbers(v: Verdict) -> str:
    """The value of every arm at every seed, and beside it the reference it was read against (the real set's own
    value, the floor, or the probe's unchanged images)."""
    if not v.values:
        return ""
    seeds = max(len(values) for values in v.values.values())
    head = "".join(f"<th>seed {i}</th>" for i in range(seeds))

    def cells(values: list) -> str:
        return "".join(f"<td>{'-' if x is None else html.number(float(x))}</td>" for x in values)

    rows = "".join(f"<tr><td>{esc(arm)}</td>{cells(values)}</tr>" for arm, values in v.values.items())
    rows += "".join(f"<tr class=note><td>{esc(arm)}: reference</td>{cells(refs)}</tr>"
                    for arm, refs in v.references.items() if any(r is not None for r in refs))
    return f"<table><tr><th>arm</th>{head}</tr>{rows}</table>"


def claim_html(v: Verdict, claim: ClaimSpec, runs: dict[str, list[str]]) -> str:
    """One claim and its evidence. `runs` maps the claim's arm names to their run folders in seed order (also for a
    claim nothing can measure: its grids are shown for a reader to judge)."""
    effect = "" if v.effect is None else f"effect {html.number(v.effect)}" + \
        (f" [{html.number(v.ci[0])}, {html.number(v.ci[1])}]" if v.ci else "") + "; "
    how = (f"measure <code>{esc(v.measure)}</code>, rule {esc(v.rule)}; decided on {esc(v.data_label)}; "
           if claim.measurable else "")
    grids = latent_grid(claim, runs) + \
        "".join(last_grid(Path(paths[0]), f"{arm}, seed 0") for arm, paths in runs.items() if paths)
    colour = COLOURS.get(v.shown, "#555")
    holm = f" (after Holm: {esc(v.shown_holm)})" if v.shown_holm and v.shown_holm != v.shown else ""
    return (f'<div class=claim id="{esc(v.claim)}"><h3><span class=verdict style="background:{colour}">'
            f"{esc(v.shown)}</span> {esc(v.claim)}{holm}</h3><blockquote>{esc(v.quote)}</blockquote>"
            f"<p>{esc(claim.paraphrase)} <i>{esc(claim.reading)}</i></p>"
            f"<p>{how}{esc(effect)}{esc(v.reason)}</p>{numbers(v)}{curve_chart(claim, runs)}"
            f"<div class=grids>{grids}</div></div>")


def section(verdicts: list[Verdict], claims: list[ClaimSpec], runs_by_key: dict[str, list[Path]]) -> str:
    """The Scorecard section: the counts of each verdict, then every claim with its evidence."""
    by_id = {c.id: c for c in claims}
    counts = "".join(f"<span><b>{sum(x.shown == name for x in verdicts)}</b> {esc(name)}</span>"
                     for name in COLOURS if any(x.shown == name for x in verdicts) or name != SMOKE)
    parts, rows = [], []
    for v in verdicts:
        claim = by_id[v.claim]
        runs = {name: [str(p) for p in runs_by_key.get(arm.key(), [])] for name, arm in claim.arms.items()}
        parts.append(claim_html(v, claim, runs))
        effect = "-" if v.effect is None else html.number(v.effect)
        rows.append(f'<tr><td><a href="#{esc(v.claim)}">{esc(v.claim)}</a></td><td>{esc(claim.paraphrase)}</td>'
                    f'<td><span class=verdict style="background:{COLOURS.get(v.shown, "#555")}">{esc(v.shown)}'
                    f"</span></td><td>{esc(effect)}</td><td>{v.n or '-'}</td></tr>")
    table = ("<table><tr><th>claim</th><th>what the report says</th><th>verdict</th><th>effect</th><th>seeds</th>"
             f"</tr>{''.join(rows)}</table>")
    return f"<h2>Scorecard</h2><p class=counts>{counts}</p>{table}{''.join(parts)}"
