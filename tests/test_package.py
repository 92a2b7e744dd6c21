"""gan-spec installs as a user installs it: a wheel built from the checkout, in a fresh virtual environment that cannot
see the checkout, run from another folder. The test environment's own libraries (torch, ...) are lent to it by a
path entry, so that nothing is downloaded; gan-spec itself comes only from the wheel."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: int = 300) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(cmd)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done


def packages_in(root: Path, top: str) -> set[str]:
    return {".".join(p.parent.relative_to(root).parts) for p in (root / top).rglob("__init__.py")}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out, source = tmp_path_factory.mktemp("wheel"), tmp_path_factory.mktemp("source") / "gan-spec"
    # built from a copy: setuptools builds in the source tree, and an earlier build/ there would fill in what
    # pyproject.toml leaves out
    skipped = shutil.ignore_patterns("__pycache__", "*.egg-info", ".*_cache", ".hypothesis", ".benchmarks")
    top = {".git", ".venv", "build", "runs"}  # at the top only: impl/runs is a package
    shutil.copytree(ROOT, source, ignore=lambda d, names: set(skipped(d, names)) | (top & set(names) if Path(d) == ROOT
                                                                                      else set()))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "--wheel-dir",
         str(out), str(source)], cwd=out, env=env)
    (found,) = out.glob("gan_spec-*.whl")
    return found


def test_the_wheel_holds_every_package_and_every_data_file_the_code_reads(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    packaged = {n.rsplit("/", 1)[0].replace("/", ".") for n in names if n.endswith("/__init__.py")}
    assert packages_in(ROOT, "impl") | packages_in(ROOT, "spec") <= packaged
    for data in [*ROOT.glob("spec/**/*.toml"), *ROOT.glob("impl/**/assets/*")]:
        assert data.relative_to(ROOT).as_posix() in names, data


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    env_dir = tmp_path_factory.mktemp("user") / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    site = Path(run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], cwd=env_dir,
                    env={}).stdout.strip())
    # the test environment's libraries, appended after the fresh site-packages; a .pth line adds a path and runs
    # nothing, so the checkout's editable hook there stays off
    (site / "zz-lent-libraries.pth").write_text(sysconfig.get_path("purelib") + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{env_dir / 'bin'}:{env['PATH']}"
    run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps", str(wheel)],
        cwd=env_dir, env=env)
    return env_dir, env


def test_an_installed_wheel_runs_every_entry_point_from_another_folder(
        installed: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    env_dir, env = installed
    python, console = str(env_dir / "bin" / "python"), str(env_dir / "bin" / "gan-spec")
    where = run([python, "-c", "import impl, spec; print(impl.__file__); print(spec.__file__)"], tmp_path, env)
    assert all(str(env_dir) in line for line in where.stdout.split()), where.stdout  # not the checkout
    assert run([console, "--version"], tmp_path, env).stdout.startswith("gan-spec 0.")
    assert "gan-spec" in run([python, "-m", "impl", "--version"], tmp_path, env).stdout
    assert "reproduce" in run([python, "-m", "impl", "--help"], tmp_path, env).stdout
    run([python, "-m", "impl.reproduce", "--help"], tmp_path, env)
    run([console, "train", "r004-mlp", "--data", "synthetic", "--steps", "3", "--out", str(tmp_path / "run"),
         "--quiet"], tmp_path, env | {"OMP_NUM_THREADS": "1"})
    assert (tmp_path / "run" / "checkpoints" / "last.pt").is_file()
