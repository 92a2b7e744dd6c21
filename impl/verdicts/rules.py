"""The rules on the claim-oriented scale (impl/verdicts/decide.py dispatches to them): each claim's per-seed values
turned into one sample whose claimed direction is positive, the decision line (bound plus minimum effect, or the
minimum effect of a comparison, never less than the rule's least size), the two-sided rules ('similar', a 'near'
bound), the t decision on an interval, the exact rank decision where a run diverged (a diverged run its arm's worst
value), and the fourth outcome of a directional rule (the direction holds, by less than the minimum effect).
Numbers are decided on the claim-oriented scale and stated on the measure's own.
"""

from __future__ import annotations

import math
import statistics
from typing import TypeGuard

from impl.verdicts import ranks, stats
from impl.verdicts.verdict import FAILS, HOLDS, INCONCLUSIVE, Verdict
from spec.claim import ClaimSpec

WORST = math.inf  # a diverged run's claim-oriented value when the measure has a better direction


def _g(x: float) -> str:
    return f"{x:.4g}"


def _finite(x: object) -> TypeGuard[float]:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def _orient(claim: ClaimSpec) -> tuple[float, bool]:
    """(+1 or -1, whether worse is lower): the sign that makes the claimed direction positive."""
    rule, direction = claim.rule, claim.measure.direction if claim.measure else ""
    if rule.kind in ("threshold", "event"):
        return (1.0 if rule.expect in ("above", "near") else -1.0), direction == "higher"
    expect = rule.expect or "better"  # not_better, similar: the improvement of a over b
    higher = expect == "higher" or (expect in ("better", "worse") and (direction == "higher") == (expect == "better"))
    sign = 1.0 if higher else -1.0
    return (-sign if rule.kind == "not_better" else sign), direction == "higher"  # not_better: no improvement


def _worst(direction_higher: bool, measure_has_direction: bool) -> float | None:
    """A diverged run's value on the measure's own scale: the worst one, or None where nothing is worse."""
    if not measure_has_direction:
        return None
    return -WORST if direction_higher else WORST


def _sample(claim: ClaimSpec, values: dict[str, list[float | None]], diverged: dict[str, list[bool]]
            ) -> tuple[list[float], str]:
    """The claim-oriented per-seed sample (values or paired differences, diverged runs as the worst value where the
    measure has a direction) and a note on the seeds without a value (the rank test still reads diverged ones)."""
    rule = claim.rule
    has_direction = bool(claim.measure and claim.measure.direction)
    sign, higher_better = _orient(claim)

    def value(arm: str, i: int) -> float | None:
        down = diverged.get(arm, [])
        if i < len(down) and down[i]:
            return _worst(higher_better, has_direction)
        raw = values[arm][i] if i < len(values[arm]) else None
        return float(raw) if _finite(raw) else None

    arms = [rule.arm] if rule.kind in ("threshold", "event") else [rule.a, rule.b]
    total = max(len(values.get(a, [])) for a in arms)
    sample = []
    for i in range(total):
        got = [x for x in (value(a, i) for a in arms) if x is not None]
        if len(got) < len(arms) or (len(got) == 2 and math.isinf(got[0]) and math.isinf(got[1])):
            continue
        if len(got) == 1:
            sample.append(sign * got[0])
        else:
            sample.append(sign * (got[0] - got[1]))
    note = f"{total - len(sample)} of {total} seeds without a value" if len(sample) < total else ""
    return sample, note


def _line(claim: ClaimSpec, values: dict[str, list[float | None]]) -> float:
    """The decision line on the claim-oriented scale: the bound plus the minimum effect beyond it (a 'near' bound:
    its upper edge), or the minimum effect of a comparison. A minimum effect relative to arm b is a share of the
    mean |value| of b's seeds that have one, and never less than the rule's `at_least` (b missing or near zero)."""
    rule = claim.rule
    if rule.kind == "threshold":
        return _orient(claim)[0] * (rule.bound or 0.0) + (rule.min_effect or 0.0)
    size = rule.min_effect or 0.0
    if rule.scale == "of_b":
        finite_b = [abs(float(b)) for b in values.get(rule.b, []) if _finite(b)]
        size = max(size * statistics.fmean(finite_b) if finite_b else 0.0, rule.at_least or 0.0)
    return -size if rule.kind == "not_better" else size


