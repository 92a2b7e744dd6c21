"""One self-contained HTML page comparing runs: a table of their metrics (which direction is better, the best run
marked among runs measured alike), a warning when they differ, their loss curves, and per run the recipe as
documented vs as run (notes and overrides as text), its sample grids over the epochs and its latent grids.

Run folders are read as untrusted (impl.runs.folder, trusted=False): every value is escaped, only PNGs inside a
run are shown, re-encoded.
"""

from __future__ import annotations

import base64
import io
import json
import re
import statistics
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from impl.pages import charts
from impl.runs import grids
from impl.runs.folder import RunFolder
from impl.runs.untrusted import esc, get, image, num, text

if TYPE_CHECKING:
    from PIL.Image import Image

FONTS = ('system-ui,"Noto Sans CJK SC","Source Han Sans SC","PingFang SC","Microsoft YaHei","WenQuanYi Micro Hei",'
         "sans-serif")  # the reports' quotes are Chinese: a CJK font is named before the generic fallback
CSS = "body{font:14px/1.45 " + FONTS + ";" + """margin:2em auto;max-width:1200px;color:#222;padding:0 1em}
table{border-collapse:collapse;margin:.6em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;
vertical-align:top}th{background:#f3f3f3}.documented{color:#186a3b}.inferred{color:#9a6700}
.undocumented{color:#b42318}.addition{color:#6f42c1}.changed{background:#fff3cd}.note{color:#555;font-size:12px}
td.best{font-weight:bold;background:#e6f4ea}.differs{background:#fff3cd}
img{max-width:100%;image-rendering:pixelated;border:1px solid #ddd}
.warning{background:#fdecea;border-left:4px solid #b42318;padding:.5em .8em}.notice{color:#b42318}
section{border-top:2px solid #444;margin-top:2em}figure{margin:.8em 0}figcaption{color:#555}"""
STATUSES = ("documented", "inferred", "undocumented", "addition")  # the only statuses that become class names
STRIP_WIDTH = 1000  # pixels of sample grids in a strip, at most: the page is 1,200 wide
STRIP = 5  # sample grids in a run's progression strip: first, quarter, half, three quarters, last


@dataclass
class Run:
    """What the page shows of one run folder, read once."""
    path: Path
    name: str
    config: dict[str, Any]
    metrics: list[dict[str, Any]]
    evaluation: dict[str, Any]
    latent: dict[str, Any] | None
    notices: list[str] = field(default_factory=list)  # what was left out, and why


def load(path: Path, name: str) -> Run:
    """A run folder read as untrusted: config.json must be an object, the rest is left out with a notice."""
    folder = RunFolder(path, trusted=False)
    config = folder.config()
    evaluation, why = folder.optional(RunFolder.EVALUATION)
    latent, why_latent = folder.optional(RunFolder.LATENT)
    return Run(path, name, config, folder.log(), evaluation or {}, latent, [w for w in (why, why_latent) if w])


def number(value: float) -> str:
    """12,670 rather than 1.267e+04; four significant digits below 1,000."""
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"


def fmt(value: object) -> str:
    """Any JSON value as escaped HTML text: plain numbers, compact JSON for lists and objects."""
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "-"}[value]
    if isinstance(value, float):
        return number(value)
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10_000 else str(value)
    if isinstance(value, dict | list):
        try:
            return esc(json.dumps(value, ensure_ascii=False))
        except (RecursionError, ValueError):
            return "(nested too deeply to show)"
    return esc(value)


# Where images go: None puts them inline (a self-contained page); a multi-page scorecard sets a function that saves
# the PNG bytes as a file beside its pages and returns the file's address relative to the page.
IMAGE_FILES: ContextVar[Callable[[bytes], str] | None] = ContextVar("IMAGE_FILES", default=None)


def png_tag(img: Image, alt: str) -> str:
    """An <img> of a decoded image, re-encoded here: nothing of a run's file but its pixels reaches the page. Inline,
    or a file (IMAGE_FILES) shown lazily and linked to itself at full size."""
    buffer = io.BytesIO()
    img.save(buffer, format="PNG")
    save = IMAGE_FILES.get()
    if save is None:
        return f'<img alt="{esc(alt)}" src="data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}">'
    src = esc(save(buffer.getvalue()))
    return f'<a href="{src}"><img alt="{esc(alt)}" loading=lazy src="{src}"></a>'


def figure(img: Image, caption: str) -> str:
    return f"<figure>{png_tag(img, caption)}<figcaption>{esc(caption)}</figcaption></figure>"


