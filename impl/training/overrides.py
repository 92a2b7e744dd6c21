"""Changing a recipe value from the command line: `--set optimizer.lr=2e-4 --set n_critic=3 --set clip_value=0.05`.

A value is read as TOML (`2e-4`, `[0.5, 0.9]`, `true`; anything else is a string, so `d_loss=sum` works) and
checked by the spec's own reader: the experiment is rebuilt as a spec table with the value changed and read again,
so a wrong key, type or range is refused with the same one-line message a spec file would get. The run trains on
the changed recipe; config.json keeps the documented recipe and lists each change with its origin.
"""

from __future__ import annotations

import dataclasses
import tomllib
from typing import Any

from spec.experiment import ExperimentSpec, read_experiment
from spec.fields import Fact, SpecError
from spec.recipe import OVERRIDES, check_applies, override_key

# recipe values a user may change (spec/recipe.py); the networks, the data set and the loss family define an
# experiment instead, and the run's length has its own flags (--epochs, --steps)
SETTABLE = tuple(k for k, rule in OVERRIDES.items() if rule.recipe)


def parse_set(text: str) -> tuple[str, Any]:
    """'key=value' -> (key, value); the value read as TOML, or kept as a string when it is not TOML."""
    key, sep, raw = text.partition("=")
    key, raw = key.strip(), raw.strip()
    if not sep or not key or not raw:
        raise SpecError(f"--set {text!r}: expected key=value, e.g. --set optimizer.lr=2e-4")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except (tomllib.TOMLDecodeError, RecursionError):
        value = raw
    return key, value


def parse_sets(texts: list[str] | tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for text in texts:
        key, value = parse_set(text)
        if key in out and out[key] != value:
            raise SpecError(f"--set {key}: given twice ({out[key]!r} and {value!r}); keep one")
        out[key] = value
    return out


def _fact_table(fact: Fact) -> dict[str, Any]:
    return {k: v for k, v in dataclasses.asdict(fact).items() if v != "" or k == "value"}


def as_table(exp: ExperimentSpec) -> dict[str, Any]:
    """The experiment as the spec table it was read from (bases resolved)."""
    table: dict[str, Any] = {}
    for f in dataclasses.fields(exp):
        value = getattr(exp, f.name)
        if f.name == "file" or value is None:
            continue
        if isinstance(value, Fact):
            table[f.name] = _fact_table(value)
        elif f.name == "optimizer":
            table["optimizer"] = {k: _fact_table(v) for k, v in value.items()}
        elif f.name == "base":
            continue  # already resolved into the fields
        elif dataclasses.is_dataclass(value):  # a sub-table of facts, e.g. report 004's [latent]
            table[f.name] = {g.name: _fact_table(getattr(value, g.name)) for g in dataclasses.fields(value)}
        elif value != f.default:
            table[f.name] = value
    return table


def apply(exp: ExperimentSpec, sets: dict[str, Any], origin: str = "--set") -> ExperimentSpec:
    """The experiment with `sets` applied, validated as a spec file would be; `exp` itself when there are none."""
    if not sets:
        return exp
    table = as_table(exp)
    for key, value in sets.items():
        where = f"--set {key}"
        override_key(key, where, recipe_only=True).check(value, where, command_line=True)
        check_applies(key, exp.loss.value, exp.optimizer["name"].value, exp.name, where)
        fact = {"value": value, "status": "addition", "source": f"{origin} {key}={value}",
                "note": "changed from the command line"}
        if key.startswith("optimizer."):
            name = key.split(".", 1)[1]
            table["optimizer"][name] = fact
        else:
            table[key] = fact
    label = f"--set ({exp.name})"
    try:
        return read_experiment(table, label)  # type: ignore[arg-type]  # a label stands in for the file
    except SpecError as exc:  # a rule across values (the latent study's grid and samples, say)
        raise SpecError(str(exc).replace(f"{label}:", "--set ", 1).replace(".value", "")) from None
