"""A diverged run is evidence: its arm's worst outcome in an exact rank test, never a dropped seed. Known answers,
a monotonicity property (a diverged loser never weakens a verdict, a diverged winner never strengthens one) and a
seeded Monte Carlo of the size at the decision line."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from impl.verdicts import decide as V
from impl.verdicts import ranks, stats
from spec.claim import MeasureSpec, RuleSpec
from tests.test_verdict import claim, compare, threshold

STRENGTH = {V.FAILS: 0, V.INCONCLUSIVE: 1, V.HOLDS: 2}
CURVE = MeasureSpec(kind="loss_curve", key="d_loss", reduce="trend")  # no better direction


def test_exact_tests_match_hand_counts() -> None:
    """3 above 3, all apart: 1 of C(6, 3) = 20 splits; 4 above 4: 1 of 70. Signed ranks of 5 positive distances:
    1 of 32. Two tied infinities (two diverged runs) share their rank."""
    assert ranks.rank_sum([4, 5, 6], [1, 2, 3]) == ranks.Exact(1 / 20, 1 / 20)
    assert ranks.rank_sum([5, 6, 7, 8], [1, 2, 3, 4]).p == pytest.approx(1 / 70)
    assert ranks.rank_sum([1, 2, 3], [4, 5, 6]).p == 1.0
    assert ranks.signed_rank([1, 2, 3, 4, 5]) == ranks.Exact(1 / 32, 1 / 32)
    assert ranks.signed_rank([-1, 2, 3]).p == pytest.approx(2 / 8)  # W+ = 5: {2,3}, {1,2,3} -> 2 of 8
    tied = ranks.rank_sum([math.inf, math.inf, 1.0], [0.0, 0.5, 0.7])
    assert tied.p == pytest.approx(1 / 20)
    assert ranks.seeds_to_reach(stats.ALPHA, 2) == 4 and ranks.seeds_to_reach(stats.ALPHA, 1) == 6


def test_a_diverged_loser_keeps_a_clear_verdict() -> None:
    """The review's case: at 5 seeds a clearly holds; when one of b's runs diverges instead (b's worst FID), the
    claim still holds (the old sign test fell to inconclusive: its p-value cannot go below 1/32 at 5 seeds)."""
    a, b = [10.0, 11.0, 12.5, 10.4, 11.2], [20.0, 21.5, 22.0, 20.7, 21.1]
    assert V.judge(compare("better"), {"a": a, "b": b}).verdict == V.HOLDS
    b_down = {"b": [False, False, True, False, False]}
    result = V.judge(compare("better"), {"a": a, "b": [20.0, 21.5, None, 20.7, 21.1]}, diverged=b_down)
    assert result.verdict == V.HOLDS and result.p_value == pytest.approx(1 / 252), result.reason
    assert result.n == 5 and result.diverged == {"b": 1}


def test_the_diverged_loser_is_counted_not_dropped() -> None:
    """4 seeds a side, b's fourth diverged: 1 of 70 splits puts all of a above b, so it holds; dropping the
    diverged seed (4 against 3: 1 of 35 = 0.029) would leave it inconclusive."""
    a, b = [10.0, 11.0, 12.5, 10.4], [20.0, 21.5, 22.0, None]
    result = V.judge(compare("better"), {"a": a, "b": b}, diverged={"b": [False, False, False, True]})
    assert result.verdict == V.HOLDS and result.p_value == pytest.approx(1 / 70), result.reason


def test_a_test_that_cannot_reach_the_level_decides_nothing_and_says_so() -> None:
    """3 seeds a side: the exact test's smallest p-value is 1/20 = 0.05, above 2.5 %: inconclusive, and the verdict
    names the 4 seeds per arm at which it can decide."""
    result = V.judge(compare("better"), {"a": [10.0, 11.0, 12.0], "b": [20.0, None, 22.0]},
                     diverged={"b": [False, True, False]})
    assert result.verdict == V.INCONCLUSIVE and result.seeds_needed == 4
    assert "cannot decide: 4 seeds per arm can" in result.reason, result.reason
    one = V.judge(threshold("below", 0.05), {"a": [0.01, None, 0.01, 0.02, 0.01]},
                  diverged={"a": [False, True, False, False, False]})
    assert one.verdict == V.INCONCLUSIVE and one.seeds_needed == 6  # one arm: 2^-5 = 0.031 > 0.025


def test_a_diverged_run_of_a_measure_without_direction_is_not_dropped() -> None:
    """A loss-curve trend has no better direction: a diverged run's value is unknown, so each one-sided test puts
    it where it is least favourable. It stays in n, and it can only make the verdict less certain."""
    c = claim(RuleSpec(kind="compare", a="a", b="b", expect="higher", min_effect=0.05, note="n"), CURVE)
    a, b = [0.5, 0.6, 0.55, 0.58, 0.62, 0.57], [0.1, 0.12, 0.09, 0.11, 0.1, 0.13]
    clean = V.judge(c, {"a": a, "b": b})
    down = V.judge(c, {"a": [*a[:5], None], "b": b}, diverged={"a": [False] * 5 + [True]})
    assert clean.verdict == V.HOLDS and down.n == 6 and "diverged" in down.reason
    assert down.p_value > 1 / math.comb(12, 6)  # the diverged seed ranks lowest for 'holds': not all six above
    all_down = V.judge(c, {"a": [None] * 4, "b": b[:4]}, diverged={"a": [True] * 4})
    assert all_down.verdict == V.INCONCLUSIVE and all_down.n == 4


finite = st.floats(-50, 50, allow_nan=False)


@settings(max_examples=150, deadline=None)
@given(st.lists(finite, min_size=3, max_size=6), st.lists(finite, min_size=3, max_size=6), st.data())
def test_a_diverged_loser_never_weakens_and_a_diverged_winner_never_strengthens(a: list[float], b: list[float],
                                                                                data: st.DataObject) -> None:
    """'a better than b' (lower FID): b is the arm the claim calls worse. With one of b's runs already diverged,
    turning another of b's runs into a divergence never weakens the verdict; turning one of a's never strengthens
    it. The same for a threshold rule's arm ('below' a bound: a diverged run lies above it)."""
    rule = compare("better", min_effect=data.draw(st.sampled_from([0.5, 2.0])))
    first = data.draw(st.integers(0, len(b) - 1))
    b_down = [i == first for i in range(len(b))]
    before = V.judge(rule, {"a": a, "b": b}, diverged={"b": b_down})
    j = data.draw(st.integers(0, len(b) - 1))
    after = V.judge(rule, {"a": a, "b": b}, diverged={"b": [d or i == j for i, d in enumerate(b_down)]})
    assert STRENGTH[after.verdict] >= STRENGTH[before.verdict], (before.reason, after.reason)
    k = data.draw(st.integers(0, len(a) - 1))
    winner = V.judge(rule, {"a": a, "b": b}, diverged={"b": b_down, "a": [i == k for i in range(len(a))]})
    assert STRENGTH[winner.verdict] <= STRENGTH[before.verdict], (before.reason, winner.reason)
    below = threshold("below", data.draw(finite))
    clean = V.judge(below, {"a": a}, diverged={"a": [i == k for i in range(len(a))]})
    worse = V.judge(below, {"a": a}, diverged={"a": [i in (k, j) for i in range(len(a))]})
    assert STRENGTH[worse.verdict] <= STRENGTH[clean.verdict]


def test_size_at_the_line_with_divergence_is_at_most_nominal() -> None:
    """Seeded Monte Carlo: a better than b by exactly the minimum effect (the claim sits on its line), each run
    diverging with the same chance in both arms (a diverged run is the worst FID). 'Holds' must come at most at the
    nominal 2.5 % (plus Monte Carlo error: 3 standard errors of 0.025 over 1,500 draws is 1.2 points)."""
    rng = random.Random(28)
    rule, holds, draws = compare("better", min_effect=1.0), 0, 1500
    for _ in range(draws):
        n = rng.choice((4, 5, 6))
        a = [rng.gauss(9.0, 1.0) for _ in range(n)]  # exactly 1 (the minimum effect) below b on average
        b = [rng.gauss(10.0, 1.0) for _ in range(n)]
        down = {arm: [rng.random() < 0.15 for _ in range(n)] for arm in "ab"}
        if not any(down["a"] + down["b"]):
            down["b"][0] = down["a"][0] = True  # the rank path, with as much divergence on both sides
        holds += V.judge(rule, {"a": a, "b": b}, diverged=down).verdict == V.HOLDS
    assert holds / draws <= stats.ALPHA + 3 * math.sqrt(stats.ALPHA * (1 - stats.ALPHA) / draws), holds
