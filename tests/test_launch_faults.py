"""The launchers' faults: a cancelled job, a killed parent, a job at its time limit or on a lost node, a job timed
out again and again, a stopped job Slurm requeues itself. Each loses nothing, trains nothing twice and resumes
exactly. Tests marked `slurm` use the one-node Slurm of tools/slurm-local (conftest.py's slurm_cluster)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from impl.arms import jobs, launch
from tests.test_launch import ROOT, assert_same_runs, jobs_of, no_evaluation, planned

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
    script = f"from tests.test_launch_faults import drive; drive({str(tmp_path)!r}, '{LONG}')"
    parent = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, env=env, start_new_session=True)
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
