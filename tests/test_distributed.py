"""torchrun with the gloo backend on the CPU: 2 processes train like one, and only the first writes."""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import spec
from impl import train

ARGS = ["--data", "synthetic", "--batch-size", "32", "--log-every", "1", "--quiet"]


GLOO_ABORT = "terminate called without an active exception"  # gloo's own rare crash, not gan-spec's


def torchrun_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "impl.train",
            *args]


def torchrun(*args: str) -> subprocess.CompletedProcess:
    """Two processes under torchrun. Gloo very rarely aborts a worker in its C++ transport (SIGABRT with
    GLOO_ABORT: once in CI, once in about 60 runs here); such a run is tried once more from the same start: a new
    run's folder is removed, a resumed run's folder is put back as it was. Any other failure, including a Python
    error, fails the test."""
    cmd = torchrun_cmd(*args)
    flag = next((f for f in ("--out", "--resume") if f in args), None)
    run = Path(args[args.index(flag) + 1]) if flag else None
    before = run.with_name(run.name + ".before") if run is not None and run.exists() else None
    if before is not None:
        shutil.copytree(run, before)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if proc.returncode and GLOO_ABORT in proc.stderr and "exitcode  : -6" in proc.stderr:
        if run is not None:
            shutil.rmtree(run, ignore_errors=True)
        if before is not None:
            shutil.copytree(before, run)
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if before is not None:
        shutil.rmtree(before)
    return proc


def metrics(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_two_processes_match_one(tmp_path: Path) -> None:
    two, one = tmp_path / "two", tmp_path / "one"
    proc = torchrun("r004-mlp", "--steps", "3", "--out", str(two), *ARGS)
    assert proc.returncode == 0, proc.stderr
    assert train.main(["r004-mlp", "--steps", "3", "--out", str(one), *ARGS]) == 0
    for a, b in zip(metrics(two), metrics(one)):
        for key in ("d_loss", "g_loss", "d_real", "d_fake"):
            assert a[key] == pytest.approx(b[key], rel=1e-5, abs=1e-6), (a["step"], key)
    assert sorted(p.name for p in (two / "checkpoints").iterdir()) == ["last.pt"]
    assert json.loads((two / "config.json").read_text())["processes"] == 2
    assert proc.stdout.count("done: r004-mlp") == 1 and "dry run" not in proc.stdout + proc.stderr  # rank 0 speaks


@pytest.mark.slow
def test_resume_under_torchrun(tmp_path: Path) -> None:
    two, one = tmp_path / "two", tmp_path / "one"
    assert torchrun("r003-wgan", "--steps", "4", "--out", str(two), *ARGS).returncode == 0
    proc = torchrun("--resume", str(two), "--steps", "7", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("resuming r003-wgan at step 4") == 1
    assert train.main(["r003-wgan", "--steps", "7", "--out", str(one), *ARGS]) == 0
    a, b = (torch.load(p / "checkpoints/last.pt", weights_only=True) for p in (two, one))
    assert a["step"] == b["step"] == 7
    for key in a["D"]:  # per-process batch norm statistics differ (no --sync-bn on the CPU), weights stay close
        if key.endswith("weight") and "bn" not in key and a["D"][key].dim() > 1:
            assert torch.allclose(a["D"][key], b["D"][key], atol=1e-2), key


@pytest.mark.slow
def test_batch_must_split_over_processes(tmp_path: Path) -> None:
    proc = torchrun("r004-mlp", "--steps", "1", "--out", str(tmp_path / "x"), "--data", "synthetic",
                    "--batch-size", "33", "--quiet")
    assert proc.returncode == 1  # torchrun's own code for a failed worker; each worker exited 2
    assert proc.stderr.count("error: batch size 33 does not split over 2 processes") == 1
    assert "exitcode  : 2" in proc.stderr


@pytest.mark.slow
def test_sigterm_under_torchrun_saves_once_and_resumes(tmp_path: Path) -> None:
    """torchrun passes SIGTERM to both processes; they agree on the step at the next logging step, the first
    saves, and both wait for it before the process group goes away."""
    run = tmp_path / "run"
    proc = subprocess.Popen(torchrun_cmd("r004-mlp", "--steps", "100000", "--out", str(run), *ARGS),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and (not (run / "metrics.jsonl").exists()
                                      or len((run / "metrics.jsonl").read_text().splitlines()) < 40):
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert err.count("interrupted (SIGTERM) at step") == 1, err[-2000:]
    stopped = int(re.search(r"interrupted \(SIGTERM\) at step (\d+)", err).group(1))
    assert torch.load(run / "checkpoints/last.pt", weights_only=True)["step"] == stopped
    assert [r["step"] for r in metrics(run)][-1] == stopped
    assert torchrun("--resume", str(run), "--steps", str(stopped + 3), "--quiet").returncode == 0
    assert torch.load(run / "checkpoints/last.pt", weights_only=True)["step"] == stopped + 3


def test_own_signal_after_the_agreed_stop_is_not_a_second_ctrl_c(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """torchrun signals its workers one by one. When the other process's signal has already been agreed on at a
    logging step, this process's own signal, arriving while it saves, is the same stop, not the user insisting.
    Two processes are simulated in one: all_reduce reports the peer's SIGTERM from step 34 on."""
    from impl.data.load import synthetic
    from impl.runs.folder import RunFolder
    from impl.training import loop
    from impl.training.settings import Settings
    from impl.training.trainer import Trainer

    exp = spec.load("r004-mlp")
    t = Trainer(exp, synthetic(1024, (1, 28, 28)).images, Settings(exp.name, 32, 100, None, seed=0, device="cpu",
                                                                    log_every=1))
    t.world_size = 2  # only train_loop's collective decisions look at it after construction

    def all_reduce(tensor: torch.Tensor, op: object = None) -> None:
        if tensor.dtype == torch.int64 and t.step >= 34:  # the flags: the peer was signalled
            tensor[0] = max(int(tensor[0]), signal.SIGTERM)
        elif tensor.is_floating_point():
            tensor *= 2  # the peer's equal share, as reduce_mean expects

    real_save, late = loop.save_checkpoint, {"sent": False}

    def save_with_own_signal_arriving(run: RunFolder, state: dict, keep: str | None = None) -> Path:
        if state["step"] >= 34 and not late["sent"]:
            late["sent"] = True
            signal.raise_signal(signal.SIGTERM)
        return real_save(run, state)

    monkeypatch.setattr(torch.distributed, "all_reduce", all_reduce)
    monkeypatch.setattr(loop, "save_checkpoint", save_with_own_signal_arriving)
    run = RunFolder.create(tmp_path / "run")
    assert loop.train_loop(t, run, quiet=True) == signal.SIGTERM
    assert late["sent"] and torch.load(run.last_checkpoint, weights_only=True)["step"] == 34
