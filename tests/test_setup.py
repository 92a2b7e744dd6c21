"""setup.sh installs once: a working .venv made from the same requirements is left alone, a changed pyproject.toml
(or --force) rebuilds it. Run on a copy with a stand-in python3 that logs what it is asked to do (no install)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

FAKE_PYTHON = """#!/usr/bin/env bash
echo "$0 $*" >> "$LOG"
if [ "${1:-}" = "-m" ] && [ "${2:-}" = "venv" ]; then
  mkdir -p "$3/bin" && cp "$0" "$3/bin/python"
fi
if [ "${1:-}" = "--version" ]; then echo "Python 3.11.7"; fi
exit 0
"""


@pytest.fixture
def checkout(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    repo = tmp_path / "repo"
    repo.mkdir()
    for name in ("setup.sh", "pyproject.toml"):
        shutil.copy(ROOT / name, repo / name)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3").write_text(FAKE_PYTHON)
    (bin_dir / "python3").chmod(0o755)
    env = os.environ | {"PATH": f"{bin_dir}:{os.environ['PATH']}", "LOG": str(tmp_path / "log")}
    return repo, env


def setup(repo: Path, env: dict[str, str], *args: str) -> tuple[str, list[str]]:
    log = Path(env["LOG"])
    log.unlink(missing_ok=True)
    done = subprocess.run(["bash", str(repo / "setup.sh"), *args], env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    calls = log.read_text().splitlines() if log.exists() else []
    return done.stdout, [c for c in calls if "pip install" in c]


def test_setup_installs_once_and_again_only_when_the_requirements_change(checkout: tuple[Path, dict]) -> None:
    repo, env = checkout
    out, installs = setup(repo, env)
    assert "set up in .venv" in out and len(installs) == 3 and (repo / ".venv" / "gan-spec-setup").is_file()
    out, installs = setup(repo, env)  # the README's second command: nothing to install
    assert "already set up" in out and installs == []
    out, installs = setup(repo, env, "--force")
    assert len(installs) == 3
    with open(repo / "pyproject.toml", "a") as f:
        f.write("\n# a changed requirement\n")
    out, installs = setup(repo, env)
    assert len(installs) == 3 and "already" not in out


def test_a_venv_without_a_stamp_is_rebuilt(checkout: tuple[Path, dict]) -> None:
    """A .venv from an older setup.sh, or one whose install failed half-way (no stamp), is made again."""
    repo, env = checkout
    (repo / ".venv" / "bin").mkdir(parents=True)
    _, installs = setup(repo, env)
    assert len(installs) == 3


def test_an_unknown_argument_is_one_line(checkout: tuple[Path, dict]) -> None:
    repo, env = checkout
    done = subprocess.run(["bash", str(repo / "setup.sh"), "--froce"], env=env, capture_output=True, text=True)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "--force" in done.stderr


def test_a_second_setup_waits_for_the_first(checkout: tuple[Path, dict]) -> None:
    """Two `setup.sh --force` at once: the second waits on the lock (it never removes the .venv the first is
    installing into), then runs. The test holds the lock as the first setup would."""
    import fcntl

    repo, env = checkout
    with open(repo / ".venv.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        second = subprocess.Popen(["bash", str(repo / "setup.sh"), "--force"], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        try:
            with pytest.raises(subprocess.TimeoutExpired):
                second.wait(timeout=1.5)
            assert not Path(env["LOG"]).exists()  # nothing done while the first holds the lock
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    out, err = second.communicate(timeout=60)
    assert second.returncode == 0 and "waiting" in err and "set up in .venv" in out
