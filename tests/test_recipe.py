"""A run's recipe travels whole: everything that changes its numbers is one value saved in config.json and rebuilt
from it on resume, whoever resumes the run. A scorecard's smoke run cut short and resumed by the arms engine equals
the run trained without a stop, bit for bit, on the same few images."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
import torch

from impl import reproduce
from impl.arms.engine import train_or_resume
from impl.core.errors import Interrupted, RunError
from impl.runs.folder import RunFolder
from impl.runs.source import DataKind, DataSource
from impl.training.request import RunRecipe
from impl.training.trainer import Trainer
from impl.verdicts.plan import QUICK_IMAGES, QUICK_STEPS, chosen_claims, plan, settings_of
from tests.helpers import fake_fashion_split

TIMING = ("images_per_s", "seconds", "time")


def rows(run: Path) -> list[dict]:
    return [{k: v for k, v in row.items() if k not in TIMING} for row in RunFolder(run).log()]


def weights(run: Path) -> dict[str, torch.Tensor]:
    state = torch.load(run / "checkpoints" / "last.pt", map_location="cpu", weights_only=False)
    return {f"{net}.{k}": v for net in ("G", "D") for k, v in state[net].items()}


@pytest.mark.slow
def test_a_resumed_smoke_scorecard_run_equals_one_never_stopped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                                ) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    fashion = fake_fashion_split(tmp_path / "fm")  # 256 images: a resume that forgot the limit trains on all of them
    args = reproduce.parser().parse_args(["004", "--quick", "--seeds", "1", "--fashion", str(fashion), "--quiet"])
    claims = chosen_claims(args.reports)
    score = settings_of(args)
    whole, cut = (plan(claims, score, tmp_path / name)[0][1] for name in ("whole", "cut"))
    assert whole.request.data_limit == QUICK_IMAGES < 256 and whole.request.steps == QUICK_STEPS
    train_or_resume(whole, "resume")
    real = Trainer.train_step

    def stopped(self: Trainer) -> dict:
        stats = real(self)
        if self.step == 3:  # mid-epoch (five steps of four images make an epoch of 20)
            signal.raise_signal(signal.SIGINT)
        return stats

    with monkeypatch.context() as m:
        m.setattr(Trainer, "train_step", stopped)
        with pytest.raises(Interrupted):
            train_or_resume(cut, "resume")
    assert RunFolder(cut.folder).has_checkpoint() and not RunFolder(cut.folder).finished()
    train_or_resume(cut, "resume")  # the engine's resume: a bare request naming the folder
    saved = RunRecipe.from_config(RunFolder(cut.folder).config(), cut.folder / "config.json")
    assert saved is not None and saved.data.limit == QUICK_IMAGES and saved.data.kind is DataKind.FASHION_MNIST
    assert rows(cut.folder) == rows(whole.folder) and len(rows(whole.folder)) == QUICK_STEPS
    a, b = weights(whole.folder), weights(cut.folder)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_a_saved_recipe_is_read_back_whole_and_a_damaged_one_is_refused(tmp_path: Path) -> None:
    source = DataSource(DataKind.FASHION_MNIST, "/data/fm", 20, (1, 28, 28), (3, 64, 64))
    recipe = RunRecipe("r000-dcgan", {"optimizer.lr": 2e-4}, source, 3, 4, None, 10, "fp32", False, True)
    config = json.loads(json.dumps({"run_recipe": recipe.to_json()}))
    assert RunRecipe.from_config(config, tmp_path) == recipe and source.adapted and source.on_fashion
    assert RunRecipe.from_config({}, tmp_path) is None  # a run made before recipes were saved whole
    for key, bad in (("kind", "mnist"), ("limit", 0), ("limit", True), ("shape", [3, 64]), ("folder", 7)):
        broken = json.loads(json.dumps(config))
        broken["run_recipe"]["data"][key] = bad
        with pytest.raises(RunError, match=f"run_recipe.data .*{key}"):
            RunRecipe.from_config(broken, tmp_path)
    del config["run_recipe"]["seed"]
    with pytest.raises(RunError, match="run_recipe is not a table"):
        RunRecipe.from_config(config, tmp_path)
