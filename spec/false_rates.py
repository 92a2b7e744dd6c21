"""The per-run false-event rates of the event measures, as data: spec/false_rates.toml, one table per measure and
bound, each holding k events of n clean runs (runs of a recipe where the event should not happen) and the runs
they came from (recipe, command, seeds, folders, date, commit). `python -m tools.false_rates --write` measures and
writes them. An event claim names its entry by key (`false_rate = "KEY"`); the loader refuses an unknown key and
an entry whose measure or bound is not the claim's, and hands the rule k of n (impl/verdicts/events.py turns them
into the rate's uncertainty, never a point estimate of 0).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from spec.claim import ClaimSpec
from spec.fields import SpecError, Table, read_toml
from spec.rule import EXPECT, MeasureSpec, RuleSpec, read_measure

FILE_NAME = "false_rates.toml"
TEXT_FIELDS = ("recipe", "stand_in", "command", "date", "commit")


@dataclasses.dataclass(frozen=True)
class FalseRate:
    """k events of n clean runs of one event measure past one bound, and where the runs came from."""

    key: str
    measure: MeasureSpec
    expect: str
    bound: float
    events: int
    runs: int
    recipe: str
    stand_in: str = ""  # why the claim's own arm is not the recipe, when it is not
    command: str = ""
    date: str = ""
    commit: str = ""
    seeds: tuple[int, ...] = ()
    folders: tuple[str, ...] = ()

    def source(self) -> str:
        where = ", a stand-in for the claim's own arm" if self.stand_in else ""
        return f"false-event rate estimated from {self.events} of {self.runs} clean runs of {self.recipe}{where}"


def _entry(key: str, table: Table) -> FalseRate:
    measure = read_measure(table.sub("measure"))
    expect = table.req("expect", str)
    if expect not in EXPECT["event"]:
        raise SpecError(f"{table.at('expect')}: one of {', '.join(EXPECT['event'])}, got {expect!r}")
    bound = float(table.req("bound", float))
    events, runs = table.req("events", int), table.req("runs", int)
    if not 0 <= events <= runs:
        raise SpecError(f"{table.at('events')}: {events} events of {runs} runs; need 0 <= events <= runs")
    text = {name: table.opt(name, str, "") for name in TEXT_FIELDS}
    if not text["recipe"].strip():
        raise SpecError(f"{table.at('recipe')}: name the recipe the clean runs trained")
    seeds = tuple(table.opt("seeds", list, []))
    folders = tuple(table.opt("folders", list, []))
    if any(not isinstance(s, int) or isinstance(s, bool) for s in seeds):
        raise SpecError(f"{table.at('seeds')}: a list of whole seeds, got {list(seeds)!r}")
    table.close()
    return FalseRate(key=key, measure=measure, expect=expect, bound=bound, events=events, runs=runs, seeds=seeds,
                     folders=tuple(str(f) for f in folders), **text)


def read_entries(path: Path) -> dict[str, FalseRate]:
    """Every entry of a false-rates file by key; none when the file is not there."""
    if not path.is_file():
        return {}
    top = Table(read_toml(path), str(path))
    return {key: _entry(key, Table(top.req(key, dict), top.at(key))) for key in list(top.data)}


def resolve(claims: dict[str, ClaimSpec], path: Path) -> dict[str, ClaimSpec]:
    """The claims with each event rule's false-rate key replaced by its k of n clean runs; one SpecError naming
    the claim file and the known keys for a key the file does not hold, or an entry of another measure."""
    entries, out = read_entries(path), {}
    for cid, claim in claims.items():
        rule = claim.rule
        if rule.kind != "event":
            out[cid] = claim
            continue
        where = f"{claim.file}:claim {cid}.rule.false_rate"
        entry = entries.get(rule.false_rate_key)
        if entry is None:
            raise SpecError(f"{where}: no entry {rule.false_rate_key!r} in {path}; known: "
                            f"{', '.join(entries) or 'none'} (python -m tools.false_rates --write measures them)")
        if (entry.measure, entry.expect, entry.bound) != (claim.measure, rule.expect, rule.bound):
            raise SpecError(f"{where}: entry {entry.key!r} counts {entry.measure.describe()} {entry.expect} "
                            f"{entry.bound:g}, but the claim's event is {claim.measure and claim.measure.describe()} "
                            f"{rule.expect} {rule.bound:g}; name the entry of the claim's own measure and bound")
        out[cid] = dataclasses.replace(claim, rule=with_counts(rule, entry.events, entry.runs, entry.source()))
    return out


def with_counts(rule: RuleSpec, events: int, runs: int, source: str) -> RuleSpec:
    """The rule with its false events: k of n clean runs (and their point estimate, for simulations)."""
    return dataclasses.replace(rule, false_events=(events, runs), false_rate=events / runs if runs else None,
                               false_rate_from=source)


def _toml_value(value: Any) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + "}"
    return "[" + ", ".join(_toml_value(v) for v in value) + "]"


def measure_table(measure: MeasureSpec) -> dict[str, Any]:
    """A measure as its claim-file table (only the fields it sets)."""
    table: dict[str, Any] = {"kind": measure.kind, "key": measure.key, "reduce": measure.reduce,
                             "epoch": measure.epoch, "fraction": measure.fraction, "over": measure.over,
                             "value": measure.value, "against": measure.against}
    return {k: v for k, v in table.items() if v not in (None, "")}


def write_entries(path: Path, entries: dict[str, dict[str, Any]]) -> None:
    """Replace the named entries of the file (the others are kept, in order); each entry holds the fields
    _entry reads, its measure as a dict."""
    kept = read_entries(path)
    order = list(kept) + [key for key in entries if key not in kept]
    lines = ["# Per-run false-event rates of the event measures, measured on clean runs by python -m tools.false_rates",
             "# --write (spec/false_rates.py reads it; docs/claims.md, 'Events'). Each table: k events of n runs.", ""]
    for key in order:
        fields = entries.get(key) or _as_fields(kept[key])
        lines.append(f"[{key}]")
        lines += [f"{name} = {_toml_value(value)}" for name, value in fields.items()]
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")


def _as_fields(entry: FalseRate) -> dict[str, Any]:
    return {"measure": measure_table(entry.measure), "expect": entry.expect, "bound": entry.bound,
            "events": entry.events, "runs": entry.runs, "recipe": entry.recipe, "stand_in": entry.stand_in,
            "command": entry.command, "seeds": list(entry.seeds), "folders": list(entry.folders),
            "date": entry.date, "commit": entry.commit}
