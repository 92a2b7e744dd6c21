"""tools.calibrate end to end on tiny runs: A/A splits and the planted arm decided with the scorecard's own rules,
and its tallies checked against a hand count on known values."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

import pytest

from tests.helpers import fake_fashion_split
from tools import calibrate


@pytest.mark.slow
def test_quick_calibration_writes_a_row_per_measure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    fashion = fake_fashion_split(tmp_path / "fm")
    out = tmp_path / "cal"
    args = ["--quick", "--seeds", "4", "--harmed", "2", "--splits", "5", "--n", "40", "--fashion", str(fashion),
            "--out", str(out), "--quiet"]
    assert calibrate.main(args) == 0
    saved = json.loads((out / "calibration.json").read_text())
    assert set(saved["aa"]) == {label for label, *_ in calibrate.MEASURES}
    assert all(sum(t.values()) == 5 for kinds in saved["aa"].values() for t in kinds.values())
    assert all(sum(t.values()) == 5 for t in saved["planted"].values())
    text = (out / "calibration.md").read_text()
    assert all(f"| {label} |" in text for label, *_ in calibrate.MEASURES)
    assert calibrate.main(args) == 2  # a finished folder is not overwritten without --resume


def test_a_planted_effect_is_found_and_an_a_a_split_raises_no_alarm(monkeypatch: pytest.MonkeyPatch) -> None:
    """Known values in place of runs: twelve seeds around 0.5 and six around 0.2 for precision (higher is
    better). Every A/A compare must not hold, and the planted harm must be found in every draw."""
    full = [Path(f"full-{i}") for i in range(12)]
    harmed = [Path(f"harmed-{i}") for i in range(6)]
    known = {p: 0.5 + 0.01 * (i % 3) for i, p in enumerate(full)} | {p: 0.2 + 0.01 * (i % 3)
                                                                     for i, p in enumerate(harmed)}
    monkeypatch.setattr(calibrate, "MEASURES", [m for m in calibrate.MEASURES if m[0] == "precision"])
    monkeypatch.setattr(calibrate, "values", lambda runs, measure: [known[r] for r in runs])
    aa = calibrate.aa(full, 20, random.Random(0))["precision"]
    assert aa["compare"] == Counter({"does not hold": 20})
    assert aa["not_better"] == Counter({"holds": 20}) and aa["similar"] == Counter({"holds": 20})
    assert calibrate.planted(full, harmed, 20, random.Random(0))["precision"] == Counter({"holds": 20})
