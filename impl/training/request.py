"""What to train, resolved: a `RunRequest` (an experiment with the command line's changes, or a run folder to
resume) becomes the experiment with its recipe changes applied, the run's Settings and the data to use.

Nothing here writes: every refusal (an unknown experiment, a --set the recipe never reads, a resume with another
recipe) happens before any folder exists.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import spec
from impl.core import cli
from impl.core.errors import RunError, say
from impl.runs.folder import RunFolder
from impl.runs.source import DataSource
from impl.training import overrides
from impl.training.fastpath import speed_defaults
from impl.training.settings import Settings
from spec.experiment import ExperimentSpec

if TYPE_CHECKING:
    from impl.training.loop import EpochHook

IGNORED_ON_RESUME = ("batch_size", "seed", "log_every", "precision", "channels_last", "eager", "out", "sync_bn")


@dataclass(frozen=True)
class RunRequest:
    """What to train: an experiment with the command line's changes, or a run folder to resume."""

    experiment: str | None = None
    resume: Path | None = None
    out: Path | None = None
    data: str | None = None
    epochs: int | None = None
    steps: int | None = None  # the run's length in steps: trains exactly this many (with --epochs: the smaller)
    batch_size: int | None = None
    seed: int | None = None  # default 0
    device: str = "auto"
    log_every: int | None = None  # default 50
    sample_every: int | None = None
    keep_every: int | None = None  # keep a checkpoint every this many epochs (checkpoints/epoch_NNN.pt)
    data_limit: int | None = None  # train on the first this many images only (a smoke run)
    tensorboard: bool = False
    precision: str | None = None
    channels_last: bool = False
    eager: bool = False
    compile: bool = False
    sync_bn: bool = False
    dry_run: bool = False
    quiet: bool = False
    sets: dict[str, Any] = field(default_factory=dict)  # recipe changes (--set key=value), impl/training/overrides
    origin: str = "command line"  # who changed the recipe, for config.json: "command line", "study collapse", ...
    extra: dict[str, Any] = field(default_factory=dict)  # more keys for config.json (a study's arm, a claim)
    epoch_hook: EpochHook | None = None  # called at every epoch end with (trainer, run folder): per-epoch metrics

    def replace(self, **changes: Any) -> RunRequest:
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class RunRecipe:
    """Everything that changes a run's numbers, as one value: the experiment and its recipe changes, the data
    (kind, folder, how many images), seed, batch size, length and arithmetic. config.json keeps it whole under
    "run_recipe"; a resume trains on exactly this again, whoever resumes it (impl.train, a study, a scorecard)."""

    experiment: str
    sets: dict[str, Any]
    data: DataSource
    seed: int
    batch_size: int
    epochs: int | None
    max_steps: int | None
    precision: str
    channels_last: bool
    fast: bool

    KEY = "run_recipe"

    @classmethod
    def of(cls, exp: ExperimentSpec, sets: dict[str, Any], data: DataSource, settings: Settings) -> RunRecipe:
        return cls(exp.name, dict(sets), data, settings.seed, settings.batch_size, settings.epochs,
                   settings.max_steps, settings.precision, settings.channels_last, settings.fast)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self) | {"data": self.data.to_json()}

    @classmethod
    def from_config(cls, config: dict[str, Any], where: Path) -> RunRecipe | None:
        """The recipe a run saved (None for a run made before recipes were saved whole), checked."""
        saved = config.get(cls.KEY)
        if saved is None:
            return None
        names = [f.name for f in dataclasses.fields(cls)]
        if not isinstance(saved, dict) or sorted(saved) != sorted(names):
            raise RunError(f"{where}: {cls.KEY} is not a table of {', '.join(names)}; the run folder is damaged")
        if not isinstance(saved["experiment"], str) or not isinstance(saved["sets"], dict):
            raise RunError(f"{where}: {cls.KEY}.experiment or .sets has the wrong type; the run folder is damaged")
        return cls(**(saved | {"data": DataSource.from_json(saved["data"], where)}))


@dataclass
class RunResult:
    run_dir: Path | None  # None after a dry run (its folder is deleted) and on processes other than the first
    experiment: str
    steps: int
    data: str  # what it trained on, in words
    device: str
    last: dict[str, Any] = field(default_factory=dict)  # the last metrics row (the first process only)
    dry_run: bool = False
    rank: int = 0


def experiment_named(name: str | None) -> ExperimentSpec:
    train = cli.spelling("python -m impl.train")
    if not name:
        raise spec.SpecError(f"name an experiment ({train} --list shows them) or pass --resume RUN_DIR")
    exp = spec.load(name)
    if not isinstance(exp, ExperimentSpec):
        raise spec.SpecError(f"{name!r} is a network, not an experiment; "
                             f"`{train} --list` shows experiments")
    return exp


