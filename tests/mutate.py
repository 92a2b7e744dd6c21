"""Mutation check of spec/: change each documented value once, run the tests that concern it, list survivors.

    python -m tests.mutate                       # every documented value of every spec file
    python -m tests.mutate --sample 20 --seed 1  # a random sample
    python -m tests.mutate --files networks/r004-conv-g.toml experiments/r003-wgan.toml

A mutant is one change to one spec file: a number nudged (ints + 1, floats x 1.1), a boolean flipped, a string
replaced by another allowed choice (loss, optimizer, data set, layer type, init, a network of the same role) or
altered, two adjacent forward steps (or two adjacent sibling modules of a Sequential) swapped, a module renamed
consistently. Only values whose spec status is `documented` are mutated (and the errata's machine checks).
The mutant is written into a temporary copy of spec/ (the real files are never touched); the loader is pointed
at the copy; the tests of the spec test modules whose parameters name the mutated spec (or a spec or erratum
depending on it) are called directly, cheapest first, stopping at the first failure. A mutant that loads and
passes them all survives. Values that no report states are listed apart, with the reason (`EXPLAINED`).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import fnmatch
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

ROOT = Path(__file__).resolve().parent.parent
# cheapest first: a mutant stops at its first failing test
MODULES = ("tests.test_facts", "tests.test_errata", "tests.test_networks", "tests.test_summary", "tests.test_variants")
SKIP = ("test_sampled_mutants_are_killed",)  # the CPU suite's sample of this tool: not run by the tool itself
LAST = ("test_forward_any_batch", "test_spectral_norm_bounds_every_layer")  # slow property tests run last
META = {"name", "title", "source", "note", "excerpt", "status", "report", "evidence", "base", "addition", "how",
        "said", "truth", "quotes", "id"}
CHOICES = {"loss": ("bce", "wgan", "wgan-gp", "lsgan", "hinge"), "name": ("Adam", "RMSprop", "SGD"),
           "d_loss": ("mean", "sum"), "init": ("dcgan", "default"), "role": ("generator", "discriminator"),
           "dataset": ("anime-faces", "fashion-mnist")}
SWAP_TYPES = {"Conv2d": "ConvTranspose2d", "ConvTranspose2d": "Conv2d", "BatchNorm2d": "InstanceNorm2d",
              "InstanceNorm2d": "BatchNorm2d", "Tanh": "Sigmoid", "Sigmoid": "Tanh", "Identity": "Tanh",
              "ReLU": "LeakyReLU", "LeakyReLU": "ReLU", "Flatten": "Identity", "BatchNorm1d": "Identity"}
# values inside documented specs that no report states: their survivors are expected, and say why
EXPLAINED = [
    ("networks/r000-wgan-*.toml", "class", "report 000 prints torchsummary tables only: no class name"),
    ("networks/r000-wgan-*.toml", "rename *", "report 000 prints torchsummary tables only: gan-spec numbers the "
                                              "modules"),
    ("experiments/*.toml", "outcome.value", "an English paraphrase of the excerpt (the excerpt is checked verbatim)"),
]


@dataclass(frozen=True)
class Mutant:
    file: str  # relative to spec/
    field: str
    old: Any
    new: Any
    apply: Callable[[dict], None]

    @property
    def explained(self) -> str:
        for pattern, field, why in EXPLAINED:
            if fnmatch.fnmatch(self.file, pattern) and fnmatch.fnmatch(self.field, field):
                return why
        return ""


# ---------------------------------------------------------------- enumerating mutants

def _nudge(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, float):
        return round(value * 1.1, 12) if value else 0.1
    return None


def _setter(path: tuple, new: Any) -> Callable[[dict], None]:
    def apply(data: dict) -> None:
        target = data
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = new
    return apply


def _label(path: tuple) -> str:
    out = ""
    for key in path:
        out += f"[{key}]" if isinstance(key, int) else (f".{key}" if out else key)
    return out


def _leaves(value: Any, path: tuple, choices: tuple | None = None) -> Iterator[tuple[tuple, Any, Any]]:
    """(path, old, new) for every scalar under `value`."""
    if isinstance(value, dict):
        for key, sub in value.items():
            if key not in META:
                yield from _leaves(sub, (*path, key), CHOICES.get(key, choices))
    elif isinstance(value, list):
        for i, sub in enumerate(value):
            yield from _leaves(sub, (*path, i), choices)
    elif isinstance(value, str):
        if choices and value in choices:
            yield path, value, choices[(choices.index(value) + 1) % len(choices)]
        else:
            yield path, value, value + "x"
    else:
        yield path, value, _nudge(value)


def _fact_mutants(rel: str, data: dict, path: tuple, networks: dict) -> Iterator[Mutant]:
    """Documented facts ({value, status, ...}) anywhere in an experiment file."""
    for key, sub in data.items():
        if not isinstance(sub, dict):
            continue
        if "value" in sub and "status" in sub:
            if sub["status"] != "documented":
                continue
            if key in ("generator", "discriminator"):
                new = _other_network(sub["value"], networks)
                yield Mutant(rel, _label((*path, key, "value")), sub["value"], new,
                             _setter((*path, key, "value"), new))
                continue
            for p, old, new in _leaves(sub["value"], (*path, key, "value"), CHOICES.get(key)):
                yield Mutant(rel, _label(p), old, new, _setter(p, new))
        else:
            yield from _fact_mutants(rel, sub, (*path, key), networks)


def _other_network(name: str, networks: dict) -> str:
    """Another network of the same role and shapes if there is one (a mutant the loader cannot catch)."""
    net = networks.get(name)
    if net is None:
        return name + "x"
    same = sorted(n for n, o in networks.items() if n != name and o.role == net.role and o.input == net.input
                  and o.output == net.output)
    return same[0] if same else name + "x"


def _network_mutants(rel: str, data: dict) -> Iterator[Mutant]:
    status = data.get("status", "documented")
    if status != "documented":
        return
    for key in ("class", "input", "role"):
        if key in data:
            for p, old, new in _leaves(data[key], (key,), CHOICES.get(key)):
                yield Mutant(rel, _label(p), old, new, _setter(p, new))
    if isinstance(data.get("init"), dict):
        yield from _fact_mutants(rel, {"init": data["init"]}, (), {})
    if isinstance(data.get("symbols"), dict):
        yield from _fact_mutants(rel, data["symbols"], ("symbols",), {})
    modules = data.get("module", [])
    for i, m in enumerate(modules):
        if m.get("status", status) != "documented":
            continue
        if m.get("type") in SWAP_TYPES:
            yield Mutant(rel, f"module[{i}].type ({m['path']})", m["type"], SWAP_TYPES[m["type"]],
                         _setter(("module", i, "type"), SWAP_TYPES[m["type"]]))
        for p, old, new in _leaves({k: v for k, v in m.items() if k in ("args", "shape")}, ("module", i)):
            yield Mutant(rel, f"{_label(p)} ({m['path']})", old, new, _setter(p, new))
        if m.get("type") != "Sequential":
            yield Mutant(rel, f"rename {m['path']}", m["path"], m["path"] + "x", _renamer(m["path"]))
    forward = data.get("forward")
    if forward is not None:
        for i, step in enumerate(forward):
            if isinstance(step, dict) and step.get("status", status) == "documented":
                for p, old, new in _leaves({k: v for k, v in step.items() if k != "op"}, ("forward", i)):
                    yield Mutant(rel, _label(p), old, new, _setter(p, new))
        for i in range(len(forward) - 1):
            a, b = forward[i], forward[i + 1]
            if all(not isinstance(s, dict) or s.get("status", status) == "documented" for s in (a, b)) and a != b:
                yield Mutant(rel, f"swap forward[{i}] <-> forward[{i + 1}]", _step(a), _step(b), _swapper(i))
    else:
        for i in range(len(modules) - 1):
            a, b = modules[i], modules[i + 1]
            parent = lambda p: p.rsplit(".", 1)[0] if "." in p else ""  # noqa: E731
            if parent(a["path"]) == parent(b["path"]) and "Sequential" not in (a["type"], b["type"]) and \
                    a.get("status", status) == b.get("status", status) == "documented":
                yield Mutant(rel, f"swap {a['path']} <-> {b['path']}", a["type"], b["type"], _sibling_swapper(i))


def _step(step: Any) -> str:
    return step if isinstance(step, str) else step.get("op", "?")


def _swapper(i: int) -> Callable[[dict], None]:
    def apply(data: dict) -> None:
        f = data["forward"]
        f[i], f[i + 1] = f[i + 1], f[i]
    return apply


def _sibling_swapper(i: int) -> Callable[[dict], None]:
    def apply(data: dict) -> None:
        m = data["module"]
        a, b = dict(m[i]), dict(m[i + 1])
        m[i] = {**b, "path": a["path"]}
        m[i + 1] = {**a, "path": b["path"]}
    return apply


def _renamer(path: str) -> Callable[[dict], None]:
    def rename(p: str) -> str:
        return path + "x" + p[len(path):] if p == path or p.startswith(path + ".") else p

    def apply(data: dict) -> None:
        for m in data.get("module", []):
            m["path"] = rename(m["path"])
        if "forward" in data:
            data["forward"] = [rename(s) if isinstance(s, str) else s for s in data["forward"]]
    return apply


def _errata_mutants(rel: str, data: dict) -> Iterator[Mutant]:
    for i, item in enumerate(data.get("erratum", [])):
        check = item.get("check", {})
        for p, old, new in _leaves({k: v for k, v in check.items() if k != "kind"}, ("erratum", i, "check")):
            yield Mutant(rel, f"{item.get('id', i)}: {_label(p[3:])}", old, new, _setter(p, new))


def mutants(spec_dir: Path, files: list[str] | None = None) -> list[Mutant]:
    import spec

    reg = spec.load_registry(spec_dir)
    found: list[Mutant] = []
    rels = files or [str(p.relative_to(spec_dir)) for p in sorted(spec_dir.glob("*/*.toml"))] + ["errata.toml"]
    for rel in rels:
        data = tomllib.loads((spec_dir / rel).read_text(encoding="utf-8"))
        if rel.startswith("networks/"):
            found += _network_mutants(rel, data)
        elif rel.startswith("experiments/"):
            found += _fact_mutants(rel, data, (), reg.networks)
        elif rel == "errata.toml":
            found += _errata_mutants(rel, data)
    return found


# ---------------------------------------------------------------- writing TOML

def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        text = repr(value)
        return {"nan": "nan", "inf": "inf", "-inf": "-inf"}.get(text, text)
    if isinstance(value, str):
        body = json.dumps(value, ensure_ascii=False)
        return "".join(f"\\u{ord(c):04x}" if ord(c) == 0x7F else c for c in body)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def dump(data: dict) -> str:
    """A TOML document with the same content (every table inline: formatting and comments are not kept)."""
    return "".join(f"{json.dumps(k)} = {_toml(v)}\n" for k, v in data.items())


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
                raise SystemExit(f"error: {rel}: tests.mutate cannot re-write this file faithfully (a bug of the tool)")
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
    p = argparse.ArgumentParser(prog="python -m tests.mutate", description=__doc__.split("\n\n")[0])
    p.add_argument("--sample", type=int, help="test N random mutants instead of all")
    p.add_argument("--seed", type=int, default=0, help="random seed of --sample")
    p.add_argument("--files", nargs="+", help="spec files to mutate, relative to spec/ (default: all)")
    p.add_argument("--json", type=Path, help="also write the results to this JSON file")
    p.add_argument("--quiet", action="store_true", help="no line per mutant")
    args = p.parse_args(argv)
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
