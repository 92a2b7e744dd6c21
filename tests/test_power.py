"""tools.power: each claim's own rule on independent replicate sets drawn from a measured spread; the planted effects
sit where they should (no effect, exactly the margin, 1.5x, 2x), and the size at the margin stays nominal."""

from __future__ import annotations

import math
import random
import statistics
from pathlib import Path

import pytest

from impl.verdicts import stats
from tests.test_verdict import compare, event, threshold
from tools import power


def test_planted_effects_sit_at_their_scale_of_the_margin() -> None:
    """Compare 'a better than b' on FID (lower is better), margin 2: a - b is 0, -2, -3, -4 at the four scales;
    a threshold 'above 1 by 0.05' is centred on 1, 1.05, 1.075, 1.1."""
    rng = random.Random(0)
    c = compare("better", min_effect=2.0)
    for label, scale in power.SCALES:
        drawn = power.sampler(c, 100.0, 1.0, scale)(rng, 4000)
        shift = statistics.fmean(drawn["a"]) - statistics.fmean(drawn["b"])
        assert shift == pytest.approx(-2.0 * scale, abs=0.1), label
    above = threshold("above", 1.0, min_effect=0.05)
    for _, scale in power.SCALES:
        assert statistics.fmean(power.sampler(above, 0.0, 0.01, scale)(rng, 2000)["a"]) == \
            pytest.approx(1.0 + 0.05 * scale, abs=0.002)
    clean = power.sampler(event(0.0, false_rate=0.1), 0.0, 0.0, 0.0)(rng, 4000)["a"]
    assert sum(x > 1.0 for x in clean) / 4000 == pytest.approx(0.1, abs=0.02)  # only false events


def test_size_at_the_margin_is_nominal_and_power_grows() -> None:
    """400 replicate sets of a compare claim at unit spread, margin 1: 'holds' at most 2.5 % (+3 standard errors)
    at the margin, fixed and sequential; more often at 2x than at 1.5x."""
    c, rng, draws = compare("better", min_effect=1.0), random.Random(2), 400
    limit = stats.ALPHA + 3 * math.sqrt(stats.ALPHA * (1 - stats.ALPHA) / draws)
    fixed, seq, _ = power.rates(c, power.sampler(c, 10.0, 1.0, 1.0), draws, rng)
    assert fixed <= limit and seq <= limit
    assert power.rates(c, power.sampler(c, 10.0, 1.0, 2.0), draws, rng)[1] > \
        power.rates(c, power.sampler(c, 10.0, 1.0, 1.5), draws, rng)[1]


def test_bad_run_folders_are_one_line_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert power.main([str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no such run folder" in err[0]
