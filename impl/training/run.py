"""Run one experiment, start to end: `run_experiment(RunRequest(...))` returns its run folder or raises a typed
error (impl/errors.py). `python -m impl.train`, the studies and the claims scorecard all train through it.

A request names an experiment and the changes to its recipe, or a run folder to resume. Resolving it gives the
run's Settings; then the data is loaded, the trainer built, the folder created (or the run's checkpoint loaded),
and the loop trains to the end or to a stop signal.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

import spec
from impl.data.load import for_experiment
from impl.errors import Interrupted, RunError, UsageError, say
from impl.runs import folder as rundir
from impl.runs.checkpoint import check_networks, load_checkpoint
from impl.training import overrides
from impl.training.fastpath import describe, speed_defaults, training_switches
from impl.training.loop import EpochHook, train_loop
from impl.training.settings import Settings
from impl.training.tensorboard import check_available
from impl.training.trainer import Trainer
from spec.experiment import ExperimentSpec

IGNORED_ON_RESUME = ("batch_size", "seed", "log_every", "precision", "channels_last", "eager", "out", "sync_bn")


@dataclass
class RunRequest:
    """What to train: an experiment with the command line's changes, or a run folder to resume."""

    experiment: str | None = None
    resume: Path | None = None
    out: Path | None = None
    data: str | None = None
    epochs: int | None = None
    steps: int | None = None
    batch_size: int | None = None
    seed: int | None = None  # default 0
    device: str = "auto"
    log_every: int | None = None  # default 50
    sample_every: int | None = None
    tensorboard: bool = False
    precision: str | None = None
    channels_last: bool = False
    eager: bool = False
    compile: bool = False
    sync_bn: bool = False
    dry_run: bool = False
    quiet: bool = False
    sets: dict[str, Any] = field(default_factory=dict)  # recipe changes (--set key=value), impl/overrides.py
    origin: str = "command line"  # who changed the recipe, for config.json: "command line", "study collapse", ...
    extra: dict[str, Any] = field(default_factory=dict)  # more keys for config.json (a study's arm, a claim)
    epoch_hook: EpochHook | None = None  # called at every epoch end with (trainer, run folder): per-epoch metrics


@dataclass
class RunResult:
    run_dir: Path | None  # None after a dry run: its folder is deleted
    experiment: str
    steps: int
    data: str  # what it trained on, in words
    device: str
    last: dict[str, Any] = field(default_factory=dict)  # the last metrics row (the first process only)


def resolve_device(requested: str) -> str:
    if requested not in ("auto", "cpu", "cuda"):
        raise UsageError(f"--device {requested}: expected auto, cpu or cuda")
    if requested == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda: no CUDA GPU is visible to PyTorch; use --device cpu or --device auto")
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return requested


def experiment_named(name: str | None) -> ExperimentSpec:
    if not name:
        raise spec.SpecError("name an experiment (python -m impl.train --list shows them) or pass --resume RUN_DIR")
    exp = spec.load(name)
    if not isinstance(exp, ExperimentSpec):
        raise spec.SpecError(f"{name!r} is a network, not an experiment; "
                             "`python -m impl.train --list` shows experiments")
    return exp


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


