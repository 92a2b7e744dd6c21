"""Strict reading of TOML tables: every error names the file, the field and the fix.

A `Table` wraps one parsed TOML table. Fields are taken with `req`/`opt`; `close()` then refuses any key that
was not taken, suggesting the closest known key, so a typo in a hand-edited spec never passes silently.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, overload

STATUSES = ("documented", "inferred", "undocumented", "addition")
MAX_DEPTH = 12  # tables and arrays nested deeper than this are refused (the spec files need 4)
_REPORT = re.compile(r"^\d{3}( |$)")


class SpecError(ValueError):
    """A spec file is malformed, incomplete or inconsistent. The message is one line: `file:field: problem`."""


def closest(word: str, choices: Iterable[str]) -> str:
    """' (did you mean X?)' for the closest choice, or '' when nothing is close."""
    match = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.5)
    return f" (did you mean {match[0]!r}?)" if match else ""


def _type_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = {int: "an integer", float: "a number", str: "a string", bool: "true/false", list: "an array",
             dict: "a table"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def check_type(value: Any, kind: type | tuple[type, ...], where: str) -> Any:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    # bool is an int in Python; a spec that says `true` where a size belongs is wrong, not 1.
    if isinstance(value, bool) and bool not in kinds:
        raise SpecError(f"{where}: expected {_type_name(kind)}, got {value!r}")
    if float in kinds and isinstance(value, int) and not isinstance(value, bool):
        return value
    if not isinstance(value, kinds):
        raise SpecError(f"{where}: expected {_type_name(kind)}, got {type(value).__name__} {value!r}")
    return value


@dataclass
class Table:
    """One TOML table with its location, for error messages."""

    data: dict[str, Any]
    where: str  # "spec/networks/x.toml:module[3]"

    def __post_init__(self) -> None:
        if not isinstance(self.data, dict):
            raise SpecError(f"{self.where}: expected a table, got {type(self.data).__name__}")
        self._taken: set[str] = set()

    def at(self, key: str) -> str:
        return f"{self.where}.{key}" if ":" in self.where else f"{self.where}:{key}"

    def req(self, key: str, kind: type | tuple[type, ...]) -> Any:
        self._taken.add(key)
        if key not in self.data:
            raise SpecError(f"{self.at(key)}: missing required field; add `{key} = ...`")
        return check_type(self.data[key], kind, self.at(key))

    def opt(self, key: str, kind: type | tuple[type, ...], default: Any = None) -> Any:
        self._taken.add(key)
        if key not in self.data:
            return default
        return check_type(self.data[key], kind, self.at(key))

    def has(self, key: str) -> bool:
        return key in self.data

    @overload
    def sub(self, key: str, required: Literal[True] = True) -> Table: ...
    @overload
    def sub(self, key: str, required: bool) -> Table | None: ...

    def sub(self, key: str, required: bool = True) -> Table | None:
        value = self.req(key, dict) if required else self.opt(key, dict)
        return None if value is None else Table(value, self.at(key))

    def subs(self, key: str) -> list[Table]:
        items = self.opt(key, list, [])
        return [Table(check_type(item, dict, f"{self.at(key)}[{i}]"), f"{self.at(key)}[{i}]")
                for i, item in enumerate(items)]

    def close(self) -> None:
        extra = [k for k in self.data if k not in self._taken]
        if extra:
            key = extra[0]
            hint = closest(key, sorted(self._taken))
            raise SpecError(f"{self.at(key)}: unknown field{hint}; remove it or fix its name")


def number(value: Any, where: str, low: float | None = None, high: float | None = None,
           open_low: bool = False, open_high: bool = False) -> int | float:
    """A finite int or float within [low, high] (an end excluded when open_*); SpecError naming `where` if not."""
    check_type(value, float, where)
    if isinstance(value, float) and not math.isfinite(value):
        raise SpecError(f"{where}: must be a finite number, got {value!r}")
    too_low = low is not None and (value <= low if open_low else value < low)
    too_high = high is not None and (value >= high if open_high else value > high)
    if too_low or too_high:
        if high is None:
            span = "positive" if low == 0 and open_low else f"{'>' if open_low else '>='} {low:g}"
        elif low is None:
            span = f"{'<' if open_high else '<='} {high:g}"
        else:
            span = f"in {'(' if open_low else '['}{low:g}, {high:g}{')' if open_high else ']'}"
        raise SpecError(f"{where}: must be {span}, got {value!r}")
    checked: int | float = value
    return checked


def positive_ints(value: Any, where: str, allow_empty: bool = False) -> tuple[int, ...]:
    check_type(value, list, where)
    if not value and not allow_empty:
        raise SpecError(f"{where}: must not be empty")
    for i, v in enumerate(value):
        check_type(v, int, f"{where}[{i}]")
        if v <= 0:
            raise SpecError(f"{where}[{i}]: must be a positive size, got {v}")
    return tuple(value)


@dataclass(frozen=True)
class Fact:
    """One value from a report, with where it came from and whether the report states it."""

    value: Any
    status: str
    source: str
    note: str = ""
    excerpt: str = ""  # the report's own words that state the value, verbatim (required when documented)

    @property
    def documented(self) -> bool:
        return self.status == "documented"

    @property
    def report(self) -> str:
        """The report the source names ('003'), or '' for a gan-spec addition."""
        return self.source[:3] if _REPORT.match(self.source) else ""


@overload
def read_fact(table: Table, key: str, kind: type | tuple[type, ...], required: Literal[True] = True) -> Fact: ...
@overload
def read_fact(table: Table, key: str, kind: type | tuple[type, ...], required: bool) -> Fact | None: ...


def read_fact(table: Table, key: str, kind: type | tuple[type, ...], required: bool = True) -> Fact | None:
    """A fact is written `key = {value = ..., status = "documented", source = "000 任务一 超参数", excerpt = "..."}`;
    a value the report does not state has another status and a note instead of the excerpt."""
    raw = table.req(key, dict) if required else table.opt(key, dict)
    if raw is None:
        return None
    fact = Table(raw, table.at(key))
    value = fact.req("value", kind)
    status = fact.req("status", str)
    if status not in STATUSES:
        raise SpecError(f"{fact.at('status')}: {status!r} is not one of {', '.join(STATUSES)}"
                        f"{closest(status, STATUSES)}")
    source = fact.req("source", str)
    if not source.strip():
        raise SpecError(f"{fact.at('source')}: must name the report and section the value comes from")
    note = fact.opt("note", str, "")
    if status != "documented" and not note:
        raise SpecError(f"{fact.at('note')}: a value marked {status} needs a note saying how it was obtained")
    excerpt = fact.opt("excerpt", str, "")
    if status == "documented" and not _REPORT.match(source):
        raise SpecError(f"{fact.at('source')}: a documented value's source starts with its report's number, "
                        f"like '003 §1.a'; got {source!r}")
    if status == "documented" and not excerpt.strip():
        raise SpecError(f"{fact.at('excerpt')}: a documented value needs the words of report {source[:3]} that "
                        "state it; add `excerpt = \"...\"`, copied verbatim")
    fact.close()
    return Fact(value=value, status=status, source=source, note=note, excerpt=excerpt)


def check_depth(data: Any, where: str) -> None:
    """Refuse tables and arrays nested deeper than MAX_DEPTH (walked without recursion)."""
    stack = [(data, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise SpecError(f"{where}: tables or arrays nested more than {MAX_DEPTH} deep; a spec needs 5 at most")
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))


def read_toml(path: Path) -> dict[str, Any]:
    import tomllib

    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except RecursionError:
        raise SpecError(f"{path}: tables or arrays nested too deep to read; a spec needs 5 levels at most") from None
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{path}: malformed TOML: {exc}; fix the syntax at that line") from None
    except UnicodeDecodeError:
        raise SpecError(f"{path}: not UTF-8 text; save it as UTF-8") from None
    except OSError as exc:
        raise SpecError(f"{path}: cannot read ({exc.strerror}); check the path and permissions") from None
    check_depth(data, str(path))
    return data
