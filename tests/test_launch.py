"""The launchers (impl/arms/launch.py, impl/arms/jobs.py): runs trained as jobs give the numbers of runs trained in
this process; a cancelled job and a killed parent lose nothing and train nothing twice; bad launcher input is one
line and exit 2 before any folder. Tests marked `slurm` use the one-node Slurm of tools/slurm-local (conftest.py's
slurm_cluster starts it, or skips them saying why)."""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import pytest
import torch

from impl import reproduce
from impl.arms import jobs, launch
from impl.arms.engine import Planned
from impl.core.errors import UsageError
from impl.runs.checkpoint import load_checkpoint
from impl.training.request import RunRequest

ROOT = Path(__file__).resolve().parents[1]
STEPS = 48  # three epochs of the synthetic set at r004-mlp's batch: seconds per run


def no_evaluation(item: Planned) -> str:
    """The finish of a run in these tests: none (the scorecard tests cover evaluation); its label comes back."""
    return item.label


def planned(out: Path, steps: int = STEPS, seeds: tuple[int, ...] = (0, 1)) -> list[Planned]:
    return [Planned(f"mlp seed {s}", RunRequest(experiment="r004-mlp", data="synthetic", steps=steps, seed=s,
                                                out=out / f"seed-{s}", quiet=True, device="cpu", origin="test"))
            for s in seeds]


def numbers(run: Path) -> tuple[list[dict], dict[str, torch.Tensor]]:
    """What a run computed: its logged losses and D outputs (not its speed) and its final weights."""
    rows = [{k: v for k, v in json.loads(line).items() if k != "images_per_s"}
            for line in (run / "metrics.jsonl").read_text().splitlines()]
    state = load_checkpoint(run)[0]
    return rows, {f"{net}.{k}": v for net in ("G", "D") for k, v in state[net].items()}


def assert_same_runs(a: Path, b: Path, seeds: tuple[int, ...] = (0, 1)) -> None:
    """b's runs computed what a's did: every logged row (a run stopped and resumed included) and the weights."""
    for s in seeds:
        rows_a, weights_a = numbers(a / f"seed-{s}")
        rows_b, weights_b = numbers(b / f"seed-{s}")
        assert rows_a == rows_b, f"seed {s}: metrics.jsonl differs"
        assert weights_a.keys() == weights_b.keys()
        assert all(torch.equal(weights_a[k], weights_b[k]) for k in weights_a), f"seed {s}: weights differ"


def run_with(kind: str, out: Path, steps: int = STEPS, **options: object) -> None:
    items = planned(out, steps)
    results = jobs.run_all(items, no_evaluation, "hint", lambda: 0.0, True,
                           launch.Launcher(kind=kind, jobs=2, time_limit_min=10, **options), out)
    assert results == [item.label for item in items]


def jobs_of(out: Path, phase: str, seed: int = 0) -> list[str]:
    """Every job submitted for the run's training (phase train) or its evaluation (evaluate), in order."""
    history = json.loads((out / jobs.JOBS_DIR / f"mlp-seed-{seed}.json").read_text())["history"]
    return [entry["job_id"] for entry in history if entry["phase"] == phase]


