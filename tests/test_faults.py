"""Faults during a run: signals, divergence, kills during a write, damaged or foreign checkpoints, full disks."""

from __future__ import annotations

import dataclasses
import errno
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from impl import train
from impl.runs import checkpoint
from impl.runs.writer import BackgroundWriter
from impl.training import loop
from impl.training.losses import FAMILIES, bce_d
from impl.training.trainer import Trainer

ARGS = ["--data", "synthetic", "--quiet", "--batch-size", "32", "--log-every", "4"]


def start_run(tmp_path: Path, steps: int, name: str = "r004-mlp") -> Path:
    out = tmp_path / "run"
    assert train.main([name, "--steps", str(steps), "--out", str(out), *ARGS]) == 0
    return out


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])  # SIGHUP: a closed terminal
def test_signal_saves_and_resume_matches_an_uninterrupted_run(tmp_path: Path, sig: signal.Signals) -> None:
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "impl.train", "r004-mlp", "--steps", "100000", "--out", str(out), *ARGS[:-1], "1"]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and (not (out / "metrics.jsonl").exists()
                                      or len((out / "metrics.jsonl").read_text().splitlines()) < 40):
        time.sleep(0.05)  # past the first epoch end (32 steps), mid-way through the second
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + sig, err
    assert f"interrupted ({sig.name})" in err and f"--resume {out}" in err and "Traceback" not in err
    stopped = torch.load(out / "checkpoints/last.pt", weights_only=True)["step"]
    assert stopped >= 40
    assert train.main(["--resume", str(out), "--steps", str(stopped + 5), "--quiet"]) == 0
    whole = tmp_path / "whole"
    assert train.main(["r004-mlp", "--steps", str(stopped + 5), "--out", str(whole), *ARGS]) == 0
    a, b = (torch.load(p / "checkpoints/last.pt", weights_only=True) for p in (out, whole))
    assert all(torch.equal(a["G"][k], b["G"][k]) for k in a["G"])


@pytest.fixture
def slow_epoch_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Epoch-end files take half a second on the background writer: whatever the loop writes or reads next must
    wait for them, or it comes out of order."""
    real = loop.write_epoch

    def slow(*args: object) -> None:
        time.sleep(0.5)
        real(*args)

    monkeypatch.setattr(loop, "write_epoch", slow)


def test_non_finite_loss_stops_naming_the_step(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture, slow_epoch_writes: None) -> None:
    calls = {"n": 0}

    def poisoned(real, fake, reduction="mean"):
        calls["n"] += 1
        loss = bce_d(real, fake, reduction)
        return loss * float("nan") if calls["n"] == 41 else loss

    monkeypatch.setitem(FAMILIES, "bce", dataclasses.replace(FAMILIES["bce"], d_loss=poisoned))
    out = tmp_path / "run"
    assert train.main(["r004-mlp", "--steps", "100", "--out", str(out), *ARGS]) == 3
    err = capsys.readouterr().err
    assert "non-finite loss at step 41" in err and "last good checkpoint at step 32" in err
    assert torch.load(out / "checkpoints/last.pt", weights_only=True)["step"] == 32


@pytest.mark.slow
def test_kill_during_checkpoint_write_leaves_the_previous_one(tmp_path: Path) -> None:
    out = start_run(tmp_path, 40)
    before = torch.load(out / "checkpoints/last.pt", weights_only=True)["step"]
    script = textwrap.dedent(f"""
        import os, signal, torch
        from impl.runs import checkpoint
        real_save = torch.save
        def dying_save(obj, fh):
            fh.write(b"PK half a checkpoint")
            fh.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        checkpoint.torch.save = dying_save
        checkpoint.save_checkpoint(checkpoint.RunFolder({str(out)!r}), {{"step": 999}})
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL
    assert list((out / "checkpoints").glob(".last.pt.new.*.tmp"))  # the half-written file, beside the good ones
    state, note = checkpoint.load_checkpoint(out)
    assert state["step"] == before and note == ""
    assert train.main(["--resume", str(out), "--steps", "44", "--quiet"]) == 0


