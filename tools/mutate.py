"""Mutation check of spec/: change each documented value once, run the tests that concern it, list survivors.

    python -m tools.mutate                       # every documented value of every spec file
    python -m tools.mutate --sample 20 --seed 1  # a random sample
    python -m tools.mutate --files networks/r004-conv-g.toml experiments/r003-wgan.toml
    python -m tools.mutate --code                # the listed code mutants of the decision code instead
    python -m tools.mutate --code alpha-spending-removed diverged-run-dropped

A mutant (tools/mutants.py) is one change to one documented value of one spec file. It is written into a
temporary copy of spec/ (the real files are never touched) and the loader is pointed at the copy; the tests of
the spec test modules whose parameters name the mutated spec (or a spec or erratum depending on it) are called
directly, cheapest first, stopping at the first failure. A mutant that loads and passes them all survives.
Values that no report states are listed apart, with the reason (`EXPLAINED` in tools/mutants.py).

A code mutant (`CODE_MUTANTS` in tools/mutants.py) is one listed change to the decision code: it is made in a
temporary copy of the repository (the real files are never touched) and its tests run there with pytest, after the
same tests have passed on the unchanged copy; it is killed when one of them fails.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import importlib
import inspect
import io
import itertools
import json
import random
import shutil
import sys
import tempfile
import time
import tomllib
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.mutants import Mutant, dump, mutants

ROOT = Path(__file__).resolve().parent.parent
# cheapest first: a mutant stops at its first failing test
MODULES = ("tests.test_facts", "tests.test_errata", "tests.test_networks", "tests.test_summary", "tests.test_variants")
SKIP = ("test_sampled_mutants_are_killed",)  # the CPU suite's sample of this tool: not run by the tool itself
LAST = ("test_forward_any_batch", "test_spectral_norm_bounds_every_layer")  # slow property tests run last


# ---------------------------------------------------------------- running the tests of one mutant

class _Capsys:
    """pytest's capsys for tests called directly: what the call printed, read once."""

    def __init__(self) -> None:
        self.out, self.err = io.StringIO(), io.StringIO()

    def readouterr(self) -> types.SimpleNamespace:
        text = types.SimpleNamespace(out=self.out.getvalue(), err=self.err.getvalue())
        for buffer in (self.out, self.err):
            buffer.seek(0)
            buffer.truncate()
        return text


def _cases(func: Callable) -> list[dict[str, Any]]:
    """The parameter sets pytest would call `func` with (stacked parametrize marks multiply)."""
    sets: list[dict[str, Any]] = [{}]
    for mark in getattr(func, "pytestmark", []):
        if mark.name != "parametrize":
            continue
        names = [n.strip() for n in mark.args[0].split(",")] if isinstance(mark.args[0], str) else list(mark.args[0])
        rows = [dict(zip(names, v if len(names) > 1 else (v,))) for v in mark.args[1]]
        sets = [{**a, **b} for a, b in itertools.product(sets, rows)]
    return sets


def _atoms(value: Any) -> Iterator[Any]:
    if isinstance(value, (list, tuple)):
        for v in value:
            yield from _atoms(v)
    else:
        yield value


