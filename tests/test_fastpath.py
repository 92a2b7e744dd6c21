"""The fast path's arithmetic, on the CPU: a block of steps (what a CUDA graph replays) equals the same eager
steps bit for bit, and the warm-up before a capture leaves no trace. Capture itself is checked in test_cuda.py."""

from __future__ import annotations

import dataclasses
import shutil

import pytest
import torch

import spec
from impl.data.load import synthetic
from impl.training.fastpath import rehearsal
from impl.training.settings import Settings
from impl.training.trainer import STATS, Trainer

# one experiment per loss family and per optimizer: BCE/Adam, WGAN/RMSprop (n_critic 5), WGAN/SGD,
# WGAN-GP (double backward), LSGAN, SNGAN (spectral norm's power iteration updates buffers in place)
FAMILIES = ["r004-conv", "r001-wgan", "r000-wgan", "r004-wgangp", "r004-lsgan", "r004-sngan"]


def trainer(name: str, graph: bool, steps: int) -> Trainer:
    exp = spec.load(name)
    shape = spec.registry().networks[exp.discriminator.value].input
    if shape[-1] == 64:  # keep the course networks cheap on the CPU: the smallest batch that splits cleanly
        images, batch = synthetic(56, shape).images, 4
    else:
        images, batch = synthetic(64, shape).images, 8
    settings = Settings(name, batch_size=batch, epochs=100, max_steps=steps, seed=3, device="cpu", fast=graph)
    return Trainer(exp, images, settings)


def state_of(t: Trainer) -> dict[str, torch.Tensor]:
    """Every tensor a run carries forward: weights, buffers, optimizer state, on-device counters and sums."""
    out = {f"G.{k}": v for k, v in t.G.state_dict().items()} | {f"D.{k}": v for k, v in t.D.state_dict().items()}
    for role, opt in (("opt_g", t.opt_g), ("opt_d", t.opt_d)):
        for i, state in enumerate(opt.state.values()):
            out |= {f"{role}.{i}.{k}": v for k, v in state.items() if isinstance(v, torch.Tensor)}
    return out | {"step_t": t.step_t, "bad": t.first_bad_step, "g_loss": t.g_loss_now, "acc": t.sums}


def assert_same(a: Trainer, b: Trainer) -> None:
    sa, sb = state_of(a), state_of(b)
    assert sa.keys() == sb.keys()
    differ = [k for k in sa if not torch.equal(sa[k], sb[k])]
    assert not differ, f"{len(differ)} tensors differ, first {differ[:5]}"


@pytest.mark.slow
@pytest.mark.parametrize("name", FAMILIES)
def test_blocks_equal_eager_steps(name: str) -> None:
    """18 steps over 14- or 8-step epochs: with n_critic 5 some blocks would cross an epoch end, so the
    trainer must fall back to single steps there and still make exactly the same run."""
    steps = 18
    eager = trainer(name, False, steps)  # each trainer seeds the global generator: run one before making the next
    while eager.step < steps:
        assert eager.advance(steps) == 1
    blocks, sizes = trainer(name, True, steps), []
    while blocks.step < steps:
        sizes.append(blocks.advance(steps))
    assert blocks.step == eager.step == steps
    assert max(sizes) == blocks.n_critic and (blocks.n_critic == 1 or 1 in sizes)
    assert_same(eager, blocks)
    means_a, count_a = eager.read_stats()
    means_b, count_b = blocks.read_stats()
    assert count_a == count_b == steps and torch.equal(means_a, means_b) and len(means_a) == len(STATS)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["r004-conv", "r001-wgan", "r000-wgan", "r004-sngan"])
@pytest.mark.parametrize("before", [0, 3])
def test_rehearsal_leaves_no_trace(name: str, before: int) -> None:
    """Warm-up steps inside `rehearsal` (a fresh optimizer, or one with state) change nothing that follows."""
    runs = []
    for warm_up in (False, True):  # one after the other: each trainer seeds the global generator
        t = trainer(name, False, 20)
        for _ in range(before):
            t.train_step()
        if warm_up:
            with rehearsal([t.G, t.D], [t.opt_g, t.opt_d], t.device_state()):
                for _ in range(2):  # warm-up blocks, as Block runs before a capture
                    t.block_body()
        for _ in range(5):
            t.train_step()
        runs.append(t)
    assert_same(*runs)


def test_rehearsal_restores_after_an_error() -> None:
    t = trainer("r004-mlp", False, 5)
    before = {k: v.clone() for k, v in state_of(t).items()}
    with pytest.raises(RuntimeError, match="boom"):
        with rehearsal([t.G, t.D], [t.opt_g, t.opt_d], [t.sums]):
            t.train_step()
            raise RuntimeError("boom")
    after = state_of(t)
    changed = [k for k in before if k in after and not torch.equal(before[k], after[k])]
    assert sorted(changed) == ["g_loss", "step_t"]  # the two not handed to rehearsal: the test can see changes


