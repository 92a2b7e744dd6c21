"""The code mutants of `python -m tools.mutate --code` (CODE_MUTANTS in tools/mutants.py): each listed change to the
decision code is made in a temporary copy of the repository (the real files are never touched) and its tests run
there with pytest, after the same tests have passed on the unchanged copy; a mutant is killed when one of them fails.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tools.mutants import CODE_MUTANTS, CodeMutant

ROOT = Path(__file__).resolve().parent.parent
COPIED = ("impl", "spec", "tests", "tools", "conftest.py", "pyproject.toml")


def _pytest(tree: Path, tests: tuple[str, ...]) -> tuple[int, str]:
    """(exit status, pytest's last line) of the tests run in `tree`, importing its impl/ and spec/."""
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests], cwd=tree,
                          env=env, capture_output=True, text=True, check=False)
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    return done.returncode, lines[-1] if lines else done.stderr.strip()[-200:]


def run_code(chosen: list[CodeMutant], progress: bool = True) -> list[tuple[CodeMutant, str]]:
    """Each code mutant in a fresh copy of the repository: (mutant, '' if it survived, else what killed it)."""
    out = []
    with tempfile.TemporaryDirectory(prefix="code-mutants-") as tmp:
        tree = Path(tmp) / "repo"
        for name in COPIED:
            source = ROOT / name
            if source.is_dir():
                shutil.copytree(source, tree / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            elif source.exists():
                shutil.copy2(source, tree / name)
        tests = tuple(dict.fromkeys(t for m in chosen for t in m.tests))
        status, line = _pytest(tree, tests)
        if status != 0:
            raise SystemExit(f"error: the code mutants' tests fail on the unchanged code ({line}); fix them first")
        for m in chosen:
            path = tree / m.file
            original = path.read_text(encoding="utf-8")
            if original.count(m.old) != 1:
                raise SystemExit(f"error: code mutant {m.name}: its text occurs {original.count(m.old)} times in "
                                 f"{m.file}, not once; update it in tools/mutants.py")
            path.write_text(original.replace(m.old, m.new), encoding="utf-8")
            started = time.monotonic()
            try:
                status, line = _pytest(tree, m.tests)
            finally:
                path.write_text(original, encoding="utf-8")
            out.append((m, f"{line} ({len(m.tests)} tests)" if status != 0 else ""))
            if progress:
                print(f"{m.name} ({m.what}): {'killed: ' + line if status else 'SURVIVED'} "
                      f"[{time.monotonic() - started:.0f} s]", file=sys.stderr, flush=True)
    return out


def main_code(names: list[str], as_json: Path | None, quiet: bool) -> int:
    known = {m.name: m for m in CODE_MUTANTS}
    unknown = [n for n in names if n not in known]
    if unknown:
        print(f"error: --code {unknown[0]}: no such code mutant; the listed ones: {', '.join(known)}",
              file=sys.stderr)
        return 2
    started = time.monotonic()
    results = run_code([known[n] for n in names] if names else list(CODE_MUTANTS), progress=not quiet)
    survivors = [m for m, killer in results if not killer]
    print(f"{len(results)} code mutants, {len(results) - len(survivors)} killed, {len(survivors)} survived in "
          f"{time.monotonic() - started:.0f} s")
    for m in survivors:
        print(f"SURVIVOR {m.name}: {m.file}: {m.what}")
    if as_json:
        as_json.write_text(json.dumps([{"name": m.name, "file": m.file, "what": m.what, "killed_by": killer}
                                       for m, killer in results], indent=1), encoding="utf-8")
    return 1 if survivors else 0
