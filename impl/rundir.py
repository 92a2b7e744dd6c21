"""The run directory: config.json, metrics.jsonl, samples/, loss.png and crash-safe checkpoints.

    runs/<experiment>-<timestamp>/
        config.json            resolved recipe (value, status, source of each fact), overrides, versions, commit
        metrics.jsonl          one line per logging interval: step, epoch, losses, D(x), D(G(z)), images/s
        samples/epoch_NNN.png  the fixed noise batch after each epoch
        loss.png               loss curves
        checkpoints/last.pt    models, optimizers, RNG states, step; prev.pt is the one before it

Checkpoints are written to a temporary file, fsynced and renamed, and the previous one is kept, so a kill at
any moment leaves a loadable checkpoint. They hold tensors and plain containers only and are read with
`torch.load(weights_only=True)`: a shared checkpoint cannot run code.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:  # types only: the trainer does not import this module, and neither must it import the trainer
    import argparse

    import spec
    from impl.trainer import Settings, Trainer
    from spec.experiment import ExperimentSpec

CHECKPOINT_FORMAT = 1


class RunError(ValueError):
    """A run directory or checkpoint cannot be used. The message is one line naming the file and the fix."""


def new_run_dir(experiment: str, out: str | None, root: Path = Path("runs")) -> Path:
    """A fresh run directory; an existing non-empty --out is refused, never overwritten."""
    if out:
        run = Path(out)
        if run.exists() and any(run.iterdir()):
            raise RunError(f"{run}: already holds files; continue it with --resume {run} or choose another --out")
    else:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        run, n = root / f"{experiment}-{stamp}", 2
        while run.exists():  # two runs started in the same second
            run, n = root / f"{experiment}-{stamp}-{n}", n + 1
    (run / "samples").mkdir(parents=True, exist_ok=True)
    (run / "checkpoints").mkdir(exist_ok=True)
    return run


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
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    os.replace(tmp, path)


def read_config(run: Path) -> dict[str, Any]:
    path = run / "config.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunError(f"{path}: missing; --resume needs a run directory made by impl.train") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise RunError(f"{path}: not valid JSON; the run directory is damaged") from None


# ---------------------------------------------------------------- config.json

def fact_json(fact: spec.Fact) -> dict:
    out = {"value": fact.value, "status": fact.status, "source": fact.source}
    return out | {"note": fact.note} if fact.note else out


def config_of(exp: ExperimentSpec, settings: Settings, trainer: Trainer, data: str, args: argparse.Namespace) -> dict:
    overrides = {k: getattr(args, k) for k in ("epochs", "steps", "batch_size", "data", "seed") if getattr(args, k)}
    return {"experiment": exp.name, "title": exp.title, "report": exp.report,
            "recipe": {k: fact_json(f) for k, f in exp.facts().items()},
            "overrides": overrides, "settings": asdict(settings), "data": data,
            "steps_per_epoch": trainer.steps_per_epoch, "total_steps": trainer.total_steps,
            "generator_steps": trainer.total_steps // trainer.n_critic,
            "notes": ["a step is one batch and one discriminator update; the generator is updated every n_critic steps",
                      "the last partial batch of each epoch is dropped (fixed batch shapes)"],
            "versions": versions(), "started": time.strftime("%Y-%m-%d %H:%M:%S")}


def record_resume(run_dir: Path, settings: Settings, trainer: Trainer, args: argparse.Namespace) -> None:
    """config.json describes the run as it now goes on: a resume may extend it (--epochs, --steps), and the
    step count it will reach is what tables and studies read."""
    config = read_config(run_dir)
    extended = {k: getattr(args, k) for k in ("epochs", "steps", "data") if getattr(args, k)}
    config |= {"settings": asdict(settings), "total_steps": trainer.total_steps,
               "generator_steps": trainer.total_steps // trainer.n_critic,
               "overrides": config.get("overrides", {}) | extended,
               "resumed": [*config.get("resumed", []), {"at_step": trainer.step, **extended,
                                                         "time": time.strftime("%Y-%m-%d %H:%M:%S")}]}
    write_json(run_dir / "config.json", config)


def append_metrics(run: Path, row: dict[str, Any]) -> None:
    with (run / "metrics.jsonl").open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(row) + "\n")


def read_metrics(run: Path) -> list[dict[str, Any]]:
    path = run / "metrics.jsonl"
    if not path.exists():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line cut short by a kill
    return rows


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save_checkpoint(run: Path, state: dict[str, Any]) -> Path:
    """Atomically write checkpoints/last.pt, keeping the previous one as prev.pt."""
    folder = run / "checkpoints"
    folder.mkdir(parents=True, exist_ok=True)
    last, prev, tmp = folder / "last.pt", folder / "prev.pt", folder / "last.pt.tmp"
    try:
        with tmp.open("wb") as fh:
            torch.save({"format": CHECKPOINT_FORMAT, **state}, fh)
            fh.flush()
            os.fsync(fh.fileno())
        if last.exists():
            os.replace(last, prev)
        os.replace(tmp, last)
        _fsync_dir(folder)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        kept = "last.pt" if last.exists() else "prev.pt" if prev.exists() else "no checkpoint"
        raise RunError(f"{last}: cannot write checkpoint ({exc.strerror or exc}); {kept} is intact; "
                       "free disk space and resume") from None
    return last


def load_checkpoint(run: Path, device: str = "cpu") -> tuple[dict[str, Any], str]:
    """The newest loadable checkpoint of a run and a note if an older one had to be used."""
    folder = run / "checkpoints"
    problems = []
    for name in ("last.pt", "prev.pt"):
        path = folder / name
        if not path.exists():
            problems.append(f"{name} missing")
            continue
        try:
            state = torch.load(path, map_location=device, weights_only=True)
        except Exception as exc:  # truncated zip, pickle refused by weights_only, ...
            problems.append(f"{name} unreadable ({type(exc).__name__})")
            continue
        if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
            problems.append(f"{name} is not a gan-spec checkpoint")
            continue
        return state, ("" if name == "last.pt" else f"using prev.pt: {'; '.join(problems)}")
    raise RunError(f"{folder}: no usable checkpoint ({'; '.join(problems)}); start a new run")


def grid_columns(n: int) -> int:
    """Columns of a sample grid: one row up to 10 images (report 004's 8), rows of 10 for 20, else square."""
    if n <= 10:
        return n
    return 10 if n % 10 == 0 and n <= 40 else math.ceil(math.sqrt(n))


def save_grid(images: torch.Tensor, path: Path, columns: int | None = None) -> Path:
    """Images in [-1, 1] as one PNG grid."""
    from torchvision.utils import save_image

    path.parent.mkdir(parents=True, exist_ok=True)
    images = images.detach().float().cpu()
    if images.shape[-1] < 64:  # 28x28 garments are too small to look at: enlarge, keeping the pixels sharp
        images = torch.nn.functional.interpolate(images, scale_factor=math.ceil(64 / images.shape[-1]), mode="nearest")
    save_image(images * 0.5 + 0.5, path, nrow=columns or grid_columns(len(images)),
               padding=2, pad_value=1.0)
    return path


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


def snapshot(state: Any) -> Any:
    """A copy of a checkpoint's state on the CPU, cut off from the live tensors that training goes on changing."""
    if isinstance(state, torch.Tensor):
        return state.detach().to("cpu", copy=True)
    if isinstance(state, dict):
        return {k: snapshot(v) for k, v in state.items()}
    if isinstance(state, list | tuple):
        return type(state)(snapshot(v) for v in state)
    return state


def write_epoch(run: Path, samples: torch.Tensor, state: dict[str, Any], grid: Path) -> None:
    """An epoch's files: its sample grid, its checkpoint and the loss curves so far."""
    try:
        save_grid(samples, grid)
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
