"""--set changes a recipe value from the command line, validated by the spec's own rules, recorded with its origin,
and kept by a resume."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch

import spec
from impl import train
from impl.training import overrides
from spec import SpecError

ARGS = ["--data", "synthetic", "--quiet", "--batch-size", "32", "--log-every", "4"]


@pytest.mark.parametrize("text,expected", [
    ("optimizer.lr=2e-4", ("optimizer.lr", 2e-4)), ("n_critic=3", ("n_critic", 3)),
    ("optimizer.betas=[0.0, 0.9]", ("optimizer.betas", [0.0, 0.9])), ("d_loss=sum", ("d_loss", "sum")),
    (" clip_value = 0.05 ", ("clip_value", 0.05)),
])
def test_values_are_read_as_toml(text: str, expected: tuple) -> None:
    assert overrides.parse_set(text) == expected


@pytest.mark.slow
def test_a_change_reaches_the_optimizer_and_the_critic(tmp_path: Path) -> None:
    exp = overrides.apply(spec.load("r003-wgan"), {"optimizer.lr": 3e-4, "clip_value": 0.05, "n_critic": 2})
    assert (exp.optimizer["lr"].value, exp.clip_value.value, exp.n_critic.value) == (3e-4, 0.05, 2)
    assert exp.clip_value.source == "--set clip_value=0.05" and exp.clip_value.status == "addition"
    assert spec.load("r003-wgan").clip_value.value == 0.01  # the registry is untouched
    out = tmp_path / "run"
    assert train.main(["r003-wgan", "--steps", "4", "--set", "clip_value=0.05", "--set", "optimizer.lr=3e-4",
                       "--out", str(out), *ARGS]) == 0
    state = torch.load(out / "checkpoints/last.pt", weights_only=True)
    assert state["opt_d"]["param_groups"][0]["lr"] == 3e-4
    assert max(v.abs().max() for k, v in state["D"].items() if "weight" in k or "bias" in k) <= 0.05 + 1e-7
    config = json.loads((out / "config.json").read_text())
    assert config["overrides"]["clip_value"] == {"value": 0.05, "origin": "--set"}
    assert config["recipe"]["clip_value"]["value"] == 0.01  # the documented value, beside the change


@pytest.mark.parametrize("sets,message", [
    ({"optimizer.lr": -1.0}, r"^--set optimizer\.lr: must be positive, got -1\.0; e\.g\. --set optimizer\.lr=2e-4$"),
    ({"n_critic": "five"}, r"^--set n_critic: expected an integer, got str 'five'; e\.g\. --set n_critic=5$"),
    ({"clip_valu": 0.1}, r"--set clip_valu: 'clip_valu' is not a value one can change \(did you mean 'clip_value'\?\)"),
    ({"optimizer.alpha": 0.9}, r"r000-dcgan's optimizer Adam takes no alpha \(only RMSprop does\)"),
    ({"loss": "hinge"}, r"--set loss: 'loss' is not a value one can change"),
    ({"clip_value": 0.1}, r"r000-dcgan uses the bce loss, which never reads clip_value \(only wgan does\); drop it"),
    ({"gp_weight": 5.0}, r"never reads gp_weight \(only wgan-gp does\)"),
    ({"optimizer.betas": "0.5,0.99"}, r"^--set optimizer\.betas: expected an array, got str '0\.5,0\.99'; "
                                      r"e\.g\. --set optimizer\.betas=\[0\.5,0\.999\]$"),
    ({"n_critic": 10**12}, r"--set n_critic: must be a positive integer up to 1,000"),
    ({"steps": 10}, r"--set steps: 'steps' is the run's length, not a recipe value; use --steps"),
])
def test_wrong_keys_and_values_are_one_line(sets: dict, message: str) -> None:
    with pytest.raises(SpecError, match=message) as info:
        overrides.apply(spec.load("r000-dcgan"), sets)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("value,line", [
    ("clip_value=0.1", "error: --set clip_value: r004-mlp uses the bce loss, which never reads clip_value (only wgan "
                       "does); drop it"),
    ("gp_weight=5", "error: --set gp_weight: r004-mlp uses the bce loss, which never reads gp_weight (only wgan-gp "
                    "does); drop it"),
    # a comma list on the command line is a sweep over its values (impl/training/sweep.py): 0.5 is the first
    ("optimizer.betas=0.5,0.99", "error: --set optimizer.betas: expected an array, got float 0.5; "
                                 "e.g. --set optimizer.betas=[0.5,0.999]"),
])
def test_the_command_refuses_a_change_in_one_line_before_any_folder(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                                    value: str, line: str) -> None:
    """What a user types, end to end: exit 2, one line with the user's key (no internal '.value'), nothing made."""
    out = tmp_path / "run"
    assert train.main(["r004-mlp", "--set", value, "--out", str(out), *ARGS]) == 2
    assert capsys.readouterr().err.strip() == line and not out.exists()


