"""Run one experiment, start to end: `run_experiment(RunRequest(...))` returns its run folder or raises a typed
error (impl/core/errors.py). `python -m impl.train`, the studies and the claims scorecard all train through it.

The request is resolved (impl/training/request.py), the run folder is named at once (the first line says where the
run goes), then the data is loaded, the trainer built, the folder created (or the run's checkpoint loaded), and the
loop trains to the end or to a stop signal. Every refusal comes before the folder is made.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import tempfile
from contextlib import ExitStack
from pathlib import Path

import torch

import spec
from impl.core import cli
from impl.core.errors import Interrupted, RunError, UsageError, say
from impl.data.load import for_experiment
from impl.runs.checkpoint import check_networks, load_checkpoint
from impl.runs.folder import RunFolder
from impl.training.fastpath import describe, training_switches
from impl.training.loop import train_loop
from impl.training.record import config_of, record_resume
from impl.training.request import RunRecipe, RunRequest, RunResult, experiment_named, overrides_of, resolve
from impl.training.tensorboard import check_available
from impl.training.trainer import Trainer


def resolve_device(requested: str) -> str:
    if requested not in ("auto", "cpu", "cuda"):
        raise UsageError(f"--device {requested}: expected auto, cpu or cuda")
    if requested == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda: no CUDA GPU is visible to PyTorch; use --device cpu or --device auto")
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return requested


def setup_distributed(device: str) -> tuple[int, int, str]:
    """(rank, world size, device) under torchrun; (0, 1, device) otherwise."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1, device
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if device == "cuda":
        torch.cuda.set_device(local)
        device = f"cuda:{local}"
    if not torch.distributed.is_initialized():
        torch.distributed.init_process_group("nccl" if device.startswith("cuda") else "gloo")
    return torch.distributed.get_rank(), world, device


def resume_into(trainer: Trainer, run: RunFolder, req: RunRequest) -> None:
    state, note = load_checkpoint(run, str(trainer.device))
    check_networks(state, run.path, trainer.exp.name, {"G": trainer.G, "D": trainer.D})
    trainer.load_state_dict(state)
    if trainer.step > trainer.total_steps:
        raise UsageError(f"--resume {run}: the run is at step {trainer.step:,}, past the {trainer.total_steps:,} "
                         f"{'--steps' if req.steps else '--epochs'} asks for; pass a larger length")
    if trainer.rank == 0:
        say(f"resuming {trainer.exp.name} at step {trainer.step:,} of {trainer.total_steps:,}"
            + (f" ({note})" if note else ""))


def forget_rows_after(run: RunFolder, step: int) -> None:
    """The rows a run logged after the checkpoint it resumes from (it was killed without saving: SIGKILL, a lost
    node, a time limit's kill) are dropped: the resumed run logs them again, as an uninterrupted run does once."""
    for name in (RunFolder.LOG, RunFolder.EPOCH_LOG):
        rows = run.rows(name)
        kept = [row for row in rows if not isinstance(row.get("step"), int) or row["step"] <= step]
        if len(kept) < len(rows):
            run.root.write_text(name, "".join(json.dumps(row) + "\n" for row in kept))


def dry_copy(run: Path) -> Path:
    """A throw-away copy of a run to resume for a dry run: the run itself stays untouched."""
    tmp = Path(tempfile.mkdtemp(prefix="gan-spec-dry-resume-"))
    source = RunFolder(run)
    for name in (RunFolder.CONFIG, RunFolder.LOG):
        if source.file(name).is_file() and not source.file(name).is_symlink():
            shutil.copy2(source.file(name), tmp / name)
    shutil.copytree(source.file(RunFolder.CHECKPOINTS), tmp / RunFolder.CHECKPOINTS, symlinks=True,
                    ignore=shutil.ignore_patterns("*.tmp", "*.new"))
    (tmp / RunFolder.SAMPLES).mkdir()
    return tmp


def planned_folder(req: RunRequest, experiment: str) -> Path | None:
    """Where the run will be written, decided before the data loads (so the first line can name it)."""
    if req.resume is not None:
        return req.resume
    if req.dry_run:
        return None
    return RunFolder.check_new(req.out) if req.out else RunFolder.default_path(experiment)


