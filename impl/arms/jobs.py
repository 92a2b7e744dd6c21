"""Every planned training of a scorecard or study run to its end: in this process one after another, or each as a
job (submitit's local or Slurm executor) with at most --jobs at a time, the parent holding the folder's lock.

A job trains its run (or resumes it from its checkpoint) and evaluates it: engine.complete, the call the in-process loop
calls, so a run's numbers do not depend on where it trained. The parent prints a line when a job is queued, starts
running, is done or fails, with its job id and log. Job ids are kept in OUT/jobs/<run>.json: a parent killed and
started again with --resume waits for the jobs still queued or running instead of starting them twice.

A job the scheduler stops early is continued: at its time limit or on preemption (Slurm's USR2, from submitit's
--signal) submitit asks the job for its checkpoint (Task.checkpoint) and requeues it; a job that ends without its
result (scancel, a lost node, killed) is submitted again up to RETRIES times. Either way the run resumes from its
last checkpoint, and resuming is exact (docs/design.md), so the numbers are those of an uninterrupted run.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from impl.arms.engine import Planned, complete
from impl.arms.engine import run_all as run_in_process
from impl.arms.launch import SLURM_TIMEOUT_S, Launcher
from impl.core.errors import Interrupted, RunError, RunFailed, expected_exit, first_line, say
from impl.core.files import Root
from impl.core.progress import eta
from impl.runs.folder import RunFolder

JOBS_DIR = "jobs"  # OUT/jobs/: submitit's pickles and logs, and one <run>.json per run with its job id
RETRIES = 2
POLL_S = 1.0
Finish = Callable[[Planned], Any]


@dataclass
class Task:
    """What one job runs: engine.complete on one planned run (trained or resumed, then finished), the call the
    in-process loop makes. Returns (status, value): (done, finish's result), (interrupted, why) for a stop signal
    such as scancel's SIGTERM (the checkpoint is saved), or (failed, the error's one line; a bug's traceback is in
    the job's log)."""

    item: Planned
    finish: Callable[[Planned], Any]
    hint: str

    def __call__(self) -> tuple[str, Any]:
        try:
            return "done", complete(self.item, self.finish, self.hint)
        except Interrupted as exc:
            return "interrupted", str(exc).strip().split(";")[0]
        except Exception as exc:  # noqa: BLE001 - the parent reports it in one line; the log keeps the traceback
            traceback.print_exc()
            known = expected_exit(exc) is not None
            return "failed", str(exc) if known else f"{first_line(exc)} (a bug in gan-spec: traceback in the log)"

    def checkpoint(self) -> Any:
        """submitit's hook at a time limit or preemption: run the same task again; it resumes from the checkpoint."""
        import submitit

        return submitit.helpers.DelayedSubmission(Task(self.item, self.finish, self.hint))


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
                              "additional_parameters": dict(launcher.sbatch), "job_name": "gan-spec"}
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


