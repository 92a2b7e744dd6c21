"""An event rule decided over seeds: per run the event happens or not, and the rate over seeds is tested against
the claimed rate plus the false events that clean runs show (exact beta-binomial over the estimated per-run
false-event rate, never its point estimate), so "it even happened" is k of n seeds, never a mean."""

from __future__ import annotations

import functools
import math

from impl.verdicts import stats
from impl.verdicts.verdict import FAILS, HOLDS, INCONCLUSIVE, Verdict
from spec.claim import ClaimSpec, RuleSpec

JEFFREYS = 0.5  # the prior Beta(1/2, 1/2) of a per-run rate: its posterior after k of n is Beta(k + 1/2, n - k + 1/2)


def finite(x: object) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def event_seen(rule: RuleSpec, value: float) -> bool:
    """Whether one run's value is the event: past the rule's per-run bound in the claimed direction."""
    assert rule.bound is not None  # an event rule has its bound (spec/rule.py)
    return value > rule.bound if rule.expect == "above" else value < rule.bound


def decide_event(claim: ClaimSpec, out: Verdict, values: dict[str, list[float | None]],
                 diverged: dict[str, list[bool]]) -> Verdict:
    """k of n runs with the event. Holds when k or more would be rarer than the level if runs showed the event
    only at the claimed rate plus by chance, at a per-run false-event rate known only from k0 of n0 clean runs:
    mixed over its Jeffreys posterior Beta(k0 + 1/2, n0 - k0 + 1/2) (beta-binomial), never its point estimate
    (0 events in 30 clean runs is not a rate of 0). Does not hold when k or fewer is that unlikely at the
    smallest rate the claim implies (its minimum effect; false events only add to it, so none are assumed), so
    clean seeds refute 'it happens'. A diverged run is the event where the claim names a divergence
    (`diverged = "event"`), else of unknown value: no event for 'holds', an event for 'does not hold'."""
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
            seen.append(event_seen(rule, float(x)))  # type: ignore[arg-type]  # finite() checked it
    n, k = len(seen) + unknown, sum(seen)
    out.n, out.events = n, (k, n)
    if n == 0:
        return out
    clean = rule.false_events or (0, 0)
    rate = rule.rate or 0.0
    least = max(rate, rule.min_effect or 0.0)
    p_hold = false_event_sf(k, n, rate, *clean)
    p_fail = 1 - stats.binomial_sf(k + unknown + 1, n, least)
    low, high = stats.clopper_pearson(k, n)
    out.effect, out.ci = k / n, (low, high)
    out.effect_label = "share of seeds with the event"
    source = rule.false_rate_from or f"false-event rate estimated from {clean[0]} of {clean[1]} clean runs"
    chance = f"{rate:.3g} plus false events" if rate else "false events alone"
    text = f"the event in {k} of {n} seeds" + (f" ({unknown} diverged: unknown)" if unknown else "") + \
        f" (rate 95 % interval [{low:.2f}, {high:.2f}]; {source}, its Jeffreys posterior)"
    if p_fail < stats.ALPHA:  # first: a rate beyond false events but below the least the claim implies is no 'holds'
        out.verdict, out.p_value, out.smaller = FAILS, p_fail, p_hold < stats.ALPHA
        beyond = f"more than {chance} give (p {p_hold:.3g}), but " if out.smaller else ""
        out.reason = f"{text}: {beyond}below {least:.3g} per run, the least the claim implies (p {p_fail:.3g})"
    elif p_hold < stats.ALPHA:
        out.verdict, out.p_value = HOLDS, p_hold
        out.reason = f"{text}: more than {chance} give (p {p_hold:.3g})"
    else:
        out.verdict, out.p_value = INCONCLUSIVE, min(p_hold, p_fail)
        out.reason = f"{text}: cannot tell {chance} from {least:.3g} per run, the least the claim implies"
        out.seeds_needed = _seeds_needed(k, n, rate, least, clean)
    return out


def false_rate_mean(rule: RuleSpec) -> float:
    """The per-run false-event rate's Jeffreys posterior mean, (k0 + 1/2) / (n0 + 1) after k0 events in n0 clean runs
    (never the point estimate k0 / n0, which is 0 after 0 events); the rule's stated rate where it names no runs."""
    if rule.false_events and rule.false_events[1]:
        k0, n0 = rule.false_events
        return (k0 + JEFFREYS) / (n0 + 2 * JEFFREYS)
    return rule.false_rate or 0.0


@functools.lru_cache(maxsize=65536)
def false_event_sf(k: int, n: int, rate: float, clean_events: int = 0, clean_runs: int = 0) -> float:
    """P(K >= k) for K of n seeds showing the event, each with probability rate + (1 - rate) p, where the per-run
    false-event rate p ~ Beta(a, b), a = clean_events + 1/2, b = clean_runs - clean_events + 1/2 (the Jeffreys
    posterior after clean_events of clean_runs clean runs), exactly: E[p^i (1 - p)^l] = B(a + i, b + l) / B(a, b)."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    a, b = clean_events + JEFFREYS, clean_runs - clean_events + JEFFREYS
    base = _log_beta(a, b)
    log_rate, log_miss = _log(rate), _log(1 - rate)
    terms = []  # in logs: C(n, j) and the Beta functions overflow a float past a few hundred seeds
    for j in range(k, n + 1):  # K = j: C(n, j) (1 - rate)^(n - j) sum_i C(j, i) rate^(j - i) (1 - rate)^i E[...]
        for i in range(j + 1) if rate > 0 else (j,):
            terms.append(_log_comb(n, j) + _times(n - j, log_miss) + _log_comb(j, i) + _times(j - i, log_rate)
                         + _times(i, log_miss) + _log_beta(a + i, b + n - j) - base)
    top = max(terms)
    return min(1.0, max(0.0, math.exp(top) * math.fsum(math.exp(t - top) for t in terms)))


def _log(x: float) -> float:
    return math.log(x) if x > 0 else -math.inf


def _times(count: int, log: float) -> float:
    return count * log if count else 0.0  # x^0 = 1, also for x = 0


def _log_comb(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)



def _log_beta(a: float, b: float) -> float:
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


@functools.lru_cache(maxsize=4096)
def _seeds_needed(k: int, n: int, rate: float, least: float, clean: tuple[int, int]) -> int | None:
    """The fewest seeds (up to 40) at which the share seen so far would decide it."""
    return next((m for m in range(n + 1, 41) if _decides(k / n, m, rate, least, clean)), None)


def _decides(share: float, n: int, rate: float, least: float, clean: tuple[int, int]) -> bool:
    k = round(share * n)
    return false_event_sf(k, n, rate, *clean) < stats.ALPHA or 1 - stats.binomial_sf(k + 1, n, least) < stats.ALPHA
