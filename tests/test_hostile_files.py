"""Files are files (issue 31): a hard link, a FIFO, a folder or a mount at a name gan-spec opens is refused in one
line or never written through; a run is deleted only by its record; a kill's leftovers are cleaned at the next start.
Each test hashes a victim beside the folder and checks it is unchanged."""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from impl.core.errors import RunError
from impl.core.files import TEMP_NAME, Root, Unsafe, read_regular, temporary_name
from impl.runs.folder import RunFolder
from impl.runs.manifest import MANIFEST, clean_leftovers
from tests.helpers import FAST, digest, victims

ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("mount") is None, reason="mounts need root")


@contextlib.contextmanager
def alarm(seconds: int = 5) -> Iterator[None]:
    """Fail instead of hanging when an open blocks (a FIFO read without the non-blocking open)."""
    def hung(*_: object) -> None:
        raise TimeoutError("blocked on a FIFO")

    old = signal.signal(signal.SIGALRM, hung)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


@contextlib.contextmanager
def tmpfs(where: Path) -> Iterator[Path]:
    where.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "gan-spec-test", str(where)], check=True)
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def new_run(tmp_path: Path) -> RunFolder:
    run = RunFolder.create(tmp_path / "run")
    run.write_config({"experiment": "r004-mlp", "settings": {}, "total_steps": 10})
    run.append_row(RunFolder.LOG, {"step": 1})
    run.root.write_bytes(RunFolder.epoch_grid(1), b"png")
    return run


# ---------------------------------------------------------------- hard links

@pytest.mark.parametrize("name", [RunFolder.LOG, RunFolder.EPOCH_LOG, MANIFEST])
def test_an_append_never_writes_through_a_hard_link(tmp_path: Path, name: str) -> None:
    """`cp -al run snap`, then a resume of snap: the append copies the shared file first (link count check)."""
    file, _ = victims(tmp_path)
    root = Root(tmp_path / "run")
    root.mkdir(".")
    os.link(file, root.path / name)
    before = digest(file)
    root.append(name, b'{"step": 2}\n')
    assert digest(file) == before
    assert os.lstat(root.path / name).st_nlink == 1
    assert (root.path / name).read_bytes() == file.read_bytes() + b'{"step": 2}\n'


def test_a_hard_linked_lock_file_is_replaced_by_a_fresh_one(tmp_path: Path) -> None:
    """`ln victim.txt RUN/.lock`, then a resume: the victim kept its bytes (the lock was truncated before)."""
    file, _ = victims(tmp_path)
    run = new_run(tmp_path)
    os.unlink(run.file(RunFolder.LOCK)) if run.file(RunFolder.LOCK).exists() else None
    os.link(file, run.file(RunFolder.LOCK))
    before = digest(file)
    with run.locked():
        assert os.lstat(run.file(RunFolder.LOCK)).st_nlink == 1
        assert str(os.getpid()) in run.file(RunFolder.LOCK).read_text()
    assert digest(file) == before


def test_a_snapshot_made_with_cp_al_is_resumed_without_touching_the_original(tmp_path: Path) -> None:
    run = new_run(tmp_path)
    snap = tmp_path / "snap"
    subprocess.run(["cp", "-al", str(run.path), str(snap)], check=True)
    before = digest(run.path)
    copy = RunFolder(snap)
    with copy.locked():
        copy.append_row(RunFolder.LOG, {"step": 2})
        copy.write_config({"experiment": "r004-mlp", "settings": {}, "total_steps": 20})
    assert digest(run.path) == before
    assert [r["step"] for r in copy.log()] == [1, 2]


# ---------------------------------------------------------------- FIFOs and other non-files

READ_NAMES = [RunFolder.CONFIG, RunFolder.LOG, RunFolder.EVALUATION, RunFolder.OUTCOME, MANIFEST]


@pytest.mark.parametrize("name", READ_NAMES)
def test_a_fifo_at_a_name_gan_spec_reads_is_refused_without_waiting(tmp_path: Path, name: str) -> None:
    run = new_run(tmp_path)
    run.file(name).unlink(missing_ok=True)
    os.mkfifo(run.file(name))
    with alarm(), pytest.raises(Unsafe, match=r"FIFO \(named pipe\), not a regular file"):
        read_regular(run.file(name))
    with alarm():
        assert RunFolder(run.path, trusted=False).optional(name)[0] is None  # untrusted readers leave it out
    if name == RunFolder.CONFIG:  # impl.evaluate asks it which data the run saw: named, never 'not FashionMNIST'
        with alarm(), pytest.raises(Unsafe, match="FIFO"):
            run.on_fashion()


