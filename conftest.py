"""Shared pytest set-up: the `cuda` marker skips without a GPU; `reports` finds the course reports; `slurm_cluster`
starts the one-node Slurm of tools/slurm-local for the `slurm` tests, or skips them saying why."""

from __future__ import annotations

import os
import shutil
import subprocess
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


SLURM_LOCAL = ROOT / "tools" / "slurm-local"


@pytest.fixture(scope="session")
def slurm_cluster() -> Iterator[str]:
    """A Slurm that takes jobs: the one already up (CI starts it before the tests), else one started here by
    tools/slurm-local (root and apt-get needed) and stopped after the session. Yields its default partition; skips,
    with the script's own reason, where it cannot start."""
    if os.environ.get("GAN_SPEC_NO_SLURM"):
        pytest.skip("GAN_SPEC_NO_SLURM is set")
    if not shutil.which("bash"):
        pytest.skip("no bash to run tools/slurm-local")
    up = subprocess.run([str(SLURM_LOCAL), "status"], capture_output=True, text=True, timeout=60).returncode == 0
    started = False
    if not up:
        try:
            done = subprocess.run([str(SLURM_LOCAL), "start"], capture_output=True, text=True, timeout=300)
        except subprocess.TimeoutExpired:
            pytest.skip("tools/slurm-local start took over 300 s")
        if done.returncode != 0:
            reason = (done.stderr or done.stdout).strip().splitlines()
            pytest.skip(f"no Slurm here: {reason[-1] if reason else f'tools/slurm-local exit {done.returncode}'}")
        started = True
    partition = subprocess.run(["sinfo", "-h", "-o", "%P"], capture_output=True, text=True, timeout=30).stdout
    yield partition.split()[0].rstrip("*") if partition.split() else "debug"
    if started:
        subprocess.run([str(SLURM_LOCAL), "stop"], capture_output=True, timeout=60)