def overrides_of(req: RunRequest, keys: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """The request's changes to the recipe, each with where it came from, for config.json."""
    def origin(flag: str) -> str:
        return flag if req.origin == "command line" else f"{req.origin} ({flag})"

    out = {k: {"value": str(v) if isinstance(v, Path) else v, "origin": origin(f"--{k.replace('_', '-')}")}
           for k in keys if (v := getattr(req, k)) is not None}
    return out | {k: {"value": v, "origin": origin("--set")} for k, v in req.sets.items()}


def saved_sets(config: dict[str, Any]) -> dict[str, Any]:
    """The recipe changes (--set) a run was started with: a resume applies them again."""
    saved = config.get("overrides") if isinstance(config.get("overrides"), dict) else {}
    return {k: v["value"] for k, v in saved.items() if isinstance(v, dict) and "--set" in str(v.get("origin"))}


def new_settings(req: RunRequest, exp: ExperimentSpec, device: str) -> Settings:
    speed = speed_defaults(device, req.eager, req.precision, req.channels_last)
    settings = Settings(experiment=exp.name, batch_size=req.batch_size or exp.batch_size.value,
                        epochs=req.epochs or exp.epochs.value, max_steps=req.steps,
                        seed=req.seed if req.seed is not None else 0, device=device,
                        log_every=req.log_every or 50, compile=req.compile, sample_every=req.sample_every,
                        tensorboard=req.tensorboard, **speed)
    if req.dry_run:  # a few tiny steps
        settings.batch_size = min(settings.batch_size, 8)
        settings.max_steps = 2 * (exp.n_critic.value if exp.n_critic else 1)
        settings.log_every = 1
    return settings


def resumed_settings(req: RunRequest, config: dict[str, Any], device: str) -> Settings:
    """The run's own settings, with what a resume may change: its length, the device, compiling."""
    settings = Settings.from_config(config["settings"], req.resume / "config.json")
    settings.device = device
    settings.epochs = req.epochs or settings.epochs
    settings.max_steps = req.steps or settings.max_steps
    settings.compile = req.compile or settings.compile
    settings.sample_every = req.sample_every or settings.sample_every
    settings.tensorboard = req.tensorboard or settings.tensorboard
    ignored = [f"--{k.replace('_', '-')}" for k in IGNORED_ON_RESUME if getattr(req, k) not in (None, False)]
    if ignored:
        say(f"note: --resume keeps the run's own settings; ignored {', '.join(ignored)}")
    return settings


def resolve(req: RunRequest, device: str) -> tuple[ExperimentSpec, Settings, str | None]:
    """The experiment, its settings and the data to use: from the request, or from the run to resume."""
    if req.resume is None:
        exp = overrides.apply(experiment_named(req.experiment), req.sets, "--set")
        return exp, new_settings(req, exp, device), req.data
    config = rundir.read_config(req.resume)
    if req.experiment and req.experiment != config["experiment"]:
        raise RunError(f"{req.resume} is a run of {config['experiment']}, not {req.experiment}; "
                       "drop the experiment name or start a new run")
    sets = saved_sets(config)
    if req.sets and req.sets != sets:
        raise RunError(f"{req.resume}: was started with --set {sets or 'nothing'}, not {req.sets}; a run keeps its "
                       "recipe: drop --set to resume it, or start a new run")
    saved = config.get("overrides") if isinstance(config.get("overrides"), dict) else {}
    data = req.data or _value(saved.get("data"))  # a moved data folder can be named again
    exp = overrides.apply(experiment_named(config["experiment"]), sets, "--set")
    return exp, resumed_settings(req, config, device), data


def _value(override: Any) -> Any:
    """An override as config.json stores it: {"value": v, "origin": ...}, or a bare value (older runs)."""
    return override.get("value") if isinstance(override, dict) else override


def resume_into(trainer: Trainer, run_dir: Path) -> None:
    state, note = load_checkpoint(run_dir, str(trainer.device))
    check_networks(state, run_dir, trainer.exp.name, {"G": trainer.G, "D": trainer.D})
    trainer.load_state_dict(state)
    if trainer.rank == 0:
        say(f"resuming {trainer.exp.name} at step {trainer.step} of {trainer.total_steps}"
            + (f" ({note})" if note else ""))


def dry_copy(run: Path) -> Path:
    """A throw-away copy of a run to resume for a dry run: the run itself stays untouched."""
    tmp = Path(tempfile.mkdtemp(prefix="gan-spec-dry-resume-"))
    for name in ("config.json", "metrics.jsonl"):
        if (run / name).is_file():
            shutil.copy2(run / name, tmp / name)
    shutil.copytree(run / "checkpoints", tmp / "checkpoints", ignore=shutil.ignore_patterns("*.tmp"))
    (tmp / "samples").mkdir()
    return tmp


def open_folder(req: RunRequest, trainer: Trainer, data: str, stack: ExitStack) -> Path | None:
    """The folder this process writes to (None on processes other than the first), locked while it trains."""
    if trainer.rank != 0:
        if req.resume is not None:
            resume_into(trainer, req.resume)
        return None
    if req.resume is not None:
        run = req.resume
        stack.enter_context(rundir.locked(run))
        resume_into(trainer, run)
        rundir.record_resume(run, trainer.settings, trainer, overrides_of(req, ("epochs", "steps", "data")))
        return run
    run = Path(tempfile.mkdtemp(prefix=f"gan-spec-dry-{trainer.exp.name}-")) if req.dry_run \
        else rundir.new_run_dir(trainer.exp.name, req.out)
    stack.enter_context(rundir.locked(run))
    config = rundir.config_of(experiment_named(trainer.exp.name), trainer.settings, trainer, data,
                              overrides_of(req, ("epochs", "steps", "batch_size", "data", "seed")))
    rundir.write_json(run / "config.json", config | {"processes": trainer.world_size} | req.extra)
    return run


def run_experiment(req: RunRequest) -> RunResult:
    """Train one experiment (or continue one run) to its end. Raises Interrupted after saving when a signal stops
    it, RunFailed when training cannot go on, and the bad-input errors before anything is written."""
    rank, world, device = setup_distributed(resolve_device(req.device))
    if req.dry_run and req.resume is not None:
        req.resume = dry_copy(req.resume)
    exp, settings, data_arg = resolve(req, device)
    if settings.tensorboard:
        check_available()
    reg = spec.registry()
    run_dir: Path | None = None
    with ExitStack() as stack, training_switches(autotune=settings.fast and device.startswith("cuda")):
        data = for_experiment(exp.dataset.value, data_arg, reg.networks[exp.discriminator.value].input,
                              reg.datasets[exp.dataset.value].how, progress=not req.quiet and rank == 0, device=device)
        if data.skipped and rank == 0:
            left = sum(data.skipped.values())
            say(f"note: left out {left} file{'' if left == 1 else 's'} of {data_arg}: "
                + ", ".join(f"{n} {why}" for why, n in data.skipped.items()))
        trainer = Trainer(exp, data.images, settings, rank=rank, world_size=world, sync_bn=req.sync_bn)
        if rank == 0 and device.startswith("cuda") and not req.quiet:
            say(describe(trainer) + ("; --eager for the plain PyTorch loop" if settings.fast else ""))
        try:
            run_dir = open_folder(req, trainer, data.description, stack)
            stopped = train_loop(trainer, run_dir, req.quiet or req.dry_run, req.epoch_hook)
            last = (rundir.read_metrics(run_dir) or [{}])[-1] if run_dir is not None else {}
            if world > 1:
                # finished or interrupted, every process decided it at the same step; wait until all are past their
                # last collective and the first has written its files before any tears the process group down: a
                # gloo peer that disconnects mid-exchange can abort the other one
                torch.distributed.barrier()
        finally:
            if req.dry_run and run_dir is not None:
                stack.close()  # the lock first
                shutil.rmtree(run_dir, ignore_errors=True)
    if stopped:
        raise Interrupted(f"\ninterrupted ({signal.Signals(stopped).name}) at step {trainer.step}; checkpoint saved; "
                          f"continue with: python -m impl.train --resume {run_dir}", stopped)
    return RunResult(None if req.dry_run else run_dir, exp.name, trainer.step, data.description, device, last)
