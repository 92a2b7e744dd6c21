"""Training several arms into one output folder, for a study (impl.collapse, impl.compare) or the scorecard
(impl.reproduce): plan, train or resume, evaluate; the one loop over planned runs (`run_all`) both use.

The output folder is held by one process (a lock on the whole folder, not only per run), its arguments are saved
so that a --resume with other ones is refused, and each planned run is kept when it has finished, resumed from its
checkpoint when it has one, or started. A run is deleted only when it stopped before its first checkpoint and holds
nothing but gan-spec's own files; a finished or evaluated run never is. An interruption carries the command that
continues the whole study as data (Interrupted.resume), and the wall time over all calls is kept.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from impl.core.errors import Diverged, Interrupted, NonFinite, RunError, UsageError, say
from impl.core.files import Root, read_regular
from impl.core.progress import eta
from impl.runs.folder import RunFolder, file_in_the_way
from impl.training.request import RunRequest
from impl.training.run import run_experiment

MIN_N = 20  # generated images per run below which the metrics mean nothing (MS-SSIM pairs, KID subsets)
T = TypeVar("T")


@dataclass(frozen=True)
class Planned:
    """One training of a study or scorecard: a fresh-start request for its folder, a label to show, and what
    becomes of it: whether a divergence is an outcome of the run (a scorecard's) or a failure (a study's), and
    whether its weights are kept once it has its numbers (a smoke run's are not)."""

    label: str
    request: RunRequest
    divergence_is_outcome: bool = False
    keep_weights: bool = True

    @property
    def folder(self) -> Path:
        assert self.request.out is not None
        return self.request.out


class ArmsFolder:
    """The output folder of a study or scorecard (`kind` is the command: collapse, compare, reproduce)."""

    def __init__(self, out: Path, kind: str, noun: str) -> None:
        self.path, self.kind, self.noun = out, kind, noun  # "collapse", "collapse study"
        self.root = Root(out)
        self.args_file, self.time_file = f"{kind}-args.json", f"{kind}-time.json"

    def check(self, wanted: dict[str, Any], resume: bool, out_given: bool) -> None:
        """Before anything is made: a fresh folder must be empty, a resumed one must hold this kind of work started
        with these arguments."""
        blocker = file_in_the_way(self.path)
        if blocker is not None:
            raise RunError(f"--out {self.path}: {blocker} is a file, not a folder; choose another --out")
        if not resume:
            if self.path.is_symlink() or (self.path.exists() and any(self.path.iterdir())):
                raise RunError(f"{self.path}: already holds files; continue that {self.noun} with --resume, or "
                               "choose another --out")
            existing = next(p for p in (self.path, *self.path.parents) if p.exists() or p == Path("."))
            if not os.access(existing, os.W_OK | os.X_OK):
                raise RunError(f"--out {self.path}: {existing} is not writable; choose another --out")
            return
        if not out_given:
            raise UsageError(f"--resume needs --out: the folder of the {self.noun} to continue")
        saved = self.saved_args()
        changed = [f"--{k.replace('_', '-')} {saved.get(k)} (now {v})" for k, v in wanted.items() if saved.get(k) != v]
        if changed:
            raise RunError(f"{self.path}: the {self.noun} was started with " + ", ".join(changed)
                           + "; resume it with those arguments, or start a new one in another --out")

    def saved_args(self) -> dict[str, Any]:
        path = self.path / self.args_file
        try:
            saved = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError):
            raise RunError(f"{self.path}: no {self.noun} to continue ({self.args_file} missing or damaged); check "
                           "--out, or drop --resume") from None
        if not isinstance(saved, dict):
            raise RunError(f"{path}: holds a JSON {type(saved).__name__}, not an object; the folder is damaged")
        return saved

    @contextlib.contextmanager
    def opened(self, wanted: dict[str, Any]) -> Iterator[None]:
        """Make the folder, hold its lock while the block runs (a second process on it stops in one line naming
        the first), and save the arguments of a new one."""
        try:
            self.root.mkdir(".")
        except OSError as exc:
            raise RunError(f"--out {self.path}: cannot create it ({exc.strerror or exc}); choose another --out"
                           ) from None
        with self.held():
            if not (self.path / self.args_file).exists():
                self.root.write_json(self.args_file, wanted)
            yield

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """Hold the folder's lock while the block runs (the study's last files are written under it too)."""
        holder = f"process {os.getpid()} ({' '.join(sys.argv[:3])}, since {time.strftime('%H:%M:%S')})"
        with self.root.locked(".gan-spec.lock", holder):
            yield

    @contextlib.contextmanager
    def clock(self) -> Iterator[Callable[[], float]]:
        """Wall time spent over all calls (an interrupted one included), kept in OUT/<kind>-time.json; yields a
        function giving the total so far."""
        start = time.time()
        try:
            before = float(json.loads(read_regular(self.path / self.time_file))["seconds"])  # a FIFO: 0
        except (OSError, ValueError, KeyError, TypeError):
            before = 0.0

        def total() -> float:
            return round(before + time.time() - start, 1)

        try:
            yield total
        finally:
            with contextlib.suppress(OSError):
                self.root.write_json(self.time_file, {"seconds": total()})