def overrides_of(req: RunRequest, keys: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """The request's changes to the recipe, each with where it came from, for config.json."""
    def origin(flag: str) -> str:
        return flag if req.origin == "command line" else f"{req.origin} ({flag})"

    out = {k: {"value": str(v) if isinstance(v, Path) else v, "origin": origin(f"--{k.replace('_', '-')}")}
           for k in keys if (v := getattr(req, k)) is not None}
    return out | {k: {"value": v, "origin": origin("--set")} for k, v in req.sets.items()}


def saved_sets(config: dict[str, Any]) -> dict[str, Any]:
    """The recipe changes (--set) a run was started with: a resume applies them again."""
    stored_overrides = config.get("overrides")
    saved: dict[str, Any] = stored_overrides if isinstance(stored_overrides, dict) else {}
    return {k: v["value"] for k, v in saved.items() if isinstance(v, dict) and "--set" in str(v.get("origin"))}


def new_settings(req: RunRequest, exp: ExperimentSpec, device: str) -> Settings:
    speed = speed_defaults(device, req.eager, req.precision, req.channels_last)
    # an explicit --steps is the run's length (the recipe's epochs no longer cap it); --epochs with it: the smaller
    epochs = req.epochs or (None if req.steps else exp.epochs.value)
    settings = Settings(experiment=exp.name, batch_size=req.batch_size or exp.batch_size.value, epochs=epochs,
                        max_steps=req.steps, seed=req.seed if req.seed is not None else 0, device=device,
                        log_every=req.log_every or 50, compile=req.compile, sample_every=req.sample_every,
                        keep_every=req.keep_every, tensorboard=req.tensorboard, **speed)
    if req.dry_run:  # a few tiny steps
        settings = dataclasses.replace(settings, batch_size=min(settings.batch_size, 8), log_every=1,
                                       max_steps=2 * (exp.n_critic.value if exp.n_critic else 1))
    return settings


def resumed_settings(req: RunRequest, run: RunFolder, config: dict[str, Any], device: str) -> Settings:
    """The run's own settings, with what a resume may change: its length, the device, compiling."""
    settings = Settings.from_config(config["settings"], run.file(RunFolder.CONFIG))
    length: dict[str, Any] = {"epochs": req.epochs or (None if req.steps else settings.epochs),
              "max_steps": req.steps or settings.max_steps} if req.epochs or req.steps else {}
    settings = dataclasses.replace(settings, device=device, compile=req.compile or settings.compile,
                                   sample_every=req.sample_every or settings.sample_every,
                                   keep_every=req.keep_every or settings.keep_every,
                                   tensorboard=req.tensorboard or settings.tensorboard, **length)
    ignored = [f"--{k.replace('_', '-')}" for k in IGNORED_ON_RESUME if getattr(req, k) not in (None, False)]
    if ignored:
        say(f"note: --resume keeps the run's own settings; ignored {', '.join(ignored)}")
    return settings


@dataclass(frozen=True)
class Resolved:
    """A request resolved: the experiment with its recipe changes, the settings, the data to load (--data's
    words, how many images) and, for a resume, the recipe the run saved (the data loaded must match it)."""

    exp: ExperimentSpec
    settings: Settings
    sets: dict[str, Any]
    data: str | None
    limit: int | None
    saved: RunRecipe | None = None


def resolve(req: RunRequest, device: str) -> Resolved:
    """The experiment, its settings and the data to use: from the request, or from the run to resume."""
    if req.resume is None:
        exp = overrides.apply(experiment_named(req.experiment), req.sets, "--set")
        return Resolved(exp, new_settings(req, exp, device), req.sets, req.data, req.data_limit)
    run = RunFolder(req.resume)
    config = run.config()
    if req.experiment and req.experiment != config["experiment"]:
        raise RunError(f"{req.resume} is a run of {config['experiment']}, not {req.experiment}; "
                       "drop the experiment name or start a new run")
    recipe = RunRecipe.from_config(config, run.file(RunFolder.CONFIG))
    if recipe is not None and recipe.experiment != config["experiment"]:
        raise RunError(f"{req.resume}: config.json names {config['experiment']} but its {RunRecipe.KEY} "
                       f"{recipe.experiment}; the run folder is damaged")
    sets = recipe.sets if recipe is not None else saved_sets(config)
    if req.sets and req.sets != sets:
        raise RunError(f"{req.resume}: was started with --set {sets or 'nothing'}, not {req.sets}; a run keeps its "
                       "recipe: drop --set to resume it, or start a new run")
    data: str | None
    if recipe is not None:  # a moved folder can be named again with --data; what is read from it cannot change
        data, limit = req.data or recipe.data.argument(), recipe.data.limit
    else:
        stored_overrides = config.get("overrides")
        saved: dict[str, Any] = stored_overrides if isinstance(stored_overrides, dict) else {}
        stored = saved.get("data")
        data, limit = req.data or (stored.get("value") if isinstance(stored, dict) else None), None
    exp = overrides.apply(experiment_named(config["experiment"]), sets, "--set")
    return Resolved(exp, resumed_settings(req, run, config, device), sets, data, limit, recipe)
