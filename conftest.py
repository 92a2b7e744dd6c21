"""Shared pytest set-up: the `cuda` marker skips without a GPU; `reports` finds the course reports."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent


def reports_dir() -> Path | None:
    """The folder of the five reports: $GAN_SPEC_REPORTS, else ../shared/seeds beside the checkout."""
    for candidate in (os.environ.get("GAN_SPEC_REPORTS"), ROOT.parent / "shared" / "seeds"):
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def reports() -> Path:
    found = reports_dir()
    if found is None:
        pytest.skip("the course reports are not beside the checkout (set GAN_SPEC_REPORTS)")
    return found


@pytest.fixture(autouse=True)
def cudnn_autotune_stays_per_test() -> Iterator[None]:
    """impl.train and the benchmarks switch cuDNN autotuning process-wide (impl.fastpath.autotune); a test that
    runs them must not change the algorithms the next test's GPU arithmetic uses."""
    before = torch.backends.cudnn.benchmark
    yield
    torch.backends.cudnn.benchmark = before
