"""Exact rank tests for seeds of which some diverged: a diverged run is its arm's worst outcome, an infinite value
that ranks last, so it enters the test as evidence instead of being dropped.

Two tests, each exact by counting (no normal approximation, no statistics library):
- `rank_sum`: two arms, unpaired (Wilcoxon-Mann-Whitney): the share of the C(n + m, n) ways to split the pooled
  values into arms of n and m whose rank sum is at least the one seen; tied values (two diverged runs) share their
  mean rank, and the count is exact given the ties;
- `signed_rank`: one arm against a line (Wilcoxon signed rank): the share of the 2^n sign patterns of the
  distances from the line whose positive rank sum is at least the one seen.
Both also give the smallest p-value the test can reach with these seeds: a test whose smallest p-value is not below
the level decides nothing, and the verdict says how many seeds would let it decide (`seeds_to_reach`).

Each test is monotone: raising one value of the arm claimed higher (up to infinity, a diverged loser on the other
side) never raises its p-value, so a diverged loser never weakens a verdict (tests/test_divergence.py).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Exact:
    """A one-sided exact p-value and the smallest p-value the test could give with these seeds."""

    p: float
    floor: float


def _doubled_midranks(values: Sequence[float]) -> list[int]:
    """Twice the mid-rank of each value (1-based ranks, ties share their mean): integers, so sums count exactly.
    Infinite values rank as the extremes, equal infinities tie."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = i + j + 2  # twice the mean of the 1-based ranks i+1 .. j+1
        i = j + 1
    return ranks


def _subset_sums(weights: Sequence[int], size: int | None) -> dict[int, int]:
    """How many subsets (of `size` elements, or of any size when None) have each weight sum."""
    if size is None:
        counts = {0: 1}
        for w in weights:
            nxt = dict(counts)
            for s, c in counts.items():
                nxt[s + w] = nxt.get(s + w, 0) + c
            counts = nxt
        return counts
    table: list[dict[int, int]] = [{0: 1}] + [{} for _ in range(size)]
    for w in weights:
        for k in range(size, 0, -1):
            for s, c in table[k - 1].items():
                table[k][s + w] = table[k].get(s + w, 0) + c
    return table[size]


def _tail(counts: dict[int, int], seen: int) -> Exact:
    total = sum(counts.values())
    top = max(counts)
    return Exact(p=sum(c for s, c in counts.items() if s >= seen) / total, floor=counts[top] / total)


def rank_sum(higher: Sequence[float], lower: Sequence[float]) -> Exact:
    """One-sided exact p-value of 'the values of `higher` tend to lie above those of `lower`' (H0: the two are
    exchangeable). Values may be infinite; none may be NaN."""
    if not higher or not lower:
        raise ValueError("a rank-sum test needs values in both arms")
    pooled = [*higher, *lower]
    if any(math.isnan(x) for x in pooled):
        raise ValueError("a rank-sum test cannot rank NaN")
    ranks = _doubled_midranks(pooled)
    return _tail(_subset_sums(ranks, len(higher)), sum(ranks[: len(higher)]))


def signed_rank(distances: Sequence[float]) -> Exact:
    """One-sided exact p-value of 'the distances from the line tend to be positive' (H0: symmetric about 0).
    A distance of exactly 0 carries no sign and is left out of the ranks (it is not a diverged run: those are
    infinite). With no signed distance at all the p-value is 1."""
    signed = [x for x in distances if x != 0]
    if any(math.isnan(x) for x in signed):
        raise ValueError("a signed-rank test cannot rank NaN")
    if not signed:
        return Exact(1.0, 1.0)
    ranks = _doubled_midranks([abs(x) for x in signed])
    return _tail(_subset_sums(ranks, None), sum(r for r, x in zip(ranks, signed, strict=True) if x > 0))


def seeds_to_reach(alpha: float, arms: int, limit: int = 50) -> int:
    """The fewest seeds per arm at which the exact test can reach p < alpha at all: 1 / C(2n, n) for two arms,
    1 / 2^n for one (6 seeds per arm for one arm at 2.5 %, 4 for two)."""
    for n in range(1, limit + 1):
        floor = 1 / math.comb(2 * n, n) if arms == 2 else 0.5 ** n
        if floor < alpha:
            return n
    return limit
