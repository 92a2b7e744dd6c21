"""Run folders used as a hostile user would: files where folders belong, damaged or foreign config.json, broken
metrics lines, two processes in one run, dry runs of finished runs, runs read back after the spec changed, and
the error boundary that keeps every traceback away from the user."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from impl import collapse, evaluate, latent, sample, train
from impl.core import errors
from impl.runs.folder import RunFolder
from tests.helpers import digest

ARGS = ["--data", "synthetic", "--quiet", "--batch-size", "32", "--log-every", "4"]


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "run"
    assert train.main(["r004-mlp", "--steps", "6", "--out", str(out), *ARGS]) == 0
    return out


def copy_of(run: Path, tmp_path: Path) -> Path:
    import shutil

    return Path(shutil.copytree(run, tmp_path / "copy"))


def one_line_error(capsys: pytest.CaptureFixture) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and err.count("\n") == 0, err
    return err


@pytest.mark.parametrize("where", ["file", "under-file"])
def test_out_that_names_a_file_is_refused(tmp_path: Path, where: str, capsys: pytest.CaptureFixture) -> None:
    blocker = tmp_path / "notes.txt"
    blocker.write_text("mine")
    out = blocker if where == "file" else blocker / "run"
    assert train.main(["r004-mlp", "--steps", "2", "--out", str(out), *ARGS]) == 2
    assert f"{blocker} is a file, not a folder" in one_line_error(capsys)
    assert blocker.read_text() == "mine"


@pytest.mark.parametrize("change,message", [
    (lambda c: [c], "holds list, not an object"),
    (lambda c: c | {"settings": c["settings"] | {"warp": 9}}, "unknown settings key 'warp'"),
    (lambda c: c | {"settings": {k: v for k, v in c["settings"].items() if k != "batch_size"}},
     "settings key 'batch_size' missing"),
    (lambda c: c | {"settings": c["settings"] | {"batch_size": "32"}}, "settings.batch_size is '32'"),
    (lambda c: c | {"settings": c["settings"] | {"precision": "fp8"}}, "settings.precision is 'fp8'"),
    (lambda c: {k: v for k, v in c.items() if k != "total_steps"}, "'total_steps' missing or not int"),
    (lambda c: c | {"experiment": 7}, "'experiment' missing or not str"),
])
def test_damaged_or_foreign_config_is_refused(finished: Path, tmp_path: Path, change, message: str,
                                              capsys: pytest.CaptureFixture) -> None:
    run = copy_of(finished, tmp_path)
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps(change(config)))
    before = digest(run)
    assert train.main(["--resume", str(run), "--steps", "8", "--quiet"]) == 2
    assert message in one_line_error(capsys)
    assert digest(run) == before


def test_config_of_another_version_is_refused_in_one_line(finished: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture) -> None:
    """A 0.1 project keeps no readers for older layouts: a settings key it does not know is named, nothing changes."""
    run = copy_of(finished, tmp_path)
    config = json.loads((run / "config.json").read_text())
    config["settings"]["graph"] = config["settings"].pop("fast")
    (run / "config.json").write_text(json.dumps(config))
    before = digest(run)
    assert train.main(["--resume", str(run), "--steps", "8", "--quiet"]) == 2
    assert "unknown settings key 'graph'" in one_line_error(capsys) and digest(run) == before


def test_a_metrics_line_cut_by_a_kill_is_not_glued_to_the_next(finished: Path, tmp_path: Path) -> None:
    run = copy_of(finished, tmp_path)
    path = run / "metrics.jsonl"
    path.write_text(path.read_text() + '{"step": 7, "d_lo')  # killed mid-write
    assert train.main(["--resume", str(run), "--steps", "10", "--quiet"]) == 0
    lines = path.read_text().splitlines()
    assert lines[-2] == '{"step": 7, "d_lo' and [r["step"] for r in RunFolder(run).log()][-1] == 10


def test_a_second_process_cannot_train_in_a_run(finished: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture) -> None:
    run = copy_of(finished, tmp_path)
    with RunFolder(run).locked():  # as if another process were training in it
        before = digest(run)
        assert train.main(["--resume", str(run), "--steps", "8", "--quiet"]) == 2
        err = one_line_error(capsys)
        assert f"{run}: in use by process " in err and "wait for it to finish" in err
        assert digest(run) == before
    assert train.main(["--resume", str(run), "--steps", "8", "--quiet"]) == 0  # free again


def test_dry_run_of_a_resume_leaves_the_run_untouched(finished: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture) -> None:
    run = copy_of(finished, tmp_path)
    before = digest(run)
    assert train.main(["--resume", str(run), "--dry-run", "--steps", "40"]) == 0
    assert "dry run ok: r004-mlp" in capsys.readouterr().out
    assert digest(run) == before


def test_flags_a_resume_ignores_are_named(finished: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    run = copy_of(finished, tmp_path)
    assert train.main(["--resume", str(run), "--steps", "8", "--batch-size", "8", "--seed", "3", "--quiet"]) == 0
    assert "ignored --batch-size, --seed" in capsys.readouterr().err
    assert RunFolder(run).config()["settings"]["batch_size"] == 32


def changed_generator(run: Path) -> None:
    path = run / "checkpoints/last.pt"
    state = torch.load(path, weights_only=True)
    state["networks"]["G"]["fc1"] = state["networks"]["G"]["fc1"].replace("128", "256")
    torch.save(state, path)
    (run / "checkpoints/prev.pt").unlink(missing_ok=True)


@pytest.mark.parametrize("command", [
    lambda run: sample.main([str(run), "--n", "4", "--out", str(run / "x.png")]),
    lambda run: evaluate.main([str(run), "--n", "20", "--quiet"]),
    lambda run: latent.main([str(run), "--quiet"]),
])
def test_runs_read_back_check_their_networks(finished: Path, tmp_path: Path, command,
                                             capsys: pytest.CaptureFixture) -> None:
    run = copy_of(finished, tmp_path)
    changed_generator(run)
    assert command(run) == 2
    assert "the networks changed since this run started (G module 'fc1'" in one_line_error(capsys)
    state = torch.load(run / "checkpoints/last.pt", weights_only=True)
    state["experiment"] = "r009-gone"
    torch.save(state, run / "checkpoints/last.pt")
    assert command(run) == 2
    assert "made by experiment 'r009-gone', which this gan-spec no longer has" in one_line_error(capsys)


@pytest.mark.parametrize("argv,message", [
    (["--data", "/no/such/faces"], "--data /no/such/faces: no such file or folder"),
    (["--data", " "], "argument --data: must not be empty"),
    (["--n", "5"], "--n 5: the metrics need at least 20"),
])
def test_a_study_checks_its_arguments_before_making_a_folder(tmp_path: Path, argv: list[str], message: str,
                                                             capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "study"
    try:
        code = collapse.main([*argv, "--steps", "2", "--out", str(out), "--quiet"])
    except SystemExit as exc:  # a usage error, from the parser
        code = exc.code
    assert code == 2 and message in one_line_error(capsys)
    assert not out.exists()


def test_an_unexpected_error_is_one_line_and_a_saved_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))

    def bug(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("a bug deep inside")

    monkeypatch.setattr(train, "run_experiment", bug)
    assert train.main(["r004-mlp", "--dry-run"]) == 1
    err = one_line_error(capsys)
    assert err.startswith("error: impl.train failed unexpectedly (ZeroDivisionError: a bug deep inside)")
    saved = Path(err.split("the full traceback is in ")[1])
    assert saved.parent == tmp_path / "cache/gan-spec/crashes"
    assert "Traceback" in saved.read_text() and "in bug" in saved.read_text()


def test_expected_errors_keep_their_exit_codes() -> None:
    cases = [(errors.DataError("x"), 2), (errors.RunError("x"), 2), (errors.UsageError("x"), 2),
             (errors.RunFailed("x"), 3), (errors.Interrupted("x", 15), 143), (errors.SpecError("x"), 2),
             (ValueError("x"), None), (OSError("x"), None)]
    assert [errors.expected_exit(exc) for exc, _ in cases] == [code for _, code in cases]
