"""The CPU benchmark (benchmarks/cpu.py) and its peer, the plain eager loop (benchmarks/plain.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import spec
from benchmarks import cpu
from benchmarks.plain import PlainLoop
from impl.data.load import synthetic, to_unit


def test_the_default_experiments_are_each_report_network_pair_once() -> None:
    names = cpu.report_pairs()
    pairs = [(spec.load(n).generator.value, spec.load(n).discriminator.value) for n in names]
    every = {(spec.load(n).generator.value, spec.load(n).discriminator.value)
             for n in spec.names("experiment") if n.startswith("r")}
    assert len(pairs) == len(set(pairs)) and set(pairs) == every and "r004-conv" in names


def plain(name: str, batch: int = 4) -> PlainLoop:
    shape = spec.registry().networks[spec.load(name).discriminator.value].input
    return PlainLoop(spec.load(name), to_unit(synthetic(32, shape).images), batch)


def test_the_plain_loop_updates_the_generator_every_n_critic_steps_and_clips_the_critic() -> None:
    loop = plain("r004-wgan")  # n_critic 5, clip 0.01
    before = [p.detach().clone() for p in loop.G.parameters()]
    for _ in range(4):
        assert torch.isfinite(torch.tensor(loop.step()))
    assert all(torch.equal(a, b) for a, b in zip(before, loop.G.parameters()))
    loop.step()
    assert not all(torch.equal(a, b) for a, b in zip(before, loop.G.parameters()))
    assert max(p.abs().max().item() for p in loop.D.parameters()) <= 0.01


def test_the_plain_bce_loop_reads_probabilities_or_logits_as_the_discriminator_gives_them() -> None:
    assert isinstance(plain("r004-conv").criterion, torch.nn.BCELoss)  # ends in Sigmoid, as main.py's netD
    assert isinstance(plain("r004-mlp").criterion, torch.nn.BCEWithLogitsLoss)  # no Sigmoid printed
    assert all(torch.isfinite(torch.tensor(plain(n).step())) for n in ("r004-conv", "r004-mlp", "r004-wgangp"))


def test_the_flop_columns_count_what_each_loop_does() -> None:
    """main.py reuses its fake batch for the generator step, gan-spec draws fresh noise (one generator forward
    more); main.py's generator step also computes D's weight gradients, which gan-spec skips."""
    shape = (1, 28, 28)
    images = synthetic(32, shape).images
    trainer = cpu.cpu_trainer("r004-mlp", 8, images, "fp32")
    ours = cpu.count_flops(cpu.trainer_step(trainer), 1)
    theirs = cpu.count_flops(PlainLoop(spec.load("r004-mlp"), to_unit(images), 8).step, 1)
    g_forward = cpu.count_flops(lambda: trainer.G(torch.randn(8, 100)), 1)
    x = trainer.G(torch.randn(8, 100)).detach().requires_grad_(True)
    with_weights = cpu.count_flops(lambda: trainer.D(x).sum().backward(), 1)
    inputs_only = cpu.count_flops(lambda: trainer.D(x).sum().backward(inputs=[x]), 1)
    assert with_weights > inputs_only
    assert ours == pytest.approx(theirs + g_forward - (with_weights - inputs_only))


def test_the_benchmark_prints_every_loop_beside_the_plain_one(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "rows.json"
    assert cpu.main(["--experiments", "r004-mlp", "--batch", "8", "--rounds", "2", "--warmup", "1",
                     "--modes", "fp32", "bf16", "--json", str(out)]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines() if line.startswith("r004-mlp")]
    assert [r[2] for r in rows] == ["fp32", "bf16", "plain"]
    assert all(float(r[-1]) > 0 for r in rows[:2]) and rows[2][-3:] == ["-", "-", "-"]
    saved = json.loads(out.read_text())
    assert saved["peaks"]["fp32"] > 0 and len(saved["rows"]) == 3


def test_an_unknown_experiment_is_refused(capsys: pytest.CaptureFixture) -> None:
    assert cpu.main(["--experiments", "r004-mpl"]) == 2
    assert "did you mean 'r004-mlp'" in capsys.readouterr().err


def test_a_step_the_flop_counter_cannot_follow_is_timed_with_its_flops_unknown() -> None:
    """WGAN-GP's penalty differentiates inside the step, which FlopCounterMode's module tracker refuses (torch 2.14):
    the row is still timed, its FLOP columns NaN."""
    rows = cpu.compare("r004-wgangp", 8, ["fp32"], rounds=1, warmup=1, peaks={"fp32": 1e9, "bf16": 1e9})
    assert [r.loop for r in rows] == ["fp32", "plain"] and all(r.images_per_s > 0 for r in rows)


def test_curves_compare_two_runs_at_their_common_steps(tmp_path: Path) -> None:
    from benchmarks import curves

    a = [{"step": s, "d_loss": 1.0, "g_loss": 2.0, "d_real": 0.5, "d_fake": 0.25} for s in (10, 20, 30)]
    b = [r | {"d_loss": r["d_loss"] + (0.5 if r["step"] == 20 else 0.0)} for r in a] + [a[0] | {"step": 40}]
    got = {key: (mean_a, mean_b, diff) for key, mean_a, mean_b, diff in curves.summary(a, b)}
    assert got["d_loss"] == (1.0, 1.0, 0.5) and got["g_loss"] == (2.0, 2.0, 0.0)
    curves.draw({"a": a, "b": b}, tmp_path / "c.png")
    assert (tmp_path / "c.png").stat().st_size > 1000