def train_or_resume(item: Planned, resume_command: str) -> None:
    """Train one planned run, continue it from its checkpoint, or leave it when it has finished."""
    run = RunFolder(item.folder)
    if run.finished():  # kept as it is, even when its checkpoints were removed to save space
        if not run.has_checkpoint() and run.evaluation() is None and not run.outcome():
            raise RunError(f"{run.path}: finished, but its {run.CHECKPOINTS}/ are gone and it holds no "
                           f"{run.EVALUATION}, so it cannot be evaluated; restore {run.CHECKPOINTS}/, or move the "
                           "folder away to train it again")
        return
    request = item.request
    if run.has_checkpoint():  # prev.pt serves when last.pt is damaged
        request = RunRequest(resume=item.folder, device=request.device, quiet=request.quiet, steps=request.steps,
                             epoch_hook=request.epoch_hook)
    else:
        run.discard()  # stopped before its first checkpoint: only gan-spec's own files, never an evaluation
    try:
        run_experiment(request)
    except Interrupted as exc:  # the run saved its checkpoint; the study is what the user continues
        raise exc.continued_by(resume_command) from None


def complete(item: Planned, finish: Callable[[Planned], T], resume_command: str) -> T | None:
    """One planned run, whole: trained, resumed or kept (train_run), then finished (evaluated) by `finish`
    (finish_run). The same two calls run in this process, or as a launched run's two jobs."""
    return finish_run(item, finish) if train_run(item, resume_command) else None


def train_run(item: Planned, resume_command: str) -> bool:
    """Train, resume or keep one planned run. False when it diverged now and the plan records that as the run's
    outcome (nothing is left to finish), else True; a divergence the plan does not allow is raised."""
    try:
        train_or_resume(item, resume_command)
    except (Diverged, NonFinite) as exc:
        record_divergence(item, exc)
        return False
    return True


def finish_run(item: Planned, finish: Callable[[Planned], T]) -> T | None:
    """Finish (evaluate) a trained run with `finish`; a divergence found there is recorded as for training. A smoke
    run's weights are dropped after (its outcome or evaluation marks it finished for --resume)."""
    try:
        result: T | None = finish(item)
    except (Diverged, NonFinite) as exc:
        record_divergence(item, exc)
        return None
    if not item.keep_weights:
        RunFolder(item.folder).drop_checkpoints()
    return result


def record_divergence(item: Planned, exc: Diverged | NonFinite) -> None:
    """A divergence as an outcome of the run where the plan says so (a scorecard's), else raised again."""
    if not item.divergence_is_outcome:
        raise exc
    reason = str(exc).split(";")[0]
    RunFolder(item.folder).write_outcome(RunFolder.DIVERGED, reason)
    say(f"{item.label}: diverged ({reason}); recorded as an outcome of the run")
    if not item.keep_weights:
        RunFolder(item.folder).drop_checkpoints()


def run_all(items: list[Planned], finish: Callable[[Planned], T], resume_command: str, spent: Callable[[], float],
            quiet: bool = False) -> list[T | None]:
    """The one loop over the planned runs of a study or a scorecard, in order, with a progress line each."""
    results = []
    for i, item in enumerate(items):
        if not quiet:
            say(f"[{i + 1}/{len(items)}] {item.label}; {eta(i, len(items), spent())}")
        results.append(complete(item, finish, resume_command))
    return results


def resume_command(prog: str, argv: list[str], out: Path) -> str:
    """The command that continues this work: the same arguments, --out made explicit, and --resume."""
    kept, skip = [], False
    for arg in argv:
        if skip or arg == "--resume":
            skip = False
            continue
        if arg == "--out":
            skip = True
            continue
        if not arg.startswith("--out="):
            kept.append(shlex.quote(arg))
    return " ".join([f"python -m {prog}", *kept, "--out", shlex.quote(str(out)), "--resume"])


@contextlib.contextmanager
def signals_name(resume: str, what: str) -> Iterator[None]:
    """Outside training (evaluating, probing, writing) SIGINT, SIGTERM and SIGHUP stop with the command that
    continues the work, like an interruption inside training; the handlers before are restored after."""
    def stop(signum: int, _frame: object) -> None:
        raise Interrupted(f"interrupted ({signal.Signals(signum).name}) between trainings; finished runs are kept",
                          signum, resume)

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    wanted = [s for s in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, s)]
    before = {name: signal.signal(getattr(signal, name), stop) for name in wanted}
    try:
        yield
    finally:
        for name, handler in before.items():
            signal.signal(getattr(signal, name), handler)
