"""A margin on every rule: a 1e-9 or a 1 % effect never holds for any claim the reports' files state, whatever the
level of the baseline (near zero included); a directional claim has four outcomes; a 'near' bound is two-sided."""

from __future__ import annotations

import pytest

import spec
from impl.verdicts import decide as V
from impl.verdicts.verdict import HOLDS_SMALLER
from spec.claim import ClaimSpec, RuleSpec
from tests.test_verdict import claim, compare, threshold

DIRECTIONAL = {c.id: c for c in spec.claims() if c.measurable and c.rule.kind in ("compare", "threshold")
               and c.rule.expect != "near"}
SEEDS = 5


def _planted(c: ClaimSpec, effect: float, level: float) -> dict[str, list[float]]:
    """Per-seed values whose claim-oriented effect is exactly `effect` on every seed (no spread at all, so only the
    margin stands between the effect and 'holds'): arm b at about `level`, a beyond it; a threshold's arm beyond
    its bound."""
    sign = V._orient(c)[0]
    if c.rule.kind == "threshold":
        bound = c.rule.bound or 0.0
        return {c.rule.arm: [bound + sign * effect] * SEEDS}
    b = [level * (1 + 0.1 * i) for i in range(SEEDS)]
    return {c.rule.a: [x + sign * effect for x in b], c.rule.b: b}


def _one_percent(c: ClaimSpec, level: float) -> float:
    """1 % of the level the effect is measured from: the bound (0.01 where the bound is 0), arm b's level for a
    minimum effect relative to b, else 0.01 (the measures compared in absolute units are shares and ratios of about
    1: precision, recall, MS-SSIM, mismatch shares, relative rises, log ratios)."""
    if c.rule.kind == "threshold":
        return 0.01 * (abs(c.rule.bound or 0.0) or 1.0)
    return 0.01 * level if c.rule.scale == "of_b" else 0.01


@pytest.mark.parametrize("claim_id", sorted(DIRECTIONAL))
@pytest.mark.parametrize("level", [1e-6, 1.0, 250.0])
def test_tiny_and_one_percent_effects_never_hold(claim_id: str, level: float) -> None:
    c = DIRECTIONAL[claim_id]
    for effect in (1e-9, _one_percent(c, level)):
        result = V.judge(c, _planted(c, effect, level))
        assert result.verdict != V.HOLDS, f"{claim_id}: an effect of {effect:g} at level {level:g} holds: " \
            f"{result.reason}"


def test_a_share_of_a_missing_baseline_keeps_its_least_size() -> None:
    """Arm b diverged on every seed: its FID is the worst, and the minimum effect, 10 % of nothing, is the rule's
    least size (0.001 here), not 0 and not 0.1 in the measure's units."""
    c = compare("better", min_effect=0.1, scale="of_b")
    assert V._line(c, {"b": [None, None]}) == pytest.approx(1e-3)
    assert V._line(c, {"b": [1e-8, 1e-8]}) == pytest.approx(1e-3)
    assert V._line(c, {"b": [100.0, 300.0]}) == pytest.approx(20.0)


def test_four_outcomes_of_a_directional_claim() -> None:
    """a lower than b by about 10 on every seed: against a minimum effect of 5 it holds; of 20 the claimed size is
    ruled out but the direction holds beyond noise ('holds, but smaller', with the minimum effect in its units);
    the opposite claim does not hold; a noisy effect is inconclusive."""
    a, b = [10.0, 11.0, 12.5, 10.2], [20.0, 21.5, 22.0, 20.1]
    assert V.judge(compare("better", min_effect=5.0), {"a": a, "b": b}).outcome == V.HOLDS
    smaller = V.judge(compare("better", min_effect=20.0), {"a": a, "b": b})
    assert smaller.verdict == V.FAILS and smaller.outcome == HOLDS_SMALLER
    assert "by less than the minimum effect 20" in smaller.reason and smaller.to_json()["outcome"] == HOLDS_SMALLER
    worse = V.judge(compare("worse", min_effect=5.0), {"a": a, "b": b})
    assert worse.outcome == V.FAILS and not worse.smaller
    noisy = V.judge(compare("better", min_effect=1.0), {"a": [10.0, 14.0, 9.0], "b": [12.0, 11.0, 10.3]})
    assert noisy.outcome == V.INCONCLUSIVE
    ratio = V.judge(threshold("below", 1.0, min_effect=0.05), {"a": [0.98, 0.985, 0.99, 0.975]})
    assert ratio.outcome == HOLDS_SMALLER, ratio.reason  # below 1 beyond noise, but not by 0.05


def test_a_near_bound_is_tested_on_both_sides() -> None:
    near = claim(RuleSpec(kind="threshold", arm="a", expect="near", bound=100.0, min_effect=10.0,
                          reference="convention", note="n"), arms=("a",))
    assert V.judge(near, {"a": [99.0, 101.0, 100.5, 99.5]}).verdict == V.HOLDS
    assert V.judge(near, {"a": [150.0, 151.0, 149.0, 150.5]}).verdict == V.FAILS  # far above
    assert V.judge(near, {"a": [50.0, 51.0, 49.0, 50.5]}).verdict == V.FAILS  # far below: a one-sided test holds
    assert V.judge(near, {"a": [80.0, 120.0, 95.0]}).verdict == V.INCONCLUSIVE
    down = V.judge(near, {"a": [99.0, 101.0, 100.5, 99.5, 100.2, None]}, diverged={"a": [False] * 5 + [True]})
    assert down.verdict != V.HOLDS and down.n == 6  # a diverged run's value is unknown: it cannot be near 100
