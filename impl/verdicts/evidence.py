"""The evidence beside each verdict in the scorecard's pages (impl/pages/site.py lays them out): in the summary, one
row per claim whose numbers say why (the effect with its interval and the rule's line, events as k of n seeds, p,
and for an inconclusive claim about how many seeds would decide it and which way it leans); on its report's page,
the claim's words, the verdict and why, the numbers per seed, the arms' last sample grids side by side, for a claim
read from a curve (per-epoch metrics or a logged loss) that curve for every arm and seed, each seed named, and for a
latent claim the probe's unchanged row beside its grid at the claim's value.

Run folders are read through impl.runfiles like the rest of the report: values escaped, PNGs only from inside
the run, re-encoded.
"""

from __future__ import annotations

import functools
import io
import math
from pathlib import Path
from typing import Any

from impl.pages import charts, html, site
from impl.runs.folder import RunFolder
from impl.runs.untrusted import esc, image
from impl.verdicts import decide
from impl.verdicts.events import false_rate_mean
from impl.verdicts.readings import curve
from impl.verdicts.verdict import INCONCLUSIVE, SMOKE, Verdict
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


def latent_grids(claim: ClaimSpec, runs: dict[str, list[str]]) -> str:
    """For a claim read from report 004's latent probe, per arm (first seed): the probe's unchanged row
    (latent/base.png, the reference the claim is judged against) beside its grid at the claim's value."""
    if not latent(claim):
        return ""
    assert claim.measure is not None and claim.measure.value is not None  # latent(claim) says so
    out = []
    for arm, paths in runs.items():
        if not paths:
            continue
        run = Path(paths[0])
        for value, caption in ((None, "the probe's unchanged latent vectors (the reference)"),
                               (claim.measure.value, f"latent positions set to {claim.measure.value:g} (rows: "
                                                     "positions, columns: the same vectors)")):
            path = run / RunFolder.latent_grid(value)
            img = image(run, path) if path.is_file() else "missing"
            if not isinstance(img, str):
                out.append(html.figure(img, f"{arm}, seed 0: {caption}"))
    return "".join(out)


def latent(claim: ClaimSpec) -> bool:
    return claim.measure is not None and claim.measure.kind == "latent" and claim.measure.value is not None


def curve_chart(claim: ClaimSpec, runs: dict[str, list[str]]) -> str:
    """The curve the claim's measurement reads, for every arm (one colour) and seed (one line style, named)."""
    if claim.measure is None or claim.measure.kind not in ("epoch_series", "loss_curve"):
        return ""
    lines = [(arm, seed, *curve(claim.measure, Path(path))) for arm, paths in runs.items()
             for seed, path in enumerate(paths)]
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

    def cells(values: list[float | None]) -> str:
        return "".join(f"<td>{'-' if x is None else html.number(float(x))}</td>" for x in values)

    rows = "".join(f"<tr><td>{esc(arm)}</td>{cells(values)}</tr>" for arm, values in v.values.items())
    rows += "".join(f"<tr class=note><td>{esc(arm)}: reference</td>{cells(refs)}</tr>"
                    for arm, refs in v.references.items() if any(r is not None for r in refs))
    return f"<table><tr><th>arm</th>{head}</tr>{rows}</table>"


def colour(verdict: str) -> str:
    """A verdict's badge colour; a verdict this page does not know (a new outcome) by the word it starts with."""
    if verdict in COLOURS:
        return COLOURS[verdict]
    return next((c for name, c in COLOURS.items() if verdict.startswith(name)), "#555")


def badge(verdict: str) -> str:
    return f'<span class=verdict style="background:{colour(verdict)}">{esc(verdict)}</span>'


def effect_html(d: dict[str, Any], claim: ClaimSpec) -> str:
    """The effect as the summary shows it: k of n seeds for an event, else the effect with its 95 % interval; then
    the rule's line (its bound or minimum effect) the effect was judged against."""
    events, effect, ci = d.get("events"), d.get("effect"), d.get("ci")
    if events:
        value = f"{events[0]} of {events[1]} seeds"
    elif isinstance(effect, int | float):
        value = html.number(float(effect)) + (f" [{html.number(float(ci[0]))}, {html.number(float(ci[1]))}]"
                                              if ci else "")
    else:
        value = "-"
    return f"{esc(value)}<br><span class=note>{esc(claim.rule.describe())}</span>" if claim.measurable else esc(value)


