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


@pytest.mark.slow
def test_resume_with_more_seeds_continues_a_finished_scorecard_where_more_seeds_matter(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A scorecard finished at --max-seeds 3 (one look, at the full 2.5 %) is continued by `--resume --max-seeds 12`:
    its looks are taken again under the 12-seed design (3 seeds at that design's first level, then 5, 8, 12), the
    first 3 seeds are read, not trained again, and seeds are added only while a claim is undecided: the last look
    decides the last open claim, or is the one at 12 seeds. Every undecided claim states the power of one more round."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    fashion, out = fake_fashion_split(tmp_path / "fm"), tmp_path / "sc"
    common = ["004", "--quick", "--seeds", "auto", "--fashion", str(fashion), "--out", str(out), "--quiet"]
    assert reproduce.main([*common, "--max-seeds", "3"]) == 0
    first = json.loads((out / "scorecard.json").read_text())
    assert first["runs_trained"] == 3 and [r["level"] for r in first["rounds"]] == pytest.approx([0.025])
    stamps = {p: p.stat().st_mtime_ns for p in out.glob("r004-mlp/seed-*/metrics.jsonl")}
    assert len(stamps) == 3
    assert reproduce.main([*common, "--max-seeds", "12", "--resume"]) == 0
    again = json.loads((out / "scorecard.json").read_text())
    looks = again["rounds"]
    assert [r["seeds"] for r in looks] == sequential.schedule(3, 12)[:len(looks)] and again["max_seeds"] == 12
    assert [r["level"] for r in looks] == pytest.approx(sequential.levels(sequential.schedule(3, 12), 12)[:len(looks)])
    assert len(looks) > 1 and again["runs_trained"] == looks[-1]["seeds"] - 3
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps  # the first call's runs are read, not retrained
    assert sorted(p.parent.name for p in out.glob("r004-mlp/seed-*/metrics.jsonl")) == \
        sorted(f"seed-{s}" for s in range(looks[-1]["seeds"]))
    measurable = {c["claim"] for c in again["claims"] if c["verdict"] != "not measurable here"}
    decided: set[str] = set()
    for look in looks[:-1]:  # a round was added only while a claim was open
        decided |= set(look["decided"])
        assert decided < measurable, look
    assert looks[-1]["decided"] or looks[-1]["seeds"] == 12
    assert all(c["next_round"] for c in again["claims"] if c["holm"] == "inconclusive")


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
