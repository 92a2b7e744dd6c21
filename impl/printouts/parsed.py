"""What a parser read from one printout: modules as spec [[module]] tables, the numbers the printout states, and
every line it skipped or value it guessed, with why."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from impl.printouts.find import Printout


@dataclass
class Row:
    """One stated layer of a table: torchsummary's `Conv2d-3 [-1, 128, 16, 16] 204,928` or torchinfo's row."""

    type: str
    shape: tuple[int, ...]  # batch excluded
    params: int | None  # None: torchinfo's "--"
    line: int
    text: str


@dataclass
class Parsed:
    printout: Printout
    class_name: str = "Sequential"
    modules: list[dict[str, Any]] = field(default_factory=list)  # spec [[module]] tables, in forward order
    lines: dict[str, int] = field(default_factory=dict)  # module path -> report line
    rows: list[Row] = field(default_factory=list)  # tables only: the stated rows of the leaf layers
    totals: dict[str, float] = field(default_factory=dict)  # "total", "trainable", "non-trainable", MB lines
    total_lines: dict[str, tuple[int, str]] = field(default_factory=dict)  # the same keys -> (line, text)
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (line, why)
    guesses: list[str] = field(default_factory=list)
    problems: list[tuple[int, str, str]] = field(default_factory=list)  # (line, excerpt, what is wrong)
    unreadable: str = ""  # why no network could be rebuilt from this printout

    @property
    def kind(self) -> str:
        return self.printout.kind

    def line_text(self, line: int) -> str:
        index = line - self.printout.first
        return self.printout.lines[index].strip() if 0 <= index < len(self.printout.lines) else ""
