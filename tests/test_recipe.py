"""A run's recipe travels whole: everything that changes its numbers is one value saved in config.json and rebuilt
from it on resume, whoever resumes the run. A scorecard's smoke run cut short and resumed by the arms engine equals
the run trained without a stop, bit for bit, on the same few images."""

from __future__ import annotations

import json
import signal
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from impl import reproduce
from impl.arms.engine import Planned, train_or_resume
from impl.core.errors import Interrupted, RunError
from impl.runs.folder import RunFolder
from impl.runs.source import DataKind, DataSource
from impl.training.request import RunRecipe, RunRequest
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


def _stopped_beside_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, at: int, stop: Callable[[], None],
                          raised: type[BaseException]) -> tuple[Planned, Planned]:
    """Two runs of one recipe (32 synthetic steps, a row every 5 steps, 16 steps an epoch): one never stopped, one
    stopped by `stop()` right after step `at`, which raises `raised` out of the engine."""
    def planned(name: str) -> Planned:
        return Planned(name, RunRequest(experiment="r004-mlp", data="synthetic", steps=32, seed=3, log_every=5,
                                        out=tmp_path / name, quiet=True, device="cpu", origin="test"))

    whole, cut = planned("whole"), planned("cut")
    train_or_resume(whole, "resume")
    real = Trainer.train_step

    def stopped(self: Trainer) -> dict:
        stats = real(self)
        if self.step == at:
            stop()
        return stats

    with monkeypatch.context() as m:
        m.setattr(Trainer, "train_step", stopped)
        with pytest.raises(raised):
            train_or_resume(cut, "resume")
    return whole, cut


@pytest.mark.parametrize("stop_at", [7, 16, 23])  # inside an interval of 5, at an epoch end, just past one
def test_a_stop_between_logging_steps_resumes_to_the_rows_of_a_run_never_stopped(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stop_at: int) -> None:
    """A stop between two logging steps (5 apart here; 16 steps make an epoch) writes no row of its own: the
    checkpoint keeps the interval's sums, and the resumed run logs the rows, every value and step, of a run never
    stopped. (The rows were once split at the stop: a row at step 7 and the rest of the interval at step 10.)"""
    whole, cut = _stopped_beside_whole(tmp_path, monkeypatch, stop_at, lambda: signal.raise_signal(signal.SIGTERM),
                                       Interrupted)
    assert [row["step"] for row in rows(cut.folder)][-1] <= stop_at
    train_or_resume(cut, "resume")
    assert [row["step"] for row in rows(whole.folder)] == [5, 10, 15, 16, 21, 26, 31, 32]
    assert rows(cut.folder) == rows(whole.folder)
    a, b = weights(whole.folder), weights(cut.folder)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _exit_without_saving() -> None:
    raise SystemExit(-1)


def test_a_run_killed_without_saving_resumes_to_the_rows_of_a_run_never_stopped(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run that ends without saving (SIGKILL, a lost node, submitit's exit at a time limit: here SystemExit at
    step 23) resumes from its epoch-end checkpoint (step 16); the rows it logged after that checkpoint are dropped
    and logged again, so metrics.jsonl is the uninterrupted run's, not one with steps 21 logged twice."""
    whole, cut = _stopped_beside_whole(tmp_path, monkeypatch, 23, _exit_without_saving, SystemExit)
    assert [row["step"] for row in rows(cut.folder)] == [5, 10, 15, 16, 21]
    train_or_resume(cut, "resume")
    assert rows(cut.folder) == rows(whole.folder)


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
