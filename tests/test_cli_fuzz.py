"""Command lines nobody listed: hypothesis generates sizes, counts, seeds, names, paths and formats for every
command and asserts a clean exit or a one-line error, never a traceback, and never a changed finished run."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from impl import evaluate, latent, report, sample, summary, train

FUZZ = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def mostly(valid: st.SearchStrategy, hostile: st.SearchStrategy) -> st.SearchStrategy:
    """Four in five draws valid (so the work behind the parser runs too), the fifth hostile."""
    return st.one_of(valid, valid, valid, valid, hostile)


numbers = mostly(st.integers(1, 40), st.one_of(st.integers(-3, 0), st.integers(-2**70, 2**70),
                                               st.sampled_from(["x", "", "1e3", "nan", "2.5"])))
names = mostly(st.just("r004-mlp"), st.one_of(st.sampled_from(["r004-mpl", "course-dcgan-g", "R004", ""]),
                                              st.text(max_size=12)))


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("fuzz") / "run"
    assert train.main(["r004-mlp", "--steps", "4", "--out", str(out), "--data", "synthetic", "--quiet",
                       "--batch-size", "32"]) == 0
    return out


def digest(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file() and p.name != ".lock":
            h.update(str(p.relative_to(folder)).encode() + p.read_bytes())
    return h.hexdigest()


def outcome(main: Callable[[list[str]], int], argv: list[str], capsys: pytest.CaptureFixture) -> int:
    """Run a command; a usage error (SystemExit 2) counts as exit 2. Its stderr must hold no traceback and an
    error must be one line."""
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert code in (0, 2), (code, argv, err)
    if code:
        assert len(errors) == 1, err
    event(f"exit {code}: {err.strip()[:90]}")  # --hypothesis-show-statistics: what the examples met
    return code


def flag(name: str, value: object) -> list[str]:
    return [] if value is None else [name, str(value)]


@FUZZ
@given(name=names, steps=st.one_of(st.none(), numbers), batch=st.one_of(st.none(), numbers),
       seed=st.one_of(st.none(), numbers),
       data=mostly(st.just("synthetic"), st.sampled_from(["", " ", "nowhere", "FILE", None])),
       out=mostly(st.sampled_from(["new", None]), st.sampled_from(["FILE", "FILE/run", "RUN"])))
def test_train_command_lines(tmp_path: Path, finished: Path, capsys: pytest.CaptureFixture, name: str, steps,
                             batch, seed, data, out) -> None:
    before = digest(finished)
    file = tmp_path / "a-file"
    file.write_text("x")
    where = {"new": tmp_path / "fresh" / "run", "FILE": file, "FILE/run": file / "run", "RUN": finished}
    argv = [name, "--dry-run", "--quiet", *flag("--steps", steps), *flag("--batch-size", batch),
            *flag("--seed", seed), *flag("--data", str(file) if data == "FILE" else data),
            *flag("--out", where.get(out))]
    outcome(train.main, argv, capsys)
    assert digest(finished) == before and file.read_text() == "x"


@FUZZ
@given(n=numbers, seed=st.one_of(st.none(), numbers),
       fmt=mostly(st.sampled_from(["grid", "folder", "npz"]), st.just("gif")),
       out=mostly(st.sampled_from(["new.png", "new.npz", "dir", None]), st.sampled_from(["FILE", "FILE/x", "RUN"])),
       batch=mostly(st.integers(1, 9), st.integers(-1, 0)),
       checkpoint=mostly(st.sampled_from([None, "last.pt", "prev.pt"]),
                         st.one_of(st.text(max_size=12), st.sampled_from(["../config.json", "/etc/passwd", "last.pt/..",
                                                                          "..", "epoch_001.pt"]))))
def test_sample_command_lines(tmp_path: Path, finished: Path, capsys: pytest.CaptureFixture, n, seed, fmt, out,
                              batch, checkpoint) -> None:
    if isinstance(n, int) and n > 64:
        n = 64 if fmt != "grid" else n  # a huge folder or npz is a legitimate long job, not a test
    before = digest(finished)
    file = tmp_path / "a-file"
    file.write_text("x")
    where = {"FILE": file, "FILE/x": file / "x", "RUN": finished, None: None}.get(out, tmp_path / "o" / str(out))
    argv = [str(finished), "--n", str(n), "--format", fmt, "--batch", str(batch), "--quiet",
            *flag("--seed", seed), *flag("--out", where), *flag("--checkpoint", checkpoint)]
    outcome(sample.main, argv, capsys)
    if where != finished:
        assert digest(finished) == before
    assert file.read_text() == "x"


@FUZZ
@given(positions=mostly(st.lists(st.integers(0, 99), min_size=1, max_size=3),
                        st.lists(st.one_of(st.integers(-200, 200), st.just(10**30)), max_size=3)),
       values=mostly(st.lists(st.floats(-1e3, 1e3), min_size=1, max_size=3),
                     st.lists(st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.just("x")), max_size=3)))
def test_latent_command_lines(tmp_path: Path, finished: Path, capsys: pytest.CaptureFixture, positions,
                              values) -> None:
    run = Path(shutil.copytree(finished, tmp_path / "run", dirs_exist_ok=True))
    argv = [str(run), "--quiet", "--positions", *map(str, positions), "--values", *map(str, values)]
    outcome(latent.main, argv, capsys)


@pytest.mark.slow
@FUZZ
@given(n=numbers, target=mostly(st.just("RUN"), st.sampled_from(["missing", "FILE", "EMPTY"])))
def test_evaluate_and_report_command_lines(tmp_path: Path, finished: Path, capsys: pytest.CaptureFixture, n,
                                           target) -> None:
    file = tmp_path / "a-file"
    file.write_text("x")
    (tmp_path / "empty").mkdir(exist_ok=True)
    run = {"RUN": finished, "missing": tmp_path / "nope", "FILE": file, "EMPTY": tmp_path / "empty"}[target]
    if target == "RUN" and isinstance(n, int) and n > 40:
        n = 40  # a large evaluation is a long job, not a test
    before = digest(finished)
    outcome(evaluate.main, [str(run), "--n", str(n), "--quiet"], capsys)
    outcome(report.main, [str(run), "--out", str(tmp_path / "r" / "report.html")], capsys)
    if target != "RUN":
        assert digest(finished) == before


@FUZZ
@given(name=names, as_json=st.booleans())
def test_summary_command_lines(capsys: pytest.CaptureFixture, name: str, as_json: bool) -> None:
    outcome(summary.main, [name, *(["--json"] if as_json else [])], capsys)


def test_console_script_dispatches_every_command(capsys: pytest.CaptureFixture) -> None:
    import importlib

    from impl import console

    assert console.main(["--help"]) == 0
    listed = capsys.readouterr().out
    for command in console.COMMANDS:
        assert f"  {command} " in listed and callable(importlib.import_module(f"impl.{command}").main)
    assert console.main(["summary", "--list"]) == 0
    assert "course-dcgan-g" in capsys.readouterr().out
    assert console.main(["trian", "r004-mlp"]) == 2
    assert "unknown command 'trian' (did you mean 'train'?)" in capsys.readouterr().err


def test_every_command_answers_version_with_the_commit_and_torch(capsys: pytest.CaptureFixture) -> None:
    """`--version` on each command (and on `gan-spec` itself): gan-spec's version, the commit config.json records
    and torch's version, exit 0 before anything is loaded."""
    import importlib

    import torch

    from impl import console
    from impl.core.cli import source_state

    commit = source_state()[0]
    for command in [*console.COMMANDS, "classifier"]:
        with pytest.raises(SystemExit) as done:
            importlib.import_module(f"impl.{command}").main(["--version"])
        out = capsys.readouterr().out
        assert done.value.code == 0 and f"torch {torch.__version__}" in out and out.startswith("python -m impl."), out
        assert commit == "unknown" or f"commit {commit[:12]}" in out
    assert console.main(["--version"]) == 0 and capsys.readouterr().out.startswith("gan-spec 0.1")