@pytest.mark.parametrize("name", [RunFolder.LOG, RunFolder.LOCK, RunFolder.EPOCH_LOG])
def test_a_fifo_at_a_name_gan_spec_writes_in_place_is_refused(tmp_path: Path, name: str) -> None:
    run = new_run(tmp_path)
    run.file(name).unlink(missing_ok=True)
    os.mkfifo(run.file(name))
    with alarm(), pytest.raises(Unsafe, match="not a regular file"):
        if name == RunFolder.LOCK:
            with run.locked():
                pass
        else:
            run.append_row(name, {"step": 3})


@pytest.mark.parametrize("name", [RunFolder.CONFIG, RunFolder.LOG, "checkpoints/last.pt", RunFolder.LOCK])
def test_the_check_before_a_resume_names_a_fifo_or_a_folder_at_a_file_name(tmp_path: Path, name: str) -> None:
    run = new_run(tmp_path)
    run.file(name).unlink(missing_ok=True)
    os.mkfifo(run.file(name))
    with pytest.raises(Unsafe, match=f"{name}: a FIFO"):
        run.refuse_links()
    run.file(name).unlink()
    run.file(name).mkdir()
    with pytest.raises(Unsafe, match=f"{name}: a folder, not a regular file"):
        run.refuse_links()


def test_a_folder_where_a_file_is_replaced_is_named(tmp_path: Path) -> None:
    run = new_run(tmp_path)
    run.file(RunFolder.LOSS_PLOT).mkdir()
    with pytest.raises(Unsafe, match="loss.png: a folder where gan-spec writes a file"):
        run.root.write_bytes(RunFolder.LOSS_PLOT, b"png")


# ---------------------------------------------------------------- mounts (root only)

@ROOT_ONLY
def test_a_file_bind_mounted_from_another_file_system_is_never_appended_to(tmp_path: Path) -> None:
    run = new_run(tmp_path)
    with tmpfs(tmp_path / "other") as other:
        victim = other / "victim.txt"
        victim.write_text("someone else's log\n")
        before = digest(victim)
        subprocess.run(["mount", "--bind", str(victim), str(run.file(RunFolder.LOG))], check=True)
        try:
            with pytest.raises(Unsafe, match="another file system"):
                run.append_row(RunFolder.LOG, {"step": 2})
            with pytest.raises(Unsafe, match="another file system"):
                run.refuse_links()
        finally:
            subprocess.run(["umount", str(run.file(RunFolder.LOG))], check=False)
        assert digest(victim) == before


@ROOT_ONLY
def test_a_mount_inside_a_run_is_never_deleted_through(tmp_path: Path) -> None:
    run = new_run(tmp_path)
    with tmpfs(run.file(RunFolder.SAMPLES)) as samples:
        (samples / "epoch_001.png").write_bytes(b"png")  # even a name gan-spec recorded
        before = digest(samples)
        with pytest.raises(Unsafe, match="a mount inside the run folder"):
            run.discard()
        with pytest.raises(Unsafe, match="a mount inside a folder gan-spec deletes"):
            run.root.rmtree(RunFolder.SAMPLES)
        assert digest(samples) == before


@ROOT_ONLY
def test_a_run_folder_that_is_a_mount_point_is_emptied_and_kept(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "run") as where:
        run = new_run(tmp_path)
        assert run.path == where
        run.discard()
        assert where.is_dir() and not any(where.iterdir())


# ---------------------------------------------------------------- deletion by record

def test_discard_deletes_what_the_run_recorded_and_nothing_else(tmp_path: Path) -> None:
    run = new_run(tmp_path)
    (run.path / "checkpoints" / temporary_name("last.pt.new")).write_bytes(b"half")  # a kill's leftover
    run.discard()
    assert not run.path.exists()


