"""GPU timings of training steps (pytest-benchmark); skipped without CUDA.

    pytest benchmarks --benchmark-only          # or: python -m benchmarks.report, for the table with speed-ups

Every experiment at its documented batch size and at 512, in both modes of benchmarks/measure.py: the fast path
(a block of n_critic steps replayed as one CUDA graph, bf16, channels_last, fused/capturable optimizers) and a
seed-style eager fp32 step that reads its loss back every step. One benchmark round is one unit (a block, or
one eager step); `extra_info` holds images/s, GFLOP per step, achieved TFLOP/s and its share of the bf16 matmul
peak measured in the same session.
"""

from __future__ import annotations

import pytest

import spec
from benchmarks.measure import MODES, flops_per_step, make_trainer, matmul_peak, sync, unit, warm_up

pytestmark = pytest.mark.cuda


@pytest.fixture(scope="session")
def peak() -> float | None:
    return matmul_peak("cuda")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("batch", ["documented", 512])
@pytest.mark.parametrize("name", spec.names("experiment"))
def test_train_step(benchmark, peak: float | None, name: str, batch, mode: str) -> None:
    size = spec.load(name).batch_size.value if batch == "documented" else batch
    trainer = make_trainer(name, size, mode, "cuda")
    warm_up(trainer, mode, "cuda", 10)  # autotuning, the allocator, the graph capture (refused if it failed)
    steps = {"n": 0}

    def one_unit() -> None:
        steps["n"] = unit(trainer, mode)
        sync("cuda")

    benchmark.pedantic(one_unit, rounds=50, iterations=1, warmup_rounds=2)
    flops = flops_per_step(name, size, "cuda")
    benchmark.extra_info.update(batch_size=size, mode=mode, steps_per_round=steps["n"], gflop_per_step=flops / 1e9)
    if benchmark.stats:  # None under --benchmark-disable
        seconds = benchmark.stats.stats.median / steps["n"]
        benchmark.extra_info.update(images_per_s=size / seconds, tflop_per_s=flops / seconds / 1e12,
                                    peak_share=flops / seconds / peak if peak else None)
