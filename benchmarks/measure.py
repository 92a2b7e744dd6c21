"""Measurements shared by the pytest benchmarks and `python -m benchmarks.report`.

A "step" is the trainer's step: one batch and one critic update, plus the generator update on every n_critic-th
step. Two modes are timed side by side:
  fast  - what `impl.train` does on a GPU: blocks of n_critic steps replayed as one CUDA graph, bf16 autocast,
          channels_last, fused/capturable optimizers, statistics kept on the device;
  eager - a seed-style loop: fp32, NCHW, default optimizers, one step at a time and the loss read back with
          `.item()` after every step, as the course's sample code and the PyTorch tutorial do.
A third, on request: compiled - the fast path with the networks' calls under torch.compile (`impl.train --compile`).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

import spec
from impl.data.load import synthetic
from impl.training.fastpath import speed_defaults
from impl.training.settings import Settings
from impl.training.trainer import Trainer

MODES = ("fast", "eager")
ALL_MODES = (*MODES, "compiled")


def make_trainer(name: str, batch: int, mode: str, device: str, images: int = 4096, tune: bool = True) -> Trainer:
    exp = spec.load(name)
    shape = spec.registry().networks[exp.discriminator.value].input
    speed = speed_defaults(device, eager=mode == "eager")  # impl.train's rule for this device
    # the benchmark's own switch (an entry point, like impl.train): `tune=False` measures what autotuning buys
    torch.backends.cudnn.benchmark = speed["fast"] and tune
    # a fast row trains in blocks on the CPU too (computed eagerly there), so the tests time the same machinery
    speed["fast"] = mode != "eager"
    settings = Settings(name, batch_size=batch, epochs=10**6, max_steps=None, seed=0, device=device,
                        compile=mode == "compiled", **speed)
    # a whole number of blocks per epoch, so that every timed fast unit is a graph replay (none falls back to
    # single steps at an epoch end)
    per_block = batch * (exp.n_critic.value if exp.n_critic else 1)
    return Trainer(exp, synthetic(max(2, -(-images // per_block)) * per_block, shape).images, settings)


def unit(trainer: Trainer, mode: str) -> int:
    """One timed unit: a block (fast) or one step with its loss read back (eager). Returns the steps done."""
    if mode != "eager":
        return trainer.advance(trainer.step + trainer.n_critic)
    stats = trainer.train_step()
    stats["d_loss"].item()  # the per-step host sync of a seed-style loop
    return 1


class NotFastPath(RuntimeError):
    """A fast row's CUDA graph capture failed: timing it would time the eager fallback."""


def warm_up(trainer: Trainer, mode: str, device: str, steps: int) -> None:
    """cuDNN autotuning, the allocator, and (fast) the graph capture, before anything is timed. A fast row whose
    capture failed would time the eager fallback under the fast path's name: refused."""
    done = 0
    while done < steps:
        done += unit(trainer, mode)
    sync(device)
    if mode != "eager" and device.startswith("cuda") and not trainer.replaying:
        raise NotFastPath(f"{trainer.exp.name} batch {trainer.settings.batch_size}: no CUDA graph was captured "
                           "(see the warning above); this row would time the eager fallback, not the fast path")


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def flops_per_step(name: str, batch: int, device: str) -> float:
    """FLOPs of one step (averaged over n_critic steps, so one generator update is included), counted by
    torch.utils.flop_counter on the eager fp32 path: matmuls and convolutions, forward and backward."""
    trainer = make_trainer(name, batch, "eager", device, images=2 * batch * 5)
    counter = FlopCounterMode(display=False)
    with counter:
        for _ in range(trainer.n_critic):
            trainer.train_step()
    return counter.get_total_flops() / trainer.n_critic


def matmul_peak(device: str, n: int = 8192, repeats: int = 20) -> float | None:
    """Achieved bf16 dense matmul FLOP/s on this GPU, measured now (None on the CPU)."""
    if not device.startswith("cuda"):
        return None
    a = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    b = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    sync(device)
    t0 = time.perf_counter()
    for _ in range(repeats):
        a @ b
    sync(device)
    return 2 * n**3 * repeats / (time.perf_counter() - t0)


@dataclass
class Row:
    experiment: str
    batch: int
    mode: str
    ms_per_step: float
    images_per_s: float
    gflop_per_step: float
    tflop_per_s: float
    peak_share: float | None  # of the bf16 matmul peak measured in the same session

    def as_dict(self) -> dict:
        return asdict(self)


def measure(name: str, batch: int, mode: str, device: str, min_steps: int = 50, warmup: int = 10,
            peak: float | None = None, flops: float | None = None, tune: bool = True) -> Row:
    trainer = make_trainer(name, batch, mode, device, tune=tune)
    warm_up(trainer, mode, device, warmup)
    steps, t0 = 0, time.perf_counter()
    while steps < min_steps:
        steps += unit(trainer, mode)
    sync(device)
    seconds = (time.perf_counter() - t0) / steps
    flops = flops_per_step(name, batch, device) if flops is None else flops
    achieved = flops / seconds
    return Row(name, batch, mode, seconds * 1e3, batch / seconds, flops / 1e9, achieved / 1e12,
               achieved / peak if peak else None)


def profile(name: str, batch: int, mode: str, device: str, out: Path, units: int = 10, top: int = 12,
            tune: bool = True) -> str:
    """Profile `units` timed units after warm-up: a Chrome trace in `out` and the top ops by self time, as text.
    On a GPU it shows whether a step is bound by kernels (device time ~ wall time) or by launches (gaps)."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    trainer = make_trainer(name, batch, mode, device, tune=tune)
    warm_up(trainer, mode, device, 3)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.startswith("cuda") else [])
    with torch_profile(activities=activities) as prof:
        for _ in range(units):
            unit(trainer, mode)
        sync(device)
    out.mkdir(parents=True, exist_ok=True)
    prof.export_chrome_trace(str(out / f"{name}-{batch}-{mode}.json"))
    key = "self_cuda_time_total" if device.startswith("cuda") else "self_cpu_time_total"
    return prof.key_averages().table(sort_by=key, row_limit=top)