def test_fast_path_is_the_cuda_default_and_eager_turns_it_off() -> None:
    from impl import train
    from impl.training import run

    def settings(*argv: str, device: str = "cuda") -> tuple:
        s = run.resolve(train.request_of(train.parser().parse_args(["r004-conv", *argv])), device).settings
        return s.fast, s.precision, s.channels_last

    assert settings() == (True, "bf16", True)
    assert settings("--eager") == (False, "fp32", False)
    assert settings("--precision", "fp32") == (True, "fp32", True)
    assert settings("--eager", "--precision", "bf16", "--channels-last") == (False, "bf16", True)
    assert settings(device="cpu") == (False, "fp32", False)
    assert settings("--precision", "bf16", device="cpu") == (False, "bf16", True)  # oneDNN's bf16 convs want NHWC


@pytest.mark.parametrize("name", sorted({spec.load(n).optimizer["name"].value for n in spec.names("experiment")}))
def test_fast_optimizer_options_are_accepted_by_torch(name: str) -> None:
    """The CUDA options are real keyword arguments of the documented optimizer (constructed here on the CPU)."""
    from impl.training.fastpath import optimizer_options

    assert optimizer_options(name, torch.device("cuda"), False, False) == {}  # --eager: torch's defaults
    assert optimizer_options(name, torch.device("cpu"), True, True) == {"foreach": True}
    for graph in (False, True):  # False: the fast path under torchrun, which captures no graph
        options = optimizer_options(name, torch.device("cuda"), True, graph)
        opt = getattr(torch.optim, name)([torch.nn.Parameter(torch.zeros(2))], lr=1e-4, **options)
        assert all(opt.param_groups[0][k] == v for k, v in options.items())
        if graph and name != "SGD":  # SGD without momentum keeps no state and needs no capturable flag
            assert opt.param_groups[0]["capturable"]


@pytest.mark.parametrize("name", sorted({spec.load(n).optimizer["name"].value for n in spec.names("experiment")}))
def test_cpu_optimizers_are_multi_tensor_and_compute_torchs_default_bit_for_bit(name: str) -> None:
    """On the CPU the documented optimizers run foreach (one op over all parameters: about half the time of torch's
    per-parameter loop on report 004's conv generator) and reach exactly the weights the default loop reaches."""
    from impl.training.fastpath import optimizer_options

    options = optimizer_options(name, torch.device("cpu"), False, False)
    assert options == {"foreach": True}
    kwargs = next(spec.load(n).optimizer_kwargs() for n in spec.names("experiment")
                  if spec.load(n).optimizer["name"].value == name)
    torch.manual_seed(0)
    start = [torch.randn(300), torch.randn(20, 7)]
    grads = [[torch.randn_like(p) for p in start] for _ in range(4)]
    weights = []
    for extra in ({}, options):
        params = [torch.nn.Parameter(p.clone()) for p in start]
        opt = getattr(torch.optim, name)(params, **kwargs, **extra)
        for step in grads:
            for p, g in zip(params, step):
                p.grad = g.clone()
            opt.step()
        weights.append(params)
    assert all(torch.equal(a, b) for a, b in zip(*weights))
    fast = optimizer_options(name, torch.device("cpu"), False, False, bf16=True)  # bf16 gave up fp32's numbers
    assert fast == ({"fused": True} if name == "Adam" else {"foreach": True})
    opt = getattr(torch.optim, name)([torch.nn.Parameter(torch.zeros(2))], **kwargs, **fast)
    assert all(opt.param_groups[0][k] == v for k, v in fast.items())


def test_the_critic_step_runs_the_generator_without_a_graph() -> None:
    """The critic's update only needs G's images: G runs under no_grad there (no activations kept for a backward
    that never comes), and with a graph only in the generator's update. Same numbers: the forward is the same."""
    t = trainer("r001-wgan", False, 5)
    modes: list[bool] = []
    t.G.register_forward_hook(lambda *_: modes.append(torch.is_grad_enabled()))
    for _ in range(5):
        t.advance(5)
    assert modes == [False] * 5 + [True]


def test_the_generator_step_computes_no_gradient_for_the_discriminator() -> None:
    """G's loss is backpropagated into G's weights only: the discriminator's weight gradients, which D's next update
    drops unread, are not computed (its gradients stay those of its own last step). Same G gradients: the input
    gradients through D are computed by the same kernels."""
    t = trainer("r004-conv", False, 2)
    after_d: list[torch.Tensor] = []
    t.opt_d.register_step_post_hook(lambda *_: after_d.__setitem__(slice(None), [p.grad.clone() for p in
                                                                                  t.D.parameters()]))
    t.advance(2)
    assert after_d and all(torch.equal(p.grad, g) for p, g in zip(t.D.parameters(), after_d))
    assert all(p.grad is not None for p in t.G.parameters())


