"""What a run's config.json says about it: the recipe as documented and as run, the overrides and who made them,
the settings, the command line, the versions and the state of the source tree. A resume records itself here."""

from __future__ import annotations

import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from impl.core.cli import source_state

if TYPE_CHECKING:
    import spec
    from impl.runs.folder import RunFolder
    from impl.training.settings import Settings
    from impl.training.trainer import Trainer
    from spec.experiment import ExperimentSpec

NOTES = ["a step is one batch and one discriminator update; the generator is updated every n_critic steps",
         "the last partial batch of each epoch is dropped (fixed batch shapes)"]


def versions() -> dict[str, Any]:
    """Library versions, the gan-spec commit and whether the source tree had changes not committed ('dirty')."""
    import numpy
    import torchvision

    from impl import __version__

    commit, dirty = source_state()
    return {"gan_spec": __version__, "python": sys.version.split()[0], "torch": torch.__version__,
            "torchvision": torchvision.__version__, "numpy": numpy.__version__, "cuda": str(torch.version.cuda),
            "git_commit": commit, "git_dirty": dirty}


def fact_json(fact: spec.Fact) -> dict[str, Any]:
    out = {"value": fact.value, "status": fact.status, "source": fact.source}
    return out | {"note": fact.note} if fact.note else out


def config_of(exp: ExperimentSpec, settings: Settings, trainer: Trainer, data: str,
              overrides: dict[str, dict[str, Any]]) -> dict[str, Any]:
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
    stored_overrides, stored_resumes = config.get("overrides"), config.get("resumed")
    old: dict[str, Any] = stored_overrides if isinstance(stored_overrides, dict) else {}
    resumed: list[Any] = stored_resumes if isinstance(stored_resumes, list) else []
    entry = {"at_step": trainer.step, **{k: v["value"] for k, v in changed.items()}, "command": command_line(),
             "time": time.strftime("%Y-%m-%d %H:%M:%S")}
    config |= {"settings": asdict(settings), "total_steps": trainer.total_steps,
               "generator_steps": trainer.total_steps // trainer.n_critic, "overrides": old | changed,
               "resumed": [*resumed, entry]}
    run.write_config(config)
