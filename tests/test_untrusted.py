"""A folder someone else prepared is untrusted input (issue 24). Each class of hostile input is generated, and every
test hashes a victim file beside the folder (or the folder a planted link points to) and proves it unchanged:

- a symbolic link planted at any path gan-spec writes, at any depth (impl/files.Root, property-based);
- a second process on a study or scorecard folder: refused in one line naming the first;
- outputs that cannot be written: refused before the work (exit 2).

Caches, weights and features read from files: tests/test_untrusted_numbers.py.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from impl import evaluate, sample
from impl.arms.engine import ArmsFolder
from impl.core.errors import RunError
from impl.core.files import Root, Unsafe, unwritable
from impl.measure import features
from tests.helpers import FAST, digest, victims

# ---------------------------------------------------------------- links at every path a write goes through

NAMES = st.sampled_from(["checkpoints", "samples", "latent", "last.pt", "metrics.jsonl", ".lock", "a.png"])
PATHS = st.lists(NAMES, min_size=1, max_size=3).map(lambda parts: "/".join(parts))
OPERATIONS = ["write_bytes", "append", "rename", "remove", "rmtree", "locked", "mkdir", "replacing-fails"]


def operate(root: Root, op: str, relative: str) -> None:
    if op == "write_bytes":
        root.write_bytes(relative, b"new")
    elif op == "append":
        root.append(relative, b"row\n")
    elif op == "rename":
        root.rename(relative, "renamed")
    elif op == "remove":
        root.remove(relative)
    elif op == "rmtree":
        root.rmtree(relative)
    elif op == "locked":
        with root.locked(relative, "test"):
            pass
    elif op == "mkdir":
        root.mkdir(relative)
    else:  # a writer that fails part way (a full disk): its temporary file must go, the target stay
        with pytest.raises(OSError), root.replacing(relative) as fh:
            fh.write(b"half")
            raise RuntimeError("torch's writer on a full disk")


@FAST
@given(relative=PATHS, depth=st.integers(0, 2), to_folder=st.booleans(), op=st.sampled_from(OPERATIONS))
def test_a_link_planted_at_any_depth_is_never_followed(tmp_path_factory: pytest.TempPathFactory, relative: str,
                                                       depth: int, to_folder: bool, op: str) -> None:
    base = tmp_path_factory.mktemp("case")
    file, folder = victims(base)
    run = base / "run"
    parts = relative.split("/")
    at = run.joinpath(*parts[: min(depth, len(parts) - 1) + 1])  # the link: the target or a folder above it
    at.parent.mkdir(parents=True, exist_ok=True)
    at.symlink_to(folder if to_folder else file)
    before = digest(file) | digest(folder)
    try:
        operate(Root(run), op, relative)
    except (Unsafe, FileNotFoundError, NotADirectoryError, IsADirectoryError):
        pass  # refused in one line (Unsafe), or nothing there to remove or rename
    except OSError as exc:
        assert op == "rmtree" or op == "replacing-fails", exc
    assert digest(file) | digest(folder) == before  # nothing outside the run changed, byte for byte
    assert not [p for p in run.rglob("*.tmp")]  # no temporary file left behind


def test_a_failed_write_removes_its_temporary_file_and_keeps_the_target(tmp_path: Path) -> None:
    root = Root(tmp_path)
    root.write_bytes("checkpoints/last.pt", b"good")
    with pytest.raises(OSError, match="No space|cannot write"), root.replacing("checkpoints/last.pt") as fh:
        fh.write(b"half")
        raise RuntimeError("[enforce fail at inline_container.cc] unexpected pos")  # torch.save on a full disk
    assert (tmp_path / "checkpoints/last.pt").read_bytes() == b"good"
    assert os.listdir(tmp_path / "checkpoints") == ["last.pt"]


# ---------------------------------------------------------------- one process per study or scorecard

@pytest.mark.parametrize("kind", ["collapse", "compare", "reproduce"])
def test_a_second_process_on_a_study_or_scorecard_is_refused_naming_the_first(tmp_path: Path, kind: str) -> None:
    file, _ = victims(tmp_path)
    before = digest(file)
    first = ArmsFolder(tmp_path / "out", kind, f"{kind} study")
    with first.opened({"seed": 0}):
        with pytest.raises(RunError, match=rf"in use by process {os.getpid()} "):
            with ArmsFolder(tmp_path / "out", kind, f"{kind} study").held():
                pass
    with first.held():  # released after the first: the next process may go on
        pass
    assert digest(file) == before


def test_the_lock_file_of_a_study_cannot_be_a_link(tmp_path: Path) -> None:
    file, _ = victims(tmp_path)
    before = digest(file)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / ".gan-spec.lock").symlink_to(file)
    with pytest.raises(Unsafe, match="symbolic link"):
        with ArmsFolder(tmp_path / "out", "collapse", "collapse study").held():
            pass
    assert digest(file) == before


# ---------------------------------------------------------------- outputs that cannot be written

@pytest.fixture
def read_only(tmp_path: Path) -> Path:
    """A folder this process cannot write: a read-only tmpfs when running as root (root ignores permissions), else
    a folder without write permission."""
    folder = tmp_path / "ro"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
        return
    import subprocess

    if subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(folder)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot make a read-only folder here (root, and no mount)")
    yield folder
    subprocess.run(["umount", "-l", str(folder)], check=False)


def test_unwritable_names_the_folder_that_stops_a_write(read_only: Path, tmp_path: Path) -> None:
    assert unwritable(read_only / "a" / "b.npz") == read_only
    assert unwritable(tmp_path / "new" / "x") is None


@pytest.mark.parametrize("argv", [["--format", "npz", "--out", "{ro}/x.npz"], ["--format", "folder", "--out", "{ro}/x"],
                                  ["--format", "grid", "--out", "{ro}/x.png"]])
def test_sample_into_a_read_only_folder_is_refused_before_the_work(read_only: Path, argv: list[str],
                                                                    monkeypatch: pytest.MonkeyPatch,
                                                                    capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setattr(sample, "load_generator", lambda *a: pytest.fail("loaded the generator before refusing"))
    assert sample.main([str(read_only), *[a.format(ro=read_only) for a in argv]]) == 2
    assert "cannot be written" in capsys.readouterr().err


def test_evaluate_of_a_read_only_run_is_refused_before_the_work(read_only: Path, monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setattr(evaluate, "evaluate", lambda *a, **k: pytest.fail("evaluated before refusing"))
    assert evaluate.main([str(read_only), "--n", "20"]) == 2
    err = capsys.readouterr().err
    assert "cannot be written" in err and err.count("\n") == 1


@pytest.mark.parametrize("argv", [["--n", "1000000000000"], ["--n-real", "0"], ["--n", "20", "--n-real", "10000000"]])
def test_evaluate_refuses_sizes_it_cannot_hold_before_the_work(tmp_path: Path, argv: list[str],
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(evaluate, "evaluate", lambda *a, **k: pytest.fail("evaluated before refusing"))
    try:
        code = evaluate.main([str(tmp_path), *argv])
    except SystemExit as exc:  # argparse's own one-line refusal
        code = exc.code
    assert code == 2


# ---------------------------------------------------------------- finished and evaluated runs are never deleted

@pytest.mark.parametrize("evaluated", [True, False])
def test_a_finished_run_whose_checkpoints_were_removed_is_kept(tmp_path: Path, evaluated: bool) -> None:
    from impl.arms.engine import Planned, train_or_resume
    from impl.training.request import RunRequest
    from tests.helpers import make_run

    run = make_run(tmp_path / "study" / "arm", steps=20, evaluation={"fid": 1.0} if evaluated else None)
    file, _ = victims(tmp_path)
    before = digest(run) | digest(file)
    item = Planned("arm", RunRequest(experiment="r004-mlp", out=run, data="synthetic", quiet=True))
    if evaluated:
        train_or_resume(item, "python -m impl.collapse --resume")  # kept: nothing to train, nothing deleted
    else:
        with pytest.raises(RunError, match="finished, but its checkpoints/ are gone"):
            train_or_resume(item, "python -m impl.collapse --resume")
    assert digest(run) | digest(file) == before


def test_a_scorecard_checks_the_inception_file_before_its_first_training(tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture) -> None:
    from impl import reproduce

    path = tmp_path / features.INCEPTION_FILE
    torch.save({"fc.weight": torch.full((2, 2), float("nan"))}, path)
    out = tmp_path / "scorecard"
    assert reproduce.main(["003", "--quick", "--seeds", "1", "--inception-weights", str(path), "--out", str(out)]) == 2
    assert "fc.weight holds NaN" in capsys.readouterr().err and not out.exists()


# ---------------------------------------------------------------- a run resumed with a link at one of its names

@pytest.fixture(scope="module")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from impl import train

    out = tmp_path_factory.mktemp("runs") / "run"
    assert train.main(["r004-mlp", "--data", "synthetic", "--steps", "4", "--batch-size", "32", "--log-every", "2",
                       "--out", str(out), "--quiet"]) == 0
    return out


@pytest.mark.parametrize("name", [".lock", "metrics.jsonl", "loss.png", "epoch_metrics.jsonl", "outcome.json",
                                  "metrics.json", "checkpoints/last.pt", "checkpoints/prev.pt",
                                  "samples/step_000008.png", "checkpoints", "samples", "latent"])
def test_a_resume_refuses_a_link_at_any_of_the_runs_names_before_training(small_run: Path, tmp_path: Path,
                                                                          name: str,
                                                                          capsys: pytest.CaptureFixture) -> None:
    import shutil

    from impl import train

    run = Path(shutil.copytree(small_run, tmp_path / "run"))
    file, folder = victims(tmp_path)
    at = run / name
    if at.is_dir():
        shutil.rmtree(at)
    elif at.exists():
        at.unlink()
    at.symlink_to(folder if "." not in name else file)
    before = digest(file) | digest(folder)
    log = (run / "metrics.jsonl").read_bytes() if name != "metrics.jsonl" else b""
    assert train.main(["--resume", str(run), "--steps", "8", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"{at}: a symbolic link" in err and err.count("\n") == 1
    assert digest(file) | digest(folder) == before
    assert name == "metrics.jsonl" or (run / "metrics.jsonl").read_bytes() == log  # refused before training


# ---------------------------------------------------------------- run files edited into the wrong shape

CONFIG_EDITS = [("recipe", "x"), ("overrides", [1, 2]), ("total_steps", 10**30), ("total_steps", 0),
                ("settings", [1]), ("experiment", 5), ("total_steps", 2.5), ("recipe", None)]
LOG_EDITS = [b'{"d_loss": 1.0}\n', b'{"step": "x", "d_loss": 1.0}\n', b"[1, 2]\n", b"", b"\xff\xfe\x00garbage",
             b'{"step": 4, "d_loss": "nan", "g_loss": null}\n', b'{"step": 99999999999, "d_loss": 1.0}\n']


@pytest.mark.parametrize("key,value", CONFIG_EDITS)
def test_a_config_edited_into_the_wrong_shape_is_one_line(small_run: Path, tmp_path: Path, key: str, value: object,
                                                          capsys: pytest.CaptureFixture) -> None:
    import json
    import shutil

    from impl import train

    run = Path(shutil.copytree(small_run, tmp_path / "run"))
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps(config | {key: value}))
    file, _ = victims(tmp_path)
    before = digest(file)
    assert train.main(["--resume", str(run), "--steps", "8", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "config.json" in err and err.count("\n") == 1 and "Traceback" not in err
    assert digest(file) == before


@pytest.mark.parametrize("log", LOG_EDITS)
def test_a_training_log_edited_into_anything_resumes_or_is_one_line(small_run: Path, tmp_path: Path, log: bytes,
                                                                    capsys: pytest.CaptureFixture) -> None:
    import shutil

    from impl import train

    run = Path(shutil.copytree(small_run, tmp_path / "run"))
    (run / "metrics.jsonl").write_bytes(log)
    assert train.main(["--resume", str(run), "--steps", "8", "--quiet"]) in (0, 2)
    err = capsys.readouterr().err
    assert "Traceback" not in err and "unexpectedly" not in err


# ---------------------------------------------------------------- a real full disk (a small tmpfs, when mountable)

@pytest.fixture
def small_disk(tmp_path: Path) -> Path:
    import subprocess

    folder = tmp_path / "disk"
    folder.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4500k", "tmpfs", str(folder)],
                                           capture_output=True).returncode != 0:
        pytest.skip("no small tmpfs can be mounted here (needs root)")
    yield folder
    subprocess.run(["umount", "-l", str(folder)], check=False)


def test_a_real_full_disk_at_a_checkpoint_is_exit_3_with_the_last_one_kept(small_run: Path, small_disk: Path,
                                                                           capsys: pytest.CaptureFixture) -> None:
    import shutil

    from impl import train

    run = Path(shutil.copytree(small_run, small_disk / "run"))  # last.pt (2.6 MB) fits; a second copy does not
    before = digest(run / "checkpoints")
    assert train.main(["--resume", str(run), "--steps", "8", "--quiet"]) == 3
    err = capsys.readouterr().err
    assert "the disk is full" in err and "free disk space" in err and "last.pt is intact" in err
    assert len([line for line in err.splitlines() if line.startswith("error:")]) == 1 and "Traceback" not in err
    assert digest(run / "checkpoints") == before  # the last good checkpoint, byte for byte; no temporary file