def leaning(d: dict[str, Any], claim: ClaimSpec) -> str:
    """Which way an inconclusive claim's effect leans: 'holds' when it sits on the claimed side of the rule's line,
    else 'does not hold'; '' when there is no effect to place."""
    rule, effect, events = claim.rule, d.get("effect"), d.get("events")
    if events and events[1]:
        rate = rule.rate or 0.0  # beyond what the claimed rate and the false events give
        return "holds" if events[0] / events[1] > rate + (1 - rate) * false_rate_mean(rule) else "does not hold"
    if not isinstance(effect, int | float) or not claim.measurable:
        return ""
    sign = decide._orient(claim)[0]
    b_values: list[float | None] = [x for x in (d.get("values") or {}).get(rule.b, [])
                                    if isinstance(x, int | float) and math.isfinite(x)]
    line = decide._line(claim, {rule.b: b_values})  # _line reads arm b's values by its name
    oriented = sign * effect
    holds = abs(oriented) < abs(line) if rule.kind == "similar" else oriented > line
    return "holds" if holds else "does not hold"


def more_seeds(d: dict[str, Any], claim: ClaimSpec) -> str:
    """For an inconclusive claim: about how many seeds would likely decide it, and the way it leans now; under
    --seeds auto, the chance that one more round decides it (impl/verdicts/outlook.py)."""
    ahead = d.get("next_round")
    if isinstance(ahead, dict) and isinstance(ahead.get("power"), float):
        return esc(f"one more round (+{ahead['added']} seeds, {ahead['how']}): about {ahead['power']:.0%} chance "
                   "to decide it")
    if d.get("verdict") != INCONCLUSIVE:
        return "-"
    way = leaning(d, claim)
    lean = f", leaning {way}" if way else ""
    needed = d.get("seeds_needed")
    if isinstance(needed, int):
        return esc(f"about {needed} seeds{lean}")
    return esc(f"no number is likely to decide it{lean}" if d.get("n", 0) > 1 else f"3 or more seeds{lean}")


def decision_lines(claim: ClaimSpec, d: dict[str, Any]) -> list[float]:
    """The rule's decision line(s) on the measure's own scale: the bound plus its minimum effect, the minimum effect
    of a comparison, both edges of a two-sided rule; none for an event rule (a rate, drawn as k of n)."""
    rule = claim.rule
    if not claim.measurable or rule.kind == "event":
        return []
    if rule.kind == "threshold" and rule.expect == "near":
        return [(rule.bound or 0.0) - (rule.min_effect or 0.0), (rule.bound or 0.0) + (rule.min_effect or 0.0)]
    b_values: list[float | None] = [x for x in (d.get("values") or {}).get(rule.b, [])
                                    if isinstance(x, int | float) and math.isfinite(x)]
    line = decide._orient(claim)[0] * decide._line(claim, {rule.b: b_values})
    return [-abs(line), abs(line)] if rule.kind == "similar" else [line]


def path_html(v: Verdict, claim: ClaimSpec) -> str:
    """--seeds auto: the claim's evidence after each round (seeds per arm, effect and interval, p, the round's level
    and the alpha spent by then, the verdict then and the decision the round took) as a table and a chart, and for an
    undecided claim what one more round would do, stated as power."""
    if not v.path:
        return ""
    head = "<tr><th>round</th><th>seeds per arm</th><th>effect [95 % interval]</th><th>p</th><th>level (spent)</th>" \
        "<th>raw verdict</th><th>decision</th></tr>"
    rows, points = "", []
    for i, look in enumerate(v.path, 1):
        per_arm = look.get("per_arm") or {}
        seeds = ", ".join(f"{arm} {n}" for arm, n in per_arm.items()) or str(look.get("seeds", "-"))
        effect, ci, events, p = look.get("effect"), look.get("ci"), look.get("events"), look.get("p")
        shown = f"{events[0]} of {events[1]} seeds" if events else "-" if not isinstance(effect, int | float) else \
            html.number(float(effect)) + (f" [{html.number(ci[0])}, {html.number(ci[1])}]" if ci else "")
        rows += (f"<tr><td>{i}</td><td>{esc(seeds)}</td><td>{esc(shown)}</td>"
                 f"<td>{esc(f'{p:.2g}' if isinstance(p, float) else '-')}</td>"
                 f"<td>{look.get('level', 0):.2g} ({look.get('spent', 0):.2g})</td><td>{esc(look.get('raw', ''))}</td>"
                 f"<td>{badge(str(look.get('decision', '')))}</td></tr>")
        if isinstance(effect, int | float) and math.isfinite(effect):
            x = max(per_arm.values()) if per_arm else int(look.get("seeds") or 0)
            points.append((x, float(effect), *(ci if ci else (None, None))))
    fig = charts.path_chart(points, decision_lines(claim, v.to_json()), v.effect_label or v.measure,
                            f"{v.claim} over the rounds")
    chart = ""
    if fig is not None and len(points) > 1:
        from PIL import Image

        chart = html.figure(Image.open(io.BytesIO(charts.png_bytes(fig))), f"{v.claim}: the effect and its 95 % "
                            "interval after each round, the rule's line dashed")
    ahead = f"<p>{esc(v.next_round['text'])}</p>" if v.next_round else ""
    return f"<h4>Over the rounds</h4><table>{head}{rows}</table>{chart}{ahead}"


