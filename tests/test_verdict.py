"""The verdict rules and their statistics on constructed per-seed values whose answer is known."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from impl.verdicts import decide as V
from impl.verdicts import stats
from impl.verdicts.scorecard import adjust
from spec.claim import ArmSpec, ClaimSpec, MeasureSpec, RuleSpec

FID = MeasureSpec(kind="final", key="fid", against="above")  # lower is better


def claim(rule: RuleSpec, measure: MeasureSpec = FID, arms: tuple[str, ...] = ("a", "b")) -> ClaimSpec:
    return ClaimSpec(id="c000-test", file=Path("test.toml"), report="000", section="s", quote="q", paraphrase="p",
                     reading="", data="anime-faces", arms={n: ArmSpec(f"exp-{n}") for n in arms}, measure=measure,
                     rule=rule)


def compare(expect: str, min_effect: float = 1.0, scale: str = "absolute", measure: MeasureSpec = FID) -> ClaimSpec:
    return claim(RuleSpec(kind="compare", a="a", b="b", expect=expect, min_effect=min_effect, scale=scale,
                          at_least=1e-3 if scale == "of_b" else None, note="n"), measure)


def threshold(expect: str, bound: float, min_effect: float = 1e-3) -> ClaimSpec:
    return claim(RuleSpec(kind="threshold", arm="a", expect=expect, bound=bound, min_effect=min_effect,
                          reference="convention", note="n"), arms=("a",))


def margin_rule(kind: str, margin: float = 0.1) -> ClaimSpec:
    return claim(RuleSpec(kind=kind, a="a", b="b", min_effect=margin, scale="of_b", at_least=1e-3, note="n"))


def event(rate: float, bound: float = 1.0, false_rate: float = 0.0, diverged: str = "event",
          clean_runs: int = 1000) -> ClaimSpec:
    """An event rule; 'it happens' (rate 0) implies at least a quarter of the runs (its minimum effect). Its false
    events: `false_rate` of `clean_runs` clean runs (a thousand: the rate all but known)."""
    clean = round(false_rate * clean_runs)
    return claim(RuleSpec(kind="event", arm="a", expect="above", bound=bound, rate=rate,
                          min_effect=0.25 if rate == 0 else None, false_rate=clean / clean_runs,
                          false_events=(clean, clean_runs), false_rate_from=f"{clean} of {clean_runs} clean test runs",
                          diverged=diverged, note="n"), arms=("a",))


CLEAR_A = [10.0, 11.0, 12.5]  # a's FID clearly lower than b's on every seed
CLEAR_B = [20.0, 21.5, 22.0]
CASES = [  # (claim, values, verdict)
    (compare("better"), {"a": CLEAR_A, "b": CLEAR_B}, V.HOLDS),
    (compare("lower"), {"a": CLEAR_A, "b": CLEAR_B}, V.HOLDS),
    (compare("worse"), {"a": CLEAR_A, "b": CLEAR_B}, V.FAILS),
    (compare("higher"), {"a": CLEAR_A, "b": CLEAR_B}, V.FAILS),
    (compare("better"), {"a": CLEAR_B, "b": CLEAR_A}, V.FAILS),
    # a clear difference smaller than the minimum effect: the claimed difference is ruled out
    (compare("better", min_effect=20.0), {"a": CLEAR_A, "b": CLEAR_B}, V.FAILS),
    (compare("better", min_effect=0.6, scale="of_b"), {"a": CLEAR_A, "b": CLEAR_B}, V.FAILS),  # needs 12.7 or more
    (compare("better", min_effect=0.3, scale="of_b"), {"a": CLEAR_A, "b": CLEAR_B}, V.HOLDS),  # needs 6.4 or more
    # the effect (mean difference 0.1) is far smaller than its spread over seeds
    (compare("better", min_effect=0.01), {"a": [10.0, 14.0, 9.0], "b": [12.0, 11.0, 10.3]}, V.INCONCLUSIVE),
    (compare("better"), {"a": [10.0], "b": [20.0]}, V.INCONCLUSIVE),  # one seed: no spread
    (compare("higher"), {"a": [0.0, 0.0, 0.5], "b": [0.0, 0.0, 0.5]}, V.FAILS),  # identical on every seed
    (compare("higher", min_effect=1e-3), {"a": [1 + 1e-9, 2 + 1e-9, 3 + 1e-9], "b": [1.0, 2.0, 3.0]}, V.FAILS),
    (compare("better"), {"a": [None, None, None], "b": CLEAR_B}, V.NOT_MEASURABLE),
    (compare("better"), {"a": CLEAR_A}, V.NOT_MEASURABLE),  # an arm without runs
    (threshold("below", 0.05), {"a": [0.010, 0.012, 0.011]}, V.HOLDS),
    (threshold("below", 0.05), {"a": [0.20, 0.25, 0.22]}, V.FAILS),
    (threshold("above", 0.05), {"a": [0.20, 0.25, 0.22]}, V.HOLDS),
    (threshold("below", 0.05), {"a": [0.01, 0.09, 0.05]}, V.INCONCLUSIVE),
    (threshold("below", 0.05), {"a": [0.01]}, V.INCONCLUSIVE),
    (threshold("below", 0.05), {"a": [float("nan"), None]}, V.NOT_MEASURABLE),
    # not_better, minimum effect 10 % of b (about 10): a within 1 of b holds; a 40 lower fails; wild spread
    (margin_rule("not_better"), {"a": [100.0, 101.0, 99.5], "b": [100.5, 100.0, 100.0]}, V.HOLDS),
    (margin_rule("not_better"), {"a": [120.0, 130.0, 125.0], "b": [100.0, 101.0, 99.0]}, V.HOLDS),  # a worse
    (margin_rule("not_better"), {"a": [60.0, 61.0, 59.0], "b": [100.0, 101.0, 99.0]}, V.FAILS),
    (margin_rule("not_better"), {"a": [60.0, 140.0, 100.0], "b": [100.0, 101.0, 99.0]}, V.INCONCLUSIVE),
    (margin_rule("similar"), {"a": [100.0, 101.0, 99.5], "b": [100.5, 100.0, 100.0]}, V.HOLDS),
    (margin_rule("similar"), {"a": [120.0, 130.0, 125.0], "b": [100.0, 101.0, 99.0]}, V.FAILS),
    (margin_rule("similar"), {"a": [60.0, 61.0, 59.0], "b": [100.0, 101.0, 99.0]}, V.FAILS),
    (margin_rule("similar"), {"a": [60.0, 140.0, 100.0], "b": [100.0, 101.0, 99.0]}, V.INCONCLUSIVE),
    # events: k of n runs, exact binomial against the claimed rate
    (event(0.0), {"a": [0.2, 0.3, 1.5, 0.1]}, V.HOLDS),  # it happened once: an existence claim holds
    (event(0.0), {"a": [0.2, 0.3, 0.5, 0.1]}, V.INCONCLUSIVE),  # never seen: not refuted by finitely many seeds
    (event(0.25), {"a": [2.0] * 8}, V.HOLDS),  # 8 of 8: rate above a quarter
    (event(0.25), {"a": [2.0, 0.0, 0.0, 0.0, 0.0, 0.0]}, V.INCONCLUSIVE),  # 1 of 6 cannot tell from a quarter
    (event(0.5), {"a": [0.0] * 12}, V.FAILS),  # 0 of 12: the rate is below a half
]


@pytest.mark.parametrize("c,values,expected", CASES, ids=[f"{c.rule.kind}-{e}-{i}" for i, (c, _, e)
                                                           in enumerate(CASES)])
def test_known_answers(c: ClaimSpec, values: dict, expected: str) -> None:
    result = V.judge(c, values)
    assert result.verdict == expected, result.reason
    assert result.reason and "\n" not in result.reason


def test_interval_is_the_t_interval() -> None:
    """Mean 2, sd 1, n 3: half width t(2) / sqrt(3) = 4.30265 / 1.73205 = 2.48414 (computed by hand)."""
    result = V.judge(threshold("below", 10.0), {"a": [1.0, 2.0, 3.0]})
    assert result.effect == pytest.approx(2.0) and result.sd == pytest.approx(1.0) and result.n == 3
    assert result.ci == pytest.approx((2.0 - 2.48414, 2.0 + 2.48414), abs=1e-4)  # the measure's own scale
    assert "a = 2, 95 % interval [-0.4841, 4.484] over 3 seeds" in result.reason, result.reason
    assert result.verdict == V.HOLDS  # 4.48 < 10


def test_a_difference_below_the_minimum_effect_never_holds() -> None:
    """A constant 1e-9 advantage on every seed has no spread at all; without a minimum effect it would 'hold'."""
    values = {"a": [1 + 1e-9, 2 + 1e-9, 3 + 1e-9, 4 + 1e-9], "b": [1.0, 2.0, 3.0, 4.0]}
    assert V.judge(compare("higher", min_effect=1e-6), values).verdict == V.FAILS
    assert V.judge(compare("higher", min_effect=1e-12), values).verdict == V.HOLDS


def test_a_diverged_seed_is_an_outcome_not_a_dropped_value() -> None:
    """a diverged on two of six seeds: its FID is the worst there, so 'a better than b' loses those seeds; the
    decision is an exact rank-sum test (tests/test_divergence.py). For an event rule the diverged seeds are events."""
    values = {"a": [10.0, 10.5, None, 11.0, None, 10.2], "b": [20.0, 21.0, 22.0, 20.5, 21.5, 20.1]}
    diverged = {"a": [False, False, True, False, True, False]}
    result = V.judge(compare("better"), values, diverged=diverged)
    assert result.verdict == V.INCONCLUSIVE and result.n == 6 and result.diverged == {"a": 2}
    assert "rank-sum test" in result.reason and "diverged" in result.reason
    dropped = V.judge(compare("better"), {"a": [10.0, 10.5, 11.0, 10.2], "b": [20.0, 21.0, 20.5, 20.1]})
    assert dropped.verdict == V.HOLDS  # what dropping them silently would have said
    assert V.judge(compare("worse"), values, diverged=diverged).verdict == V.INCONCLUSIVE
    hits = V.judge(event(0.0), {"a": [0.1, None, 0.2]}, diverged={"a": [False, True, False]})
    assert hits.verdict == V.HOLDS and hits.events == (1, 3)


def test_inconclusive_names_the_seeds_that_would_decide_it() -> None:
    """Mean 0.5 above a bound of 0, sd 1: t975(n - 1) / sqrt(n) < 0.5 first at n = 19 (t975(18) = 2.101,
    2.101 / 4.359 = 0.482; at 18, 2.110 / 4.243 = 0.497 < 0.5 too; at 17, 2.120 / 4.123 = 0.514)."""
    values = [0.5 - 1.0, 0.5, 0.5 + 1.0]  # mean 0.5, sd 1
    result = V.judge(threshold("above", 0.0), {"a": values})
    assert result.verdict == V.INCONCLUSIVE and result.seeds_needed == 18
    assert "about 18 seeds would likely decide it" in result.reason
    on_line = V.judge(threshold("above", 0.5), {"a": values})
    assert on_line.seeds_needed is None and "sits on the line" in on_line.reason


def test_holm_keeps_only_decisions_that_survive_the_family() -> None:
    """Three claims with one-sided p-values 0.001, 0.02 and 0.3: raw, the first two hold; Holm multiplies by 3
    and 2, so only the first (0.003) stays below 0.025 (0.02 x 2 = 0.04)."""
    made = []
    for p in (0.001, 0.02, 0.3):
        v = V.judge(threshold("above", 0.0), {"a": [1.0, 2.0, 3.0]})
        v.verdict, v.p_value = (V.HOLDS if p < stats.ALPHA else V.INCONCLUSIVE), p
        made.append(v)
    adjust(made)
    assert [v.holm for v in made] == [V.HOLDS, V.INCONCLUSIVE, V.INCONCLUSIVE]
    assert stats.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])


def test_clopper_pearson_matches_known_values() -> None:
    """0 of 6: the upper bound solves (1 - p)^6 = 0.025; 3 of 10: the textbook interval [0.0667, 0.6525]."""
    assert stats.clopper_pearson(0, 6) == pytest.approx((0.0, 1 - 0.025 ** (1 / 6)), abs=1e-6)
    assert stats.clopper_pearson(3, 10) == pytest.approx((0.0667, 0.6525), abs=1e-4)


def test_not_measurable_claim_gives_its_reason() -> None:
    c = ClaimSpec(id="c001-x", file=Path("t"), report="001", section="s", quote="q", paraphrase="p", reading="",
                  data="anime-faces", arms={}, measure=None, rule=RuleSpec(kind="not_measurable"),
                  reason="needs an eye detector")
    result = V.decide(c, {})
    assert result.verdict == V.NOT_MEASURABLE and result.reason == "needs an eye detector"


def _t_cdf(t: float, df: int, steps: int = 4000) -> float:
    """P(T <= t) for t > 0 by Simpson's rule on the density: an independent check of the closed forms."""
    c = math.exp(math.lgamma((df + 1) / 2) - math.lgamma(df / 2)) / math.sqrt(df * math.pi)
    h = t / steps
    f = [c * (1 + (i * h) ** 2 / df) ** (-(df + 1) / 2) for i in range(steps + 1)]
    return 0.5 + h / 3 * (f[0] + f[-1] + 4 * sum(f[1:-1:2]) + 2 * sum(f[2:-1:2]))


