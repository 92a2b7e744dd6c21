"""Every claim's own rule on disjoint replicate sets of real runs: A/A, a planted effect at 1, 1.5 and 2 times its
minimum effect, and at 2x with a diverged loser (tools/calibrate.py trains the runs).

A replicate set is 3 seeds per arm, the scorecard's `--seeds 3`; each run is in one set only, so the sets are
independent trials and a count over them has an exact binomial interval. Two-arm rules (compare, not_better,
similar) take runs 0-2 as arm a and 3-5 as arm b, then 6-8 and 9-11, ...; one-arm rules (threshold, event) take runs
0-2, 3-5, .... A planted effect moves arm a's measured values by exactly `scale` x the margin the rule itself draws
(impl/verdicts/decide._line, so a relative minimum effect is a share of that set's arm b) in the claimed direction
(not_better: a real gain of a over b; similar: a difference of that size). A threshold's arm is centred on its
bound by the mean of the pool's runs outside the set (an independent estimate of the recipe's true mean), then moved
the same way. Every decision is impl/verdicts/decide.judge's, never a copy of it.
"""

from __future__ import annotations

import shutil
import statistics
from collections import Counter
from pathlib import Path
from typing import Any

from impl.runs.folder import RunFolder
from impl.verdicts import stats
from impl.verdicts.decide import _line, _orient, judge
from impl.verdicts.readings import DIVERGED, Reading, read_measure
from impl.verdicts.verdict import FAILS, HOLDS, INCONCLUSIVE, Verdict
from spec.claim import ClaimSpec

SEEDS = 3  # seeds per arm, as the scorecard's --seeds 3
SCALES = (("A/A", 0.0), ("at margin", 1.0), ("1.5x", 1.5), ("2x", 2.0))
SMALLER = "holds, but smaller"  # the fourth outcome: the direction holds, by less than the minimum effect
_cache: dict[tuple[str, bool, Path], Reading] = {}


def reading(claim: ClaimSpec, run: Path) -> Reading:
    assert claim.measure is not None  # only measurable claims are calibrated
    key = (claim.measure.describe(), claim.face_specific, run)
    if key not in _cache:
        _cache[key] = read_measure(claim.measure, run, claim.face_specific)
    return _cache[key]


def outcome(v: Verdict) -> str:
    return SMALLER if v.verdict == FAILS and v.smaller else v.verdict


def two_arm(claim: ClaimSpec) -> bool:
    return claim.rule.kind in ("compare", "not_better", "similar")


def replicate_sets(runs: list[Path], claim: ClaimSpec) -> list[list[Path]]:
    size = 2 * SEEDS if two_arm(claim) else SEEDS
    return [runs[i:i + size] for i in range(0, len(runs) - size + 1, size)]


def null_rule(claim: ClaimSpec) -> bool:
    """A rule whose 'holds' is the no-effect answer (not_better, similar, a 'near' threshold): its error at A/A is
    'does not hold', and at the margin 'holds'."""
    rule = claim.rule
    return rule.kind in ("not_better", "similar") or (rule.kind == "threshold" and rule.expect == "near")


def planted(claim: ClaimSpec, a: list[float | None], b: list[float | None], scale: float) -> list[float | None]:
    """Arm a's values moved by `scale` x the rule's own margin in the claimed direction (two-arm rules)."""
    rule, sign = claim.rule, _orient(claim)[0]
    margin = abs(_line(claim, {rule.b: b}))
    shift = scale * margin if rule.kind == "similar" else \
        sign * scale * margin * (-1.0 if rule.kind == "not_better" else 1.0)
    return [None if x is None else x + shift for x in a]


def centred(claim: ClaimSpec, arm: list[float | None], rest: float, scale: float) -> list[float | None]:
    """A threshold arm's values centred on the bound (by the mean of the runs outside the set), then moved by `scale`
    x the minimum effect to the claimed side (a 'near' bound: up)."""
    rule = claim.rule
    side = 1.0 if rule.expect in ("above", "near") else -1.0
    target = (rule.bound or 0.0) + side * scale * (rule.min_effect or 0.0)
    return [None if x is None else x - rest + target for x in arm]


def marked_diverged(run: Path, where: Path) -> Path:
    """A copy of the run's config.json with impl's own divergence record (outcome.json): read as a diverged run."""
    dst = where / run.name
    if not (dst / RunFolder.OUTCOME).is_file():
        dst.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(run / RunFolder.CONFIG, dst / RunFolder.CONFIG)
        RunFolder(dst).write_outcome(DIVERGED, "planted by tools.calibrate: the run is marked diverged")
    return dst


def decide_set(claim: ClaimSpec, runs: list[Path], scale: float, rest: float | None, diverged_in: Path | None
               ) -> Verdict:
    """One replicate set decided; `diverged_in`: arm b's (one-arm rules: the arm's) first run marked diverged."""
    got = [reading(claim, r) for r in runs]
    if diverged_in is not None:
        first = SEEDS if two_arm(claim) else 0
        got[first] = reading(claim, marked_diverged(runs[first], diverged_in))
    values = [g.value for g in got]
    down = [g.outcome == DIVERGED for g in got]
    missing = [f"run {r.name}: {g.reason}" for r, g in zip(runs, got, strict=True) if g.value is None and g.reason]
    rule = claim.rule
    if two_arm(claim):
        a, b = values[:SEEDS], values[SEEDS:]
        return judge(claim, {rule.a: planted(claim, a, b, scale), rule.b: b}, missing,
                     {rule.a: down[:SEEDS], rule.b: down[SEEDS:]})
    arm = values if rule.kind == "event" or rest is None else centred(claim, values, rest, scale)
    return judge(claim, {rule.arm: arm}, missing, {rule.arm: down})