def open_folder(req: RunRequest, trainer: Trainer, data: str, recipe: RunRecipe, where: Path | None,
                stack: ExitStack) -> RunFolder | None:
    """The folder this process writes to (None on processes other than the first), locked while it trains."""
    if trainer.rank != 0:
        if req.resume is not None:
            resume_into(trainer, RunFolder(req.resume), req)
        return None
    if req.resume is not None:
        run = RunFolder(req.resume)
        run.refuse_links()
        stack.enter_context(run.locked())
        resume_into(trainer, run, req)
        forget_rows_after(run, trainer.step)
        record_resume(run, trainer.settings, trainer, overrides_of(req, ("epochs", "steps", "data")))
        return run
    run = RunFolder(tempfile.mkdtemp(prefix=f"gan-spec-dry-{trainer.exp.name}-")) if where is None \
        else RunFolder.create(where)
    stack.enter_context(run.locked())
    config = config_of(experiment_named(trainer.exp.name), trainer.settings, trainer, data,
                       overrides_of(req, ("epochs", "steps", "batch_size", "data", "seed")))
    run.write_config(config | {RunRecipe.KEY: recipe.to_json(), "processes": trainer.world_size} | req.extra)
    return run


def length(trainer: Trainer) -> str:
    """'2,811 steps (3 epochs of 937, batch 64)', and why when --steps and --epochs both limit the run."""
    s, spe = trainer.settings, trainer.steps_per_epoch
    out = f"{trainer.total_steps:,} steps ({trainer.total_steps / spe:.3g} epochs of {spe:,}, batch {s.batch_size})"
    if s.max_steps and s.epochs and trainer.total_steps < s.max_steps:
        out += f": --epochs {s.epochs} ends it before --steps {s.max_steps:,}"
    return out


def run_experiment(req: RunRequest) -> RunResult:
    """Train one experiment (or continue one run) to its end. Raises Interrupted after saving when a signal stops
    it, RunFailed when training cannot go on, and the bad-input errors before anything is written."""
    rank, world, device = setup_distributed(resolve_device(req.device))
    if req.dry_run and req.resume is not None:
        req = req.replace(resume=dry_copy(req.resume))
    resolved = resolve(req, device)
    exp, settings, data_arg = resolved.exp, resolved.settings, resolved.data
    if settings.tensorboard:
        check_available()
    where = planned_folder(req, exp.name)
    if rank == 0 and not req.quiet:
        say(f"{'dry run of' if req.dry_run else 'resuming' if req.resume else 'training'} {exp.name}"
            + (f" in {where}/" if where is not None and not req.dry_run else " (nothing kept)"))
    reg = spec.registry()
    run: RunFolder | None = None
    with ExitStack() as stack, training_switches(autotune=settings.fast and device.startswith("cuda")):
        data = for_experiment(exp.dataset.value, data_arg, reg.networks[exp.discriminator.value].input,
                              reg.datasets[exp.dataset.value].how, progress=not req.quiet and rank == 0, device=device,
                              limit=resolved.limit)
        assert data.source is not None
        if resolved.saved is not None and dataclasses.replace(data.source, folder=None) != dataclasses.replace(
                resolved.saved.data, folder=None):
            raise RunError(f"--resume {req.resume}: the run trained on {resolved.saved.data.words()}, but --data "
                           f"{data_arg} gives {data.source.words()}; pass --data with the run's own images")
        if data.skipped and rank == 0:
            left = sum(data.skipped.values())
            say(f"note: left out {left} file{'' if left == 1 else 's'} of {data_arg}: "
                + ", ".join(f"{n} {why}" for why, n in data.skipped.items()))
        trainer = Trainer(exp, data.images, settings, rank=rank, world_size=world, sync_bn=req.sync_bn)
        if rank == 0 and not req.quiet:
            say(f"{length(trainer)} on {device}; data: {data.description}"
                + (f"; {describe(trainer)}" if device.startswith("cuda") else ""))
        try:
            recipe = RunRecipe.of(exp, resolved.sets, data.source, trainer.settings)
            run = open_folder(req, trainer, data.description, recipe, where, stack)
            stopped = train_loop(trainer, run, req.quiet or req.dry_run, req.epoch_hook)
            last = (run.log() or [{}])[-1] if run is not None else {}
            if world > 1:
                # finished or interrupted, every process decided it at the same step; wait until all are past their
                # last collective and the first has written its files before any tears the process group down: a
                # gloo peer that disconnects mid-exchange can abort the other one
                torch.distributed.barrier()
        finally:
            if req.dry_run and run is not None:
                stack.close()  # the lock first
                shutil.rmtree(run.path, ignore_errors=True)  # our own temporary folder
    if stopped:
        raise Interrupted(f"\ninterrupted ({signal.Signals(stopped).name}) at step {trainer.step}; checkpoint saved",
                          stopped, f"{cli.spelling('python -m impl.train')} --resume {run}")
    path = None if req.dry_run or run is None else run.path
    return RunResult(path, exp.name, trainer.step, data.description, device, last, req.dry_run, rank)