def embedded(run: Run, relative: str, caption: str) -> str:
    """A PNG of the run as a figure, or nothing (and a notice saying why it is left out)."""
    path = run.path / relative
    if not path.exists() and not path.is_symlink():
        return ""
    img = image(run.path, path)
    if isinstance(img, str):
        run.notices.append(f"{relative}: {img}; left out")
        return ""
    return figure(img, caption)


# ---------------------------------------------------------------- across runs

def summary_row(run: Run) -> dict[str, Any]:
    """The comparison table's values for a run: the last logged losses, the median speed, the evaluation."""
    last = run.metrics[-1] if run.metrics else {}
    speeds = [v for v in (num(r.get("images_per_s")) for r in run.metrics[1:]) if v is not None]
    speeds = speeds or [v for v in [num(last.get("images_per_s"))] if v is not None]
    return {"steps": last.get("step"), "d_loss": last.get("d_loss"), "g_loss": last.get("g_loss"),
            "images_per_s": statistics.median(speeds) if speeds else None,
            **{c.key: run.evaluation.get(c.key) for c in charts.COLUMNS[4:]}}


def comparison(runs: list[Run]) -> str:
    rows = [summary_row(run) for run in runs]
    columns = [c for c in charts.COLUMNS if c.key not in charts.OPTIONAL or any(r[c.key] is not None for r in rows)]
    # training columns compare across all runs (the warning names steps, data, seed or device that differ); metrics
    # only among runs measured alike (samples, image size, real set, data)
    alike = [charts.measurement(run.config, run.evaluation) for run in runs]
    best = {c.key: charts.best_alike([r[c.key] for r in rows], c.better, alike) if c.evaluated
            else charts.best_rows([r[c.key] for r in rows], c.better) for c in columns}
    differ = charts.differing([run.config for run in runs])  # what differs comes first: it explains the rest
    head = "".join(f'<th class="differs" title="differs between these runs">{esc(name)}</th>' for name in differ)
    head += "".join(f'<th title="{esc(c.hint + ("; " + c.better + " is better" if c.better else ""))}">'
                    f"{esc(c.heading)}</th>" for c in columns)
    body = ""
    for i, (run, row) in enumerate(zip(runs, rows)):
        cells = "".join(f'<td class="differs">{esc(values[i])}</td>' for values in differ.values())
        cells += "".join(f'<td class="best" title="best of these runs">{fmt(row[c.key])} ★</td>' if i in best[c.key]
                         else f"<td>{fmt(row[c.key])}</td>" for c in columns)
        body += f"<tr><td>{esc(run.name)}</td><td>{fmt(run.config.get('experiment'))}</td>{cells}</tr>"
    return (f'<table id="comparison"><tr><th>run</th><th>experiment</th>{head}</tr>{body}</table>'
            "<p class=note>↓ lower is better, ↑ higher is better, ★ the best of these runs (of the metrics: the best "
            "among runs measured alike, the same samples, image size, real set and data; columns without an arrow "
            "have no better direction). d_loss, g_loss: last logged averages; images/s: median over logging "
            "intervals; FID, KID, coverage, KL and MS-SSIM from <code>python -m impl.evaluate</code> (- if not "
            "evaluated).</p>")


def warning(runs: list[Run]) -> str:
    differ = charts.differences([run.name for run in runs], [run.config for run in runs])
    if not differ:
        return ""
    return (f'<p class="warning" id="differences" role="alert"><strong>Warning:</strong> these runs differ in '
            f"{esc('; '.join(differ))}: their numbers are not directly comparable.</p>")


def measured_groups(runs: list[Run]) -> list[str]:
    """The ways the evaluated runs were measured differently, each value once with the runs that share it (named by
    their first folder, an arm's seeds together): 'image size: 64x64 (r000-wgan, r000-dcgan: 6 runs); 28x28 ...'."""
    done = [run for run in runs if run.evaluation]
    measured = [charts.measurement(run.config, run.evaluation) for run in done]
    out = []
    for k, label in enumerate(charts.MEASURED):
        values = [m[k] for m in measured]
        if len(set(values)) < 2:
            continue
        groups = []
        for value in dict.fromkeys(values):
            names = [run.name.split("/")[0] for run, v in zip(done, values) if v == value]
            groups.append(f"{value} ({', '.join(dict.fromkeys(names))}: {len(names)} runs)")
        out.append(f"{label}: " + "; ".join(groups))
    return out