SUMMARY_HEADS = ["claim", "what the report says", "verdict (after Holm, per report)", "raw",
                 "effect [95 % interval]; the rule's line", "seeds", "p", "more seeds"]


def summary_row(v: Verdict, claim: ClaimSpec) -> site.Row:
    """The claim's row in the summary: the headline verdict (after Holm over the claim's report) and the raw one
    beside it, effect with interval and line, seeds (or k of n), p, and for an inconclusive claim the seeds that
    would likely decide it and which way it leans."""
    d = v.to_json()
    p = d.get("p_value")
    raw = v.outcome if v.shown == v.verdict else v.shown
    cells = [esc(claim.paraphrase), badge(v.headline), badge(raw) if raw != v.headline else "same",
             effect_html(d, claim), esc(d.get("n") or "-"), esc(f"{p:.2g}" if isinstance(p, float) else "-"),
             more_seeds(d, claim)]
    return site.Row(anchor=v.claim, slug=site.slug(v.headline), cells=cells)


def claim_html(v: Verdict, claim: ClaimSpec, runs: dict[str, list[str]]) -> str:
    """One claim and its evidence. `runs` maps the claim's arm names to their run folders in seed order (also for a
    claim nothing can measure: its grids are shown for a reader to judge). A latent claim shows the probe's unchanged
    row beside its changed one instead of the training samples."""
    d = v.to_json()
    how = (f"measure <code>{esc(v.measure)}</code>, rule {esc(v.rule)}; decided on {esc(v.data_label)}; "
           if claim.measurable else "")
    grids = latent_grids(claim, runs) if latent(claim) else \
        "".join(last_grid(Path(paths[0]), f"{arm}, seed 0") for arm, paths in runs.items() if paths)
    raw = v.outcome if v.shown == v.verdict else v.shown
    holm = f" (before Holm: {esc(raw)})" if raw != v.headline else ""
    effect = effect_html(d, claim).split("<br>")[0]  # the rule is named in `how` already
    more = more_seeds(d, claim)
    return (f'<div class=claim id="{esc(v.claim)}"><h3>{badge(v.headline)} {esc(v.claim)}{holm}</h3>'
            f"<blockquote>{esc(v.quote)}</blockquote><p>{esc(claim.paraphrase)} <i>{esc(claim.reading)}</i></p>"
            f"<p>{how}effect {effect}{'; more seeds: ' + more if more != '-' else ''}</p><p>{esc(v.reason)}</p>"
            f"{path_html(v, claim)}{numbers(v)}{curve_chart(claim, runs)}<div class=grids>{grids}</div></div>")


def claim_runs(claim: ClaimSpec, runs_by_key: dict[str, list[Path]]) -> dict[str, list[str]]:
    return {name: [str(p) for p in runs_by_key.get(arm.key(), [])] for name, arm in claim.arms.items()}


def report_body(verdicts: list[Verdict], claims: list[ClaimSpec], runs_by_key: dict[str, list[Path]]) -> str:
    """A report's page: its claims with their evidence, then its runs compared (a collapsed line when their metrics
    were measured differently) and each run's section."""
    by_id = {c.id: c for c in claims}
    parts = "".join(claim_html(v, by_id[v.claim], claim_runs(by_id[v.claim], runs_by_key)) for v in verdicts)
    keys = sorted({arm.key() for v in verdicts for arm in by_id[v.claim].arms.values()})
    paths = [p for key in keys for p in runs_by_key.get(key, []) if RunFolder(p).file(RunFolder.CONFIG).exists()]
    runs = html.loaded(paths, [f"{p.parent.name}/{p.name}" for p in paths])  # arm/seed-k, also for one arm
    differ = html.measured_groups(runs)
    warning = site.collapsed_warning(f"these runs' metrics were measured differently in {len(differ)} way(s); ★ "
                                     "marks a best metric only among runs measured alike", differ)
    return f"<h2>Claims</h2>{parts}<h2>Runs</h2>{warning}{html.runs_body(runs) if runs else ''}"


def report_parts(verdicts: list[Verdict], claims: list[ClaimSpec],
                 runs_by_key: dict[str, list[Path]]) -> list[site.ReportPart]:
    """One part per report, in report order: the summary's rows and the page's body (made when the page is)."""
    by_id = {c.id: c for c in claims}
    out = []
    for report in sorted({v.report for v in verdicts}):
        mine = [v for v in verdicts if v.report == report]
        counts = {name: sum(v.shown == name for v in mine) for name in dict.fromkeys(v.shown for v in mine)}
        out.append(site.ReportPart(
            report=report, heading=f"Report {report}: " + ", ".join(f"{n} {name}" for name, n in counts.items()),
            rows=[summary_row(v, by_id[v.claim]) for v in mine], counts=counts,
            body=functools.partial(report_body, mine, claims, runs_by_key)))
    return out
