"""The verdict rules on constructed per-seed values whose answer is known, and decide() on constructed run folders."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from impl.verdicts import decide as V
from spec.claim import ArmSpec, ClaimSpec, MeasureSpec, RuleSpec

FID = MeasureSpec(kind="final", key="domain_fid")  # lower is better


def claim(rule: RuleSpec, measure: MeasureSpec = FID, arms: tuple[str, ...] = ("a", "b")) -> ClaimSpec:
    return ClaimSpec(id="c000-test", file=Path("test.toml"), report="000", section="s", quote="q", paraphrase="p",
                     reading="", data="anime-faces", arms={n: ArmSpec(f"exp-{n}") for n in arms}, measure=measure,
                     rule=rule)


def compare(expect: str, measure: MeasureSpec = FID) -> ClaimSpec:
    return claim(RuleSpec(kind="compare", a="a", b="b", expect=expect), measure)


def threshold(expect: str, bound: float) -> ClaimSpec:
    return claim(RuleSpec(kind="threshold", arm="a", expect=expect, bound=bound, note="n"), arms=("a",))


def margin_rule(kind: str, margin: float = 0.1) -> ClaimSpec:
    return claim(RuleSpec(kind=kind, a="a", b="b", margin=margin, note="n"))


CLEAR_A = [10.0, 11.0, 12.5]  # a's FID clearly lower than b's on every seed
CLEAR_B = [20.0, 21.5, 22.0]
CASES = [  # (claim, values, verdict)
    (compare("better"), {"a": CLEAR_A, "b": CLEAR_B}, V.HOLDS),
    (compare("lower"), {"a": CLEAR_A, "b": CLEAR_B}, V.HOLDS),
    (compare("worse"), {"a": CLEAR_A, "b": CLEAR_B}, V.FAILS),
    (compare("higher"), {"a": CLEAR_A, "b": CLEAR_B}, V.FAILS),
    (compare("better"), {"a": CLEAR_B, "b": CLEAR_A}, V.FAILS),
    # the effect (mean difference 0.1) is far smaller than its spread over seeds
    (compare("better"), {"a": [10.0, 14.0, 9.0], "b": [12.0, 11.0, 10.3]}, V.INCONCLUSIVE),
    (compare("better"), {"a": [10.0], "b": [20.0]}, V.INCONCLUSIVE),  # one seed: no spread
    (compare("higher"), {"a": [0.0, 0.0, 0.5], "b": [0.0, 0.0, 0.5]}, V.FAILS),  # identical on every seed
    (compare("better"), {"a": [None, None, None], "b": CLEAR_B}, V.NOT_MEASURABLE),
    (compare("better"), {"a": CLEAR_A}, V.NOT_MEASURABLE),  # an arm without runs
    (threshold("below", 0.05), {"a": [0.010, 0.012, 0.011]}, V.HOLDS),
    (threshold("below", 0.05), {"a": [0.20, 0.25, 0.22]}, V.FAILS),
    (threshold("above", 0.05), {"a": [0.20, 0.25, 0.22]}, V.HOLDS),
    (threshold("below", 0.05), {"a": [0.01, 0.09, 0.05]}, V.INCONCLUSIVE),
    (threshold("below", 0.05), {"a": [0.01]}, V.INCONCLUSIVE),
    (threshold("below", 0.05), {"a": [float("nan"), None]}, V.NOT_MEASURABLE),
    # not_better, margin 10 % of b (about 10 FID): a within 1 of b holds; a 40 lower fails; wild spread inconclusive
    (margin_rule("not_better"), {"a": [100.0, 101.0, 99.5], "b": [100.5, 100.0, 100.0]}, V.HOLDS),
    (margin_rule("not_better"), {"a": [120.0, 130.0, 125.0], "b": [100.0, 101.0, 99.0]}, V.HOLDS),  # a worse
    (margin_rule("not_better"), {"a": [60.0, 61.0, 59.0], "b": [100.0, 101.0, 99.0]}, V.FAILS),
    (margin_rule("not_better"), {"a": [60.0, 140.0, 100.0], "b": [100.0, 101.0, 99.0]}, V.INCONCLUSIVE),
    (margin_rule("similar"), {"a": [100.0, 101.0, 99.5], "b": [100.5, 100.0, 100.0]}, V.HOLDS),
    (margin_rule("similar"), {"a": [120.0, 130.0, 125.0], "b": [100.0, 101.0, 99.0]}, V.FAILS),
    (margin_rule("similar"), {"a": [60.0, 61.0, 59.0], "b": [100.0, 101.0, 99.0]}, V.FAILS),
    (margin_rule("similar"), {"a": [60.0, 140.0, 100.0], "b": [100.0, 101.0, 99.0]}, V.INCONCLUSIVE),
]


@pytest.mark.parametrize("c,values,expected", CASES, ids=[f"{c.rule.describe()}-{e}-{i}" for i, (c, _, e)
                                                           in enumerate(CASES)])
def test_known_answers(c: ClaimSpec, values: dict, expected: str) -> None:
    result = V.judge(c, values)
    assert result.verdict == expected, result.reason
    assert result.reason and "\n" not in result.reason


def test_interval_is_the_t_interval() -> None:
    """Mean 2, sd 1, n 3: half width t(2) / sqrt(3) = 4.303 / 1.732 = 2.4843 (computed by hand)."""
    result = V.judge(threshold("below", 10.0), {"a": [1.0, 2.0, 3.0]})
    assert result.effect == pytest.approx(2.0) and result.sd == pytest.approx(1.0) and result.n == 3
    assert result.ci == pytest.approx((2.0 - 2.4843, 2.0 + 2.4843), abs=1e-4)
    assert result.verdict == V.HOLDS  # 4.48 < 10
    paired = V.judge(compare("lower"), {"a": [1.0, 2.0, 4.0], "b": [0.0, 0.0, 0.0]})
    assert paired.effect == pytest.approx(7 / 3) and paired.ci[0] < 0 < paired.ci[1]


def test_seeds_without_values_are_dropped_and_named() -> None:
    result = V.judge(compare("better"), {"a": [*CLEAR_A, None], "b": [*CLEAR_B, 30.0]},
                     missing=["a run 3: metrics.json is missing"])
    assert result.verdict == V.HOLDS and result.n == 3
    assert "1 of 4 seeds without a value" in result.reason and "metrics.json is missing" in result.reason


@pytest.mark.parametrize("c,values", [(compare("better"), {"a": [10.0], "b": [20.0]}),
                                      (threshold("below", 0.05), {"a": [None, 0.01, None]})])
def test_one_seed_is_inconclusive_for_lack_of_spread(c: ClaimSpec, values: dict) -> None:
    result = V.judge(c, values)
    assert result.verdict == V.INCONCLUSIVE and result.n == 1 and result.ci is None
    assert result.reason.startswith("one seed: no spread")


def test_not_measurable_claim_gives_its_reason() -> None:
    c = ClaimSpec(id="c001-x", file=Path("t"), report="001", section="s", quote="q", paraphrase="p", reading="",
                  data="anime-faces", arms={}, measure=None, rule=RuleSpec(kind="not_measurable"),
                  reason="needs an eye detector")
    result = V.decide(c, {})
    assert result.verdict == V.NOT_MEASURABLE and result.reason == "needs an eye detector"


def _t_cdf(t: float, df: int, steps: int = 4000) -> float:
    """P(T <= t) for t > 0 by Simpson's rule on the density: an independent check of the table."""
    c = math.exp(math.lgamma((df + 1) / 2) - math.lgamma(df / 2)) / math.sqrt(df * math.pi)
    h = t / steps
    f = [c * (1 + (i * h) ** 2 / df) ** (-(df + 1) / 2) for i in range(steps + 1)]
    return 0.5 + h / 3 * (f[0] + f[-1] + 4 * sum(f[1:-1:2]) + 2 * sum(f[2:-1:2]))


