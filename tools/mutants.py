"""The mutants of `python -m tools.mutate`: one change to one documented value of a spec file, and the TOML
writer that puts the changed file back (every table inline; the loader reads it as the original).

Numbers are nudged (ints + 1, floats x 1.1), booleans flipped, choices (loss, optimizer, data set, init, role,
layer type) swapped for another valid one, a generator or discriminator swapped for another network of the same
role and shapes, other strings altered, two adjacent forward steps (or sibling modules of a Sequential) swapped,
a module renamed consistently. Only values whose status is `documented` are changed, and the errata's checks.

Apart from those, `CODE_MUTANTS` lists changes to the decision code that the issue names (alpha spending removed, a
diverged run dropped, a margin ignored, Holm left out, the false-event rate set to 0), each with the tests that
must kill it
(`python -m tools.mutate --code`).
"""

from __future__ import annotations

import fnmatch
import json
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


@dataclass(frozen=True)
class CodeMutant:
    """A listed change to the decision code (`python -m tools.mutate --code`): the exact text `old` of `file`
    (relative to the repository; it must occur there once) replaced by `new`, and the tests that must fail on it."""

    name: str
    file: str
    old: str
    new: str
    tests: tuple[str, ...]  # pytest node ids, relative to the repository
    what: str


# the rules' protections that the issue names; each must be killed by the simulations that guard it
CODE_MUTANTS = (
    CodeMutant("alpha-spending-removed", "impl/verdicts/sequential.py",
               "        out.append(max(now - before, 0.0))\n", "        out.append(stats.ALPHA)\n",
               ("tests/test_sequential.py::test_size_at_the_line_under_the_sequential_design_is_at_most_nominal",
                "tests/test_sizes.py::test_size_at_the_line_under_the_sequential_design_is_at_most_nominal"),
               "every look tested at the full 2.5 % (peeking without alpha spending)"),
    CodeMutant("diverged-run-dropped", "impl/verdicts/rules.py",
               "            out.append(unknown if worst is None else sign * worst)\n", "            continue\n",
               ("tests/test_divergence.py::test_the_diverged_loser_is_counted_not_dropped",
                "tests/test_divergence.py::test_a_diverged_run_of_a_measure_without_direction_is_not_dropped",
                "tests/test_divergence.py::test_a_diverged_loser_never_weakens_and_a_diverged_winner_never_strengthens"),
               "a diverged run left out of the exact rank test instead of ranking as its arm's worst"),
    CodeMutant("threshold-margin-ignored", "impl/verdicts/rules.py",
               "(rule.bound or 0.0) + (rule.min_effect or 0.0)\n", "(rule.bound or 0.0)\n",
               ("tests/test_margins.py::test_tiny_and_one_percent_effects_never_hold",),
               "a threshold rule decided at its bound, its minimum effect ignored"),
    CodeMutant("comparison-margin-ignored", "impl/verdicts/rules.py",
               "    size = rule.min_effect or 0.0\n", "    size = 0.0\n",
               ("tests/test_margins.py::test_tiny_and_one_percent_effects_never_hold",
                "tests/test_sizes.py::test_a_difference_at_or_beyond_the_margin_never_holds_as_no_difference"),
               "a comparison, 'not better' or 'similar' rule decided at no difference, its minimum effect ignored"),
    CodeMutant("holm-left-out-of-the-headline", "impl/verdicts/scorecard.py",
               "v.verdict in (HOLDS, FAILS) and p < stats.ALPHA else INCONCLUSIVE",
               "v.verdict in (HOLDS, FAILS) else INCONCLUSIVE",
               ("tests/test_sizes.py::test_the_headline_holds_the_family_wise_error_and_the_raw_verdicts_do_not",
                "tests/test_verdict.py::test_the_headline_is_holm_adjusted_per_report"),
               "the headline the raw verdict, Holm's adjustment over the report not applied"),
    CodeMutant("false-event-rate-zero", "impl/verdicts/events.py",
               "    p_hold = false_event_sf(k, n, rate, *clean)\n", "    p_hold = stats.binomial_sf(k, n, rate)\n",
               ("tests/test_events.py::test_an_unmeasured_false_rate_is_not_a_rate_of_zero",
                "tests/test_events.py::test_one_event_in_six_seeds_does_not_hold_on_the_measured_false_rate"),
               "an event's false-event rate set to 0, its clean-run count ignored"),
    CodeMutant("false-event-rate-point-estimate", "impl/verdicts/events.py",
               "    p_hold = false_event_sf(k, n, rate, *clean)\n",
               "    p_hold = stats.binomial_sf(k, n, rate + (1 - rate) * clean[0] / max(clean[1], 1))\n",
               ("tests/test_events.py::test_an_unmeasured_false_rate_is_not_a_rate_of_zero",
                "tests/test_events.py::test_size_at_the_line_is_at_most_nominal"),
               "an event's false-event rate taken as its point estimate k0 / n0, its uncertainty ignored"),
)


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
