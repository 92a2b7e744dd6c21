"""Every planned training of a scorecard or study run to its end: in this process one after another, or each as a
job (submitit's local or Slurm executor) with at most --jobs at a time, the parent holding the folder's lock.

A run is two jobs: the first trains it (or resumes it from its checkpoint, engine.train_run), the second, submitted
once the first is done, evaluates it (engine.finish_run): the two calls the in-process loop makes (engine.complete),
so a run's numbers do not depend on where it trained. The parent prints a line when a job is queued, starts running,
is done or fails, with its job id and log. Job ids are kept in OUT/jobs/<run>.json (the latest job and every job
of the run): a parent killed and started again with --resume waits for the jobs still queued or running instead of
starting them twice.

A job the scheduler stops early is continued: before its time limit (Slurm's USR2, from submitit's --signal) the
training stops at the end of its step and saves, and submitit requeues the job (impl/arms/job.py), up to its
max_num_timeout; a job Slurm requeues itself (its node lost) keeps its id and is followed on; a job that ends
without its result (scancel, killed) is submitted again up to RETRIES times. Either way the run resumes from its last
checkpoint, and resuming is exact (docs/design.md), so the numbers are those of an uninterrupted run. A job stopped
too often is one line naming the run, its job, its log and the fix (a longer --time-limit).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from impl.arms.engine import Planned, complete
from impl.arms.engine import run_all as run_in_process
from impl.arms.job import EVALUATE, TRAIN, Job, Task, executor, gpu_count, scheduler_states, slug
from impl.arms.launch import Launcher
from impl.core.errors import RunError, RunFailed, say
from impl.core.files import Root
from impl.core.progress import eta
from impl.runs.folder import RunFolder

JOBS_DIR = "jobs"  # OUT/jobs/: submitit's pickles and logs, and one <run>.json per run with its job id
RETRIES = 2
REQUEUED = ("REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED")  # squeue's states of a job put back in the queue
POLL_S = 1.0
REQUEUE_S = 15.0  # how long a stopped Slurm job is watched for Slurm's own requeue before it is submitted again
Finish = Callable[[Planned], Any]


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

    def submit(self, item: Planned, finish: Finish, hint: str, tries: int = 1, phase: str = TRAIN) -> Job:
        if self._executor is None:
            self.root.mkdir(JOBS_DIR)
            self._executor = executor(self.launcher, self.folder)
        if self.launcher.kind == "slurm":  # squeue tells a run's two jobs apart
            self._executor.update_parameters(job_name="gan-spec" if phase == TRAIN else "gan-spec-eval")
        if self.launcher.kind == "local" and self.launcher.gpus_per_run and self.gpus:
            first = self.submitted * self.launcher.gpus_per_run
            self._executor.update_parameters(gpus_per_node=self.launcher.gpus_per_run, visible_gpus=tuple(
                (first + k) % self.gpus for k in range(self.launcher.gpus_per_run)))
        try:
            submitted = self._executor.submit(Task(item, finish, hint, phase))
        except Exception as exc:  # noqa: BLE001 - sbatch's refusal (an account, a QoS, an option) in one line
            text = getattr(exc, "output", None) or getattr(exc, "stderr", None) or str(exc)
            text = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
            raise RunError(f"{item.label}: the {self.launcher.kind} launcher could not submit it: "
                           f"{' '.join(text.split())[:300]}; check the Slurm options (--partition, --account, --qos, "
                           "--slurm-opt)") from None
        self.submitted += 1
        job = Job(item, self.launcher.kind, submitted, tries, phase=phase)
        history = self.record(item).get("history", [])
        now = time.strftime("%Y-%m-%dT%H:%M:%S")
        history = (history if isinstance(history, list) else []) + [
            {"phase": phase, "job_id": job.job_id, "submitted": now}]
        folder = item.folder.relative_to(self.out) if item.folder.is_relative_to(self.out) else item.folder
        self.root.write_json(f"{JOBS_DIR}/{self.record_path(item).name}",
                             {"label": item.label, "folder": str(folder), "launcher": job.kind, "job_id": job.job_id,
                              "phase": phase, "tries": tries, "submitted": now, "history": history})
        self.show(job, "queued", f"log {job.log}")
        return job

    def record(self, item: Planned) -> dict[str, Any]:
        """OUT/jobs/<run>.json as the last submission wrote it ({} when there is none or it is damaged)."""
        try:
            record = json.loads(self.record_path(item).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return record if isinstance(record, dict) else {}

    def reattach(self, item: Planned) -> Job | None:
        """The job a killed parent left queued or running for this run, if any."""
        record = self.record(item)
        try:
            kind, job_id, tries = str(record["launcher"]), str(record["job_id"]), int(record.get("tries", 1))
        except (ValueError, KeyError, TypeError):
            return None
        phase = record.get("phase", TRAIN)
        if kind not in ("local", "slurm") or phase not in (TRAIN, EVALUATE):
            return None
        import submitit

        job_class = submitit.LocalJob if kind == "local" else submitit.SlurmJob
        job = Job(item, kind, job_class(folder=self.folder, job_id=job_id), tries, phase=phase)
        if scheduler_states([job]).get(job_id, "") == "":
            return None  # ended: the run's folder says whether it is complete
        # still listed, even with a result: ending, or requeued by Slurm after it wrote one (follow tells which)
        self.show(job, "attached", f"(queued or running before; log {job.log})")
        return job

    def show(self, job: Job, what: str, extra: str = "") -> None:
        job.shown = what
        self.tell(f"{what:<8} {job.name}: job {job.job_id} {extra}".rstrip())

    def run_all(self, items: list[Planned], finish: Finish, hint: str) -> list[Any]:
        """Every item to its end, at most launcher.jobs at a time (jobs a killed parent left are waited for first);
        a run already trained is evaluated by a job of its own, or, when it holds its evaluation or outcome, finished
        here (reading what it holds). finish's results, in the items' order."""
        active: list[Job] = []
        waiting: list[tuple[Planned, str]] = []
        here: list[Planned] = []
        for item in items:
            attached = self.reattach(item)
            run = RunFolder(item.folder)
            if attached is not None:
                active.append(attached)
            elif run.finished() and (run.evaluation() is not None or run.outcome()):
                here.append(item)
            else:
                waiting.append((item, EVALUATE if run.finished() else TRAIN))
        if here:
            self.tell(f"kept    {len(here)} evaluated run(s) of {len(items)}: finished in this process")
        results = self.follow(active, waiting, finish, hint, len(items))
        for item in here:
            results[item.label] = complete(item, finish, hint)
        return [results.get(item.label) for item in items]

    def outcome(self, job: Job, state: str) -> tuple[str, Any] | None:
        """The job's (status, value) once it has ended, else None (a line when it starts running or is requeued).
        A Slurm job the scheduler requeued (a lost node, its time limit, preemption) keeps its id and runs again:
        the result its stop wrote is dropped and the job followed on, never submitted a second time."""
        outcome = job.result()
        if outcome is None and state == "":
            outcome = job.result() or ("lost", "it ended without its result (cancelled, killed, out of memory, past "
                                       "its time limit or its node lost)")
        stale = outcome is not None and state == "PENDING"  # a result, yet queued: written before a requeue
        requeued = state in REQUEUED or stale or (job.shown == "running" and state == "PENDING")
        if job.kind == "slurm" and (outcome is None or outcome[0] in ("interrupted", "lost")):
            if state in ("RUNNING", "COMPLETING", "UNKNOWN", "NODE_FAIL") and outcome is not None:
                return None  # its process is ending: ended for good, or requeued, the next poll tells
            if outcome is not None and not requeued and time.time() - (job.stopped_at or time.time()) < REQUEUE_S:
                job.stopped_at = job.stopped_at or time.time()
                return None  # Slurm may yet requeue it (a lost node): submitting it again would run it twice
            if requeued:
                job.stopped_at = None  # followed on under its id; a later stop is watched afresh
            if requeued and job.shown != "requeued":
                Path(job.job.paths.result_pickle).unlink(missing_ok=True)
                self.show(job, "requeued", f"(stopped by the scheduler: its time limit, its node lost or preempted; "
                                           f"it resumes from its checkpoint when it runs again; log {job.log})")
                return None
            if requeued:
                return None
        if outcome is None and state in ("RUNNING", "COMPLETING") and job.shown != "running":
            self.show(job, "running", f"log {job.log}")
        return outcome

    def fix(self, status: str, value: str) -> str:
        """What to do about a job that failed, where its message alone does not say."""
        if "timed-out" in value or (status in ("interrupted", "lost") and self.launcher.kind == "slurm"):
            return (f"; it was stopped again and again (past its time limit of {self.launcher.time_limit_min} min?): "
                    "raise --time-limit, then continue with --resume (its checkpoint is kept)")
        return ""

    def follow(self, active: list[Job], waiting: list[tuple[Planned, str]], finish: Finish, hint: str, total: int
               ) -> dict[str, Any]:
        """Submit the waiting jobs (item, phase) as places free up, a run's evaluation once its training is done,
        and follow every job to its end; the results by label. Raises RunFailed after the last job has ended when
        any failed: each is one line above, naming the run, its job id and its log."""
        failed: list[Job] = []
        results: dict[str, Any] = {}
        start, finished = time.time(), 0
        while waiting or active:
            while waiting and len(active) < self.launcher.jobs:
                item, phase = waiting.pop(0)
                active.append(self.submit(item, finish, hint, phase=phase))
            time.sleep(POLL_S)
            states = scheduler_states(active)
            for job in list(active):
                outcome = self.outcome(job, states.get(job.job_id, "UNKNOWN"))
                if outcome is None:
                    continue
                active.remove(job)
                status, value = outcome
                if status == "done" and job.phase == TRAIN and value and not self.launcher.in_process:
                    self.show(job, "trained", "(its evaluation is submitted next)")
                    waiting.insert(0, (job.item, EVALUATE))  # the place it leaves, before any other run's training
                elif status == "done" and job.phase == TRAIN and value:
                    self.show(job, "trained", "(this process evaluates it)")  # a job a killed parent left
                elif status == "done":
                    finished += 1
                    results[job.item.label] = value if job.phase == EVALUATE else None
                    left = len({item.label for item, _ in waiting} | {j.item.label for j in active})
                    self.show(job, "done", f"({eta(finished, finished + left, time.time() - start)})")
                elif status in ("interrupted", "lost") and self.launcher.in_process:
                    self.show(job, "ended", f"({value}; this process trains it on from its checkpoint)")
                elif status in ("interrupted", "lost") and job.tries <= RETRIES:
                    self.show(job, "again", f"({value}; submitted again, resuming from its checkpoint)")
                    active.append(self.submit(job.item, finish, hint, job.tries + 1, job.phase))
                else:
                    failed.append(job)
                    self.show(job, "failed", f"{value}{self.fix(status, value)}; log: {job.log}")
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