@pytest.mark.parametrize("stranger", ["samples/mine.txt", "samples/deep/er/mine.png", "checkpoints/notes.md",
                                      "mine.txt"])
def test_discard_refuses_a_file_it_did_not_write_anywhere_in_the_tree(tmp_path: Path, stranger: str) -> None:
    """Before: only the top-level names were checked, then samples/ was removed whole with the user's file in it."""
    run = new_run(tmp_path)
    (run.path / stranger).parent.mkdir(parents=True, exist_ok=True)
    (run.path / stranger).write_text("the user's\n")
    before = digest(run.path)
    with pytest.raises(RunError, match="holds files gan-spec did not write"):
        run.discard()
    assert digest(run.path) == before


def test_discard_refuses_a_link_or_fifo_inside_and_a_run_without_a_record(tmp_path: Path) -> None:
    file, _ = victims(tmp_path)
    run = new_run(tmp_path)
    (run.path / "samples" / "epoch_002.png").symlink_to(file)
    with pytest.raises(RunError, match="did not write"):
        run.discard()
    (run.path / "samples" / "epoch_002.png").unlink()
    os.mkfifo(run.path / "samples" / "epoch_002.png")
    with pytest.raises(RunError, match="did not write"):
        run.discard()
    (run.path / "samples" / "epoch_002.png").unlink()
    run.file(MANIFEST).unlink()
    with pytest.raises(RunError, match="no record of what gan-spec wrote"):
        run.discard()
    assert run.file(RunFolder.CONFIG).exists() and file.read_text().startswith("someone")


# ---------------------------------------------------------------- leftovers and kills

def test_a_long_name_has_a_legal_temporary_name(tmp_path: Path) -> None:
    """A legal 254-byte --out name failed after the work: its temporary name was longer than 255 bytes."""
    name = "x" * 250 + ".png"
    Root(tmp_path).write_bytes(name, b"png")
    assert (tmp_path / name).read_bytes() == b"png" and TEMP_NAME.match(temporary_name(name))


def test_leftovers_older_than_the_lock_are_cleaned_at_the_next_start(tmp_path: Path) -> None:
    run = new_run(tmp_path)
    old = [run.path / temporary_name("config.json"), run.path / "checkpoints" / temporary_name("last.pt.new")]
    for path in old:
        path.write_bytes(b"left by a kill")
        os.utime(path, (time.time() - 60, time.time() - 60))
    kept = [run.path / "checkpoints" / ".notes.tmp", run.path / "samples" / "epoch_002.png.deadbeef.tmp"]
    for path in kept:
        path.write_bytes(b"not a name gan-spec makes")
    with run.locked():
        pass
    assert not any(p.exists() for p in old) and all(p.exists() for p in kept)
    fresh = run.path / temporary_name("loss.png")
    fresh.write_bytes(b"being written now")
    assert clean_leftovers(run.path, since=time.time() - 30) == [] and fresh.exists()


@FAST
@given(delay=st.floats(0.0, 0.05), seed=st.integers(0, 2**16))
def test_a_kill_at_any_point_leaves_a_folder_the_next_start_cleans_and_can_delete(tmp_path_factory, delay: float,
                                                                                  seed: int) -> None:
    """A writer killed at a random moment (SIGKILL) leaves only recorded names and temporary files: the next
    start removes the temporary files, and the whole run can still be deleted by its record."""
    where = tmp_path_factory.mktemp("kill")
    run = new_run(where)
    child = os.fork()
    if child == 0:  # the writer: grids, logs and checkpoint-like files, as a run writes them
        try:
            rng = random.Random(seed)
            for i in range(10_000):
                run.root.write_bytes(f"{RunFolder.CHECKPOINTS}/last.pt.new", os.urandom(rng.randrange(1, 50_000)))
                run.append_row(RunFolder.LOG, {"step": i})
                run.root.write_bytes(RunFolder.epoch_grid(i % 7), b"png" * rng.randrange(1, 1000))
        finally:
            os._exit(0)
    time.sleep(delay)
    os.kill(child, signal.SIGKILL)
    os.waitpid(child, 0)
    with RunFolder(run.path).locked():
        assert not [p for p in run.path.rglob("*") if TEMP_NAME.match(p.name)]
    RunFolder(run.path).discard()
    assert not run.path.exists()