@pytest.fixture(scope="module")
def in_process(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("inproc")
    run_with("inproc", out)
    return out


# ------------------------------------------------------------------ options, checked before any folder is made

def test_time_limits_read_as_slurm_writes_them() -> None:
    assert [launch.time_limit(t) for t in ("90", "1:30", "01:30:00", "1-00", "1-2:30", "0:01")] == \
        [90, 2, 90, 1440, 1590, 1]
    for bad in ("0", "", "1h", "-5", "1:2:3:4"):
        with pytest.raises(argparse.ArgumentTypeError):
            launch.time_limit(bad)


def test_memory_and_sbatch_options() -> None:
    assert [launch.memory(m) for m in ("16", "16G", "16GB", "512M", "1T")] == [16, 16, 16, 0.5, 1024]
    assert launch.sbatch_option("constraint=a100") == ("constraint", "a100")
    assert launch.sbatch_option("--exclusive") == ("exclusive", "True")
    for bad in ("0G", "lots"):
        with pytest.raises(argparse.ArgumentTypeError):
            launch.memory(bad)


def test_the_site_file_gives_defaults_the_command_line_overrides(tmp_path: Path) -> None:
    site = tmp_path / "site.toml"
    site.write_text('launcher = "local"\njobs = 3\ntime_limit = "2:00:00"\n[sbatch]\nconstraint = "a100"\n')
    args = reproduce.parser().parse_args(["--site", str(site), "--jobs", "5"])
    chosen = launch.from_args(args)
    assert (chosen.kind, chosen.jobs, chosen.time_limit_min, chosen.sbatch) == ("local", 5, 120, {"constraint": "a100"})
    site.write_text('partition = "gpu"\ngpus = 2\n')
    with pytest.raises(UsageError, match=r"site file .*unknown key 'gpus'"):
        launch.from_args(reproduce.parser().parse_args(["--site", str(site)]))


def test_no_sbatch_on_the_path_is_one_line_and_exit_2_before_any_folder(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no sbatch, no sinfo
    out = tmp_path / "sc"
    assert reproduce.main(["004", "--quick", "--launcher", "slurm", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "no sbatch on the PATH" in err
    assert not out.exists()


# ------------------------------------------------------------------ the same numbers wherever a run trains

@pytest.mark.slow
def test_local_jobs_train_what_this_process_trains(in_process: Path, tmp_path: Path) -> None:
    run_with("local", tmp_path)
    assert_same_runs(in_process, tmp_path)
    records = sorted(p.name for p in (tmp_path / jobs.JOBS_DIR).glob("*.json"))
    assert records == ["mlp-seed-0.json", "mlp-seed-1.json"]


@pytest.mark.slurm
def test_slurm_jobs_train_what_this_process_trains(slurm_cluster: str, in_process: Path, tmp_path: Path) -> None:
    run_with("slurm", tmp_path, partition=slurm_cluster)
    assert_same_runs(in_process, tmp_path)
    for seed in (0, 1):  # each run trained by one job and evaluated by another
        assert len(jobs_of(tmp_path, "train", seed)) == len(jobs_of(tmp_path, "evaluate", seed)) == 1


@pytest.mark.slurm
def test_an_unknown_partition_is_one_line_and_exit_2(slurm_cluster: str, tmp_path: Path, capsys) -> None:
    out = tmp_path / "sc"
    assert reproduce.main(["004", "--quick", "--launcher", "slurm", "--partition", "nosuch", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--partition nosuch: this cluster has no such partition" in err, err
    assert slurm_cluster in err and not out.exists()


# ------------------------------------------------------------------ the whole command: the same scorecard.json

TIMES = ("wall_s", "this_call_s", "finished", "run_hours", "arm_lengths")  # the clock's, not the runs' numbers

@pytest.mark.slurm
@pytest.mark.slow
def test_a_scorecard_of_slurm_jobs_is_the_scorecard_of_this_process(slurm_cluster: str, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.helpers import fake_fashion_split

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    fashion = fake_fashion_split(tmp_path / "fm")
    cards = {}
    for kind in ("inproc", "slurm"):
        out = tmp_path / kind
        assert reproduce.main(["004", "--quick", "--seeds", "2", "--fashion", str(fashion), "--out", str(out),
                               "--quiet", "--launcher", kind, "--jobs", "2"]) == 0
        text = (out / "scorecard.json").read_text().replace(str(out), "OUT")
        cards[kind] = {k: v for k, v in json.loads(text).items() if k not in TIMES}
    assert cards["slurm"] == cards["inproc"]
    assert sorted(p.name for p in (tmp_path / "slurm" / jobs.JOBS_DIR).glob("*.json")) == \
        ["r004-mlp-seed-0.json", "r004-mlp-seed-1.json"]


def test_the_launch_model_reads_the_runs_own_times(tmp_path: Path, capsys) -> None:
    """tools/launch_times: a run's training (config.json's start to metrics.jsonl's last write) and evaluation
    seconds, each job's queue wait and start-up from its log, and N nodes' makespan, longest runs first."""
    from tools import launch_times

    start = time.mktime(time.strptime("2026-12-05 12:00:00", "%Y-%m-%d %H:%M:%S"))
    (tmp_path / "jobs").mkdir()
    for seed, (trained, evaluated) in enumerate([(30, 10), (20, 10), (10, 10)]):
        run = tmp_path / "arm" / f"seed-{seed}"
        run.mkdir(parents=True)
        (run / "config.json").write_text(json.dumps({"started": "2026-12-05 12:00:04"}))
        (run / "metrics.jsonl").write_text("{}\n")
        os.utime(run / "metrics.jsonl", (start + 4 + trained,) * 2)
        (run / "metrics.json").write_text(json.dumps({"evaluation_seconds": evaluated}))
        job = str(seed)
        (tmp_path / "jobs" / f"{job}_submitted.pkl").write_bytes(b"")
        os.utime(tmp_path / "jobs" / f"{job}_submitted.pkl", (start - 1,) * 2)  # 1 s queue, 4 s start-up
        (tmp_path / "jobs" / f"{job}_0_log.err").write_text("submitit INFO (2026-12-05 12:00:00,000) - Starting\n")
        history = [{"phase": "train", "job_id": job}]
        (tmp_path / "jobs" / f"mlp-seed-{seed}.json").write_text(json.dumps(
            {"label": f"mlp seed {seed}", "folder": f"arm/seed-{seed}", "history": history}))
    assert launch_times.main([str(tmp_path), "--nodes", "1,2,3"]) == 0
    out = capsys.readouterr().out
    assert "| arm/seed-0 | 30.0 | 10.0 |" in out and "| arm/seed-2 | 10.0 | 10.0 |" in out
    assert "3 jobs: queue wait median 1.0 s (max 1.0), start-up median 4.0 s (max 4.0)" in out, out
    # runs of 50, 40 and 30 s (training + evaluation + 2 x 5 s): one node 120 s, two 70 s (50 | 40 + 30), three 50
    assert "1 node(s): 120 s" in out and "2 node(s): 70 s" in out and "3 node(s): 50 s" in out, out