@dataclass
class Runner:
    """Imports the spec test modules afresh for each mutant and calls their relevant cases directly."""

    spec_dir: Path
    reports: Path | None

    def relevant(self, rel: str, reg: Any) -> set[str]:
        data = tomllib.loads((self.spec_dir / rel).read_text(encoding="utf-8"))
        if rel == "errata.toml":
            return {e.id for e in reg.errata} | {e.subject for e in reg.errata}
        names = {data.get("name", "")}
        raw = {p: tomllib.loads(p.read_text(encoding="utf-8")) for p in self.spec_dir.glob("*/*.toml")}
        grew = True
        while grew:  # networks and experiments built on a changed one, transitively
            grew = False
            for other in raw.values():
                uses = {other.get("base"), *(other.get(k, {}).get("value") for k in ("generator", "discriminator")
                                             if isinstance(other.get(k), dict))}
                if other.get("name") not in names and names & uses:
                    names.add(other["name"])
                    grew = True
        names |= {e.id for e in reg.errata if any(n in repr(e) for n in names)}
        return names

    def tests(self, relevant: set[str]) -> list[tuple[str, Callable, dict]]:
        out = []
        for module_name in MODULES:
            sys.modules.pop(module_name, None)
            try:
                module = importlib.import_module(module_name)
            except ModuleNotFoundError as exc:
                if exc.name == module_name:
                    continue
                raise
            for name, func in vars(module).items():
                if not name.startswith("test_") or not callable(func) or name in SKIP:
                    continue
                for case in _cases(func):
                    if case and not relevant & {a for v in case.values() for a in _atoms(v) if isinstance(a, str)}:
                        continue
                    out.append((f"{module_name.split('.')[-1]}::{name}{list(case.values()) if case else ''}",
                                func, case))
        return sorted(out, key=lambda t: t[1].__name__ in LAST)

    def call(self, func: Callable, case: dict) -> None:
        params = inspect.signature(func).parameters
        kwargs = dict(case)
        capsys = _Capsys()
        for name in params:
            if name in kwargs:
                continue
            if name == "reports":
                if self.reports is None:
                    return
                kwargs[name] = self.reports
            elif name == "capsys":
                kwargs[name] = capsys
            elif name == "tmp_path":
                kwargs[name] = Path(tempfile.mkdtemp(prefix="mutate-"))
            elif params[name].default is inspect.Parameter.empty and not hasattr(func, "hypothesis"):
                return  # a fixture this runner does not provide: not run
        with contextlib.redirect_stdout(capsys.out), contextlib.redirect_stderr(capsys.err):
            func(**kwargs)

    def killer(self, rel: str) -> str:
        """'' if every relevant test passes on the mutated copy, else what failed first."""
        import spec

        spec.registry.cache_clear()
        try:
            reg = spec.load_registry(self.spec_dir)
        except spec.SpecError as exc:
            return f"loader: {str(exc)[-90:]}"
        for label, func, case in self.tests(self.relevant(rel, reg)):
            try:
                self.call(func, case)
            except Exception as exc:  # noqa: BLE001 - any failure of a test kills the mutant
                return f"{label}: {type(exc).__name__} {str(exc).splitlines()[0][:80] if str(exc) else ''}"
            except BaseException as exc:  # pytest.skip / xfail are BaseException subclasses
                if type(exc).__name__ in ("Skipped", "XFailed"):
                    continue
                raise
        return ""


@contextlib.contextmanager
def loader_at(spec_dir: Path) -> Iterator[None]:
    """spec.registry() reads `spec_dir` inside the block (also on trees whose loader predates $GAN_SPEC_DIR);
    everything is put back afterwards."""
    import os

    import spec

    saved = os.environ.get("GAN_SPEC_DIR"), spec.SPEC_DIR, spec.load_registry.__defaults__
    os.environ["GAN_SPEC_DIR"] = str(spec_dir)
    spec.SPEC_DIR, spec.load_registry.__defaults__ = spec_dir, (spec_dir,)
    spec.registry.cache_clear()
    try:
        yield
    finally:
        if saved[0] is None:
            os.environ.pop("GAN_SPEC_DIR", None)
        else:
            os.environ["GAN_SPEC_DIR"] = saved[0]
        spec.SPEC_DIR, spec.load_registry.__defaults__ = saved[1], saved[2]
        spec.registry.cache_clear()
        for name in MODULES:  # test modules imported for the copy must not serve the real tree
            sys.modules.pop(name, None)


# ---------------------------------------------------------------- the command

@dataclass
class Result:
    mutant: Mutant
    killer: str


