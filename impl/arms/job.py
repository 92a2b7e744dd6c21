"""One job of a launched scorecard or study, as it runs and as the parent sees it: the task a job runs (a run's
training or its evaluation), submitit's executor for the launcher, and the scheduler's view of a job (squeue for
Slurm, the process for a local job). impl/arms/jobs.py submits and follows them.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from impl.arms.engine import Planned, finish_run, train_run
from impl.arms.launch import SLURM_TIMEOUT_S, Launcher
from impl.core.errors import Interrupted, expected_exit, first_line

TRAIN, EVALUATE = "train", "evaluate"  # a run's two jobs


@dataclass
class Task:
    """What one job runs on one planned run: its training (engine.train_run: trained, resumed or kept) or its
    evaluation (engine.finish_run), the calls the in-process loop makes. Returns (status, value): (done, whether
    the run is left to evaluate, or finish's result), (interrupted, why) for a stop signal such as scancel's SIGTERM
    (the checkpoint is saved), or (failed, the error's one line; a bug's traceback is in the job's log)."""

    item: Planned
    finish: Callable[[Planned], Any]
    hint: str
    phase: str = TRAIN

    def __call__(self) -> tuple[str, Any]:
        try:
            if self.phase == TRAIN:
                return "done", train_run(self.item, self.hint)
            return "done", finish_run(self.item, self.finish)
        except Interrupted as exc:
            if exc.signum == signal.SIGUSR2:
                print(f"{self.item.label}: {exc.what.strip()} (the time limit's warning); the job is "
                      "requeued", file=sys.stderr, flush=True)
                requeue_at_time_limit()
            return "interrupted", str(exc).strip().split(";")[0]
        except Exception as exc:  # noqa: BLE001 - the parent reports it in one line; the log keeps the traceback
            traceback.print_exc()
            known = expected_exit(exc) is not None
            return "failed", str(exc) if known else f"{first_line(exc)} (a bug in gan-spec: traceback in the log)"

    def checkpoint(self) -> Any:
        """submitit's hook at a time limit or preemption: run the same task again; it resumes from the checkpoint."""
        import submitit

        return submitit.helpers.DelayedSubmission(Task(self.item, self.finish, self.hint, self.phase))


def requeue_at_time_limit() -> None:
    """Slurm's warning before the time limit (submitit's --signal=USR2@N) stopped the training, which saved its
    checkpoint: hand the signal to submitit's handler, which the loop restored, as if it had come now. It requeues
    the job (the run resumes) or, past max_num_timeout, ends it with "timed-out too many times". A no-op outside a
    submitit job."""
    handler = signal.getsignal(signal.SIGUSR2)
    if callable(handler) and getattr(handler, "__module__", "").startswith("submitit"):
        handler(signal.SIGUSR2, None)


def slug(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", label).strip("-")


@dataclass
class Job:
    """A submitted run as the parent follows it."""

    item: Planned
    kind: str  # local or slurm
    job: Any  # submitit's Job
    tries: int = 1
    shown: str = ""
    phase: str = TRAIN
    stopped_at: float | None = None  # when the parent first saw it stopped (a result, no longer running)

    @property
    def name(self) -> str:
        return self.item.label if self.phase == TRAIN else f"{self.item.label} (evaluation)"

    @property
    def job_id(self) -> str:
        return str(self.job.job_id)

    @property
    def log(self) -> Path:
        return Path(self.job.paths.stderr)

    def result(self) -> tuple[str, str] | None:
        """The task's (status, message) once its result is written, else None."""
        from submitit.core.utils import pickle_load

        path = Path(self.job.paths.result_pickle)
        if not path.exists():
            return None
        try:
            outcome, value = pickle_load(path)
        except Exception as exc:  # noqa: BLE001 - a result half written by a killed job: as if none
            return "lost", f"its result {path} cannot be read ({first_line(exc)})"
        if outcome == "success" and isinstance(value, tuple) and len(value) == 2:
            return value
        return "failed", str(value).strip().splitlines()[-1] if str(value).strip() else "failed without a message"


def scheduler_states(jobs: list[Job]) -> dict[str, str]:
    """Each job's state as the scheduler sees it now (PENDING, RUNNING, ...); a job missing has ended. Slurm is asked
    through squeue (a cluster without accounting has no sacct); a local job is its process."""
    states: dict[str, str] = {}
    for job in jobs:
        if job.kind == "local":
            states[job.job_id] = "RUNNING" if process_alive(job) else ""
    ids = [job.job_id for job in jobs if job.kind == "slurm"]
    if ids:
        try:
            done = subprocess.run(["squeue", "-h", "-o", "%i %T", "-j", ",".join(ids)], capture_output=True,
                                  text=True, timeout=SLURM_TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired):
            return states | {i: "UNKNOWN" for i in ids}
        if done.returncode != 0 and "Invalid job id" not in done.stderr:
            return states | {i: "UNKNOWN" for i in ids}  # the controller did not answer: ask again next time
        listed = dict(line.split(maxsplit=1) for line in done.stdout.splitlines() if len(line.split()) == 2)
        states |= {i: listed.get(i, "") for i in ids}
    return states


def process_alive(job: Job) -> bool:
    process = getattr(job.job, "_process", None)
    if process is not None:
        return process.poll() is None
    try:  # re-attached: only the pid is known; a zombie has ended
        return Path(f"/proc/{int(job.job_id)}/stat").read_text().split(")")[-1].split()[0] not in ("Z", "X")
    except (OSError, ValueError, IndexError):
        return False


def executor(launcher: Launcher, folder: Path) -> Any:
    import submitit

    ex: Any
    if launcher.kind == "local":
        ex = submitit.LocalExecutor(folder=folder)
        ex.update_parameters(timeout_min=launcher.time_limit_min)
        return ex
    ex = submitit.SlurmExecutor(folder=folder)
    params: dict[str, Any] = {"time": launcher.time_limit_min, "cpus_per_task": launcher.cpus_per_run,
                              "additional_parameters": dict(launcher.sbatch), "job_name": "gan-spec",
                              # the warning before the time limit: 90 s, a quarter of a limit under 6 minutes
                              "signal_delay_s": min(90, launcher.time_limit_min * 15)}
    for key, value in (("partition", launcher.partition), ("account", launcher.account), ("qos", launcher.qos)):
        if value:
            params[key] = value
    if launcher.gpus_per_run:
        params["gpus_per_node"] = launcher.gpus_per_run
    if launcher.mem_per_run_gb:
        params["mem"] = f"{max(1, round(launcher.mem_per_run_gb * 1024))}M"
    ex.update_parameters(**params)
    return ex


def gpu_count() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0