class Runner:
    """The parent: submits, follows and reports the jobs of one scorecard or study."""

    def __init__(self, launcher: Launcher, out: Path, quiet: bool) -> None:
        self.launcher, self.out, self.quiet = launcher, out, quiet
        self.root = Root(out)
        self.folder = out / JOBS_DIR
        self.gpus = gpu_count() if launcher.kind == "local" else 0
        self.submitted = 0
        self._executor: Any = None

    def tell(self, text: str) -> None:
        if not self.quiet:
            say(text)

    def record_path(self, item: Planned) -> Path:
        return self.folder / f"{slug(item.label)}.json"

    def submit(self, item: Planned, finish: Finish, hint: str, tries: int = 1) -> Job:
        if self._executor is None:
            self.root.mkdir(JOBS_DIR)
            self._executor = executor(self.launcher, self.folder)
        if self.launcher.kind == "local" and self.launcher.gpus_per_run and self.gpus:
            first = self.submitted * self.launcher.gpus_per_run
            self._executor.update_parameters(gpus_per_node=self.launcher.gpus_per_run, visible_gpus=tuple(
                (first + k) % self.gpus for k in range(self.launcher.gpus_per_run)))
        try:
            submitted = self._executor.submit(Task(item, finish, hint))
        except Exception as exc:  # noqa: BLE001 - sbatch's refusal (an account, a QoS, an option) in one line
            text = getattr(exc, "output", None) or getattr(exc, "stderr", None) or str(exc)
            text = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
            raise RunError(f"{item.label}: the {self.launcher.kind} launcher could not submit it: "
                           f"{' '.join(text.split())[:300]}; check the Slurm options (--partition, --account, --qos, "
                           "--slurm-opt)") from None
        self.submitted += 1
        job = Job(item, self.launcher.kind, submitted, tries)
        self.root.write_json(f"{JOBS_DIR}/{self.record_path(item).name}",
                             {"label": item.label, "launcher": job.kind, "job_id": job.job_id, "tries": tries,
                              "submitted": time.strftime("%Y-%m-%dT%H:%M:%S")})
        self.show(job, "queued", f"log {job.log}")
        return job

    def reattach(self, item: Planned) -> Job | None:
        """The job a killed parent left queued or running for this run, if any."""
        path = self.record_path(item)
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            kind, job_id, tries = str(record["launcher"]), str(record["job_id"]), int(record.get("tries", 1))
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if kind not in ("local", "slurm"):
            return None
        import submitit

        job_class = submitit.LocalJob if kind == "local" else submitit.SlurmJob
        job = Job(item, kind, job_class(folder=self.folder, job_id=job_id), tries)
        if job.result() is not None:
            return None  # ended: the run's folder says whether it is complete
        if scheduler_states([job]).get(job_id, "") == "":
            return None
        self.show(job, "attached", f"(queued or running before; log {job.log})")
        return job

    def show(self, job: Job, what: str, extra: str = "") -> None:
        job.shown = what
        self.tell(f"{what:<8} {job.item.label}: job {job.job_id} {extra}".rstrip())

    def run_all(self, items: list[Planned], finish: Finish, hint: str) -> list[Any]:
        """Every item to its end, at most launcher.jobs at a time (jobs a killed parent left are waited for first);
        a run already trained is finished here. finish's results, in the items' order."""
        active, waiting, here = [], [], []
        for item in items:
            attached = self.reattach(item)
            if attached is not None:
                active.append(attached)
            elif RunFolder(item.folder).finished():
                here.append(item)
            else:
                waiting.append(item)
        if here:
            self.tell(f"kept    {len(here)} trained run(s) of {len(items)}: finished in this process")
        results = self.follow(active, waiting, finish, hint, len(items))
        for item in here:
            results[item.label] = complete(item, finish, hint)
        return [results.get(item.label) for item in items]

    def follow(self, active: list[Job], waiting: list[Planned], finish: Finish, hint: str, total: int
               ) -> dict[str, Any]:
        """Submit the waiting items as places free up and follow every job to its end; the results by label.
        Raises RunFailed after the last job has ended when any failed: each is one line above, naming the run, its
        job id and its log."""
        failed: list[Job] = []
        results: dict[str, Any] = {}
        start, finished = time.time(), 0
        while waiting or active:
            while waiting and len(active) < self.launcher.jobs:
                active.append(self.submit(waiting.pop(0), finish, hint))
            time.sleep(POLL_S)
            states = scheduler_states(active)
            for job in list(active):
                outcome = job.result()
                state = states.get(job.job_id, "UNKNOWN")
                if outcome is None and state == "":
                    outcome = job.result() or ("lost", "it ended without its result (cancelled, killed, out of "
                                               "memory, past its time limit or its node lost)")
                if outcome is None:
                    if state in ("RUNNING", "COMPLETING") and job.shown != "running":
                        self.show(job, "running", f"log {job.log}")
                    continue
                active.remove(job)
                status, value = outcome
                if status == "done":
                    finished += 1
                    results[job.item.label] = value
                    left = len(waiting) + len(active)
                    self.show(job, "done", f"({eta(finished, finished + left, time.time() - start)})")
                elif status in ("interrupted", "lost") and self.launcher.in_process:
                    self.show(job, "ended", f"({value}; this process trains it on from its checkpoint)")
                elif status in ("interrupted", "lost") and job.tries <= RETRIES:
                    self.show(job, "again", f"({value}; submitted again, resuming from its checkpoint)")
                    active.append(self.submit(job.item, finish, hint, job.tries + 1))
                else:
                    failed.append(job)
                    self.show(job, "failed", f"{value}; log: {job.log}")
        if failed:
            raise RunFailed(f"{len(failed)} of {total} runs failed (each named above with its job and log); "
                            f"finished runs are kept; continue with: {hint}")
        return results


def run_all(items: list[Planned], finish: Finish, hint: str, spent: Callable[[], float], quiet: bool,
            launcher: Launcher, out: Path) -> list[Any]:
    """engine.run_all where the launcher says: as jobs (finish's results come back from them), else in this process
    one after another, after waiting for any job a killed parent left running, so that no run trains twice."""
    runner = Runner(launcher, out, quiet)
    if not launcher.in_process:
        return runner.run_all(items, finish, hint)
    attached = [job for job in map(runner.reattach, items) if job is not None]
    if attached:
        runner.follow(attached, [], finish, hint, len(items))
    return run_in_process(items, finish, hint, spent, quiet)
