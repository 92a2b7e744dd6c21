"""Bounded arguments, true messages and a safe start (issue 31): every count argument is checked against one table
of bounds before any work, exit 3 names the real cause, and start-up cannot be broken by Ctrl-C or the working
directory. Fast: parsers and small functions, a few short subprocesses."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from impl.core import cli
from impl.core.files import WRITE_FAILURES, unwritable, write_failure

ROOT = Path(__file__).resolve().parents[1]


def parsers() -> dict[str, object]:
    from benchmarks import cpu, report
    from impl import reproduce
    from tools import calibrate, false_rates, launch_times

    return {"reproduce": reproduce.parser, "calibrate": calibrate.parser, "benchmarks.report": report.parser,
            "benchmarks.cpu": cpu.parser, "false_rates": false_rates.parser, "launch_times": launch_times.parser}


OUT = ["--out", "never-made"]  # parsed only: nothing is made
# (command, flag, the bound it must use, arguments the command needs besides)
COUNTS = [("reproduce", "--seeds", "seeds", []), ("reproduce", "--steps", "steps", []),
          ("calibrate", "--pool", "calibration_seeds", OUT), ("calibrate", "--harm-sets", "seeds", OUT),
          ("calibrate", "--n", "images", OUT),
          ("benchmarks.report", "--batches", "batches", []), ("benchmarks.report", "--steps", "steps", []),
          ("benchmarks.report", "--faces", "images", []), ("benchmarks.cpu", "--rounds", "rounds", []),
          ("benchmarks.cpu", "--batch", "batches", []), ("false_rates", "--train", "seeds", OUT),
          ("false_rates", "--n", "images", []), ("false_rates", "--epoch-n", "images", []),
          ("launch_times", "--nodes", "nodes", ["never-read"])]


@pytest.mark.parametrize("command,flag,bound,extra", COUNTS)
def test_each_count_argument_is_bounded_by_the_one_table(command: str, flag: str, bound: str, extra: list[str],
                                                         capsys: pytest.CaptureFixture) -> None:
    low, high = cli.BOUNDS[bound].low, cli.BOUNDS[bound].high
    parse = parsers()[command]
    for ok in (low, high):
        value = getattr(parse().parse_args([*extra, flag, str(ok)]), flag.lstrip("-").replace("-", "_"))
        assert int(value[0] if isinstance(value, list) else value) == ok
    for bad in (low - 1, high + 1, 10**12):
        with pytest.raises(SystemExit) as stop:
            parse().parse_args([*extra, flag, str(bad)])
        err = capsys.readouterr().err
        assert stop.value.code == 2 and f"between {low:,} and {high:,}" in err and err.count("\n") == 1


def test_calibration_needs_a_replicate_set_and_pool_runs_for_its_harm_sets(capsys: pytest.CaptureFixture) -> None:
    from tools import calibrate

    for args, said in ((["--pool", "5", "--harm-sets", "1"], "--pool 5: one replicate set of two arms needs 6 runs"),
                       (["--pool", "6", "--harm-sets", "2"], "--harm-sets 2 needs 12 pool runs")):
        with pytest.raises(SystemExit) as stop:
            calibrate.main([*args, "--out", "/nonexistent/never-made"])
        err = capsys.readouterr().err
        assert stop.value.code == 2 and said in err, err
    assert not Path("/nonexistent/never-made").exists()


# ---------------------------------------------------------------- true messages

@pytest.mark.parametrize("code,cause", [(errno.ENOSPC, "the disk is full"), (errno.EISDIR, "a folder is where"),
                                        (errno.EACCES, "no permission"), (errno.ENAMETOOLONG, "too long"),
                                        (errno.EROFS, "read-only"), (errno.EPERM, "immutable")])
def test_exit_3_names_the_real_cause(code: int, cause: str) -> None:
    said, fix = write_failure(OSError(code, os.strerror(code)))
    assert cause in said and fix and ("free disk space" in fix) == (code == errno.ENOSPC)
    assert set(WRITE_FAILURES) >= {errno.ENOSPC, errno.EISDIR, errno.EACCES, errno.ENAMETOOLONG}


def test_an_existing_output_file_is_not_refused_as_read_only(tmp_path: Path) -> None:
    """`impl.sample RUN --out grid.png` twice: the second was refused because the check asked the file to be
    executable. Replacing a file needs a writable, searchable folder, nothing of the file."""
    out = tmp_path / "grid.png"
    out.write_bytes(b"png")
    out.chmod(0o444)
    assert unwritable(out) is None
    tmp_path.chmod(0o555)
    try:
        if os.geteuid() != 0:
            assert unwritable(out) == tmp_path
    finally:
        tmp_path.chmod(0o755)


@pytest.mark.parametrize("make", ["symlink", "fifo", "folder"])
def test_a_checkpoint_named_that_is_not_a_file_is_one_line_naming_it(tmp_path: Path, make: str) -> None:
    from impl.core.errors import RunError
    from impl.runs.checkpoint import load_checkpoint
    from impl.runs.folder import RunFolder

    run = RunFolder.create(tmp_path / "run")
    at = run.path / "checkpoints" / "odd.pt"
    {"symlink": lambda: at.symlink_to(tmp_path / "victim.pt"), "fifo": lambda: os.mkfifo(at),
     "folder": lambda: at.mkdir()}[make]()
    word = {"symlink": "a symbolic link", "fifo": r"a FIFO \(named pipe\)", "folder": "a folder"}[make]
    with pytest.raises(RunError, match=f"--checkpoint odd.pt .*: {word}, not a regular file"):
        load_checkpoint(run, name="odd.pt")


# ---------------------------------------------------------------- a safe start

def test_ctrl_c_while_gan_spec_starts_is_one_line_and_exit_130(tmp_path: Path) -> None:
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "impl.train", "--list"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.4)  # torch is still loading: impl/__init__ has run its guard, the command has not begun
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    if proc.returncode == 0:
        pytest.skip("the start-up finished before the signal came")
    assert proc.returncode == 130 and "Traceback" not in err and err.strip().count("\n") == 0, err
    assert "interrupted" in err


def test_a_spec_folder_in_the_working_directory_does_not_shadow_gan_spec(tmp_path: Path) -> None:
    """`python -m impl.X` puts the working directory first on sys.path: someone's spec/ there was imported
    as gan-spec's (a 'bug in gan-spec')."""
    (tmp_path / "spec").mkdir()
    (tmp_path / "spec" / "__init__.py").write_text("raise ImportError('the wrong spec')\n")
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "impl.claims", "003"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "the wrong spec" not in done.stderr and "c003" in done.stdout


