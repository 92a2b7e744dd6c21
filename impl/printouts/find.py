"""Where the network printouts are in a report's text: print(model) module trees, torchsummary tables and
torchinfo tables, each with its first line number and its lines (after `noise.clean`)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from impl.printouts.errors import IngestRefused

KINDS = ("repr", "torchsummary", "torchinfo")
MAX_PRINTOUT_LINES = 5000  # a printout longer than this is not a GAN network; refused as a nesting or size bomb
MAX_DEPTH = 64  # module nesting (and bracket nesting inside one line) deeper than this is refused

_REPR_OPEN = re.compile(r"^[^\w(]{0,3}\s*(?:\([^()]*\):\s*)?[A-Za-z_]\w*\($")
_ROOT_OPEN = re.compile(r"^[^\w(]{0,3}\s*[A-Z]\w*\($")  # an unnamed container: a new network's first line
_CODE = re.compile(r"\bnn\.|=\s*\w|\bdef\b|\bclass\b|\bimport\b")
_TABLE_END = re.compile(r"Estimated Total Size|Params size", re.I)


@dataclass(frozen=True)
class Printout:
    kind: str  # one of KINDS
    first: int  # 1-based line number of its first line in the report
    lines: tuple[str, ...]

    @property
    def last(self) -> int:
        return self.first + len(self.lines) - 1

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def find_printouts(text: str) -> list[Printout]:
    """Every printout in `text` (already cleaned), in order of appearance."""
    lines = text.splitlines()
    found: list[Printout] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if "Layer (type" in line and ("Output Shape" in line or "Param" in line):
            kind = "torchinfo" if "depth-idx" in line else "torchsummary"
            end = _table_end(lines, i)
            start = i - 1 if i > 0 and set(lines[i - 1].strip()) <= set("-=") and lines[i - 1].strip() else i
            found.append(Printout(kind, start + 1, tuple(lines[start:end])))
            i = end
        elif _REPR_OPEN.match(line) and not _CODE.search(line):
            end = _repr_end(lines, i)
            if end - i > 1:
                found.append(Printout("repr", i + 1, tuple(lines[i:end])))
            i = max(end, i + 1)
        else:
            i += 1
    return found


def _table_end(lines: list[str], start: int) -> int:
    """One past a table's last line: its size estimates, or the last row before text that is not a table."""
    strays, end = 0, start + 1
    for j in range(start + 1, len(lines)):
        if j - start > MAX_PRINTOUT_LINES:
            raise IngestRefused(f"line {start + 1}: a table of more than {MAX_PRINTOUT_LINES:,} lines")
        line = lines[j].strip()
        if _TABLE_END.search(line) and "Estimated" in line:
            return _past_rules(lines, j + 1)
        if not line or line.startswith(("#", "!", "|")) or re.search(r"[\u3000-\u9fff]", line):
            strays += 1
            if strays >= 2:
                return end
            continue
        strays, end = 0, j + 1
    return end


def _past_rules(lines: list[str], j: int) -> int:
    while j < len(lines) and lines[j].strip() and set(lines[j].strip()) <= set("-="):
        j += 1
    return j


def _repr_end(lines: list[str], start: int) -> int:
    """One past a module tree's closing parenthesis (or where the tree was cut off)."""
    depth = 0
    for j in range(start, len(lines)):
        if j - start > MAX_PRINTOUT_LINES:
            raise IngestRefused(f"line {start + 1}: a module tree of more than {MAX_PRINTOUT_LINES:,} lines")
        line = lines[j].strip()
        if j > start and (not line or re.search(r"[\u3000-\u9fff]", line) or _ROOT_OPEN.match(line)):
            return j  # cut off: a blank line, prose or the next network before the tree closed
        depth += _paren_balance(line)
        if depth > MAX_DEPTH:
            raise IngestRefused(f"line {j + 1}: modules nested more than {MAX_DEPTH} deep (a nesting bomb?)")
        if depth <= 0:
            return j + 1
    return len(lines)


def _paren_balance(line: str) -> int:
    quoted = re.sub(r"'[^']*'", "", line)
    return quoted.count("(") - quoted.count(")")
