"""Scorecards compared and exported: impl.report on folders holding a scorecard.json shows, per claim, how the
verdict and its effect moved from one scorecard to the next (3 to 5 seeds, smoke to full, this term against last
term's), and `--csv` writes one row per claim and scorecard (verdict, Holm verdict, effect, interval, n, p, events,
seeds needed) that reads back to the same numbers.

Scorecards are read as untrusted: scorecard.json must be an object with a list of claims; each value is escaped,
a number that is not finite is left empty.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from impl.core.errors import RunError
from impl.pages import html
from impl.runs.untrusted import esc, get, num, text

FILE = "scorecard.json"
MAX_BYTES = 50_000_000  # a scorecard of every claim is well under 1 MB
CSV_COLUMNS = ("scorecard", "claim", "report", "verdict", "holm", "effect", "ci_low", "ci_high", "n", "p_value",
               "events", "events_of", "seeds_needed", "data")
CSS = """.moved{background:#fff3cd}.verdict{color:#fff;padding:1px 6px;border-radius:3px;font-size:.85em}"""
COLOURS = {"holds": "#186a3b", "does not hold": "#a61b1b", "inconclusive": "#9a6700", "not measurable here": "#555",
           "smoke: means nothing": "#888"}


@dataclass
class Scorecard:
    """One scorecard folder read: its name on the page, its settings and its claims by id."""
    path: Path
    name: str
    meta: dict[str, Any]
    claims: dict[str, dict[str, Any]]


def is_scorecard(path: Path) -> bool:
    return (path / FILE).is_file()


def load(path: Path, name: str) -> Scorecard:
    """A scorecard folder's scorecard.json; RunError (one line) when it is not one gan-spec writes."""
    file = path / FILE
    try:
        if file.is_symlink() or file.stat().st_size > MAX_BYTES:
            raise RunError(f"{text(file)}: a link or over {MAX_BYTES:,} bytes, not a scorecard gan-spec writes; "
                           "pass the folder impl.reproduce wrote")
        data = json.loads(file.read_text(encoding="utf-8", errors="replace"))
    except (OSError, ValueError, RecursionError) as exc:
        raise RunError(f"{text(file)}: not readable JSON ({type(exc).__name__}); pass the folder impl.reproduce "
                       "wrote") from None
    claims = data.get("claims") if isinstance(data, dict) else None
    if not isinstance(claims, list):
        raise RunError(f"{text(file)}: no list of claims; pass the folder impl.reproduce wrote")
    by_id = {text(c["claim"]): c for c in claims if isinstance(c, dict) and isinstance(c.get("claim"), str)}
    return Scorecard(path, name, {k: v for k, v in data.items() if k != "claims"}, by_id)


def loaded(paths: list[Path]) -> list[Scorecard]:
    return [load(p, n) for p, n in zip(paths, html.names(paths))]


def row(card: Scorecard, claim: str) -> dict[str, str]:
    """One claim of one scorecard as the CSV's plain values ('' where the scorecard has none)."""
    d = card.claims.get(claim, {})  # a smoke run's shown verdicts say so; its raw and Holm decisions mean nothing
    ci, events = get(d, "ci"), get(d, "events")
    ci = ci if isinstance(ci, list) and len(ci) == 2 else [None, None]
    events = events if isinstance(events, list) and len(events) == 2 else [None, None]
    values = {"scorecard": card.name, "claim": claim, "report": get(d, "report"),
              "verdict": d.get("shown", get(d, "verdict")), "holm": d.get("shown_holm", get(d, "holm")),
              "effect": num(get(d, "effect")), "ci_low": num(ci[0]), "ci_high": num(ci[1]), "n": get(d, "n"),
              "p_value": num(get(d, "p_value")), "events": events[0], "events_of": events[1],
              "seeds_needed": get(d, "seeds_needed"), "data": get(d, "data_label")}
    return {k: "" if v is None else (repr(v) if isinstance(v, float) else text(v)) for k, v in values.items()}


def claim_ids(cards: list[Scorecard]) -> list[str]:
    """Every claim of any scorecard, in the order they first appear."""
    return list(dict.fromkeys(c for card in cards for c in card.claims))


def to_csv(cards: list[Scorecard]) -> str:
    """One row per claim and scorecard; floats written in full (repr), so reading them back gives the same numbers."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for claim in claim_ids(cards):
        for card in cards:
            if claim in card.claims:
                writer.writerow(row(card, claim))
    return buffer.getvalue()


def effect_text(values: dict[str, str]) -> str:
    if values["events"] != "":
        return f"{values['events']} of {values['events_of']} seeds"
    if values["effect"] == "":
        return "-"
    ci = f" [{html.number(float(values['ci_low']))}, {html.number(float(values['ci_high']))}]" \
        if values["ci_low"] != "" else ""
    return html.number(float(values["effect"])) + ci


def badge(verdict: object) -> str:
    verdict = text(verdict) if verdict else "-"
    colour = COLOURS.get(verdict, next((c for v, c in COLOURS.items() if verdict.startswith(v)), "#555"))
    return f'<span class=verdict style="background:{colour}">{esc(verdict)}</span>' if verdict != "-" else "-"


def setting(card: Scorecard) -> str:
    m = card.meta
    kind = "smoke run" if m.get("quick") else "full run"
    return (f"{kind}; {m.get('seeds', '?')} seeds; device {m.get('device', '?')}; data {m.get('faces', '?')}; "
            f"wall time {num(m.get('wall_s')) or 0:,.0f} s; finished {m.get('finished', '?')}")


def page(cards: list[Scorecard]) -> str:
    """The comparison: what each scorecard was (smoke or full, seeds, device, data), then per claim each
    scorecard's verdict, Holm's and effect, the rows where the verdict moved marked and counted first."""
    settings = "".join(f"<li><b>{esc(c.name)}</b>: {esc(setting(c))}</li>" for c in cards)
    heads = "".join(f"<th>{esc(c.name)}: verdict</th><th>Holm</th><th>effect [95 % interval]</th><th>n</th>"
                    for c in cards)
    body, moved = "", 0
    for claim in claim_ids(cards):
        values = [row(card, claim) if claim in card.claims else None for card in cards]
        verdicts = {v["verdict"] for v in values if v is not None}
        changed = len(verdicts) > 1 or any(v is None for v in values)
        moved += changed
        cells = "".join("<td>-</td>" * 4 if v is None else
                        f"<td>{badge(v['verdict'])}</td><td>{badge(v['holm'])}</td><td>{esc(effect_text(v))}</td>"
                        f"<td>{esc(v['n'] or '-')}</td>" for v in values)
        body += f'<tr{" class=moved" if changed else ""}><td>{esc(claim)}</td>{cells}</tr>'
    title = f"gan-spec: {len(cards)} scorecards compared"
    return (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{esc(title)}</title>"
            f"<style>{html.CSS}{CSS}</style></head><body><h1>{esc(title)}</h1><ul>{settings}</ul>"
            f"<p id=moved><b>{moved}</b> of {len(claim_ids(cards))} claims changed verdict (or are in one scorecard "
            f"only); their rows are marked.</p><table id=verdicts><tr><th>claim</th>{heads}</tr>{body}</table>"
            "</body></html>")