@pytest.mark.slow
def test_resume_keeps_the_change_and_refuses_another(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out, whole = tmp_path / "run", tmp_path / "whole"
    common = ["--set", "clip_value=0.05", *ARGS]
    assert train.main(["r003-wgan", "--steps", "4", "--out", str(out), *common]) == 0
    assert train.main(["--resume", str(out), "--steps", "8", "--quiet", "--set", "clip_value=0.2"]) == 2
    assert "was started with --set {'clip_value': 0.05}, not {'clip_value': 0.2}" in capsys.readouterr().err
    assert train.main(["--resume", str(out), "--steps", "8", "--quiet"]) == 0
    assert train.main(["r003-wgan", "--steps", "8", "--out", str(whole), *common]) == 0
    a, b = (torch.load(p / "checkpoints/last.pt", weights_only=True) for p in (out, whole))
    assert all(torch.equal(a["D"][k], b["D"][k]) for k in a["D"])  # resumed with clip 0.05, not the spec's 0.01


@pytest.mark.slow
def test_a_study_passes_a_change_to_every_arm(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from impl import collapse

    out = tmp_path / "study"
    argv = ["--data", "synthetic", "--steps", "2", "--n", "20", "--quiet", "--out", str(out)]
    assert collapse.main([*argv, "--set", "optimizer.lr=3e-4"]) == 0
    for arm in ("clip-0.01", "clip-0.1"):
        state = torch.load(out / arm / "checkpoints/last.pt", weights_only=True)
        assert state["opt_g"]["param_groups"][0]["lr"] == 3e-4
        assert json.loads((out / arm / "config.json").read_text())["overrides"]["optimizer.lr"]["origin"] \
            == "study collapse (--set)"
    assert json.loads((out / "collapse-args.json").read_text())["sets"] == {"optimizer.lr": 3e-4}
    other = tmp_path / "other"
    assert collapse.main(["--data", "synthetic", "--steps", "2", "--out", str(other), "--set", "optimizer.lr=0"]) == 2
    assert "--set optimizer.lr: must be positive" in capsys.readouterr().err and not other.exists()


@pytest.mark.parametrize("name", spec.names("experiment"))
def test_a_change_leaves_every_other_fact_of_every_experiment_as_it_was(name: str) -> None:
    """--set rebuilds the experiment as a spec table and reads it again: every field must survive the round trip
    (a new kind of field, such as r004-mlp's [latent] table, once made every --set on it fail)."""
    exp = spec.load(name)
    lr = exp.optimizer["lr"].value * 2
    changed = overrides.apply(exp, {"optimizer.lr": lr})
    assert changed.optimizer["lr"].value == lr and changed.optimizer["lr"].status == "addition"
    rest = {k: v for k, v in exp.optimizer.items() if k != "lr"}
    assert {k: v for k, v in changed.optimizer.items() if k != "lr"} == rest
    for field in dataclasses.fields(exp):
        if field.name not in ("optimizer", "file", "base"):
            assert getattr(changed, field.name) == getattr(exp, field.name), field.name
