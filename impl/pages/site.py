"""A scorecard as a small site a reader can open in a browser and hand on: one summary page (OUT/report.html: a
banner saying full run or smoke run, seeds, device, wall time, run-hours and data; the verdicts' counts with filters;
a table of contents grouped by report), one page per report (OUT/pages/report-NNN.html: its claims' evidence and its
runs), and the images as PNG files beside those pages (OUT/pages/img/, named by their content, each linked to itself
at full size). No script: the verdict filters are radio buttons and CSS.

The pages know nothing of claims: impl/verdicts/evidence.py hands them rows of cells and HTML parts.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from impl.core.files import Root
from impl.pages import html
from impl.runs.untrusted import esc

PAGES, IMAGES = "pages", "pages/img"  # beside the summary page: the report pages, and their images
SUMMARY = "report.html"
MAX_PAGE_BYTES = 3_000_000  # the most a page may weigh (its images are files, not counted)
CSS = """.banner{background:#eef3f8;border-left:4px solid #2b5c8a;padding:.5em .9em;margin:.8em 0}
.banner.smoke{background:#f4f4f4;border-left-color:#888}.banner b{margin-right:.3em}.banner span{margin-right:1.4em;
white-space:nowrap}details.warning summary{cursor:pointer}.filters label{margin-right:1em;white-space:nowrap}
table.toc{width:100%}.toc th:nth-child(2){width:26%}.toc th:nth-child(5){width:18%}
.toc th:nth-child(8){width:12%}nav.back{margin:.5em 0}"""


@dataclass
class Row:
    """One claim in the summary: its anchor on its report's page, the verdict's slug (the filters' key) and the
    table's cells as HTML."""
    anchor: str
    slug: str
    cells: list[str]


@dataclass
class ReportPart:
    """A report: its number, a heading, its claims' rows, and a function that makes its page's body (called while
    images are saved as files, so that none is inline)."""
    report: str
    heading: str
    rows: list[Row]
    body: Callable[[], str]
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def page(self) -> str:
        return f"report-{self.report}.html"


@contextmanager
def image_files(root: Root, folder: str = IMAGES) -> Iterator[None]:
    """While open, every image html.png_tag makes is saved once as folder/<sha256 prefix>.png and shown from there
    (an address relative to the report pages, which sit in folder's parent)."""
    written: set[str] = set()

    def save(data: bytes) -> str:
        name = hashlib.sha256(data).hexdigest()[:16] + ".png"
        if name not in written:
            root.write_bytes(f"{folder}/{name}", data)
            written.add(name)
        return f"{Path(folder).name}/{name}"

    token = html.IMAGE_FILES.set(save)
    try:
        yield
    finally:
        html.IMAGE_FILES.reset(token)


def slug(verdict: str) -> str:
    """A verdict as a class name: 'does not hold' -> 'v-does-not-hold' (letters and hyphens only)."""
    return "v-" + "-".join("".join(ch if ch.isalnum() else " " for ch in verdict.lower()).split())


def filters(counts: dict[str, int], colours: dict[str, str]) -> tuple[str, str]:
    """The verdict filters (radio buttons, no script) and the CSS that hides the other verdicts' rows."""
    total = sum(counts.values())
    buttons = ['<label><input type=radio name=show id=show-all checked> all '
               f"<b>{total}</b></label>"]
    css = []
    for verdict, n in counts.items():
        if not n:
            continue
        key = slug(verdict)
        buttons.append(f'<label><input type=radio name=show id="show-{key}"> <span class=verdict style="background:'
                       f'{colours.get(verdict, "#555")}">{esc(verdict)}</span> <b>{n}</b></label>')
        css.append(f"body:has(#show-{key}:checked) tr.claim-row:not(.{key}){{display:none}}")
    return f'<p class=filters>Show: {"".join(buttons)}</p>', "\n".join(css)


def banner(facts: list[tuple[str, str]], smoke: bool) -> str:
    """The run at a glance: (label, value) pairs, escaped; a smoke run's banner is grey and says so first."""
    kind = ("<span><b>smoke run</b> (--quick): it checks the plumbing; its verdicts mean nothing</span>" if smoke
            else "<span><b>full run</b></span>")
    items = " ".join(f"<span><b>{esc(label)}</b>{esc(value)}</span>" for label, value in facts)
    return f'<div class="banner{" smoke" if smoke else ""}" id=banner>{kind} {items}</div>'


def collapsed_warning(summary: str, details: list[str], anchor: str = "measured") -> str:
    """A warning as one line that opens to its details (one per line); nothing when there are no details."""
    if not details:
        return ""
    items = "".join(f"<li>{esc(d)}</li>" for d in details)
    return (f'<details class=warning id="{anchor}"><summary><strong>Warning:</strong> {esc(summary)}</summary>'
            f"<ul class=note>{items}</ul></details>")


def table(heads: list[str], rows: list[Row], page: str) -> str:
    """The claims' rows, each row's first cell linked to the claim on its report's page."""
    head = "".join(f"<th>{esc(h)}</th>" for h in heads)
    body = "".join(f'<tr class="claim-row {r.slug}"><td><a href="{PAGES}/{page}#{esc(r.anchor)}">{esc(r.anchor)}'
                   f"</a></td>{''.join(f'<td>{c}</td>' for c in r.cells)}</tr>" for r in rows)
    return f"<table class=toc><tr>{head}</tr>{body}</table>"


def page(title: str, css: str, body: str) -> str:
    return (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{esc(title)}</title>"
            f"<style>{html.CSS}{CSS}{css}</style></head><body>{body}</body></html>")


def write(root: Root, title: str, head: str, parts: list[ReportPart], heads: list[str], counts: dict[str, int],
          colours: dict[str, str], css: str = "", warning: str = "", tail: str = "") -> list[Path]:
    """The summary page and one page per report; returns the pages written. `head` is HTML under every page's title
    (the banner), `warning` a collapsed warning under the summary's, `tail` HTML under its table of contents (the
    arms, notes)."""
    shown, filter_css = filters(counts, colours)
    toc = "".join(
        f'<h2 id="report-{esc(p.report)}">{esc(p.heading)} <small>(<a href="{PAGES}/{esc(p.page)}">its claims\' '
        f"evidence and runs</a>)</small></h2>" + table(heads, p.rows, p.page) for p in parts)
    contents = "".join(f'<li><a href="#report-{esc(p.report)}">{esc(p.heading)}</a>: {len(p.rows)} claims</li>'
                       for p in parts)
    summary = page(title, css + filter_css, f"<h1>{esc(title)}</h1>{head}{warning}{shown}"
                   f"<ul class=contents>{contents}</ul>{toc}{tail}")
    written = [root.write_text(SUMMARY, summary)]
    with image_files(root):
        for p in parts:
            body = p.body()
            text = page(f"{p.heading}: {title}", css,
                        f'<nav class=back><a href="../{SUMMARY}">← the summary of all reports</a></nav>'
                        f"<h1>{esc(p.heading)}</h1>{head}{body}")
            written.append(root.write_text(f"{PAGES}/{p.page}", text))
    return written