def measured_warning(runs: list[Run]) -> str:
    """A warning when the evaluated runs' metrics were measured differently (always shown, scorecards included)."""
    done = [run for run in runs if run.evaluation]
    differ = charts.measured_differently([run.name for run in done],
                                         [charts.measurement(run.config, run.evaluation) for run in done])
    if not differ:
        return ""
    return (f'<p class="warning" id="measured" role="alert"><strong>Warning:</strong> these runs\' metrics were '
            f"measured differently: {esc('; '.join(differ))}. ★ marks a best metric only among runs measured alike; "
            "compare the others only with care (docs/metrics.md).</p>")


def overlay(runs: list[Run]) -> str:
    fig = charts.loss_overlay([(run.name, run.metrics) for run in runs])
    if fig is None:
        return ""
    from PIL import Image

    img = Image.open(io.BytesIO(charts.png_bytes(fig)))
    return f'<h2>Loss curves</h2><div id="overlay">{figure(img, "d_loss and g_loss of every run, by step")}</div>'


# ---------------------------------------------------------------- one run

def overrides(config: dict[str, Any]) -> list[tuple[str, object, object]]:
    """(key, value, origin) of config.json's overrides {key: {"value": v, "origin": "..."}}; an entry of another
    shape is shown as it is, without an origin."""
    raw = config.get("overrides")
    if raw is None:
        return []
    if not isinstance(raw, dict):
        return [("overrides", raw, "not a key-value object")]
    return [(key, v["value"], v.get("origin")) if isinstance(v, dict) and "value" in v else (key, v, None)
            for key, v in raw.items()]


def recipe_table(config: dict[str, Any]) -> str:
    """Each recipe fact as the report documents it (status, source, note), beside what the run actually used."""
    recipe, changed_by = config.get("recipe"), {key: value for key, value, _ in overrides(config)}
    actual = {k: get(config, "settings", k) for k in ("batch_size", "epochs") if get(config, "settings", k) is not None}
    rows = ["<tr><th>field</th><th>spec value</th><th>status</th><th>source</th><th>note</th><th>this run</th></tr>"]
    facts = recipe.items() if isinstance(recipe, dict) else [("recipe", {"value": recipe})]
    for key, fact in facts:
        fact = fact if isinstance(fact, dict) else {"value": fact}
        value, status = fact.get("value"), fact.get("status")
        used = changed_by.get(key, actual.get(key, "(a report claim; see the metrics)" if key == "outcome" else value))
        changed = ' class="changed"' if (key in changed_by or key in actual) and used != value else ""
        css = f' class="{status}"' if status in STATUSES else ""
        rows.append(f"<tr{changed}><td>{esc(key)}</td><td>{fmt(value)}</td><td{css}>{fmt(status)}</td>"
                    f"<td>{fmt(fact.get('source'))}</td><td class=note>{fmt(fact.get('note', ''))}</td>"
                    f"<td>{fmt(used)}</td></tr>")
    rows.append(f"<tr><td>data</td><td colspan=4></td><td>{fmt(config.get('data'))}</td></tr>")
    return "<table>" + "".join(rows) + "</table>"


def overrides_list(config: dict[str, Any]) -> str:
    items = "".join(f"<li><code>{esc(key)} = {fmt(value)}</code>{f' ({esc(origin)})' if origin is not None else ''}"
                    "</li>" for key, value, origin in overrides(config))
    return f'<h3>Overrides</h3><ul class="overrides">{items}</ul>' if items else ""


def grid_label(path: Path) -> tuple[int, str]:
    """A sample grid's order and label from its name: epoch_003 -> (3, 'epoch 3'), step_000500 -> 'step 500'."""
    found = re.fullmatch(r"(epoch|step)_0*(\d+)", path.stem)
    return (int(found[2]), f"{found[1]} {int(found[2])}") if found else (-1, text(path.stem)[:24])


def progression(run: Run) -> str:
    """A strip of STRIP evenly spaced sample grids (epoch grids where there are any), each labelled."""
    files = RunFolder(run.path, trusted=False).grids()
    epochs = [f for f in files if f.stem.startswith("epoch_")]
    files = sorted(epochs or files, key=lambda f: (grid_label(f)[0], f.name))
    if not files:
        return ""
    chosen = sorted({round(i * (len(files) - 1) / (STRIP - 1)) for i in range(STRIP)})
    images, labels = [], []
    for i in chosen:
        img = image(run.path, files[i])
        if isinstance(img, str):
            run.notices.append(f"{RunFolder.SAMPLES}/{files[i].name}: {img}; left out")
        else:
            images.append(img)
            labels.append(grid_label(files[i])[1])
    if not images:
        return ""
    caption = f"the fixed noise batch at {', '.join(labels)} ({len(images)} of {len(files)} grids)"
    return f'<div class="progression">{figure(grids.strip(images, labels, max_width=STRIP_WIDTH), caption)}</div>'


