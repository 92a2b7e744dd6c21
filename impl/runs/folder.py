"""The run folder: its files, how they are created, read back and kept consistent.

    runs/<experiment>-<timestamp>/
        config.json            resolved recipe (value, status, source of each fact), overrides, versions, commit
        metrics.jsonl          one line per logging interval: step, epoch, losses, D(x), D(G(z)), images/s
        samples/epoch_NNN.png  the fixed noise batch after each epoch
        loss.png               loss curves
        checkpoints/last.pt    models, optimizers, RNG states, step; prev.pt is the one before it (impl/checkpoint.py)
        .lock                  held while a process trains in the folder

A folder is a thing people send each other: everything read back from one is checked before it is used.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from impl.runs import grids
from impl.runs.checkpoint import save_checkpoint
from impl.errors import RunError

if TYPE_CHECKING:
    import spec
    from impl.training.settings import Settings
    from impl.training.trainer import Trainer
    from spec.experiment import ExperimentSpec

CONFIG_KEYS = {"experiment": str, "settings": dict, "total_steps": int}  # what every reader relies on


def file_in_the_way(folder: Path, itself: bool = True) -> Path | None:
    """The file that stops `folder` from being a folder: the path itself (when `itself`) or one above it."""
    return next((p for p in ((folder,) if itself else ()) + tuple(folder.parents) if p.exists() and not p.is_dir()),
                None)


def new_run_dir(experiment: str, out: Path | str | None, root: Path = Path("runs")) -> Path:
    """A fresh run folder; an existing non-empty --out is refused, never overwritten."""
    if out:
        run = Path(out)
        blocker = file_in_the_way(run)
        if blocker is not None:
            raise RunError(f"--out {run}: {blocker} is a file, not a folder; choose another --out")
        if run.is_dir() and any(run.iterdir()):
            raise RunError(f"{run}: already holds files; continue it with --resume {run} or choose another --out")
    else:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        run, n = root / f"{experiment}-{stamp}", 2
        while run.exists():  # two runs started in the same second
            run, n = root / f"{experiment}-{stamp}-{n}", n + 1
    try:
        (run / "samples").mkdir(parents=True, exist_ok=True)
        (run / "checkpoints").mkdir(exist_ok=True)
    except OSError as exc:
        raise RunError(f"--out {run}: cannot create the folder ({exc.strerror or exc}); choose another --out") from None
    return run


@contextmanager
def locked(run: Path) -> Iterator[None]:
    """Hold the run folder for one training process: a second process that tries to train in it (two resumes of
    the same run, a resume of a run still training) is refused, naming the first."""
    path = run / ".lock"
    try:
        fh = path.open("a+", encoding="utf-8")
    except OSError as exc:
        raise RunError(f"{run}: cannot write its lock file ({exc.strerror or exc}); check the folder") from None
    with fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            raise RunError(f"{run}: in use by {holder}; wait for it to finish or stop it first") from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"process {os.getpid()} ({' '.join(sys.argv[:3])}, since {time.strftime('%H:%M:%S')})")
        fh.flush()
        try:
            yield
        finally:
            fh.truncate(0)
            fcntl.flock(fh, fcntl.LOCK_UN)


def versions() -> dict[str, str]:
    import numpy
    import torchvision

    out = {"python": sys.version.split()[0], "torch": torch.__version__, "torchvision": torchvision.__version__,
           "numpy": numpy.__version__, "cuda": str(torch.version.cuda)}
    try:
        root = Path(__file__).resolve().parent.parent
        out["git_commit"] = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                                           text=True, timeout=10).stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        out["git_commit"] = "unknown"
    return out


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write JSON atomically (a temporary file renamed), so a reader never sees half a file."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    os.replace(tmp, path)


def read_config(run: Path) -> dict[str, Any]:
    """A run's config.json, checked for the keys and types every reader relies on."""
    path = run / "config.json"
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunError(f"{path}: missing; name a run folder made by impl.train") from None
    except IsADirectoryError:
        raise RunError(f"{path}: is a folder, not a file; the run folder is damaged") from None
    except OSError as exc:
        raise RunError(f"{path}: cannot read ({exc.strerror or exc}); check the permissions") from None
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        raise RunError(f"{path}: not valid JSON; the run folder is damaged") from None
    if not isinstance(config, dict):
        raise RunError(f"{path}: holds {type(config).__name__}, not a table; the run folder is damaged")
    for key, kind in CONFIG_KEYS.items():
        if not isinstance(config.get(key), kind) or isinstance(config.get(key), bool):
            raise RunError(f"{path}: {key!r} missing or not {kind.__name__}; the run folder is damaged or was made "
                           "by another gan-spec version")
    return config


# ---------------------------------------------------------------- config.json

def fact_json(fact: spec.Fact) -> dict:
    out = {"value": fact.value, "status": fact.status, "source": fact.source}
    return out | {"note": fact.note} if fact.note else out


