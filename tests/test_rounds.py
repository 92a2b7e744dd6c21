"""--seeds auto end to end: rounds of seeds through the one loop over runs, each look recorded in scorecard.json,
the runs a round adds trained once, and --budget parsed as runs or wall time."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from impl import reproduce
from impl.verdicts import rounds, sequential
from tests.helpers import fake_fashion_split


@pytest.mark.slow
def test_auto_seeds_look_after_each_round_and_train_each_run_once(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    fashion, out = fake_fashion_split(tmp_path / "fm"), tmp_path / "sc"
    assert reproduce.main(["004", "--quick", "--seeds", "auto", "--max-seeds", "5", "--fashion", str(fashion),
                           "--out", str(out), "--quiet"]) == 0
    saved = json.loads((out / "scorecard.json").read_text())
    looks = saved["rounds"]
    assert looks and looks[0]["seeds"] == sequential.START and [r["seeds"] for r in looks] == sorted(
        r["seeds"] for r in looks)
    seeds = looks[-1]["seeds"]
    runs = sorted(p.parent.name for p in out.glob("r004-mlp/seed-*/metrics.jsonl"))
    assert runs == [f"seed-{s}" for s in range(seeds)] and saved["runs_trained"] == seeds
    assert saved["stopped"] in ("every claim decided", "--max-seeds 5 reached")


def test_budget_reads_runs_or_wall_time() -> None:
    assert rounds.budget("40") == ("runs", 40.0) and rounds.budget("2h") == ("seconds", 7200.0)
    assert rounds.budget("90m") == ("seconds", 5400.0)
    for bad in ("0", "-3", "h", "2d", "1.5"):
        with pytest.raises(argparse.ArgumentTypeError):
            rounds.budget(bad)
    assert rounds.over_budget(("runs", 4.0), 5, 0.0) and not rounds.over_budget(("runs", 4.0), 4, 0.0)
    assert rounds.over_budget(("seconds", 60.0), 0, 61.0) and not rounds.over_budget(None, 10**6, 1e9)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(flag=st.sampled_from(["--seeds", "--max-seeds", "--budget", "--jobs", "--launcher", "--spending"]),
       value=st.sampled_from(["", "0", "-1", "10000000000000", "abc", "1e3", "nan", "2d", "../x", "\x00"]))
def test_hostile_values_of_the_new_scorecard_arguments_are_one_line_and_touch_nothing(
        flag: str, value: str, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "sc"
    with pytest.raises(SystemExit) as stop:
        reproduce.main(["004", "--quick", flag, value, "--out", str(out)])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and err.count("\n") == 1 and err.startswith("error: ") and not out.exists(), err
