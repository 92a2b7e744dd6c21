"""CUDA smoke runs on real FashionMNIST: a few hundred steps per loss family, checking that losses behave.
Skipped without a GPU (conftest) or without the FashionMNIST files."""

from __future__ import annotations

import pytest
import torch

import spec
from impl.data import DataError, for_experiment
from impl.trainer import Settings, Trainer

pytestmark = pytest.mark.cuda


def run(name: str, steps: int) -> tuple[Trainer, list[dict[str, float]]]:
    exp = spec.load(name)
    try:
        shape = spec.registry().networks[exp.discriminator.value].input
        data = for_experiment(exp.dataset.value, "fashion-mnist", shape, "", progress=False)
    except DataError as exc:
        pytest.skip(str(exc))
    trainer = Trainer(exp, data.images, Settings(name, exp.batch_size.value, 1000, steps, seed=0, device="cuda"))
    history = []
    while trainer.step < steps:
        stats = trainer.train_step()
        history.append({k: v.item() for k, v in stats.items()})
    return trainer, history


@pytest.mark.parametrize("name", ["r004-conv", "r000-dcgan"])
def test_bce_losses_behave(name: str) -> None:
    trainer, history = run(name, 300)
    assert all(all(map(lambda v: v == v and abs(v) < 1e4, h.values())) for h in history)
    first, last = history[0]["d_loss"], sum(h["d_loss"] for h in history[-20:]) / 20
    assert abs(last - first) > 0.05, "discriminator loss never left its starting value"
    early = history[5:50]
    assert sum(h["d_real"] for h in early) > sum(h["d_fake"] for h in early), "D(x) <= D(G(z)) early on"
    assert trainer.samples().std(0).mean() > 0.01, "generated batch is constant"


@pytest.mark.parametrize("name", ["r003-wgan", "r003-collapse"])
def test_wgan_critic_behaves(name: str) -> None:
    trainer, history = run(name, 300)
    estimate = sum(h["d_real"] - h["d_fake"] for h in history[-50:]) / 50
    assert estimate > 0, "critic estimate of the Wasserstein distance is not positive"
    bound = torch.tensor(trainer.clip)
    assert all(p.abs().max() <= bound for p in trainer.D.parameters())
    assert trainer.samples().std(0).mean() > 0.01, "generated batch is constant"


@pytest.mark.parametrize("name", ["r004-conv", "r000-dcgan", "r002-dcgan", "r003-wgan", "r000-wgan", "r004-wgangp",
                                  "r004-lsgan", "r004-sngan"])
def test_fast_path_follows_eager_fp32(name: str) -> None:
    """The plain fp32 loop against (a) the same arithmetic replayed as CUDA graphs, (b) the whole fast path:
    graphs + bf16 + channels_last + fused/capturable optimizers. Same seed. (a) must track eager closely, (b)
    within bf16 tolerance on the first block's losses; clipping holds, weights stay finite and close."""
    from impl.data import synthetic

    exp = spec.load(name)
    shape = spec.registry().networks[exp.discriminator.value].input
    images = synthetic(4096, shape).images
    modes = {"eager": ("fp32", False, False), "graph": ("fp32", False, True), "fast": ("bf16", True, True)}
    runs = {}
    for mode, (precision, nhwc, graph) in modes.items():
        settings = Settings(name, exp.batch_size.value, 1000, None, seed=0, device="cuda", precision=precision,
                            channels_last=nhwc, graph=graph)
        t = Trainer(exp, images, settings)
        steps = 20  # four blocks at n_critic 5, twenty at n_critic 1
        while t.step < t.n_critic:
            t.advance(steps)
        first = t.read_stats()[0]
        while t.step < steps:
            t.advance(steps)
        torch.cuda.synchronize()
        runs[mode] = (t, first)
    eager = runs["eager"][0]
    for mode, tolerance, drift in (("graph", 1e-3, 1e-3), ("fast", 5e-2, 2e-2)):
        t, first = runs[mode]
        assert t._block is not None and t._block.captured, f"{mode}: no CUDA graph was captured"
        assert torch.allclose(first, runs["eager"][1], rtol=tolerance, atol=tolerance), (mode, first, runs["eager"][1])
        for net in ("G", "D"):
            a = torch.cat([p.detach().flatten() for p in getattr(eager, net).parameters()])
            b = torch.cat([p.detach().flatten() for p in getattr(t, net).parameters()])
            assert torch.isfinite(b).all()
            assert (a - b).norm() <= drift * a.norm(), f"{mode} {net} drifted {(a - b).norm() / a.norm():.2e}"
        if t.clip is not None:
            assert max(p.abs().max() for p in t.D.parameters()) <= torch.tensor(t.clip)


@pytest.mark.parametrize("graph", [True, False])
def test_training_steps_never_wait_for_the_gpu(graph: bool) -> None:
    """Between logging steps nothing is read back: CUDA's sync debug mode turns any host sync into an error."""
    from impl.data import synthetic

    exp = spec.load("r003-wgan")
    images = synthetic(4096, spec.registry().networks[exp.discriminator.value].input).images
    t = Trainer(exp, images, Settings(exp.name, 64, 1, None, seed=0, device="cuda", graph=graph,
                                      precision="bf16" if graph else "fp32"))
    t.advance(10)  # capture (and the first permutation's upload) happen here
    assert not graph or t._block.captured, "no CUDA graph was captured"
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        while t.step < 40:
            t.advance(40)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert t.read_stats()[1] == 40


def test_replays_and_eager_steps_interleave_at_epoch_ends() -> None:
    """6 steps per epoch at n_critic 5: blocks cannot always fit, so eager steps run between replays on the same
    optimizers. The run must track a purely eager fp32 run as closely as the arithmetic allows."""
    from impl.data import synthetic

    exp = spec.load("r003-wgan")
    images = synthetic(6 * 64 + 10, spec.registry().networks[exp.discriminator.value].input).images
    runs = {}
    for graph in (False, True):
        t = Trainer(exp, images, Settings(exp.name, 64, 100, None, seed=0, device="cuda", graph=graph))
        sizes = []
        while t.step < 30:
            sizes.append(t.advance(30))
        torch.cuda.synchronize()
        runs[graph] = (t, sizes)
    (eager, _), (mixed, sizes) = runs[False], runs[True]
    assert mixed._block.captured and 5 in sizes and 1 in sizes, sizes
    for a, b in zip(eager.D.parameters(), mixed.D.parameters()):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-6)
    assert torch.allclose(eager.read_stats()[0], mixed.read_stats()[0], rtol=1e-4, atol=1e-6)
