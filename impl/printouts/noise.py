"""Transcription damage: undone on a report's text before parsing (`clean`), and made on purpose by a seeded
model of it for the round-trip tests (`garble`).

A PDF or OCR transcription of a printout widens characters (full-width digits, brackets, commas), loses or
doubles separators, splits numbers across spaces, runs columns together, wraps long lines and misreads a few
letters (l/1, I/1, O/0). `clean` undoes what can be undone without guessing a number; what it cannot undo is left
for the parsers, which then name the line they could not read.
"""

from __future__ import annotations

import random
import re
import unicodedata

# OCR misreadings seen in the reports, each only inside a printout's vocabulary (never in prose or numbers)
_WORD_FIXES = (
    (re.compile(r"BatchNorm[Il]d"), "BatchNorm1d"),
    (re.compile(r"\ble-0(\d)"), r"1e-0\1"),
    (re.compile(r"negative slope"), "negative_slope"),
    (re.compile(r"kernel size"), "kernel_size"),
    (re.compile(r"output padding"), "output_padding"),
    (re.compile(r"track running stats"), "track_running_stats"),
    (re.compile(r"in features"), "in_features"),
    (re.compile(r"out features"), "out_features"),
)
_MARKUP = re.compile(r"\*\*|`{3}\w*|^\s*>\s?")


def clean(text: str) -> str:
    """The text with full-width characters narrowed, markup debris removed and known misreadings repaired."""
    return clean_with_repairs(text)[0]


def clean_with_repairs(text: str) -> tuple[str, list[tuple[int, str, str]]]:
    """`clean`, and each misreading it repaired: (line, the line as printed, as repaired). No repair is silent."""
    repairs = []
    text = unicodedata.normalize("NFKC", text).replace("\t", "    ").replace("\u00a0", " ")
    text = text.replace("\u2014", "-").replace("\u2013", "-").replace("\u2212", "-")
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        line = _MARKUP.sub("", line)
        before = line
        for pattern, fix in _WORD_FIXES:
            line = pattern.sub(fix, line)
        if line != before:
            repairs.append((number, before.strip(), line.strip()))
        out.append(line.rstrip())
    return "\n".join(out), repairs


_WIDE = {chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)}  # ASCII -> its full-width form
NOISE_KINDS = ("fullwidth", "separator", "split_number", "merge_columns", "wrap")


def garble(text: str, level: float, seed: int) -> str:
    """`text` with each line damaged with probability `level` by one of NOISE_KINDS, reproducibly for `seed`."""
    rng = random.Random(seed)
    out: list[str] = []
    for line in text.splitlines():
        if not line.strip() or rng.random() >= level:
            out.append(line)
            continue
        kind = rng.choice(NOISE_KINDS)
        if kind == "fullwidth":
            out.append("".join(_WIDE.get(c, c) if rng.random() < 0.5 else c for c in line))
        elif kind == "separator":
            out.append(_separator(line, rng))
        elif kind == "split_number":
            out.append(re.sub(r"(?<=\d),(?=\d{3})", lambda _m: rng.choice([", ", " ,", ","]), line))
        elif kind == "merge_columns":
            out.append(re.sub(r"(?<=\S)  +(?=\S)", lambda m: m[0] if rng.random() < 0.5 else " ", line))
        else:
            cut = rng.randrange(len(line) // 2, len(line)) if len(line) > 60 else len(line)
            out += [line[:cut], line[cut:]] if cut < len(line) and line[cut - 1] in ", " else [line]
    return "\n".join(out)


def _separator(line: str, rng: random.Random) -> str:
    """Lose or double one separator: a comma between arguments, or a rule line's dashes."""
    if set(line.strip()) <= set("-=─═"):
        return line[: max(1, len(line) - rng.randrange(1, 8))] if rng.random() < 0.5 else line + line.strip()[:3]
    spots = [m.start() for m in re.finditer(r", ", line)]
    if not spots:
        return line
    at = rng.choice(spots)
    return line[:at] + (",, " if rng.random() < 0.5 else " ") + line[at + 2:]
