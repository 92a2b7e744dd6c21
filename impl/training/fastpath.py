"""The CUDA fast path: fused or capturable optimizers, and a whole training block replayed as one CUDA graph.

A block is n_critic critic updates (with clipping) followed by one generator update, batch sampling included:
exactly what the eager loop does over the same steps. On a GPU it is captured once and replayed, so a block
costs one graph launch instead of thousands of kernel launches from Python. On the CPU the same block runs
eagerly, which is how the tests check that a block equals n_critic eager steps bit for bit.

Capture needs warm-up iterations (cuDNN autotuning, optimizer state); they run inside `rehearsal`, which puts
every weight, buffer, optimizer state, counter and random-number state back as it was, so a run with graphs
is the same run as without: resume and seeds keep their meaning.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from impl.core.errors import first_line

WARMUP_BLOCKS = 3  # the PyTorch CUDA-graph recipe warms up a few iterations on a side stream before capturing


def speed_defaults(device: str, eager: bool, precision: str | None = None,
                   channels_last: bool = False) -> dict[str, Any]:
    """The one rule for what the fast path means on a device: on CUDA, unless --eager, CUDA-graph blocks, bf16
    autocast and channels_last (each switch the user gives explicitly wins); elsewhere the plain fp32 loop. On the
    CPU, --precision bf16 brings channels_last too: oneDNN's bf16 convolutions are faster in NHWC (report 004's conv
    networks 1.15-1.5x over bf16 in NCHW; docs/performance.md), and the user has given up fp32's numbers already."""
    fast = device.startswith("cuda") and not eager
    chosen = precision or ("bf16" if fast else "fp32")
    cpu_bf16 = device == "cpu" and chosen == "bf16"
    return {"fast": fast, "precision": chosen, "channels_last": channels_last or fast or cpu_bf16}


def optimizer_options(name: str, device: torch.device, fast: bool, graph: bool, bf16: bool = False) -> dict[str, Any]:
    """Keyword arguments that make a documented optimizer fast without changing its arithmetic.

    On the CPU: foreach (one multi-tensor op per update instead of a Python loop over the parameters), which
    computes bit for bit what torch's default CPU loop computes (tests/test_fastpath.py checks it) at half its
    time or less. Adam's fused CPU kernel is ten times faster again but rounds differently (1e-7 after 20 steps), so
    it is taken only where the user gave up fp32's numbers anyway: under --precision bf16. On CUDA without the fast
    path ({}): torch's defaults, as the reports' code had. On the CUDA fast path: Adam's fused kernel (one launch for
    all parameters); under a graph it must also be capturable, which keeps its step counter on the GPU. RMSprop has
    no fused kernel (not even in torch 2.14): foreach, and capturable under a graph. SGD without momentum keeps no
    state and is capture-safe as it is.
    """
    if device.type == "cpu":
        return {"fused": True} if bf16 and name == "Adam" else {"foreach": True}
    if device.type != "cuda" or not fast:
        return {}
    if name == "Adam":
        return {"fused": True, "capturable": graph}
    if name == "RMSprop":
        return {"foreach": True, "capturable": graph}
    return {}


def describe(trainer: Any) -> str:
    """How a trainer runs, in one line: e.g. 'fast path: CUDA graphs, bf16, channels_last, Adam(fused)'."""
    s = trainer.settings
    name = type(trainer.opt_d).__name__
    opt = optimizer_options(name, trainer.device, s.fast, trainer.graphs, s.precision == "bf16")
    parts = (["CUDA graphs"] if trainer.graphs and trainer.device.type == "cuda" else []) \
        + (["torch.compile"] if s.compile else []) + [s.precision] + (["channels_last"] if s.channels_last else []) \
        + [f"{name}({', '.join(k for k, v in opt.items() if v) or 'default'})"]
    return ("fast path: " if s.fast else "eager: ") + ", ".join(parts)


@contextmanager
def training_switches(autotune: bool) -> Iterator[None]:
    """The process-wide switches a training run needs, restored afterwards, so that a study or a test running
    several experiments in one process gets each run's own:
    - cuDNN autotuning: each convolution shape is timed on first use (in the warm-up before capture, never inside
      it) and its fastest algorithm kept. On for the fast path; the eager path keeps torch's default (off), as the
      reports' code did.
    - a block that would cross an epoch end runs as single eager steps with the capturable optimizers: correct by
      design (capturable only moves their step counter to the GPU), so torch's warning against it is silenced."""
    before = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = autotune
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="This instance was constructed with capturable=True")
            yield
    finally:
        torch.backends.cudnn.benchmark = before


