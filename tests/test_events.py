"""Event rules with real p-values: the per-run false-event rate enters the binomial test, clean seeds can refute
'it happens', a diverged run is the event only where the claim names a divergence, and the size at the line stays
at most nominal (seeded Monte Carlo)."""

from __future__ import annotations

import math
import random

import pytest

import spec
from impl.verdicts import decide as V
from impl.verdicts import stats
from tests.test_verdict import event

EVENTS = [c for c in spec.claims() if c.measurable and c.rule.kind == "event"]


def test_clean_seeds_refute_an_existence_claim() -> None:
    """'It happens' implies at least a quarter of the runs (plus 2 % false events: 0.265 per run). 0 events in 15
    seeds: P(0 of 15) = 0.735^15 = 0.0099, so it does not hold; in 4 seeds (0.29) nothing is decided yet, and the
    verdict says how many seeds would decide it."""
    clean = V.judge(event(0.0, false_rate=0.02), {"a": [0.1] * 15})
    assert clean.verdict == V.FAILS and clean.p_value == pytest.approx(0.735 ** 15, rel=1e-9), clean.reason
    few = V.judge(event(0.0, false_rate=0.02), {"a": [0.1] * 4})
    assert few.verdict == V.INCONCLUSIVE and few.seeds_needed == 12, few.reason  # 0.735^12 = 0.0249


def test_the_false_event_rate_sets_the_p_value() -> None:
    """1 event in 6 seeds: with no false events it holds (p 0); with false events at 0.2 per run it is what chance
    gives (P(1 or more of 6) = 1 - 0.8^6 = 0.738), and not rare enough at the least rate the claim implies either
    (0.25 + 0.2 x 0.75 = 0.4 per run: P(1 or fewer) = 0.6^6 + 6 x 0.4 x 0.6^5 = 0.233, the nearer decision's p).
    3 of 6 at 0.1: p = P(3 or more) = 0.01585."""
    one = {"a": [2.0, 0.1, 0.1, 0.1, 0.1, 0.1]}
    assert V.judge(event(0.0, false_rate=0.0), one).verdict == V.HOLDS
    noisy = V.judge(event(0.0, false_rate=0.2), one)
    assert noisy.verdict == V.INCONCLUSIVE and noisy.p_value == pytest.approx(0.6 ** 6 + 6 * 0.4 * 0.6 ** 5)
    three = V.judge(event(0.0, false_rate=0.1), {"a": [2.0, 2.0, 2.0, 0.1, 0.1, 0.1]})
    assert three.verdict == V.HOLDS and three.p_value == pytest.approx(stats.binomial_sf(3, 6, 0.1))
    assert "false-event rate 0.1 per run, test" in three.reason


def test_a_divergence_is_the_event_only_where_the_claim_names_one() -> None:
    """Three diverged runs: the event of a claim that names a divergence (a collapse); for a claim about an early
    peak their value is unknown, so they neither make it hold nor refute it."""
    down = {"a": [None, None, None]}, {"a": [True, True, True]}
    assert V.judge(event(0.0), down[0], diverged=down[1]).verdict == V.HOLDS
    unknown = V.judge(event(0.0, diverged="unknown"), down[0], diverged=down[1])
    assert unknown.verdict == V.INCONCLUSIVE and unknown.n == 3 and "3 diverged: unknown" in unknown.reason


@pytest.mark.parametrize("claim_id", [c.id for c in EVENTS])
def test_every_event_claim_states_its_false_event_rate_and_where_it_came_from(claim_id: str) -> None:
    c = next(c for c in EVENTS if c.id == claim_id)
    assert c.rule.false_rate is not None and 0 <= c.rule.false_rate < 1 and len(c.rule.false_rate_from.split()) >= 5
    assert c.rule.rate or (c.rule.min_effect or 0) > 0, "'it happens' needs the least rate it implies"


def test_size_at_the_line_is_at_most_nominal() -> None:
    """Seeded Monte Carlo: runs in which the event never really happens, only false events at the stated rate
    (0.05 and 0.2 per run), 3 to 12 seeds: 'it happens' holds in at most 2.5 % of draws (+3 standard errors);
    and a claimed rate of a quarter, with the true rate exactly a quarter, holds at most as often."""
    rng = random.Random(4)
    draws = 2000
    limit = stats.ALPHA + 3 * math.sqrt(stats.ALPHA * (1 - stats.ALPHA) / draws)
    for rate, false_rate in ((0.0, 0.05), (0.0, 0.2), (0.25, 0.05)):
        rule, holds = event(rate, false_rate=false_rate), 0
        line = rate + false_rate * (1 - rate)
        for _ in range(draws):
            n = rng.randint(3, 12)
            holds += V.judge(rule, {"a": [2.0 if rng.random() < line else 0.0 for _ in range(n)]}).verdict == V.HOLDS
        assert holds / draws <= limit, (rate, false_rate, holds)
