"""An event rule decided over seeds: per run the event happens or not, and the rate over seeds is tested against
the claimed rate (exact binomial, Clopper-Pearson), so "it even happened" is k of n seeds, never a mean."""

from __future__ import annotations

import math

from impl.verdicts import stats
from impl.verdicts.verdict import FAILS, HOLDS, INCONCLUSIVE, Verdict
from spec.claim import ClaimSpec


def finite(x: object) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def decide_event(claim: ClaimSpec, out: Verdict, values: dict[str, list[float | None]],
           diverged: dict[str, list[bool]]) -> Verdict:
    rule = claim.rule
    raw, down = values.get(rule.arm, []), diverged.get(rule.arm, [])
    hits = []
    for i, x in enumerate(raw):
        if i < len(down) and down[i]:
            hits.append(True)  # a diverged run: the loss ran away, the event a collapse or a spike claim names
        elif finite(x):
            hits.append(x > rule.bound if rule.expect == "above" else x < rule.bound)
    n, k, rate = len(hits), sum(hits), rule.rate or 0.0
    out.n, out.events = n, (k, n)
    if n == 0:
        return out
    low, high = stats.clopper_pearson(k, n)
    out.effect, out.ci = k / n, (low, high)
    out.effect_label = "share of seeds with the event"
    seen = f"the event in {k} of {n} seeds (rate 95 % interval [{low:.2f}, {high:.2f}])"
    out.p_value = stats.binomial_sf(k, n, rate) if rate > 0 else (0.0 if k else 1.0)
    if low > rate:
        out.verdict, out.reason = HOLDS, f"{seen}: above {rate:.0%}" if rate else f"{seen}: it happens"
    elif high < rate:
        out.verdict, out.reason = FAILS, f"{seen}: below {rate:.0%}"
        out.p_value = 1 - stats.binomial_sf(k + 1, n, rate)
    else:
        out.verdict = INCONCLUSIVE
        out.reason = f"{seen}: " + ("an existence claim is settled only by seeing it" if not rate else
                                    f"cannot tell from {rate:.0%}")
        if rate:
            out.seeds_needed = next((m for m in range(n + 1, 1001) if _event_decides(k / n, m, rate)), None)
    return out


def _event_decides(share: float, n: int, rate: float) -> bool:
    low, high = stats.clopper_pearson(round(share * n), n)
    return low > rate or high < rate