@contextmanager
def rehearsal(nets: list[nn.Module], optimizers: list[torch.optim.Optimizer],
              tensors: list[torch.Tensor]) -> Iterator[None]:
    """Run the body (warm-up steps), then put everything back in place, as if the body had never run.

    Restoring is in place (copy_), never by new tensors, because a captured graph holds the addresses.
    Optimizer state that the body created (Adam's moments on a fresh run) is zeroed: a zero state with step 0
    is exactly the state Adam and RMSprop create on their first step. Gradients are dropped.
    """
    saved_nets = [{k: v.detach().clone() for k, v in net.state_dict(keep_vars=True).items()} for net in nets]
    had_state = [{p: {k: v.clone() if isinstance(v, torch.Tensor) else v for k, v in s.items()}
                  for p, s in opt.state.items()} for opt in optimizers]
    saved_tensors = [t.clone() for t in tensors]
    rng = torch.get_rng_state()
    cuda_rng = torch.cuda.get_rng_state() if torch.cuda.is_available() else None
    try:
        yield
    finally:
        if any(t.is_cuda for t in tensors):
            torch.cuda.synchronize()  # a warm-up that raised may have left kernels running on its side stream
        with torch.no_grad():
            for net, saved in zip(nets, saved_nets):
                for key, value in net.state_dict(keep_vars=True).items():
                    value.copy_(saved[key])
            for opt, before in zip(optimizers, had_state):
                for param, state in opt.state.items():
                    old = before.get(param, {})
                    for key, value in state.items():
                        if not isinstance(value, torch.Tensor):
                            continue
                        if key in old:
                            value.copy_(old[key])
                        else:
                            value.zero_()
                opt.zero_grad(set_to_none=True)
            for tensor, saved_tensor in zip(tensors, saved_tensors):
                tensor.copy_(saved_tensor)
            torch.set_rng_state(rng)
            if cuda_rng is not None:
                torch.cuda.set_rng_state(cuda_rng)


class Block:
    """Runs one training block: by replaying a CUDA graph where one could be captured, else eagerly."""

    def __init__(self, body: Callable[[], None], nets: list[nn.Module], optimizers: list[torch.optim.Optimizer],
                 tensors: list[torch.Tensor], device: torch.device) -> None:
        self.body, self.device, self.graph = body, device, None
        if device.type == "cuda":
            with torch.cuda.device(device):  # the RNG state, streams and pool of the trainer's GPU
                self.graph = self._capture(nets, optimizers, tensors)
        self.captured = self.graph is not None

    def _capture(self, nets: list[nn.Module], optimizers: list[torch.optim.Optimizer],
                 tensors: list[torch.Tensor]) -> torch.cuda.CUDAGraph | None:
        before = torch.cuda.current_stream()
        try:
            with rehearsal(nets, optimizers, tensors):
                side = torch.cuda.Stream()  # type: ignore[no-untyped-call]  # torch leaves Stream() unannotated
                side.wait_stream(before)
                with torch.cuda.stream(side):
                    for _ in range(WARMUP_BLOCKS):
                        self.body()
                before.wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            for opt in optimizers:
                opt.zero_grad(set_to_none=True)  # gradients are then allocated from the graph's own pool
            with torch.cuda.graph(graph):
                self.body()
            return graph
        except Exception as exc:  # an op that cannot be captured: train eagerly, say so once
            torch.cuda.set_stream(before)  # a capture that failed at its end leaves its own stream current
            torch.cuda.synchronize()
            if isinstance(exc, torch.OutOfMemoryError):
                raise  # not a capture problem: the trainer's caller says what to do
            print(f"warning: CUDA graph capture failed ({first_line(exc)}); training eagerly "
                  "(pass --eager to skip the attempt)", file=sys.stderr)
            return None
        finally:
            for opt in optimizers:  # after a capture .grad would name graph-pool memory that replays overwrite
                opt.zero_grad(set_to_none=True)

    def __call__(self) -> None:
        if self.graph is None:
            self.body()
            return
        with torch.cuda.device(self.device):
            self.graph.replay()
