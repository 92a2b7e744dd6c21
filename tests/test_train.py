"""Training on the CPU with tiny synthetic data: every experiment starts, every loss family behaves as specified."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch

import spec
from impl import train
from impl.data.load import synthetic
from impl.runs.folder import RunFolder
from impl.training.settings import Settings
from impl.training.trainer import Trainer
from spec.fields import Fact

EXPERIMENTS = spec.names("experiment")


def tiny_trainer(name: str, loss: str | None = None, steps: int = 10, **changes) -> Trainer:
    exp = spec.load(name)
    if loss:
        changes["loss"] = Fact(loss, "addition", "test", "test")
        changes.setdefault("n_critic", Fact(5 if loss.startswith("wgan") else 1, "addition", "test", "test"))
        if loss == "wgan-gp":
            changes["gp_weight"] = Fact(10.0, "addition", "test", "test")
    exp = dataclasses.replace(exp, **changes)
    shape = spec.registry().networks[exp.discriminator.value].input
    data = synthetic(64, shape).images
    return Trainer(exp, data, Settings(exp.name, batch_size=8, epochs=1, max_steps=steps, seed=0, device="cpu"))


@pytest.mark.slow
@pytest.mark.parametrize("name", EXPERIMENTS)
def test_every_experiment_dry_runs(name: str, capsys: pytest.CaptureFixture) -> None:
    assert train.main([name, "--data", "synthetic", "--dry-run", "--quiet"]) == 0
    assert f"dry run ok: {name}" in capsys.readouterr().out


@pytest.mark.parametrize("loss", ["bce", "wgan", "wgan-gp", "lsgan", "hinge"])
def test_loss_families_step_and_stay_finite(loss: str) -> None:
    base = "r004-conv" if loss == "bce" else "r003-wgan" if loss == "wgan" else "r004-mlp"
    t = tiny_trainer(base, None if loss in ("bce", "wgan") else loss)
    before = [p.detach().clone() for p in t.G.parameters()]
    for _ in range(t.n_critic * 2):
        stats = t.train_step()
        assert all(torch.isfinite(v) for v in stats.values())
    assert any(not torch.equal(a, b) for a, b in zip(before, t.G.parameters())), "generator never updated"


def test_critic_is_clipped_after_every_step() -> None:
    t = tiny_trainer("r003-collapse")
    assert t.clip == 0.1
    for _ in range(6):
        t.train_step()
        assert max(p.abs().max() for p in t.D.parameters()) <= torch.tensor(0.1)  # the float32 bound


@pytest.mark.slow
@pytest.mark.parametrize("name", ["r001-wgan", "r003-wgan"])
def test_generator_steps_are_critic_steps_over_n_critic(name: str) -> None:
    t = tiny_trainer(name, steps=20)
    for _ in range(20):
        t.train_step()
    g_steps = {int(s["step"]) for s in t.opt_g.state.values()}
    d_steps = {int(s["step"]) for s in t.opt_d.state.values()}
    assert d_steps == {20} and g_steps == {20 // t.n_critic} and t.n_critic == 5


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_optimizers_are_the_documented_ones(name: str) -> None:
    exp = spec.load(name)
    t = tiny_trainer(name)
    for opt in (t.opt_g, t.opt_d):
        assert type(opt).__name__ == exp.optimizer["name"].value
        group = opt.param_groups[0]
        for key, value in exp.optimizer_kwargs().items():
            assert group[key] == value, f"{key}: {group[key]} != spec {value}"


def run_main(tmp_path: Path, *args: str) -> int:
    return train.main([*args, "--data", "synthetic", "--quiet", "--batch-size", "32", "--log-every", "7"])


def test_run_directory_is_complete(tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert run_main(tmp_path, "r004-mlp", "--steps", "40", "--out", str(out)) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["experiment"] == "r004-mlp" and config["recipe"]["epochs"]["source"]
    assert config["steps_per_epoch"] == 32 and config["versions"]["torch"] == torch.__version__
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["step"] == 40 and {"d_loss", "g_loss", "d_real", "d_fake", "images_per_s"} <= set(rows[0])
    assert (out / "samples/epoch_001.png").is_file() and (out / "samples/step_000040.png").is_file()
    assert (out / "loss.png").stat().st_size > 1000
    state = torch.load(out / "checkpoints/last.pt", weights_only=True)
    assert state["step"] == 40 and (out / "checkpoints/prev.pt").is_file()


@pytest.mark.slow
@pytest.mark.parametrize("name,total,cut", [("r004-mlp", 45, 20), ("r003-wgan", 12, 7)])
def test_resume_continues_exactly(tmp_path: Path, name: str, total: int, cut: int) -> None:
    """Interrupted (across an epoch end for the MLP, between generator updates for the WGAN) and resumed
    gives bit-identical weights to an uninterrupted run."""
    whole, split = tmp_path / "whole", tmp_path / "split"
    assert run_main(tmp_path, name, "--steps", str(total), "--out", str(whole)) == 0
    assert run_main(tmp_path, name, "--steps", str(cut), "--out", str(split)) == 0
    assert train.main(["--resume", str(split), "--steps", str(total), "--quiet"]) == 0
    a = torch.load(whole / "checkpoints/last.pt", weights_only=True)
    b = torch.load(split / "checkpoints/last.pt", weights_only=True)
    assert a["step"] == b["step"] == total
    for net in ("G", "D"):
        for key in a[net]:
            assert torch.equal(a[net][key], b[net][key]), f"{net}.{key} differs after resume"


def test_steps_train_exactly_that_many_past_the_recipes_epochs(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture) -> None:
    """r004-mlp's 3 epochs of 8 steps (1,024 synthetic images at batch 128) are 24 steps: --steps 30 trains 30,
    and the first line names the run folder."""
    out = tmp_path / "run"
    assert train.main(["r004-mlp", "--steps", "30", "--out", str(out), "--data", "synthetic", "--batch-size", "128",
                       "--log-every", "10"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err[0] == f"training r004-mlp in {out}/" and err[1].startswith("30 steps (3.75 epochs of 8, batch 128)")
    assert torch.load(out / "checkpoints/last.pt", weights_only=True)["step"] == 30


def test_epochs_that_end_a_run_before_its_steps_say_so(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert train.main(["r004-mlp", "--steps", "100", "--epochs", "1", "--data", "synthetic", "--batch-size", "32",
                       "--dry-run"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "dry run of r004-mlp (nothing kept)"
    out = tmp_path / "run"
    assert train.main(["r004-mlp", "--steps", "100", "--epochs", "1", "--out", str(out), "--data", "synthetic",
                       "--batch-size", "32"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err[1].startswith("32 steps (1 epochs of 32, batch 32): --epochs 1 ends it before --steps 100"), err


@pytest.mark.parametrize("dry_run", [True, False])
def test_only_the_first_process_prints(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture,
                                       dry_run: bool) -> None:
    """Under torchrun the second process's result (no folder, no metrics) prints nothing: a 'dry run ok ... nan'
    line once came from it on a real run."""
    from impl.training.request import RunResult

    second = RunResult(None, "r004-mlp", 3, "synthetic", "cpu", {}, dry_run=dry_run, rank=1)
    monkeypatch.setattr(train, "run_experiment", lambda req: second)
    assert train.main(["r004-mlp", "--data", "synthetic"] + (["--dry-run"] if dry_run else [])) == 0
    assert capsys.readouterr().out == ""


def test_existing_output_directory_is_never_overwritten(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "run"
    assert run_main(tmp_path, "r004-mlp", "--steps", "3", "--out", str(out)) == 0
    before = (out / "checkpoints/last.pt").read_bytes()
    assert run_main(tmp_path, "r004-mlp", "--steps", "3", "--out", str(out)) == 2
    assert "already holds files; continue it with --resume" in capsys.readouterr().err
    assert (out / "checkpoints/last.pt").read_bytes() == before


def test_missing_data_set_names_it_and_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GAN_SPEC_FACES", raising=False)
    assert train.main(["r000-dcgan", "--dry-run", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "data set anime-faces not found (looked in faces, data/faces)" in err and "--data" in err


def test_cuda_requested_without_gpu(capsys: pytest.CaptureFixture) -> None:
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    assert train.main(["r004-mlp", "--device", "cuda", "--dry-run", "--data", "synthetic"]) == 2
    assert "no CUDA GPU" in capsys.readouterr().err


def test_batch_larger_than_data_is_refused(capsys: pytest.CaptureFixture) -> None:
    assert train.main(["r004-mlp", "--data", "synthetic", "--batch-size", "5000", "--steps", "1", "--quiet"]) == 2
    assert "pass a smaller --batch-size" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["r004-conv", "r003-wgan", "r004-wgangp"])
def test_bf16_and_channels_last_follow_fp32(name: str) -> None:
    """The speed switches change the arithmetic, not the recipe: first-step losses agree with fp32 NCHW."""
    exp = spec.load(name)
    shape = spec.registry().networks[exp.discriminator.value].input
    data = synthetic(64, shape).images
    runs = {}
    for precision, nhwc in (("fp32", False), ("fp32", True), ("bf16", True)):
        settings = Settings(name, batch_size=8, epochs=1, max_steps=4, seed=0, device="cpu", precision=precision,
                            channels_last=nhwc)
        t = Trainer(exp, data, settings)
        runs[(precision, nhwc)] = [t.train_step() for _ in range(2)]
    base = runs[("fp32", False)]
    for key, tol in ((("fp32", True), 1e-4), (("bf16", True), 5e-2)):
        for a, b in zip(base, runs[key]):
            for stat in ("d_loss", "d_real", "d_fake"):
                assert torch.isfinite(b[stat]) and abs(a[stat] - b[stat]) <= tol * max(1.0, abs(a[stat])), (key, stat)


def test_sample_every_and_tensorboard_events(tmp_path: Path) -> None:
    """--sample-every writes grids inside an epoch; --tensorboard mirrors the logged rows and the grids as events."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = tmp_path / "run"
    assert run_main(tmp_path, "r004-mlp", "--steps", "40", "--sample-every", "10", "--tensorboard",
                    "--out", str(out)) == 0
    grids = sorted(p.name for p in (out / "samples").glob("*.png"))
    assert grids == ["epoch_001.png", "step_000010.png", "step_000020.png", "step_000030.png", "step_000040.png"]
    events = EventAccumulator(str(out / "tensorboard"), size_guidance={"images": 0}).Reload()
    logged = [r["step"] for r in json.loads("[" + ",".join((out / "metrics.jsonl").read_text().splitlines()) + "]")]
    assert [e.step for e in events.Scalars("train/d_loss")] == logged
    assert {e.step for e in events.Images("samples")} == {10, 20, 30, 32, 40}
    assert json.loads((out / "config.json").read_text())["settings"]["tensorboard"] is True


