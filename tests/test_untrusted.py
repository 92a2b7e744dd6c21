"""A folder someone else prepared is untrusted input (issue 24). Each class of hostile input is generated, and every
test hashes a victim file beside the folder (or the folder a planted link points to) and proves it unchanged:

- a symbolic link planted at any path gan-spec writes, at any depth (impl/files.Root, property-based);
- caches replaced by anything (the decoded image cache beside a data folder, the real-feature cache): rebuilt,
  never used; nothing non-finite reaches LAPACK (FID's eigenvalues crash oneMKL on NaN);
- Inception weights holding NaN or integers: refused in one line before the network is built;
- a second process on a study or scorecard folder: refused in one line naming the first;
- outputs that cannot be written: refused before the work (exit 2).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from impl import errors, evaluate, sample
from impl.arms.engine import ArmsFolder
from impl.data import files as datafiles
from impl.errors import DataError, RunError, user_cache
from impl.files import Root, Unsafe, unwritable
from impl.measure import features, metrics

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def digest(path: Path) -> dict[str, str]:
    paths = sorted(path.rglob("*")) if path.is_dir() else [path]
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in paths if p.is_file() and not p.is_symlink()}


def victims(base: Path) -> tuple[Path, Path]:
    """A file and a folder beside the prepared folder: what a planted link points to."""
    base.mkdir(parents=True, exist_ok=True)
    file, folder = base / "victim.txt", base / "victimdir"
    file.write_text("someone else's data\n" * 50)
    folder.mkdir(exist_ok=True)
    (folder / "keep.txt").write_text("keep me\n")
    (folder / "last.pt").write_text("someone else's file named like ours\n")
    return file, folder


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


# ---------------------------------------------------------------- caches replaced by anything

def hostile_tensor() -> st.SearchStrategy:
    shapes = st.sampled_from([(5, 1, 28, 28), (5, 3, 8, 8), (2, 5, 1, 28, 28), (5, 28, 28), (0, 1, 28, 28),
                              (9, 1, 28, 28)])
    dtypes = st.sampled_from([torch.uint8, torch.float32, torch.int64, torch.float16])
    fills = st.sampled_from([0.0, float("nan"), float("inf"), 7.0])
    return st.tuples(shapes, dtypes, fills)


@FAST
@given(spec=hostile_tensor(), skipped=st.sampled_from([{}, {"too large": 1}, [1], {"x": "y"}, None]),
       wrap=st.sampled_from(["dict", "list", "tensor", "bytes"]))
def test_an_image_cache_is_used_only_when_it_holds_what_gan_spec_writes(tmp_path_factory: pytest.TempPathFactory,
                                                                        spec, skipped, wrap: str) -> None:
    shape, dtype, fill = spec
    base = tmp_path_factory.mktemp("faces")
    file, _ = victims(base)
    cache = base / ".gan-spec-28px-1c-0123456789abcdef.pt"
    images = torch.full(shape, fill).to(dtype) if dtype.is_floating_point else torch.full(shape, 7, dtype=dtype)
    payload = {"dict": {"images": images, "skipped": skipped}, "list": [images], "tensor": images}.get(wrap)
    if payload is None:
        cache.write_bytes(b"PK\x03\x04 not a torch file")
    else:
        torch.save(payload, cache)
    before = digest(file)
    got = datafiles.read_cache(cache, 28, 1, count=5)
    sound = (wrap == "dict" and dtype == torch.uint8 and shape in ((5, 1, 28, 28),) and isinstance(skipped, dict)
             and all(isinstance(v, int) for v in skipped.values()))
    assert (got is not None) == sound
    assert cache.exists() == sound  # a cache that is not ours is removed, then rebuilt by the caller
    assert digest(file) == before


def test_a_link_at_the_image_caches_temporary_name_is_not_followed(tmp_path: Path) -> None:
    file, _ = victims(tmp_path)
    cache = tmp_path / "faces" / ".gan-spec-28px-1c-0123456789abcdef.pt"
    cache.parent.mkdir()
    cache.with_suffix(".tmp").symlink_to(file)  # the name c4e8280 wrote through, planted by whoever owns faces/
    before = digest(file)
    datafiles.write_cache(cache, torch.zeros(5, 1, 28, 28, dtype=torch.uint8), {})
    assert digest(file) == before
    assert datafiles.read_cache(cache, 28, 1, 5) is not None


@pytest.mark.parametrize("damage", ["nan", "inf", "int", "shape", "radius", "garbage"])
def test_a_damaged_feature_cache_is_computed_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: str,
                                                   capsys: pytest.CaptureFixture) -> None:
    from safetensors.torch import save_file

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    good = {"features": torch.randn(6, 4), "radius_pr": torch.rand(6), "radius_dc": torch.rand(6)}
    bad = dict(good)
    if damage in ("nan", "inf"):
        bad["features"] = torch.full((6, 4), float(damage))
    elif damage == "int":
        bad["features"] = torch.zeros(6, 4, dtype=torch.int8)
    elif damage == "shape":
        bad["features"] = torch.zeros(3, 7)
    elif damage == "radius":
        bad["radius_pr"] = torch.rand(2)
    path = features.cache_dir() / "real-features" / "k.safetensors"
    path.parent.mkdir(parents=True)
    if damage == "garbage":
        path.write_bytes(b"\x00" * 64)
    else:
        save_file(bad, path, metadata={"info": "{}"})
    calls = []
    tensors, _ = features.cached("k", lambda: calls.append(1) or (good, {"ok": 1}), {})
    assert calls == [1] and torch.equal(tensors["features"], good["features"])
    assert features.sound(features.cached("k", lambda: pytest.fail("recomputed a sound cache"), {})[0]) == ""
    if damage != "garbage":
        assert "damaged cache" in capsys.readouterr().err


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_nothing_non_finite_reaches_lapack(bad: float) -> None:
    real, fake = torch.randn(30, 5), torch.randn(30, 5)
    fake[3, 2] = bad
    for measure in (metrics.frechet, metrics.kernel):
        with pytest.raises(DataError, match="NaN or infinite"):
            measure(real, fake)
        with pytest.raises(DataError, match="real features"):
            measure(fake, real)


@pytest.mark.parametrize("damage", ["nan", "inf", "int"])
def test_inception_weights_that_are_not_numbers_are_refused_in_one_line(tmp_path: Path, damage: str) -> None:
    state = {"Conv2d_1a_3x3.conv.weight": torch.randn(32, 3, 3, 3), "fc.bias": torch.zeros(8)}
    if damage == "int":
        state["fc.bias"] = torch.zeros(8, dtype=torch.int64)
    else:
        state["fc.bias"][3] = float(damage)
    path = tmp_path / features.INCEPTION_FILE
    torch.save(state, path)
    with pytest.raises(DataError) as caught:
        features.load_inception(path)
    assert "fc.bias" in str(caught.value) and "\n" not in str(caught.value)
    assert ("floating point" if damage == "int" else "NaN or infinite") in str(caught.value)


@pytest.mark.parametrize("value", ["", "relative/cache"])
def test_an_empty_or_relative_cache_home_is_not_the_current_folder(monkeypatch: pytest.MonkeyPatch,
                                                                   value: str) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", value)
    assert user_cache().is_absolute() and user_cache() == Path.home() / ".cache" / "gan-spec"
    assert features.cache_dir() == user_cache() and errors.crash_folder().parent == user_cache()


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
    assert "No space left on device" in err and "last.pt is intact" in err
    assert len([line for line in err.splitlines() if line.startswith("error:")]) == 1 and "Traceback" not in err
    assert digest(run / "checkpoints") == before  # the last good checkpoint, byte for byte; no temporary file
