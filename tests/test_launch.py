"""The launchers (impl/arms/launch.py, impl/arms/jobs.py): runs trained as jobs give the numbers of runs trained in
this process; a cancelled job and a killed parent lose nothing and train nothing twice; bad launcher input is one
line and exit 2 before any folder. Tests marked `slurm` use the one-node Slurm of tools/slurm-local (conftest.py's
slurm_cluster starts it, or skips them saying why)."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
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


# ------------------------------------------------------------------ faults: a cancelled job, a killed parent

LONG = 160  # ten epochs: a job runs long enough to be cancelled or orphaned after its first checkpoint
SLURM = launch.Launcher(kind="slurm", time_limit_min=10)


def one_run(out: Path, launcher: launch.Launcher, steps: int = LONG) -> None:
    jobs.run_all(planned(out, steps, (0,)), no_evaluation, "hint", lambda: 0.0, True, launcher, out)


@pytest.fixture(scope="module")
def in_process_long(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("inproc-long")
    one_run(out, launch.Launcher())
    return out


def squeue(job_id: str) -> str:
    return subprocess.run(["squeue", "-h", "-j", job_id, "-o", "%T"], capture_output=True, text=True).stdout.strip()


def wait_for(condition, what: str, timeout_s: float = 120) -> None:
    deadline = time.time() + timeout_s
    while not condition():
        assert time.time() < deadline, f"waited {timeout_s} s for {what}"
        time.sleep(0.2)


def job_id(out: Path, seed: int = 0) -> str:
    """The run's latest job (its training's while it trains)."""
    return json.loads((out / jobs.JOBS_DIR / f"mlp-seed-{seed}.json").read_text())["job_id"]


def jobs_of(out: Path, phase: str, seed: int = 0) -> list[str]:
    """Every job submitted for the run's training (phase train) or its evaluation (evaluate), in order."""
    history = json.loads((out / jobs.JOBS_DIR / f"mlp-seed-{seed}.json").read_text())["history"]
    return [entry["job_id"] for entry in history if entry["phase"] == phase]


def drive(out: str, steps: str) -> None:
    """The parent of test_a_killed_parent_is_resumed_and_reattaches, in a process of its own."""
    one_run(Path(out), SLURM, int(steps))


@pytest.mark.slurm
@pytest.mark.slow
def test_a_cancelled_job_is_submitted_again_and_resumes_exactly(slurm_cluster: str, in_process_long: Path,
                                                                tmp_path: Path) -> None:
    failure: list[BaseException] = []
    thread = parent_thread(tmp_path, SLURM, failure)
    wait_for(lambda: (tmp_path / "seed-0" / "checkpoints" / "last.pt").exists(), "the job's first checkpoint")
    first = job_id(tmp_path)
    assert squeue(first) == "RUNNING", "the job ended before it could be cancelled; raise LONG"
    subprocess.run(["scancel", first], check=True)
    thread.join(timeout=300)
    assert not thread.is_alive() and not failure, failure
    assert jobs_of(tmp_path, "train")[0] == first and len(jobs_of(tmp_path, "train")) == 2, \
        "the cancelled job was not submitted again"
    assert json.loads((tmp_path / "seed-0" / "config.json").read_text()).get("resumed"), "it started again"
    assert_same_runs(in_process_long, tmp_path, (0,))


@pytest.mark.slurm
@pytest.mark.slow
def test_a_killed_parent_is_resumed_and_reattaches(slurm_cluster: str, in_process_long: Path, tmp_path: Path) -> None:
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    parent = subprocess.Popen([sys.executable, "-c", f"from tests.test_launch import drive; drive({str(tmp_path)!r}, "
                               f"'{LONG}')"], cwd=ROOT, env=env, start_new_session=True)
    try:
        wait_for(lambda: (tmp_path / jobs.JOBS_DIR / "mlp-seed-0.json").exists(), "the job's submission")
        first = job_id(tmp_path)
        wait_for(lambda: squeue(first) == "RUNNING", "the job to run")
    finally:
        os.killpg(parent.pid, signal.SIGKILL)
        parent.wait()
    assert squeue(first) == "RUNNING", "the job ended with its parent"
    one_run(tmp_path, SLURM)
    assert jobs_of(tmp_path, "train") == [first], "the run's training was submitted again"
    evaluation = jobs_of(tmp_path, "evaluate")
    assert len(evaluation) == 1
    assert sorted(p.name for p in (tmp_path / jobs.JOBS_DIR).glob("*_submitted.pkl")) == \
        sorted(f"{j}_submitted.pkl" for j in (first, *evaluation))
    assert_same_runs(in_process_long, tmp_path, (0,))


def parent_thread(out: Path, launcher: launch.Launcher, failure: list[BaseException]):
    import threading

    def parent() -> None:
        try:
            one_run(out, launcher)
        except BaseException as exc:  # noqa: BLE001 - handed to the test's thread
            failure.append(exc)

    thread = threading.Thread(target=parent)
    thread.start()
    return thread


def run_again_now(first: str) -> None:
    """A requeued job waits about two minutes (Slurm's BeginTime) before it runs again: start it now, once its
    first run's processes are gone (started while they end, Slurm finds the job id twice on the node and drains
    it)."""
    def gone() -> bool:
        listed = subprocess.run(["scontrol", "listpids", first], capture_output=True, text=True)
        return listed.returncode != 0 or len(listed.stdout.strip().splitlines()) <= 1

    wait_for(lambda: squeue(first) == "PENDING", "the job to be requeued", 60)
    wait_for(gone, "the job's first run to end", 60)
    subprocess.run(["scontrol", "update", f"jobid={first}", "starttime=now"], check=True)