def test_progress_without_a_terminal_is_plain_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    """Output sent to a log file gets whole lines (at most one per interval, one per epoch), no carriage returns,
    each with the time elapsed and the time left."""
    import io

    from impl.core import progress as P

    clock = iter([100.0, 102.0, 104.0, 106.0, 106.0, 108.0, 200.0, 210.0, 210.0])
    monkeypatch.setattr(P, "now", lambda: next(clock))
    log = io.StringIO()
    progress = P.Progress(100, 0, "r004-mlp", stream=log, every_s=0.0)
    for done in (10, 20, 30):
        progress.update(done, f"d {done / 100:.2f}")
    progress.epoch_done(1)
    progress.close()
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue() and len(lines) == 5
    assert lines[0] == "r004-mlp | 10/100 steps (10%) | d 0.10 | 2 s elapsed, about 18 s left"
    assert lines[3] == "r004-mlp | 30/100 steps (30%) | d 0.30 | 6 s elapsed, about 14 s left | epoch 1 done"
    quiet = io.StringIO()
    slow = P.Progress(100, 50, "x", stream=quiet, every_s=3600)  # resumed at 50: the estimate counts this call's work
    slow.update(60, "tenth")
    slow.close()
    assert quiet.getvalue().splitlines() == ["x | 60/100 steps (60%) | tenth | 10 s elapsed, about 40 s left | end"]


