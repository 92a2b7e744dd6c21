"""An event rule decided over seeds: per run the event happens or not, and the rate over seeds is tested against
the claimed rate (exact binomial, Clopper-Pearson), so "it even happened" is k of n seeds, never a mean."""

from __future__ import annotations

import functools
import math

from impl.verdicts import stats
from impl.verdicts.verdict import FAILS, HOLDS, INCONCLUSIVE, Verdict
from spec.claim import ClaimSpec


def finite(x: object) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def decide_event(claim: ClaimSpec, out: Verdict, values: dict[str, list[float | None]],
                 diverged: dict[str, list[bool]]) -> Verdict:
    """k of n runs with the event, against the claimed rate inflated by the per-run false-event rate p0 (a run
    shows the event by chance with p0 even where it should not happen): holds when the exact binomial p-value of k
    or more is below the level; does not hold when k or fewer is that unlikely at the smallest rate the claim
    implies (its minimum effect), so clean seeds can refute 'it happens'. A diverged run is the event where the
    claim names a divergence (`diverged = "event"`), else of unknown value: no event for 'holds', an event for
    'does not hold'."""
    rule = claim.rule
    raw, down = values.get(rule.arm, []), diverged.get(rule.arm, [])
    seen, unknown = [], 0
    for i, x in enumerate(raw):
        if i < len(down) and down[i]:
            if rule.diverged == "event":
                seen.append(True)
            else:
                unknown += 1
        elif finite(x):
            seen.append(x > rule.bound if rule.expect == "above" else x < rule.bound)  # type: ignore[operator]
    n, k = len(seen) + unknown, sum(seen)
    out.n, out.events = n, (k, n)
    if n == 0:
        return out
    p0, rate = rule.false_rate or 0.0, rule.rate or 0.0
    least = max(rate, rule.min_effect or 0.0)
    hold_line, fail_line = rate + p0 * (1 - rate), least + p0 * (1 - least)
    p_hold = stats.binomial_sf(k, n, hold_line)
    p_fail = 1 - stats.binomial_sf(k + unknown + 1, n, fail_line)
    low, high = stats.clopper_pearson(k, n)
    out.effect, out.ci = k / n, (low, high)
    out.effect_label = "share of seeds with the event"
    text = f"the event in {k} of {n} seeds" + (f" ({unknown} diverged: unknown)" if unknown else "") + \
        f" (rate 95 % interval [{low:.2f}, {high:.2f}]; false-event rate {p0:g} per run, {rule.false_rate_from})"
    if p_hold < stats.ALPHA:
        out.verdict, out.p_value = HOLDS, p_hold
        out.reason = f"{text}: more than {hold_line:.3g} per run, what false events alone give (p {p_hold:.3g})"
    elif p_fail < stats.ALPHA:
        out.verdict, out.p_value = FAILS, p_fail
        out.reason = f"{text}: below {fail_line:.3g} per run, the least the claim implies (p {p_fail:.3g})"
    else:
        out.verdict, out.p_value = INCONCLUSIVE, min(p_hold, p_fail)
        out.reason = f"{text}: cannot tell {hold_line:.3g} (false events alone) from {fail_line:.3g} per run"
        out.seeds_needed = _seeds_needed(k, n, hold_line, fail_line)
    return out


@functools.lru_cache(maxsize=4096)
def _seeds_needed(k: int, n: int, hold_line: float, fail_line: float) -> int | None:
    """The fewest seeds (up to 100) at which the share seen so far would decide it."""
    return next((m for m in range(n + 1, 101) if _decides(k / n, m, hold_line, fail_line)), None)


def _decides(share: float, n: int, hold_line: float, fail_line: float) -> bool:
    k = round(share * n)
    return stats.binomial_sf(k, n, hold_line) < stats.ALPHA or 1 - stats.binomial_sf(k + 1, n, fail_line) < stats.ALPHA