def config_of(exp: ExperimentSpec, settings: Settings, trainer: Trainer, data: str,
              overrides: dict[str, dict[str, Any]]) -> dict:
    """config.json of a new run. `overrides`: key -> {"value": ..., "origin": "--epochs" | "--set ..." | ...}."""
    return {"experiment": exp.name, "title": exp.title, "report": exp.report,
            "recipe": {k: fact_json(f) for k, f in exp.facts().items()},
            "overrides": overrides, "settings": asdict(settings), "data": data,
            "steps_per_epoch": trainer.steps_per_epoch, "total_steps": trainer.total_steps,
            "generator_steps": trainer.total_steps // trainer.n_critic,
            "notes": ["a step is one batch and one discriminator update; the generator is updated every n_critic steps",
                      "the last partial batch of each epoch is dropped (fixed batch shapes)"],
            "versions": versions(), "started": time.strftime("%Y-%m-%d %H:%M:%S")}


def record_resume(run_dir: Path, settings: Settings, trainer: Trainer, changed: dict[str, dict[str, Any]]) -> None:
    """config.json describes the run as it now goes on: a resume may extend it (--epochs, --steps), and the
    step count it will reach is what tables and studies read."""
    config = read_config(run_dir)
    old = config.get("overrides") if isinstance(config.get("overrides"), dict) else {}
    config |= {"settings": asdict(settings), "total_steps": trainer.total_steps,
               "generator_steps": trainer.total_steps // trainer.n_critic, "overrides": old | changed,
               "resumed": [*config.get("resumed", []), {"at_step": trainer.step, **{k: v["value"] for k, v in
                                                                                   changed.items()},
                                                         "time": time.strftime("%Y-%m-%d %H:%M:%S")}]}
    write_json(run_dir / "config.json", config)


def append_metrics(run: Path, row: dict[str, Any]) -> None:
    """Append one row to metrics.jsonl. A line cut short by a kill is ended first, so the new row stands on a line
    of its own (readers skip the broken one)."""
    path = run / "metrics.jsonl"
    with path.open("a+b") as fh:
        if fh.tell():
            fh.seek(-1, os.SEEK_END)
            if fh.read(1) != b"\n":
                fh.write(b"\n")
        fh.write((json.dumps(row) + "\n").encode())


def read_metrics(run: Path) -> list[dict[str, Any]]:
    """The rows of metrics.jsonl that parse as tables (a line cut short by a kill is skipped)."""
    path = run / "metrics.jsonl"
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            row = json.loads(line)
        except (json.JSONDecodeError, RecursionError):
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows


def plot_losses(run: Path) -> Path | None:
    rows = read_metrics(run)
    if not rows:
        return None
    from matplotlib.figure import Figure  # no pyplot: no global state, so the writer thread may draw

    fig = Figure(figsize=(11, 4))
    ax_loss, ax_d = fig.subplots(1, 2)
    steps = [r["step"] for r in rows]
    for key, label in (("d_loss", "discriminator / critic"), ("g_loss", "generator")):
        ax_loss.plot(steps, [r[key] for r in rows], label=label)
    ax_loss.set(xlabel="step (batches)", ylabel="loss", title=f"{rows[-1].get('experiment', '')} losses")
    ax_loss.legend()
    ax_d.plot(steps, [r["d_real"] for r in rows], label="D(x), real")
    ax_d.plot(steps, [r["d_fake"] for r in rows], label="D(G(z)), fake")
    ax_d.set(xlabel="step (batches)", ylabel="mean discriminator output", title="discriminator outputs")
    ax_d.legend()
    fig.tight_layout()
    path = run / "loss.png"
    fig.savefig(path, dpi=100)
    return path


def write_epoch(run: Path, samples: torch.Tensor, state: dict[str, Any], grid: Path) -> None:
    """An epoch's files: its sample grid, its checkpoint and the loss curves so far."""
    try:
        grids.save_grid(samples, grid)
        save_checkpoint(run, state)
        plot_losses(run)
    except OSError as exc:  # the grid or the plot (save_checkpoint says its own)
        raise RunError(f"{run}: cannot write {Path(exc.filename or grid).name} ({exc.strerror or exc}); "
                       "checkpoints/last.pt is intact; free disk space and resume") from None


class BackgroundWriter:
    """Writes epoch-end files on one worker thread, in order, while the next epoch trains: a course-DCGAN
    checkpoint (114 MB), its grid PNG and the loss plot held the loop 288 ms per epoch on a 2-core CPU, 9 ms
    this way. `flush()` waits for what is queued and re-raises the first error (a full disk)."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gan-spec-writer")
        self._pending: list[Future] = []

    def submit(self, fn: Callable[..., object], *args: object) -> None:
        self._pending.append(self._pool.submit(fn, *args))

    def check(self) -> None:
        """Re-raise the error of a write that has already failed, without waiting for the others."""
        if any(job.done() and job.exception() is not None for job in self._pending):
            self.flush()

    def flush(self) -> None:
        pending, self._pending = self._pending, []
        errors = [job.exception() for job in pending]  # waits for each
        first = next((e for e in errors if e is not None), None)
        if first is not None:
            raise first

    def close(self) -> None:
        """Let queued writes finish (only a kill may cut one short: the previous checkpoint stays), then stop."""
        self._pool.shutdown(wait=True)