@pytest.mark.slow
@pytest.mark.parametrize("cut", [7, 10])
def test_resume_between_blocks_realigns(cut: int) -> None:
    """A checkpoint taken mid-block (step 7 at n_critic 5) resumes with single steps up to the next generator
    boundary, then blocks again, and ends where an uninterrupted run ends, bit for bit."""
    whole = trainer("r001-wgan", True, 18)
    while whole.step < 18:
        whole.advance(18)
    first = trainer("r001-wgan", True, 18)
    while first.step < cut:
        first.advance(cut)
    state = first.state_dict()
    resumed = trainer("r001-wgan", True, 18)
    resumed.load_state_dict(state)
    resumed.read_stats()  # the statistics of the first part went to that run's metrics, not this one's
    whole.read_stats()
    while resumed.step < 18:
        resumed.advance(18)
    differ = [k for k, v in state_of(whole).items() if k != "acc" and not torch.equal(v, state_of(resumed)[k])]
    assert not differ, differ[:5]


@pytest.mark.parametrize("name", ["r001-wgan", "r004-conv"])  # RMSprop and Adam
def test_resume_keeps_this_runs_optimizer_flags(name: str) -> None:
    """A GPU run's checkpoint (capturable/fused optimizers) resumes on the CPU: the flags are this run's, not
    the checkpoint's, and the step counters move to where those flags want them."""
    t = trainer(name, False, 20)
    for _ in range(t.n_critic):
        t.train_step()
    state = t.state_dict()
    for key in ("opt_g", "opt_d"):  # what a CUDA fast-path run saves
        for group in state[key]["param_groups"]:
            group.update(capturable=True, foreach=True)
    resumed = trainer(name, False, 20)
    resumed.load_state_dict(state)
    for _ in range(resumed.n_critic):
        resumed.train_step()  # torch asserts here if a capturable flag came back with CPU parameters
    for opt in (resumed.opt_g, resumed.opt_d):
        assert not opt.param_groups[0]["capturable"]
        assert all(s["step"].device.type == "cpu" and s["step"].dtype == torch.float32 for s in opt.state.values())


@pytest.mark.slow
@pytest.mark.skipif(not (shutil.which("cc") or shutil.which("gcc")),
                    reason="torch.compile on the CPU needs a C compiler")
def test_compiled_training_follows_eager() -> None:
    """--compile changes how the networks run, not what they compute: four steps of report 004's conv GAN give
    the eager run's losses and weights within the rounding of fused kernels."""
    runs = {}
    for compiled in (False, True):
        exp = spec.load("r004-conv")
        t = Trainer(exp, synthetic(256, (1, 28, 28)).images,
                    Settings(exp.name, 32, 10, 4, seed=0, device="cpu", compile=compiled))
        assert (t.g_call is t.G) != compiled and (t.d_call is t.D) != compiled
        losses = torch.stack([torch.stack([s[k] for k in ("d_loss", "d_real", "d_fake")])
                              for s in (t.train_step() for _ in range(4))])
        runs[compiled] = losses, torch.cat([p.detach().flatten() for p in (*t.G.parameters(), *t.D.parameters())])
    (eager_losses, eager_w), (comp_losses, comp_w) = runs[False], runs[True]
    assert torch.allclose(comp_losses, eager_losses, rtol=1e-3, atol=1e-3), (comp_losses, eager_losses)
    assert (comp_w - eager_w).abs().max() < 1e-2


def test_compile_leaves_the_gradient_penalty_critic_eager() -> None:
    from impl import train
    from impl.training import run

    exp = spec.load("r004-wgangp")
    t = Trainer(exp, synthetic(64, (1, 28, 28)).images, Settings(exp.name, 8, 1, 2, seed=0, device="cpu",
                                                                 compile=True))
    assert t.d_call is t.D and t.g_call is not t.G  # double backward through a compiled critic is not supported
    args = train.parser().parse_args(["r004-mlp", "--compile"])
    assert run.resolve(train.request_of(args), "cpu").settings.compile


def test_a_network_torch_compile_cannot_handle_trains_uncompiled(monkeypatch: pytest.MonkeyPatch,
                                                                  capsys: pytest.CaptureFixture) -> None:
    """As the design notes (docs/design.md) saw for the tutorial networks with channels_last: compiled code that
    fails. One warning, the plain calls, and the failed trial step left no trace (the same weights as a trainer that
    never tried)."""
    def broken(net: torch.nn.Module):
        def call(*args: object, **kwargs: object) -> torch.Tensor:
            raise RuntimeError("expected size 4==4, stride 1==16 at dim=1\nmore detail")
        return call

    exp = spec.load("r004-conv")
    settings = Settings(exp.name, 8, 1, 2, seed=0, device="cpu")
    plain = Trainer(exp, synthetic(64, (1, 28, 28)).images, settings)
    plain.train_step()  # before the next trainer reseeds the global generator
    monkeypatch.setattr(torch, "compile", broken)
    t = Trainer(exp, synthetic(64, (1, 28, 28)).images, dataclasses.replace(settings, compile=True))
    assert "warning: torch.compile failed (RuntimeError: expected size 4==4, stride 1==16 at dim=1); training " \
           "uncompiled" in capsys.readouterr().err
    assert t.g_call is t.G and t.d_call is t.D and not t.settings.compile
    t.train_step()
    assert all(torch.equal(a, b) for a, b in zip(t.G.state_dict().values(), plain.G.state_dict().values()))
