"""Deciding a claim from its runs' values over seeds: holds, does not hold, inconclusive, or not measurable here.

Every rule turns the per-seed values into one claim-oriented sample and one line (docs/claims.md states each rule
with its statistics):
- threshold: the arm's values against the bound (anchored to a reference the rule names);
- compare: the paired differences a - b (seeds paired by index) against the minimum effect, in the claimed
  direction, so a difference smaller than the minimum effect never holds;
- not_better: the improvement of a over b must stay below the minimum effect (a null claim);
- similar: the difference within plus or minus the minimum effect (two one-sided tests);
- event: per run the event happens or not; the rate over seeds against the claimed rate (exact binomial,
  Clopper-Pearson), so "it even happened" is k of n seeds, never a mean.
A claim holds when the 95 % interval lies wholly on the claimed side of the line, does not hold when it lies
wholly on the other side, and is inconclusive otherwise, with the number of seeds that would likely decide it.
A diverged run is an outcome, not missing data, never dropped: it is the event of an event rule; for the other rules
the seeds are then decided by an exact rank test (impl/verdicts/ranks.py) in which it ranks as its arm's worst value
(least favourable to each one-sided test where the measure has no direction), and a test that cannot reach the level
at the seeds used decides nothing. A generator in whose images the detector finds no face ranks so too in every face
measure ('faceless': readings.NO_FACE), never dropped.

This module reads the runs and dispatches (`decide`, `judge`); the rules on the claim-oriented scale, the t and the
rank decisions, are in impl/verdicts/rules.py, the event rule in impl/verdicts/events.py.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from pathlib import Path

from impl.core.errors import RunError
from impl.runs.folder import RunFolder
from impl.verdicts import events, rules, stats
from impl.verdicts.readings import DIVERGED, NO_FACE, read_measure, worst_seeds
from impl.verdicts.rules import _line, _orient
from impl.verdicts.verdict import FAILS, HOLDS, INCONCLUSIVE, NOT_MEASURABLE, VERDICTS, Verdict
from spec.claim import ClaimSpec

__all__ = ["FAILS", "HOLDS", "INCONCLUSIVE", "NOT_MEASURABLE", "VERDICTS", "Verdict", "_line", "_orient", "decide",
           "judge"]


def judge(claim: ClaimSpec, values: dict[str, list[float | None]], missing: Iterable[str] = (),
          diverged: dict[str, list[bool]] | None = None, faceless: dict[str, list[bool]] | None = None) -> Verdict:
    """Apply the claim's rule to per-seed values {arm name: [value of seed 0, seed 1, ...]} (None = no value;
    `missing` says why, one reason per missing value; `diverged` marks the seeds whose run diverged, `faceless` those
    whose images showed the detector no face: both rank as their arm's worst value)."""
    down, faceless = diverged or {}, faceless or {}
    diverged = worst_seeds(down, faceless)  # the seeds that are their arm's worst outcome
    out = Verdict(claim=claim.id, report=claim.report, quote=claim.quote, data=claim.data,
                  measure=claim.measure.describe() if claim.measure else "-", rule=claim.rule.describe(),
                  verdict=NOT_MEASURABLE, reason=claim.reason, values={k: list(v) for k, v in values.items()},
                  proxy=claim.proxy, diverged={k: sum(v) for k, v in down.items() if any(v)},
                  faceless={k: sum(v) for k, v in faceless.items() if any(v)})
    if not claim.measurable:
        return out
    missing = list(missing)
    absent = [name for name in claim.arms if not values.get(name)]
    if absent:
        out.reason = f"no runs for arm {absent[0]!r}"
        return out
    if claim.rule.kind == "event":
        out = events.decide_event(claim, out, values, down)
        if out.n == 0:
            out.reason = missing[0] if missing else "no seed gave a value"
        return out
    sample, note = rules._sample(claim, values, diverged)
    out.n = len(sample)
    out.effect_label = claim.rule.arm if claim.rule.kind == "threshold" else \
        f"paired difference {claim.rule.a} - {claim.rule.b}"
    why = f" ({note}: {missing[0]})" if note and missing else (f" ({note})" if note else "")
    if out.diverged:
        why += " (diverged: " + ", ".join(f"{arm} {k} seed{'s' * (k > 1)}" for arm, k in out.diverged.items()) + ")"
    if out.faceless:
        why += " (no face found: " + ", ".join(f"{arm} {k} seed{'s' * (k > 1)}" for arm, k in out.faceless.items()) + \
            ", each its arm's worst outcome)"
    line = rules._line(claim, values)
    if sample:
        centre = statistics.median(sample) if any(math.isinf(x) for x in sample) else statistics.fmean(sample)
        out.effect = rules._natural(claim, centre)  # on the measure's own scale, as the interval
    if any(any(diverged.get(arm, [])) for arm in claim.arms):  # an outcome: never dropped, never a t test
        ranked = rules._rank_decision(claim, values, diverged, line)
        out.verdict, out.p_value, reason, out.seeds_needed, out.n, p_direction = ranked
        out.reason = reason + why
        return rules._fourth(claim, out, p_direction, line)
    if not sample:
        out.reason = (missing[0] if missing else "no seed gave a value") + (f" (and {len(missing) - 1} more)"
                                                                             if len(missing) > 1 else "")
        return out
    if len(sample) == 1:
        assert out.effect is not None  # set above from the sample's one value
        out.verdict = INCONCLUSIVE
        out.reason = f"one seed: no spread to judge the effect {rules._g(out.effect)} by; run 3 or more seeds{why}"
        return out
    try:
        s = stats.interval(sample)
    except (OverflowError, ValueError):
        s = None
    if s is None or not all(math.isfinite(x) for x in (s.sd, s.low, s.high)):
        out.verdict, out.reason = INCONCLUSIVE, f"the values are too large to summarise{why}"
        return out
    out.sd, out.ci = s.sd, rules._natural_interval(claim, s.low, s.high)
    out.verdict, out.p_value, distance, reason = rules._t_decision(claim, s, line)
    if out.verdict == INCONCLUSIVE:
        out.seeds_needed = stats.seeds_needed(s.sd, distance)
        more = f"about {out.seeds_needed} seeds would likely decide it" if out.seeds_needed else \
            "no number of seeds is likely to decide it (the effect sits on the line)"
        reason += f"; {more}"
    out.reason = reason + why
    zero = rules._no_effect(claim, line)
    return rules._fourth(claim, out, 1.0 if zero is None else s.p_above(zero), line)