@pytest.mark.slurm
@pytest.mark.slow
@pytest.mark.parametrize("fault", ["time limit", "node lost"])
def test_a_job_at_its_time_limit_or_on_a_lost_node_is_requeued_and_resumes_exactly(
        slurm_cluster: str, in_process_long: Path, tmp_path: Path, fault: str) -> None:
    """Slurm's warning before the time limit (USR2, sent here by scancel --signal, as Slurm's --signal=USR2@N
    sends it): the training saves at the end of its step and submitit requeues the job. A node set down under a
    running job: Slurm stops it (SIGTERM: it saves) and requeues it. Either way the same job runs again and the
    run resumes exactly; the parent follows it and submits nothing twice."""
    failure: list[BaseException] = []
    thread = parent_thread(tmp_path, SLURM, failure)
    wait_for(lambda: (tmp_path / "seed-0" / "checkpoints" / "last.pt").exists(), "the job's first checkpoint")
    first = job_id(tmp_path)
    assert squeue(first) == "RUNNING", "the job ended before the fault; raise LONG"
    if fault == "time limit":
        subprocess.run(["scancel", "--signal=USR2", first], check=True)
    else:
        node = subprocess.run(["squeue", "-h", "-j", first, "-o", "%N"], capture_output=True, text=True).stdout
        subprocess.run(["scontrol", "update", f"nodename={node.strip()}", "state=down", "reason=gan-spec test"],
                       check=True)
        subprocess.run(["scontrol", "update", f"nodename={node.strip()}", "state=resume"], capture_output=True)
    run_again_now(first)
    thread.join(timeout=300)
    assert not thread.is_alive() and not failure, failure
    assert jobs_of(tmp_path, "train") == [first], "the requeued job was submitted again"
    if fault == "time limit":  # saved at the end of its step, not at its last epoch's checkpoint
        log = (tmp_path / jobs.JOBS_DIR / f"{first}_0_log.err").read_text()
        assert "interrupted (SIGUSR2) at step" in log and "checkpoint saved" in log, log[-2000:]
    assert json.loads((tmp_path / "seed-0" / "config.json").read_text()).get("resumed"), "it started again"
    assert_same_runs(in_process_long, tmp_path, (0,))


def test_a_job_past_its_time_limit_again_and_again_is_one_line_with_the_fix(tmp_path: Path, capsys) -> None:
    """submitit ends a job requeued max_num_timeout times with "timed-out too many times": the parent says so in
    one line naming the run, the job, its log and the fix, and stops with exit 3 (RunFailed) after the rest."""
    from types import SimpleNamespace

    from submitit.core.utils import cloudpickle_dump

    from impl.arms.job import Job
    from impl.core.errors import RunFailed

    result = tmp_path / "42_0_result.pkl"
    cloudpickle_dump(("error", "Traceback (most recent call last):\nsubmitit.core.utils.UncompletedJobError: Job not "
                          "requeued because: timed-out too many times."), result)
    fake = SimpleNamespace(job_id="42", paths=SimpleNamespace(result_pickle=result, stderr=tmp_path / "42_0_log.err"))
    runner = jobs.Runner(launch.Launcher(kind="slurm", time_limit_min=1), tmp_path, quiet=False)
    with pytest.raises(RunFailed) as failed:
        runner.follow([Job(planned(tmp_path)[0], "slurm", fake)], [], no_evaluation, "the resume command", 1)
    assert failed.value.exit_code == 3 and "continue with: the resume command" in str(failed.value)
    line = capsys.readouterr().err.strip()
    assert line.count("\n") == 0 and line.startswith("failed   mlp seed 0: job 42 "), line
    assert "timed-out too many times" in line and "time limit of 1 min" in line and "raise --time-limit" in line
    assert line.endswith(f"log: {tmp_path / '42_0_log.err'}"), line


def test_a_stopped_job_is_watched_for_slurms_requeue_before_it_is_submitted_again(tmp_path: Path, capsys,
                                                                                   monkeypatch) -> None:
    """A node lost: the job's stop writes 'interrupted', and only then does Slurm requeue the same job id. The
    parent once saw the result first, submitted the run again and the two jobs fought over its folder (CI, job 170
    and 171). Now a stopped job is watched REQUEUE_S seconds: listed again (PENDING with a result) it is followed
    on under its id, its stale result dropped; not requeued by then, it is the parent's to submit again."""
    from types import SimpleNamespace

    from submitit.core.utils import cloudpickle_dump

    from impl.arms.job import Job

    result = tmp_path / "7_0_result.pkl"
    fake = SimpleNamespace(job_id="7", paths=SimpleNamespace(result_pickle=result, stderr=tmp_path / "7_0_log.err"))
    runner = jobs.Runner(launch.Launcher(kind="slurm"), tmp_path, quiet=True)
    job = Job(planned(tmp_path)[0], "slurm", fake, shown="running")
    clock = [1000.0]
    monkeypatch.setattr(jobs.time, "time", lambda: clock[0])
    cloudpickle_dump(("success", ("interrupted", "interrupted (SIGTERM) at step 19")), result)
    assert runner.outcome(job, "") is None  # ended, not listed: Slurm may yet requeue it
    clock[0] += jobs.REQUEUE_S / 2
    assert runner.outcome(job, "") is None
    assert runner.outcome(job, "PENDING") is None and job.shown == "requeued" and not result.exists()
    cloudpickle_dump(("success", ("interrupted", "interrupted (SIGTERM) at step 40")), result)
    clock[0] += 1
    assert runner.outcome(job, "") is None  # stopped again: watched afresh
    clock[0] += jobs.REQUEUE_S + 1
    assert runner.outcome(job, "") == ("interrupted", "interrupted (SIGTERM) at step 40")  # now the parent's


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