@pytest.mark.parametrize("df", [1, 2, 3, 4, 5, 7, 10, 15, 20, 30, 60, 120])
def test_t_distribution_matches_the_density(df: int) -> None:
    for t in (0.5, 1.7, 4.0):
        assert stats.t_cdf(t, df) == pytest.approx(_t_cdf(t, df), abs=2e-6)
    assert _t_cdf(stats.t975(df), df) == pytest.approx(0.975, abs=2e-5)


@pytest.mark.parametrize("df,table", [(1, 12.706), (2, 4.303), (5, 2.571), (10, 2.228), (30, 2.042)])
def test_t_quantiles_match_the_printed_table(df: int, table: float) -> None:
    assert stats.t975(df) == pytest.approx(table, abs=1e-3)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-1e3, 1e3), min_size=2, max_size=8), st.floats(-1e3, 1e3))
def test_swapping_the_arms_of_a_compare_swaps_the_verdict(a: list[float], shift: float) -> None:
    """a higher than b holds exactly when b higher than a does not... with min_effect 0 the two are mirror images."""
    b = [x + shift for x in a[::-1]]
    ab = V.judge(compare("higher", min_effect=1e-9), {"a": a, "b": b})
    ba = V.judge(compare("higher", min_effect=1e-9), {"a": b, "b": a})
    if ab.verdict == V.HOLDS:
        assert ba.verdict == V.FAILS
    assert ab.verdict in V.VERDICTS and "\n" not in ab.reason