@pytest.mark.parametrize("df", [2, 3, 4, 5, 7, 10, 15, 20, 30, 60, 120])
def test_t_quantiles_match_the_distribution(df: int) -> None:
    assert _t_cdf(V.t975(df), df) == pytest.approx(0.975, abs=2e-4)


def test_t_quantiles_between_rows_are_conservative() -> None:
    assert V.t975(1) == pytest.approx(math.tan(0.475 * math.pi), abs=1e-3)  # Cauchy: closed form
    assert V.t975(45) == V.t975(40) > V.t975(60) and V.t975(1000) == V.Z975
    with pytest.raises(ValueError):
        V.t975(0)


values_st = st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=8)


@settings(max_examples=150, deadline=None)
@given(a=values_st, b=values_st, expect=st.sampled_from(["better", "worse", "higher", "lower"]))
def test_any_values_give_a_verdict_and_swapping_arms_flips_it(a: list, b: list, expect: str) -> None:
    forward = V.judge(compare(expect), {"a": a, "b": b})
    backward = V.judge(compare(expect), {"a": b, "b": a})
    assert forward.verdict in V.VERDICTS and backward.verdict in V.VERDICTS
    flip = {V.HOLDS: V.FAILS, V.FAILS: V.HOLDS, V.INCONCLUSIVE: V.INCONCLUSIVE}
    identical = forward.ci is not None and forward.ci[0] == forward.ci[1] == 0  # neither arm is higher
    assert backward.verdict == (V.FAILS if identical else flip[forward.verdict])
    if forward.ci is not None:
        assert forward.ci[0] <= forward.effect <= forward.ci[1]
    if min(len(a), len(b)) == 1:
        assert forward.verdict == V.INCONCLUSIVE
    json.dumps(forward.to_json(), allow_nan=False)