def _two_sided(claim: ClaimSpec, line: float) -> tuple[float, float] | None:
    """(centre, half-width) of a two-sided rule on the claim-oriented scale: similar (0 +- the minimum effect) or a
    'near' threshold (the bound +- its minimum effect); None for a one-sided rule."""
    if claim.rule.kind == "similar":
        return 0.0, abs(line)
    if claim.rule.kind == "threshold" and claim.rule.expect == "near":
        return line - (claim.rule.min_effect or 0.0), claim.rule.min_effect or 0.0
    return None


def _no_effect(claim: ClaimSpec, line: float) -> float | None:
    """Where a directional rule's effect is zero on the claim-oriented scale (the bound, or no difference), for the
    fourth outcome: the direction holds, but by less than the minimum effect. None for the other rules."""
    rule = claim.rule
    if rule.kind == "compare":
        return 0.0
    if rule.kind == "threshold" and rule.expect != "near":
        return line - (rule.min_effect or 0.0)
    return None


def _natural(claim: ClaimSpec, x: float) -> float:
    """A claim-oriented number back on the measure's own scale: the arm's value, or the difference a - b."""
    return _orient(claim)[0] * x


def _natural_interval(claim: ClaimSpec, low: float, high: float) -> tuple[float, float]:
    a, b = _natural(claim, low), _natural(claim, high)
    return (min(a, b), max(a, b))


def _t_decision(claim: ClaimSpec, s: stats.Interval, line: float) -> tuple[str, float, float, str]:
    """(verdict, p-value of the decision, distance to the line, reason) from a t interval. The decision is taken on
    the claim-oriented scale; the reason states the numbers on the measure's own scale."""
    low, high = _natural_interval(claim, s.low, s.high)
    name = claim.rule.arm if claim.rule.kind == "threshold" else f"{claim.rule.a} - {claim.rule.b}"
    span = f"{name} = {_g(_natural(claim, s.mean))}, 95 % interval [{_g(low)}, {_g(high)}] over {s.n} seeds"
    two = _two_sided(claim, line)
    if two:
        centre, m = two
        p_hold = max(s.p_above(centre - m), s.p_below(centre + m))
        p_fail = min(s.p_above(centre + m), s.p_below(centre - m))
        distance, within = abs(m - abs(s.mean - centre)), (f"{_g(centre)} " if centre else "") + f"+-{_g(m)}"
        if p_hold < stats.ALPHA:
            return HOLDS, p_hold, distance, f"{span} lies within {within}"
        if p_fail < stats.ALPHA:
            return FAILS, p_fail, distance, f"{span} lies beyond {within}"
        return INCONCLUSIVE, min(p_hold, p_fail), distance, f"{span} is too wide to tell whether it stays " \
            f"within {within}"
    p_hold, p_fail = s.p_above(line), s.p_below(line)
    what = _what(claim, line)
    if p_hold < stats.ALPHA:
        return HOLDS, p_hold, abs(s.mean - line), f"{what} beyond seed noise: {span}"
    if p_fail < stats.ALPHA:
        return FAILS, p_fail, abs(s.mean - line), f"not {what}: {span}"
    return INCONCLUSIVE, min(p_hold, p_fail), abs(s.mean - line), f"{what} is within seed-to-seed noise: {span}"


def _what(claim: ClaimSpec, line: float) -> str:
    rule = claim.rule
    if rule.kind == "threshold":
        return f"{rule.arm} within {_g(rule.min_effect or 0.0)} of {_g(rule.bound or 0.0)}" if rule.expect == "near" \
            else f"{rule.arm} {rule.expect} {_g(rule.bound or 0.0)} by at least {_g(rule.min_effect or 0.0)}"
    if rule.kind == "similar":
        return f"{rule.a} within {_g(abs(line))} of {rule.b}"
    if rule.kind == "not_better":
        return f"{rule.a}'s gain over {rule.b} below {_g(-line)}"
    return f"{rule.a} {rule.expect} than {rule.b} by at least {_g(line)}"


def _arm_values(claim: ClaimSpec, arm: str, values: dict[str, list[float | None]],
                diverged: dict[str, list[bool]], unknown: float) -> list[float]:
    """An arm's claim-oriented values for an exact rank test, every seed that has a value or diverged: a diverged
    run is the arm's worst value where the measure has a better direction, else `unknown` (the rank the test at
    hand finds least favourable: a diverged run is never dropped)."""
    sign, higher_better = _orient(claim)
    has_direction = bool(claim.measure and claim.measure.direction)
    raw, down = values.get(arm, []), diverged.get(arm, [])
    out = []
    for i in range(max(len(raw), len(down))):
        if i < len(down) and down[i]:
            worst = _worst(higher_better, has_direction)
            out.append(unknown if worst is None else sign * worst)
        elif i < len(raw) and _finite(raw[i]):
            out.append(sign * float(raw[i]))  # type: ignore[arg-type]
    return out


