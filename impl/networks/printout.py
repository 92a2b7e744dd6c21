"""Compare a report's printed module tree with `print(model)` of the built network.

Transcriptions re-indent, wrap and garble printouts, so both sides are normalised to one stripped line per
printed line. A garbled printout records its repairs as data (`fixes`: as printed -> as it must have been), and
an OCR'd one that lost lines is compared as an ordered subsequence: every surviving line must be right.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from spec.network import Evidence

_WRAPPER = re.compile(r"^\([a-z_]\w*\): (?=[A-Z]\w*\($)")  # "(generator): Generator(" printed inside a parent
# torch >= 2.14 prints BatchNorm's new `bias` flag; the reports' torch versions (1.x) did not have it.
_NEW_DEFAULTS = re.compile(r"(?<=affine=True), bias=True(?=, track_running_stats)")


def normalize(text: str, unwrap: bool = True) -> list[str]:
    lines = []
    for raw in _NEW_DEFAULTS.sub("", text.replace("**", "")).splitlines():
        line = " ".join(raw.split())
        if line:
            lines.append(line)
    if lines and unwrap:
        lines[0] = _WRAPPER.sub("", lines[0])
    return lines


def repaired(evidence: Evidence) -> list[str]:
    """The printout with its recorded garbling repaired. A fix that no longer matches is an error in the spec."""
    text = "\n".join(normalize(evidence.text))
    for said, meant in evidence.fixes:
        if said not in text:
            raise ValueError(f"fix {said!r} -> {meant!r} does not occur in the printout ({evidence.source})")
        text = text.replace(said, meant)
    return normalize(text, unwrap=False)


@dataclass(frozen=True)
class Comparison:
    ok: bool
    missing: int  # lines of print(model) the transcription lost (subsequence match)
    problem: str  # the first mismatch, for the failure message


def compare(evidence: Evidence, model_repr: str) -> Comparison:
    doc, actual = repaired(evidence), normalize(model_repr)
    if evidence.match == "exact":
        for i, (a, b) in enumerate(zip(doc, actual)):
            if a != b:
                return Comparison(False, 0, f"line {i + 1}: report {a!r} != model {b!r}")
        if len(doc) != len(actual):
            return Comparison(False, 0, f"report has {len(doc)} lines, model {len(actual)}")
        return Comparison(True, 0, "")
    j = 0  # subsequence: walk the model's lines, consuming each report line where it matches
    for i, line in enumerate(doc):
        while j < len(actual) and actual[j] != line:
            j += 1
        if j == len(actual):
            return Comparison(False, 0, f"report line {i + 1} {line!r} is not in the model's printout (in order)")
        j += 1
    return Comparison(True, len(actual) - len(doc), "")