def test_the_headline_is_holm_adjusted_per_report() -> None:
    """Report 000's claim at p 0.02 holds raw and, alone in its family, after Holm too; report 001's two claims at
    0.001 and 0.02 hold raw, and after Holm (x2, x1) both too, although the three together (x3 on 0.001, x2 on 0.02)
    would turn the 0.02s inconclusive. The table and the counts lead with the adjusted verdict: the review's green
    'holds' that Holm had made inconclusive cannot lead a row."""
    from impl.verdicts import scorecard

    made = []
    for report, p in (("000", 0.02), ("001", 0.001), ("001", 0.02), ("001", 0.3)):
        v = V.judge(threshold("above", 0.0), {"a": [1.0, 2.0, 3.0]})
        v.report, v.verdict, v.p_value = report, (V.HOLDS if p < stats.ALPHA else V.INCONCLUSIVE), p
        made.append(v)
    adjust(made)
    assert [v.holm for v in made] == [V.HOLDS, V.HOLDS, V.INCONCLUSIVE, V.INCONCLUSIVE]  # 001: 0.02 x 2 = 0.04
    assert [v.family for v in made] == ["report 000", "report 001", "report 001", "report 001"]
    assert made[2].verdict == V.HOLDS and made[2].headline == V.INCONCLUSIVE
    assert "| **inconclusive** | holds |" in made[2].markdown_row()
    assert scorecard.counts(made) == {V.HOLDS: 2, V.FAILS: 0, V.INCONCLUSIVE: 2, V.NOT_MEASURABLE: 0}
    assert scorecard.counts(made, raw=True)[V.HOLDS] == 3
    assert made[2].to_json()["headline"] == V.INCONCLUSIVE