def _rank_decision(claim: ClaimSpec, values: dict[str, list[float | None]], diverged: dict[str, list[bool]],
                   line: float) -> tuple[str, float, str, int | None, int, float]:
    """(verdict, p-value, reason, seeds that could decide it, seeds per arm, p-value of the claimed direction) by
    an exact rank test when a run diverged: two arms unpaired (rank sum of a shifted by the line against b), one arm
    signed ranks of its distances from the line. A test whose smallest p-value cannot reach the level at these seeds
    decides nothing."""
    rule, inf = claim.rule, math.inf
    if rule.kind == "threshold":
        def beyond(shift: float, up: bool) -> ranks.Exact:  # the arm's values above (up) or below line + shift
            xs = _arm_values(claim, rule.arm, values, diverged, -inf if up else inf)
            return ranks.signed_rank([(x - line - shift) * (1 if up else -1) for x in xs])
        arms, n = 1, len(_arm_values(claim, rule.arm, values, diverged, 0.0))
    else:
        def beyond(shift: float, up: bool) -> ranks.Exact:  # a - b above (up) or below line + shift
            xs = [x - line - shift for x in _arm_values(claim, rule.a, values, diverged, -inf if up else inf)]
            ys = _arm_values(claim, rule.b, values, diverged, inf if up else -inf)
            return ranks.rank_sum(xs, ys) if up else ranks.rank_sum(ys, xs)
        arms = 2
        n = min(len(_arm_values(claim, rule.a, values, diverged, 0.0)),
                len(_arm_values(claim, rule.b, values, diverged, 0.0)))
    two = _two_sided(claim, line)
    if two:
        m = two[1]
        hold = [beyond(-2 * m, True), beyond(0.0, False)]  # a - b above -m and below +m
        fail = [beyond(0.0, True), beyond(-2 * m, False)]  # beyond +m, or below -m
        p_hold, hold_floor = max(t.p for t in hold), max(t.floor for t in hold)
        p_fail, fail_floor = min(t.p for t in fail), min(t.floor for t in fail)
    else:
        up, down = beyond(0.0, True), beyond(0.0, False)
        p_hold, hold_floor, p_fail, fail_floor = up.p, up.floor, down.p, down.floor
    zero = _no_effect(claim, line)
    p_direction = 1.0 if zero is None else beyond(zero - line, True).p
    test = "exact rank-sum test, a unpaired against b" if arms == 2 else "exact signed-rank test"
    what = f"{_what(claim, line)}: {test} over {n} seeds, a diverged or faceless run ranking as its arm's worst " \
        f"(p {p_hold:.3g} that it holds, {p_fail:.3g} that it does not)"
    if p_hold < stats.ALPHA:
        return HOLDS, p_hold, what, None, n, p_direction
    if p_fail < stats.ALPHA:
        return FAILS, p_fail, what, None, n, p_direction
    needed = max(n + 1, ranks.seeds_to_reach(stats.ALPHA, arms))
    if min(hold_floor, fail_floor) >= stats.ALPHA:
        what += f"; at {n} seeds the test's smallest p-value is {min(hold_floor, fail_floor):.3g}, not below " \
            f"{stats.ALPHA}, so it cannot decide: {needed} seeds per arm can"
        return INCONCLUSIVE, min(p_hold, p_fail), what, needed, n, p_direction
    return INCONCLUSIVE, min(p_hold, p_fail), what, None, n, p_direction


def _fourth(claim: ClaimSpec, out: Verdict, p_direction: float, line: float) -> Verdict:
    """The fourth outcome of a directional rule: the claimed size is ruled out ('does not hold'), but the claimed
    direction holds beyond seed noise, so the verdict says so, with the minimum effect in the measure's units."""
    if out.verdict == FAILS and p_direction < stats.ALPHA:
        out.smaller = True
        size = claim.rule.min_effect if claim.rule.kind == "threshold" else line
        out.reason += f"; the claimed direction holds beyond seed noise (p {p_direction:.3g}), but by less than " \
            f"the minimum effect {_g(abs(size or 0.0))} in {claim.measure.describe() if claim.measure else 'its'} units"
    return out