def rule_rows(claims: list[ClaimSpec], runs: list[Path], diverged_in: Path) -> list[dict[str, Any]]:
    """Per claim: verdict counts over the replicate sets at each planted scale, and at 2x with a diverged loser."""
    rows = []
    for claim in claims:
        got = [reading(claim, r) for r in runs]
        finite = [g.value for g in got if g.value is not None]
        row: dict[str, Any] = {"claim": claim.id, "rule": claim.rule.kind, "measure": claim.measure.describe()
                               if claim.measure else "-", "null_rule": null_rule(claim)}
        if len(finite) < len(runs):
            why = next(g.reason for g in got if g.value is None)
            row["not_measured"] = why
            rows.append(row)
            continue
        sets = replicate_sets(runs, claim)
        row["sets"], row["mean"], row["sd"] = len(sets), statistics.fmean(finite), statistics.stdev(finite)
        scales = SCALES[:1] if claim.rule.kind == "event" else SCALES
        for label, scale in scales:
            tally: Counter[str] = Counter()
            for s in sets:
                rest = None if two_arm(claim) else statistics.fmean(
                    g.value for r, g in zip(runs, got, strict=True) if r not in s and g.value is not None)
                tally[outcome(decide_set(claim, s, scale, rest, None))] += 1
            row[label] = dict(tally)
        if claim.rule.kind != "event":
            tally = Counter()
            for s in sets:
                rest = None if two_arm(claim) else statistics.fmean(
                    g.value for r, g in zip(runs, got, strict=True) if r not in s and g.value is not None)
                tally[outcome(decide_set(claim, s, 2.0, rest, diverged_in))] += 1
            row["2x, a diverged loser"] = dict(tally)
        rows.append(row)
    return rows


def false_events(claims: list[ClaimSpec], runs: list[Path]) -> list[dict[str, Any]]:
    """Per event claim: how many clean pool runs show the event (judge on each run alone: its (k, n))."""
    rows = []
    for claim in claims:
        if claim.rule.kind != "event":
            continue
        seen = [judge(claim, {claim.rule.arm: [reading(claim, r).value]}).events for r in runs]
        k, n = sum(e[0] for e in seen if e), sum(e[1] for e in seen if e)
        rows.append({"claim": claim.id, "measure": claim.measure.describe() if claim.measure else "-", "events": k,
                     "runs": n, "assumed": claim.rule.false_rate})
    return rows


def cell(text: str) -> str:
    """Text for a Markdown table cell: a measure such as |log(...)| keeps its bars without splitting the row."""
    return text.replace("|", "\\|")


def _interval(k: int, n: int) -> str:
    low, high = stats.clopper_pearson(k, n)
    return f"{k}/{n} [{low:.2f}, {high:.2f}]"


def _cell(tally: dict[str, int] | None) -> str:
    if tally is None:
        return "-"
    return f"{tally.get(HOLDS, 0)} / {tally.get(SMALLER, 0)} / {tally.get(FAILS, 0)} / {tally.get(INCONCLUSIVE, 0)}"


def rule_table(rows: list[dict[str, Any]]) -> list[str]:
    labels = [label for label, _ in SCALES] + ["2x, a diverged loser"]
    out = ["Each cell: replicate sets (3 seeds per arm, disjoint runs) where the claim's own rule said holds / holds "
           "but smaller than the minimum effect / does not hold / inconclusive. Error: 'holds' at A/A and at the "
           "margin for a directional rule (size, nominal 2.5 %); 'does not hold' at A/A and 'holds' at the margin for "
           "a no-effect rule (not_better, similar, near).", "",
           "| claim | rule | measure | pool mean, sd | sets | " + " | ".join(labels) +
           " | error at A/A [95 % CI] | error at the margin [95 % CI] |",
           "| --- | --- | --- | --- | --- | " + " | ".join("---" for _ in labels) + " | --- | --- |"]
    for row in rows:
        head = f"| `{row['claim']}` | {row['rule']} | `{cell(row['measure'])}` |"
        if "not_measured" in row:
            out.append(f"{head} not measured on the pool: {row['not_measured']} |" + " |" * (len(labels) + 3))
            continue
        n, aa, margin = row["sets"], row.get("A/A", {}), row.get("at margin")
        aa_error = aa.get(FAILS, 0) + aa.get(SMALLER, 0) if row["null_rule"] else aa.get(HOLDS, 0)
        margin_error = "-" if margin is None else _interval(margin.get(HOLDS, 0), n)
        out.append(f"{head} {row['mean']:.4g}, {row['sd']:.3g} | {n} | " +
                   " | ".join(_cell(row.get(label)) for label in labels) +
                   f" | {_interval(aa_error, n)} | {margin_error} |")
    return out


def event_table(rows: list[dict[str, Any]]) -> list[str]:
    out = ["Per-run false events: clean pool runs (nothing planted) that show each event claim's event, against the "
           "false-event rate the claim file assumes.", "",
           "| claim | measure | runs with the event [95 % CI] | rate the claim assumes |", "| --- | --- | --- | --- |"]
    out += [f"| `{r['claim']}` | `{cell(r['measure'])}` | {_interval(r['events'], r['runs']) if r['runs'] else '-'} | "
            f"{r['assumed']} |" for r in rows]
    return out
