"""What a run's config.json says about it: the recipe as documented and as run, the overrides and who made them,
the settings, the command line, the versions and the state of the source tree. A resume records itself here."""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    import spec
    from impl.runs.folder import RunFolder
    from impl.training.settings import Settings
    from impl.training.trainer import Trainer
    from spec.experiment import ExperimentSpec

NOTES = ["a step is one batch and one discriminator update; the generator is updated every n_critic steps",
         "the last partial batch of each epoch is dropped (fixed batch shapes)"]


def _git(*args: str) -> str | None:
    """git in gan-spec's own checkout; None for an installed copy (site-packages may sit inside some other
    repository, whose commit is not gan-spec's)."""
    root = Path(__file__).resolve().parents[2]
    if not (root / "pyproject.toml").is_file():
        return None
    try:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def source_state() -> tuple[str, bool | None]:
    """(the gan-spec commit or 'unknown', whether tracked files have changes not committed; None when unknown)."""
    status = _git("status", "--porcelain", "--untracked-files=no")
    return _git("rev-parse", "HEAD") or "unknown", None if status is None else bool(status)


def versions() -> dict[str, Any]:
    """Library versions, the gan-spec commit and whether the source tree had changes not committed ('dirty')."""
    import numpy
    import torchvision

    from impl import __version__

    commit, dirty = source_state()
    return {"gan_spec": __version__, "python": sys.version.split()[0], "torch": torch.__version__,
            "torchvision": torchvision.__version__, "numpy": numpy.__version__, "cuda": str(torch.version.cuda),
            "git_commit": commit, "git_dirty": dirty}


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
            "generator_steps": trainer.total_steps // trainer.n_critic, "notes": NOTES,
            "command": command_line(), "versions": versions(), "started": time.strftime("%Y-%m-%d %H:%M:%S")}


def command_line() -> str:
    """The command as it was typed, as near as the process knows it."""
    prog = sys.argv[0]
    if prog.endswith(".py") and "impl" in Path(prog).parts:  # python -m impl.train: argv[0] is the module's file
        prog = "python -m impl." + Path(prog).stem
    return " ".join([prog, *sys.argv[1:]])


def record_resume(run: RunFolder, settings: Settings, trainer: Trainer, changed: dict[str, dict[str, Any]]) -> None:
    """config.json describes the run as it now goes on: a resume may extend it (--epochs, --steps), and the
    step count it will reach is what tables and studies read."""
    config = run.config()
    old = config.get("overrides") if isinstance(config.get("overrides"), dict) else {}
    resumed = config.get("resumed") if isinstance(config.get("resumed"), list) else []
    entry = {"at_step": trainer.step, **{k: v["value"] for k, v in changed.items()}, "command": command_line(),
             "time": time.strftime("%Y-%m-%d %H:%M:%S")}
    config |= {"settings": asdict(settings), "total_steps": trainer.total_steps,
               "generator_steps": trainer.total_steps // trainer.n_critic, "overrides": old | changed,
               "resumed": [*resumed, entry]}
    run.write_config(config)