def run(spec_src: Path, chosen: list[Mutant], reports: Path | None, progress: bool = True) -> list[Result]:
    results = []
    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="spec-mutants-"))
        copy_dir = Path(tmp) / "spec"
        shutil.copytree(spec_src, copy_dir, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
        runner = Runner(copy_dir, reports)
        stack.enter_context(loader_at(copy_dir))
        originals = {m.file: (copy_dir / m.file).read_text(encoding="utf-8") for m in chosen}
        for rel, text in originals.items():  # the loader must read a re-written, unmutated file as the original
            if tomllib.loads(dump(tomllib.loads(text))) != tomllib.loads(text):
                raise SystemExit(f"error: {rel}: tools.mutate cannot re-write this file faithfully (a bug of the tool)")
        started = time.monotonic()
        for i, mutant in enumerate(chosen):
            data = tomllib.loads(originals[mutant.file])
            mutant.apply(data)
            (copy_dir / mutant.file).write_text(dump(data), encoding="utf-8")
            try:
                results.append(Result(mutant, runner.killer(mutant.file)))
            finally:
                (copy_dir / mutant.file).write_text(originals[mutant.file], encoding="utf-8")
            if progress:
                r = results[-1]
                print(f"[{i + 1}/{len(chosen)} {time.monotonic() - started:.0f}s] {mutant.file}:{mutant.field} "
                      f"{mutant.old!r} -> {mutant.new!r}: {'killed by ' + r.killer if r.killer else 'SURVIVED'}",
                      file=sys.stderr, flush=True)
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tools.mutate", description=__doc__.split("\n\n")[0])
    p.add_argument("--sample", type=int, help="test N random mutants instead of all")
    p.add_argument("--seed", type=int, default=0, help="random seed of --sample")
    p.add_argument("--files", nargs="+", help="spec files to mutate, relative to spec/ (default: all)")
    p.add_argument("--json", type=Path, help="also write the results to this JSON file")
    p.add_argument("--quiet", action="store_true", help="no line per mutant")
    p.add_argument("--code", nargs="*", metavar="NAME", help="run the listed code mutants of the decision code "
                   "instead (tools/mutants.py CODE_MUTANTS; all of them without a name)")
    args = p.parse_args(argv)
    if args.code is not None:
        from tools.mutate_code import main_code

        return main_code(args.code, args.json, args.quiet)
    sys.path.insert(0, str(ROOT))
    import conftest

    spec_src = ROOT / "spec"
    missing = [f for f in args.files or [] if not (spec_src / f).is_file()]
    if missing:
        print(f"error: --files {missing[0]}: no such spec file under {spec_src}; give paths like "
              "networks/r004-conv-g.toml", file=sys.stderr)
        return 2
    chosen = mutants(spec_src, args.files)
    if args.sample:
        chosen = random.Random(args.seed).sample(chosen, min(args.sample, len(chosen)))
    reports = conftest.reports_dir()
    if reports is None:
        print("warning: the reports are not beside the checkout (set GAN_SPEC_REPORTS): excerpts are not checked",
              file=sys.stderr)
    started = time.monotonic()
    results = run(spec_src, copy.copy(chosen), reports, progress=not args.quiet)
    survivors = [r for r in results if not r.killer]
    unexplained = [r for r in survivors if not r.mutant.explained]
    print(f"{len(results)} mutants, {len(results) - len(survivors)} killed, {len(survivors)} survived "
          f"({len(unexplained)} unexplained) in {time.monotonic() - started:.0f} s")
    for r in survivors:
        m = r.mutant
        why = f"  [explained: {m.explained}]" if m.explained else ""
        print(f"SURVIVOR {m.file}:{m.field} {m.old!r} -> {m.new!r}{why}")
    if args.json:
        rows = [{"file": r.mutant.file, "field": r.mutant.field, "old": repr(r.mutant.old), "new": repr(r.mutant.new),
                 "killed_by": r.killer, "explained": r.mutant.explained} for r in results]
        args.json.write_text(json.dumps(rows, indent=1, ensure_ascii=False), encoding="utf-8")
    return 1 if unexplained else 0


if __name__ == "__main__":
    sys.exit(main())