@settings(max_examples=100, deadline=None)
@given(a=values_st, b=values_st, kind=st.sampled_from(["not_better", "similar"]),
       expect=st.sampled_from(["above", "below"]), bound=st.floats(-1e3, 1e3))
def test_margin_and_threshold_rules_give_a_verdict(a: list, b: list, kind: str, expect: str, bound: float) -> None:
    for result in (V.judge(margin_rule(kind), {"a": a, "b": b}), V.judge(threshold(expect, bound), {"a": a})):
        assert result.verdict in V.VERDICTS and result.reason
        if result.ci is not None:
            assert result.ci[0] <= result.effect <= result.ci[1]
        else:
            assert result.verdict in (V.INCONCLUSIVE, V.NOT_MEASURABLE)


def _run(root: Path, name: str, fid: float | None, data: str = "FashionMNIST train split, adapted") -> Path:
    run = root / name
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"data": data}), encoding="utf-8")
    if fid is not None:
        (run / "metrics.json").write_text(json.dumps({"domain_fid": fid}), encoding="utf-8")
    return run


def test_decide_reads_run_folders(tmp_path: Path) -> None:
    a = [_run(tmp_path, f"a{i}", x) for i, x in enumerate(CLEAR_A)]
    b = [_run(tmp_path, f"b{i}", x) for i, x in enumerate(CLEAR_B)]
    c = compare("better")
    result = V.decide(c, {"a": a, c.arms["b"].key(): b})  # by arm name or by canonical key
    assert result.verdict == V.HOLDS and result.values == {"a": CLEAR_A, "b": CLEAR_B}
    assert result.runs["b"] == [str(p) for p in b]
    assert result.data_label.startswith("FashionMNIST-64") and "stand-in" in result.data_label
    row = result.markdown_row()
    assert row.count(" | ") == V.MARKDOWN_HEADER.splitlines()[0].count(" | ") and "**holds**" in row
    assert json.loads(json.dumps(result.to_json(), allow_nan=False))["verdict"] == V.HOLDS


def test_decide_names_what_is_missing(tmp_path: Path) -> None:
    a = [_run(tmp_path, f"a{i}", None) for i in range(3)]
    b = [_run(tmp_path, f"b{i}", x) for i, x in enumerate(CLEAR_B)]
    result = V.decide(compare("better"), {"a": a, "b": b})
    assert result.verdict == V.NOT_MEASURABLE
    assert "a run 0" in result.reason and "metrics.json is missing" in result.reason and "2 more" in result.reason
    assert V.decide(compare("better"), {"b": b}).reason == "no runs for arm 'a'"
    assert V.decide(compare("better"), {"a": [], "b": b}).reason == "no runs for arm 'a'"


@pytest.mark.parametrize("data,runs,label", [
    ("anime-faces", ["FashionMNIST train (60,000 images), adapted from 1x28x28 to 3x64x64"],
     "FashionMNIST-64 (offline stand-in for the anime faces)"),
    ("fashion-mnist", ["FashionMNIST train (60,000 images) from /usr/share/datasets/fashion-mnist"], "FashionMNIST"),
    ("anime-faces", ["faces/ (71,314 images)"], "faces/ (71,314 images)"),
    ("anime-faces", [], "anime-faces"),
])
def test_data_label_says_what_the_verdict_was_decided_on(data: str, runs: list, label: str) -> None:
    result = V.judge(compare("better"), {"a": CLEAR_A, "b": CLEAR_B})
    result.data, result.decided_on = data, runs
    assert result.data_label == label


def test_markdown_row_escapes_pipes() -> None:
    result = V.judge(compare("better"), {"a": CLEAR_A, "b": CLEAR_B})
    result.quote = "a | b"
    assert "a \\| b" in result.markdown_row()


def test_to_json_has_no_nan() -> None:
    result = V.judge(threshold("below", 0.05), {"a": [float("nan"), 0.01, 0.02]})
    data = json.loads(json.dumps(result.to_json(), allow_nan=False))
    assert data["values"]["a"] == [None, 0.01, 0.02] and data["n"] == 2 and len(data["ci"]) == 2