def test_durations_and_estimates_read_as_words() -> None:
    from impl.core.progress import duration, eta

    assert [duration(s) for s in (0.4, 45, 725, 7500)] == ["0 s", "45 s", "12 min 05 s", "2 h 05 min"]
    assert eta(0, 30, 5) == "5 s elapsed"  # nothing done yet: no estimate
    assert eta(3, 30, 60) == "1 min 00 s elapsed, about 9 min 00 s left" and eta(30, 30, 61) == "1 min 01 s elapsed"


def test_tracked_work_without_a_terminal_is_plain_lines(capsys: pytest.CaptureFixture) -> None:
    """Feature extraction, decoding, generating and the classifier count their batches through
    impl.core.progress.tracked: every item comes through once, and a log gets whole lines ending with 'done', never
    carriage-return redraws."""
    from impl.core.progress import tracked

    assert list(tracked(iter("abcd"), 4, "features", "batch", every_s=0.0)) == list("abcd")
    err = capsys.readouterr().err
    assert "\r" not in err and err.splitlines()[-1].startswith("features | 4/4 batches (100%) | "), err
    assert err.splitlines()[-1].endswith(" s elapsed | done") and ", about" in err.splitlines()[0], err
    assert list(tracked(range(3), 3, "quiet", disabled=True)) == [0, 1, 2]
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("command", [["impl.claims", "4"], ["impl.summary", "r000-dcgan"], ["impl.summary", "--list"]])
def test_an_ascii_locale_does_not_break_a_command(command: list[str]) -> None:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONIOENCODING", "PYTHONUTF8", "LANG", "LC_CTYPE")}
    env |= {"LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0", "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", *command], env=env, capture_output=True, timeout=120,
                          cwd=Path(__file__).parent.parent)
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-500:]
    assert done.stdout.isascii()
    if command[0] == "impl.claims":
        assert b"\\u" in done.stdout  # the reports' Chinese quotes, escaped


@pytest.mark.parametrize("given,report", [("4", "004"), ("04", "004"), ("004", "004"), (" 3", "003")])
def test_claims_name_reports_as_reproduce_does(capsys: pytest.CaptureFixture, given: str, report: str) -> None:
    from impl import claims

    assert claims.main([given]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| `c")]
    assert rows and all(f"| {report} |" in line for line in rows)
    assert claims.main([""]) == 2
