"""Markdown tables, made here only: a study's arms side by side (impl.collapse, impl.compare) and the reports'
claims as a table (impl.claims, and docs/claims.md pasted from it)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from impl.pages import html
from spec.claim import ClaimSpec


def cell(value: object) -> str:
    if isinstance(value, float):
        return html.number(value)
    return "n/a" if value is None else str(value)


def table(results: dict[str, dict[str, Any]], columns: tuple[str, ...], first: str, strip: str = "") -> str:
    lines = [f"| {first} | " + " | ".join(columns) + " |", "|" + " --- |" * (len(columns) + 1)]
    for arm, res in results.items():
        lines.append(f"| {arm.removeprefix(strip)} | " + " | ".join(cell(res.get(c)) for c in columns) + " |")
    return "\n".join(lines)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def claims_table(claims: Iterable[ClaimSpec]) -> str:
    """Markdown: id, report, quote (and the further sentences saying the same), reading (with the errata it follows
    and the inferred settings it depends on), measurement (arms, proxy), and the rule with its minimum effect or
    its bound's reference and why, or the not-measurable reason."""
    lines = ["| id | report | quote | reading | measurement | rule (minimum effect, reference: why) |",
             "| --- | --- | --- | --- | --- | --- |"]
    for c in claims:
        arms = ", ".join(f"{name} = {arm.key()}" for name, arm in c.arms.items())
        if c.measure is None:
            measurement, rule = f"not measurable ({arms})" if arms else "not measurable", f"*{c.reason}*"
        else:
            where = "; face-specific: measured on the anime faces only" if c.face_specific else ""
            measurement = f"`{c.measure.describe()}` on {arms}" + (f"; proxy: {c.proxy}" if c.proxy else "") + where
            rule = f"{c.rule.describe()}: {c.rule.note}"
        quote = c.quote + "".join(f" / also: {q}" for q in c.also)
        reading = (c.reading or c.paraphrase) + (f" Errata: {', '.join(c.errata)}." if c.errata else "") + \
            (f" Inferred: {c.inferred}." if c.inferred else "")
        lines.append("| " + " | ".join(_cell(x) for x in (f"`{c.id}`", c.report, quote, reading, measurement, rule))
                     + " |")
    return "\n".join(lines)