def _run_data(run: Path) -> str:
    try:
        data = RunFolder(run, trusted=False).config().get("data")
    except RunError:
        return ""
    return data if isinstance(data, str) else ""


def decide(claim: ClaimSpec, runs_by_arm: dict[str, list[Path]]) -> Verdict:
    """Read the claim's measurement from each run folder and apply its rule. `runs_by_arm` maps the claim's arm
    names, or the arms' canonical keys (ArmSpec.key()), to run folders in seed order."""
    if not claim.measurable:
        return judge(claim, {})
    assert claim.measure is not None  # a measurable claim has its measure (spec/claim.py reads it)
    values: dict[str, list[float | None]] = {}
    refs: dict[str, list[float | None]] = {}
    diverged: dict[str, list[bool]] = {}
    faceless: dict[str, list[bool]] = {}
    missing: list[str] = []
    runs: dict[str, list[str]] = {}
    for name, arm in claim.arms.items():
        paths = runs_by_arm.get(name, runs_by_arm.get(arm.key()))
        if paths is None:
            continue
        readings = [read_measure(claim.measure, Path(p), claim.face_specific) for p in paths]
        values[name] = [r.value for r in readings]
        refs[name] = [r.reference for r in readings]
        diverged[name] = [r.outcome == DIVERGED for r in readings]
        faceless[name] = [r.outcome == NO_FACE for r in readings]
        runs[name] = [str(p) for p in paths]
        missing += [f"{name} run {i}: {r.reason}" for i, r in enumerate(readings) if r.value is None
                    and r.outcome not in (DIVERGED, NO_FACE)]
    verdict = judge(claim, values, missing, diverged, faceless)
    verdict.runs, verdict.references = runs, refs
    verdict.decided_on = sorted({d for paths in runs.values() for d in map(_run_data, map(Path, paths)) if d})
    return verdict
