"""Each claim's path over the rounds of seeds and what one more round would do, stated as power: recorded by the
sequential design, simulated through the claim's own rule, shown in scorecard.md, scorecard.json and the page."""

from __future__ import annotations

import dataclasses
import json
import random

import pytest

from impl.verdicts import decide as V
from impl.verdicts import evidence, outlook, scorecard
from impl.verdicts import sequential as S
from spec.claim import ClaimSpec
from tests.test_verdict import compare, event, threshold


def _looked(claim_id: str, verdicts: list[V.Verdict], design: S.Design, seeds: int) -> None:
    for v in verdicts:
        v.claim, v.report = claim_id, "004"
    design.look(seeds, verdicts)


def test_the_path_keeps_the_evidence_of_every_round() -> None:
    """Two looks of a noisy threshold claim (3 then 5 seeds): each records seeds per arm, effect, interval, p, the
    level and the alpha spent by then, the raw verdict and the decision (inconclusive at both)."""
    c, rng = threshold("below", 0.5), random.Random(3)
    values = [rng.gauss(0.45, 0.3) for _ in range(5)]
    design = S.Design(max_seeds=12)
    for seeds in (3, 5):
        _looked("c004-noisy", [V.judge(c, {"a": values[:seeds]})], design, seeds)
    path = design.paths["c004-noisy"]
    levels = S.levels(S.schedule(3, 12), 12)
    assert [p["per_arm"] for p in path] == [{"a": 3}, {"a": 5}]
    assert [p["level"] for p in path] == pytest.approx(levels[:2])
    assert path[1]["spent"] == pytest.approx(sum(levels[:2])) and path[1]["spent"] == pytest.approx(S.spent(5 / 12))
    assert path[1]["effect"] == pytest.approx(sum(values) / 5) and len(path[1]["ci"]) == 2
    assert [p["decision"] for p in path] == [V.INCONCLUSIVE] * 2 and path[0]["raw"] == V.INCONCLUSIVE


def _power(values: dict[str, list[float | None]], claim: ClaimSpec, seeds: int = 3) -> outlook.NextRound:
    design = S.Design(max_seeds=12)
    v = V.judge(claim, values)
    v.holm = V.INCONCLUSIVE
    ahead = outlook.next_round(claim, v, design, seeds)
    assert ahead is not None
    return ahead


def test_power_of_one_more_round_follows_the_effect_and_its_spread() -> None:
    """b about 20, 8 seeds; a beats it by 2, 1.5 or exactly the minimum effect of 1, paired spread 0.5. The next
    look (12 seeds, tested at O'Brien-Fleming's last level, 0.021) decides the big effect almost surely, the middle
    one less often, the one on its line almost never (its 'holds' at most the look's level plus Monte Carlo error);
    the power is the sum of the chances either way."""
    rng = random.Random(11)
    b = [rng.gauss(20.0, 1.0) for _ in range(8)]
    noise = [rng.gauss(0.0, 0.5) for _ in range(8)]
    rule = compare("better", min_effect=1.0)
    big, mid, line = (_power({"a": [x - effect + e for x, e in zip(b, noise, strict=True)], "b": b}, rule, seeds=8)
                      for effect in (2.0, 1.5, 1.0))
    assert (big.seeds, big.added, big.how) == (12, 4, "the next round")
    assert big.level == pytest.approx(S.levels(S.schedule(3, 12), 12)[-1])
    assert big.power > 0.9 and big.power > mid.power > line.power, (big, mid, line)
    assert 0.1 < mid.power < 0.95 and line.holds <= 0.05 and big.power == pytest.approx(big.holds + big.fails)
    assert "about" in big.text() and "chance to decide it" in big.text()


def test_after_the_last_look_one_more_round_is_a_resume_with_more_seeds() -> None:
    """At --max-seeds 12 the next round is `--resume --max-seeds 18`, tested at the last level of that design."""
    rng = random.Random(5)
    ahead = _power({"a": [rng.gauss(0.4, 0.2) for _ in range(12)]}, threshold("below", 0.5), seeds=12)
    assert ahead.how == "--resume --max-seeds 18" and ahead.seeds == 18 and ahead.added == 6
    assert ahead.level == pytest.approx(S.levels(S.schedule(3, 18), 18)[-1])


def test_event_and_diverged_claims_are_simulated_from_their_own_seeds() -> None:
    """An event claim (1 of 4 seeds, false events at 0.2 per run) and a comparison with a diverged run are drawn
    by resampling their own seeds; a decided or unmeasurable claim gets no outlook."""
    rare = _power({"a": [2.0, 0.0, 0.0, 0.0]}, event(0.0, false_rate=0.2), seeds=4)
    assert 0 <= rare.power <= 1 and rare.seeds == 5
    down = V.judge(compare("better"), {"a": [10.0, 11.0, 12.0], "b": [20.0, None, 22.0]},
                   diverged={"b": [False, True, False]})
    values, flags = outlook.observed(down)
    assert flags == {"a": [False] * 3, "b": [False, True, False]}
    more, more_flags = outlook.extend(compare("better"), values, flags, 5, random.Random(0))
    assert len(more["a"]) == len(more_flags["b"]) == 5
    clear = V.judge(threshold("below", 0.5), {"a": [0.01, 0.011, 0.012]})
    assert outlook.next_round(threshold("below", 0.5), clear, S.Design(max_seeds=12), 3) is None


def test_the_path_and_the_power_reach_the_markdown_the_json_and_the_page() -> None:
    """A noisy comparison looked at twice: scorecard.md lists both rounds and the power line, scorecard.json keeps
    the path and the power, the page draws the table (a row per round), the chart and the power."""
    c = compare("better", min_effect=1.0)
    design = S.Design(max_seeds=12)
    a, b = [18.0, 21.0, 19.5, 17.0, 20.5], [20.0, 21.0, 19.0, 20.5, 21.5]
    for seeds in (3, 5):
        _looked("c004-x", [V.judge(c, {"a": a[:seeds], "b": b[:seeds]})], design, seeds)
    last = V.judge(c, {"a": a, "b": b})
    last.claim, last.report = "c004-x", "004"
    final = design.final([last])
    ahead = outlook.next_round(c, final[0], design, 5)
    assert ahead is not None
    final[0].next_round = ahead.to_json()
    meta = {"reports": ["004"], "seeds": "auto", "spending": "obrien-fleming", "max_seeds": 12, "runs_trained": 10,
            "stopped": "--budget 10 runs reached", "n": 500, "device": "cpu", "wall_s": 1.0, "faces": "-"}
    text = scorecard.markdown(final, [dataclasses.replace(c, id="c004-x", report="004")], meta, {})
    assert "## Each claim over the rounds" in text and "round 2 (a 5, b 5)" in text and ahead.text() in text
    saved = json.loads(json.dumps(final[0].to_json()))
    assert len(saved["path"]) == 2 and saved["next_round"]["power"] == ahead.power
    page = evidence.path_html(final[0], c)
    assert page.count("<tr>") == 3 and "<img" in page and "chance to decide it" in page
    assert "chance to decide it" in evidence.more_seeds(saved, c)