def test_tensorboard_without_the_package_is_refused_up_front(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "tensorboard", None)  # as if it were not installed
    out = tmp_path / "run"
    assert run_main(tmp_path, "r004-mlp", "--steps", "2", "--tensorboard", "--out", str(out)) == 2
    assert "--tensorboard needs the tensorboard package; pip install 'gan-spec[tensorboard]'" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.slow
def test_an_epoch_hook_sees_every_epoch_and_moves_no_random_stream(tmp_path: Path) -> None:
    """A hook that draws random numbers at each epoch end (as per-epoch metrics do) leaves the run bit-identical
    to one without it."""
    from impl.training.run import RunRequest, run_experiment

    seen = []

    def hook(trainer: Trainer, run: RunFolder) -> None:
        seen.append((trainer.epoch, trainer.step, run.path))
        torch.randn(1000)  # the global stream the trainer draws its noise from

    common = {"experiment": "r004-mlp", "data": "synthetic", "steps": 70, "batch_size": 32, "quiet": True}
    with_hook = run_experiment(RunRequest(out=tmp_path / "a", epoch_hook=hook, **common))
    without = run_experiment(RunRequest(out=tmp_path / "b", **common))
    assert seen == [(1, 32, with_hook.run_dir), (2, 64, with_hook.run_dir)]
    a, b = (torch.load(r.run_dir / "checkpoints/last.pt", weights_only=True) for r in (with_hook, without))
    assert all(torch.equal(a["G"][k], b["G"][k]) for k in a["G"])
