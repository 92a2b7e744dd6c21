"""GPU timings of one training step per experiment (pytest-benchmark); skipped without CUDA.

    pytest benchmarks --benchmark-only

Each benchmark times one call of Trainer.train_step (one batch: a discriminator update, and the generator
update on every n_critic-th step) at the documented batch size and at 512, on synthetic data already on the
GPU. `extra_info` carries images/s.
"""

from __future__ import annotations

import pytest
import torch

import spec
from impl.data import synthetic
from impl.trainer import Settings, Trainer

pytestmark = pytest.mark.cuda


@pytest.mark.parametrize("batch", ["documented", 512])
@pytest.mark.parametrize("name", spec.names("experiment"))
def test_train_step(benchmark, name: str, batch) -> None:
    exp = spec.load(name)
    size = exp.batch_size.value if batch == "documented" else batch
    shape = spec.registry().networks[exp.discriminator.value].input
    images = synthetic(max(4 * size, 2048), shape).images
    settings = Settings(name, batch_size=size, epochs=1000, max_steps=None, seed=0, device="cuda")
    trainer = Trainer(exp, images, settings)
    for _ in range(10):  # warm-up: cuDNN autotuning, allocator
        trainer.train_step()

    def step() -> None:
        trainer.train_step()
        torch.cuda.synchronize()

    benchmark.pedantic(step, rounds=50, iterations=1, warmup_rounds=2)
    benchmark.extra_info["batch_size"] = size
    if benchmark.stats:  # None under --benchmark-disable
        benchmark.extra_info["images_per_s"] = size / benchmark.stats.stats.median