def test_two_runs_started_in_the_same_second_get_two_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    """Both name the folder before either makes it (as two processes do); each then gets its own (mkdir is
    exclusive). Before, the second was told to resume the first's folder."""
    from impl.runs.folder import RunFolder

    monkeypatch.setattr(time, "strftime", lambda *_: "20260101-000000")
    first = RunFolder.default_path("r004-mlp", tmp_path / "runs")
    second = RunFolder.default_path("r004-mlp", tmp_path / "runs")
    assert first == second and not first.exists()  # named only: a torchrun's processes all name the same folder
    made = [RunFolder.create(first).path, RunFolder.create(second).path]
    assert made == [first, first.with_name(first.name + "-2")]
    (tmp_path / "file").write_text("x")
    with pytest.raises(Exception, match="is a file, not a folder"):
        RunFolder.default_path("r004-mlp", tmp_path / "file")


def test_usage_errors_name_the_spelling_the_user_typed(monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture) -> None:
    from impl import console

    monkeypatch.setattr(sys, "argv", ["gan-spec"])
    with pytest.raises(SystemExit):
        console.main(["reproduce", "--seeds", "0"])
    assert capsys.readouterr().err.startswith("error: gan-spec reproduce: argument --seeds")
    monkeypatch.setattr(sys, "argv", ["-m"])
    with pytest.raises(SystemExit):
        cli.parser("python -m impl.reproduce", "").parse_args(["--x"])
    assert capsys.readouterr().err.startswith("error: python -m impl.reproduce: ")


def test_a_hint_names_another_command_in_the_spelling_the_user_typed(monkeypatch: pytest.MonkeyPatch) -> None:
    """`gan-spec reproduce` interrupted mid-run says `gan-spec train --resume RUN` (the user has no impl/ checkout
    to `python -m`), a `python -m` user keeps theirs."""
    from impl.training.request import experiment_named

    monkeypatch.setattr(sys, "argv", ["gan-spec reproduce"])
    assert cli.spelling("python -m impl.train") == "gan-spec train"
    with pytest.raises(Exception, match=r"\(gan-spec train --list shows them\)"):
        experiment_named(None)
    monkeypatch.setattr(sys, "argv", ["-m"])
    assert cli.spelling("python -m impl.train") == "python -m impl.train"