def test_corrupt_last_checkpoint_falls_back_to_prev(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = start_run(tmp_path, 40)  # last.pt at step 40, prev.pt at step 32 (the epoch end)
    last = out / "checkpoints/last.pt"
    last.write_bytes(last.read_bytes()[:1000])
    assert train.main(["--resume", str(out), "--steps", "36", "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "resuming r004-mlp at step 32" in err and "using prev.pt: last.pt unreadable" in err
    for name in ("last.pt", "prev.pt"):
        (out / "checkpoints" / name).write_bytes(b"garbage")
    assert train.main(["--resume", str(out), "--quiet"]) == 2
    assert "no usable checkpoint (last.pt unreadable" in capsys.readouterr().err


class Payload:
    def __reduce__(self):
        return (os.system, (f"touch {MARKER}",))


MARKER = Path(os.environ.get("TMPDIR", "/tmp")) / f"gan-spec-pwned-{os.getpid()}"


def test_checkpoint_cannot_run_code(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = start_run(tmp_path, 5)
    for name in ("last.pt", "prev.pt"):
        torch.save({"format": 1, "G": Payload()}, out / "checkpoints" / name)
    assert train.main(["--resume", str(out), "--quiet"]) == 2
    assert not MARKER.exists(), "loading a checkpoint executed code"
    assert "no usable checkpoint" in capsys.readouterr().err


def test_resume_refuses_another_experiment_or_changed_networks(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = start_run(tmp_path, 5)
    assert train.main(["r004-conv", "--resume", str(out), "--quiet"]) == 2
    assert "is a run of r004-mlp, not r004-conv" in capsys.readouterr().err
    path = out / "checkpoints/last.pt"
    state = torch.load(path, weights_only=True)
    state["networks"]["G"]["fc1"] = state["networks"]["G"]["fc1"].replace("128", "256")
    torch.save(state, path)
    assert train.main(["--resume", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "networks changed since this run started (G module 'fc1': checkpoint has Linear(" in err


@pytest.mark.parametrize("steps", [100, 40])  # the second checkpoint: at the next epoch end, or the final one
def test_disk_full_keeps_the_last_checkpoint(steps: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture) -> None:
    real_save, calls = torch.save, {"n": 0}

    def full_disk(obj, fh):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_save(obj, fh)

    monkeypatch.setattr(checkpoint.torch, "save", full_disk)
    out = tmp_path / "run"
    assert train.main(["r004-mlp", "--steps", str(steps), "--out", str(out), *ARGS]) == 3
    err = capsys.readouterr().err
    assert "cannot write checkpoint (the disk is full); last.pt is intact; free disk space" in err
    assert torch.load(out / "checkpoints/last.pt", weights_only=True)["step"] == 32
    assert not list((out / "checkpoints").glob("*.tmp"))  # the failed write left nothing behind


def test_out_of_memory_suggests_a_smaller_batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture) -> None:
    real_step = Trainer.train_step

    def oom_at_50(self):
        if self.step == 50:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real_step(self)

    monkeypatch.setattr(Trainer, "train_step", oom_at_50)
    out = tmp_path / "run"
    assert train.main(["r004-mlp", "--steps", "100", "--out", str(out), *ARGS]) == 3
    assert "out of GPU memory at batch size 32" in capsys.readouterr().err
    assert torch.load(out / "checkpoints/last.pt", weights_only=True)["step"] == 32


def test_epoch_files_are_a_snapshot_written_in_order(tmp_path: Path) -> None:
    """The background writer gets a copy of the state: training changing the live tensors afterwards does not
    reach the checkpoint; jobs run in the order given; flush() re-raises the first failure and clears it."""
    live = {"w": torch.zeros(3), "opt": {"state": {0: {"m": torch.ones(2)}}, "groups": [{"lr": 0.1}]}}
    copy = checkpoint.snapshot(live)
    live["w"].add_(5)
    live["opt"]["state"][0]["m"].mul_(7)
    assert copy["w"].tolist() == [0, 0, 0] and copy["opt"]["state"][0]["m"].tolist() == [1, 1]
    assert copy["opt"]["groups"] == [{"lr": 0.1}]
    writer, order = BackgroundWriter(), []

    def fail(name: str) -> None:
        order.append(name)
        raise OSError(errno.ENOSPC, name)

    try:
        writer.submit(order.append, "a")
        writer.submit(fail, "b")
        writer.submit(fail, "c")
        with pytest.raises(OSError, match="b"):
            writer.flush()
        assert order == ["a", "b", "c"]
        writer.flush()  # nothing left to report
    finally:
        writer.close()


def test_interrupt_saves_after_the_queued_epoch_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture, slow_epoch_writes: None) -> None:
    """Ctrl-C two steps after an epoch end, while that epoch's checkpoint is still being written: the interrupt's
    checkpoint (step 34) must be the last one, not the older epoch-end one landing after it."""
    real = Trainer.train_step

    def interrupted(self: Trainer) -> dict:
        stats = real(self)
        if self.step == 34:
            signal.raise_signal(signal.SIGINT)
        return stats

    monkeypatch.setattr(Trainer, "train_step", interrupted)
    out = tmp_path / "run"
    assert train.main(["r004-mlp", "--steps", "100", "--device", "cpu", "--out", str(out), *ARGS]) == 130
    assert "interrupted (SIGINT) at step 34" in capsys.readouterr().err
    assert torch.load(out / "checkpoints/last.pt", weights_only=True)["step"] == 34
    assert torch.load(out / "checkpoints/prev.pt", weights_only=True)["step"] == 32


def test_disk_full_for_a_sample_grid_is_a_failed_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture) -> None:
    import torchvision.utils

    real, calls = torchvision.utils.save_image, {"n": 0}

    def full_disk(tensor: torch.Tensor, fp: Path, **kwargs: object) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(errno.ENOSPC, "No space left on device", str(fp))
        real(tensor, fp, **kwargs)

    monkeypatch.setattr(torchvision.utils, "save_image", full_disk)
    assert train.main(["r004-mlp", "--steps", "100", "--out", str(tmp_path / "run"), *ARGS]) == 3
    err = capsys.readouterr().err
    assert "cannot write epoch_002.png (the disk is full); checkpoints/last.pt is intact" in err
    assert "Traceback" not in err