def latent_part(run: Run) -> str:
    """impl.latent's grids and its table of how far each change moves the images."""
    files = sorted(run.path.glob(f"{RunFolder.LATENT_DIR}/*.png"), key=lambda f: (f.stem != "base", num_in(f.stem),
                                                                                    f.name))
    figures = "".join(embedded(run, f"{RunFolder.LATENT_DIR}/{f.name}", latent_caption(f.stem)) for f in files)
    rows = get(run.latent, "rows")
    table = ""
    if isinstance(rows, list):
        keys = ("position", "value", "pixel_change", "row_spread", "class_flips")
        table = "<table><tr>" + "".join(f"<th>{k}</th>" for k in keys) + "</tr>" + "".join(
            "<tr>" + "".join(f"<td>{fmt(get(r, k))}</td>" for k in keys) + "</tr>" for r in rows) + "</table>"
    return f"<h3>Latent study</h3>{figures}{table}" if figures or table else ""


def latent_caption(stem: str) -> str:
    if stem == "base":
        return "base: the latent vectors as drawn (columns)"
    if stem.startswith("value_"):
        return f"each row sets one latent position to {text(stem[6:])} in every vector (columns)"
    return f"latent study: {text(stem)}"


def num_in(stem: str) -> float:
    found = re.search(r"[-+]?\d+(\.\d+)?(e[-+]?\d+)?", stem)
    return float(found[0]) if found else 0.0


def section(run: Run) -> str:
    c = run.config
    facts = (f"report {fmt(c.get('report'))}, {fmt(c.get('total_steps', '?'))} steps planned, device "
             f"{fmt(get(c, 'settings', 'device'))}, seed {fmt(get(c, 'settings', 'seed'))}, torch "
             f"{fmt(get(c, 'versions', 'torch'))}, commit {esc(text(get(c, 'versions', 'git_commit') or '')[:10])}, "
             f"started {fmt(c.get('started'))}")
    notes = c.get("notes")
    notes = "".join(f"<li>{fmt(n)}</li>" for n in notes) if isinstance(notes, list) else ""
    body = (f"<p>{facts}</p><h3>Recipe: documented vs this run</h3>{recipe_table(c)}{overrides_list(c)}"
            + (f"<h3>Notes</h3><ul class=note>{notes}</ul>" if notes else "")
            + f"<h3>Curves and samples</h3>{embedded(run, RunFolder.LOSS_PLOT, 'loss curves and D outputs')}"
            + progression(run) + latent_part(run))
    notices = "".join(f'<p class="notice">{esc(n)}</p>' for n in run.notices)
    return f"<section><h2>{esc(run.name)}: {fmt(c.get('title', ''))}</h2>{notices}{body}</section>"


def names(runs: list[Path]) -> list[str]:
    """Each run's folder name, with as many of its parents as make it unique: `seed-0` in one scorecard,
    `r004-mlp/seed-0` across arms, `sc-3seeds/r004-mlp/seed-0` across two scorecards."""
    parts = [r.resolve().parts if r.name in ("", ".", "..") else (*r.resolve().parent.parts, r.name) for r in runs]
    out = []
    for mine in parts:
        depth = 1
        while depth < len(mine) and sum(p[-depth:] == mine[-depth:] for p in parts) > 1:
            depth += 1
        out.append(text("/".join(mine[-depth:])))
    return out


def loaded(runs: list[Path], called: list[str] | None = None) -> list[Run]:
    """The run folders read, each named (`called`, else names()); RunError (one line) when one has no usable
    config.json."""
    return [load(Path(run), name) for run, name in zip(runs, called or names([Path(r) for r in runs]))]


def runs_body(runs: list[Run]) -> str:
    """The comparison, the loss curves and every run's section (the sections first: they collect the notices)."""
    sections = "".join(section(run) for run in runs)
    return f"<h2>Comparison</h2>{comparison(runs)}{overlay(runs)}{sections}"


def build(runs: list[Path], title: str = "", lead: str = "", css: str = "", warn: bool = True) -> str:
    """The page for these run folders; RunError (one line) when one has no usable config.json. `lead` is HTML put
    above the comparison; `warn=False` leaves out the warning that runs differ (a study's runs differ by design)."""
    runs_ = loaded(runs)
    body = runs_body(runs_)
    heading = esc(title) if title else f"gan-spec: {len(runs_)} run(s)"
    return (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{heading}</title>"
            f"<style>{CSS}{css}</style></head><body><h1>{heading}</h1>{warning(runs_) if warn else ''}"
            f"{measured_warning(runs_)}{lead}{body}</body></html>")
