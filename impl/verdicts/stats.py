"""The statistics behind a verdict, exact and self-contained (no statistics library needed on any machine):
Student's t distribution for integer degrees of freedom, its 95 % interval of a mean, one-sided p-values, exact
binomial tails with the Clopper-Pearson interval (events counted over seeds, and the sign test), Holm's
step-down adjustment over a family of claims, and the number of seeds that would likely settle an inconclusive
verdict from the spread observed.

The t distribution uses the closed forms for integer degrees of freedom (Abramowitz and Stegun 26.7.3 and 26.7.4):
a finite sum of powers of cos(theta), theta = atan(t / sqrt(df)). Quantiles are found by bisection on it.
"""

from __future__ import annotations

import functools
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

ALPHA = 0.025  # per side: a decision needs the 95 % two-sided interval wholly on one side of its line


def t_cdf(t: float, df: int) -> float:
    """P(T <= t) for Student's t with `df` >= 1 degrees of freedom."""
    if df < 1:
        raise ValueError(f"degrees of freedom must be >= 1, got {df}")
    if math.isinf(t):
        return 1.0 if t > 0 else 0.0
    theta = math.atan(abs(t) / math.sqrt(df))
    c2, s = math.cos(theta) ** 2, math.sin(theta)
    if df % 2:  # odd: 2/pi (theta + sin cos (1 + 2/3 cos^2 + (2*4)/(3*5) cos^4 + ...)), up to cos^(df-2)
        term, total = 1.0, 1.0 if df > 1 else 0.0
        for k in range(1, (df - 1) // 2):
            term *= c2 * (2 * k) / (2 * k + 1)
            total += term
        inside = (theta + s * math.cos(theta) * total) * 2 / math.pi if df > 1 else theta * 2 / math.pi
    else:  # even: sin (1 + 1/2 cos^2 + (1*3)/(2*4) cos^4 + ...), up to cos^(df-2)
        term, total = 1.0, 1.0
        for k in range(1, df // 2):
            term *= c2 * (2 * k - 1) / (2 * k)
            total += term
        inside = s * total
    return 0.5 + math.copysign(inside / 2, t)


def t_quantile(p: float, df: int) -> float:
    """The t with P(T <= t) = p (0 < p < 1), by bisection to 1e-10."""
    if not 0 < p < 1:
        raise ValueError(f"p must be between 0 and 1, got {p}")
    low, high = -1e7, 1e7
    for _ in range(200):
        middle = (low + high) / 2
        low, high = (middle, high) if t_cdf(middle, df) < p else (low, middle)
        if high - low < 1e-10:
            break
    return (low + high) / 2


@functools.lru_cache(maxsize=4096)
def t975(df: int) -> float:
    """The 0.975 quantile of Student's t: a 95 % two-sided interval is mean +- t975(n - 1) sd / sqrt(n). Above 100
    degrees of freedom by the Cornish-Fisher expansion around the normal quantile (error below 1e-7 there), which
    spares the bisection on a sum of `df` terms when the seeds needed run into the hundreds."""
    if df <= 100:
        return t_quantile(1 - ALPHA, df)
    z = 1.959963984540054
    return z + (z ** 3 + z) / (4 * df) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * df ** 2) + \
        (3 * z ** 7 + 19 * z ** 5 + 17 * z ** 3 - 15 * z) / (384 * df ** 3)


@dataclass(frozen=True)
class Interval:
    """Mean, sample standard deviation and 95 % t interval of the mean of n values (n >= 2)."""

    mean: float
    sd: float
    low: float
    high: float
    n: int

    @property
    def se(self) -> float:
        return self.sd / math.sqrt(self.n)

    def p_above(self, line: float) -> float:
        """One-sided p-value of 'the mean lies above `line`' (H0: mean <= line)."""
        return _tail((self.mean - line), self.se, self.n - 1)

    def p_below(self, line: float) -> float:
        """One-sided p-value of 'the mean lies below `line`' (H0: mean >= line)."""
        return _tail((line - self.mean), self.se, self.n - 1)


def _tail(distance: float, se: float, df: int) -> float:
    if se == 0:
        return 0.0 if distance > 0 else 1.0
    return 1 - t_cdf(distance / se, df)


def interval(values: Sequence[float]) -> Interval:
    n = len(values)
    mean, sd = statistics.fmean(values), statistics.stdev(values)
    half = t975(n - 1) * sd / math.sqrt(n)
    return Interval(mean, sd, mean - half, mean + half, n)


def binomial_sf(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p), exactly."""
    if k <= 0:
        return 1.0
    if k > n or p <= 0:
        return 0.0
    if p >= 1:
        return 1.0
    log_p, log_q, top = math.log(p), math.log1p(-p), math.lgamma(n + 1)
    return min(1.0, sum(math.exp(top - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * log_p + (n - i) * log_q)
                        for i in range(k, n + 1)))


@functools.lru_cache(maxsize=4096)
def clopper_pearson(k: int, n: int) -> tuple[float, float]:
    """The exact (Clopper-Pearson) 95 % interval of a rate seen k times in n."""
    def solve(target: float, lower: bool) -> float:
        low, high = 0.0, 1.0
        for _ in range(100):
            p = (low + high) / 2
            value = binomial_sf(k, n, p) if lower else 1 - binomial_sf(k + 1, n, p)
            # binomial_sf(k, n, p) rises with p; P(X <= k) falls with p
            if (value < target) == lower:
                low = p
            else:
                high = p
        return (low + high) / 2

    return (0.0 if k == 0 else solve(ALPHA, True)), (1.0 if k == n else solve(ALPHA, False))


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the order given: the family-wise error stays at the level used."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted, running = [0.0] * m, 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def seeds_needed(sd: float, distance: float, limit: int = 1000) -> int | None:
    """The smallest number of seeds whose 95 % interval, at the observed spread `sd`, is narrower than `distance`
    (how far the observed effect lies from the line that decides it); None when the effect sits on the line or
    more than `limit` seeds would be needed."""
    if distance <= 0 or not math.isfinite(sd):
        return None
    if sd == 0:
        return 2
    # t975(n - 1) > 1.96 (the normal quantile), so no n below (1.96 sd / distance)^2 can do: start the search there
    start = max(2, math.floor((1.959963984540054 * sd / distance) ** 2))
    for n in range(start, limit + 1):
        if t975(n - 1) * sd / math.sqrt(n) < distance:
            return n
    return None
