"""One self-contained HTML page comparing runs: each run's documented-vs-actual recipe, loss curves, samples,
metrics, latent grids, and a comparison table across runs.

    python -m impl.report runs/r004-mlp-cpu runs/r004-conv-cpu --out report.html
"""

from __future__ import annotations

import base64
import html
import sys
from pathlib import Path

from impl import cli, rundir
from impl.errors import RunError, boundary

CSS = """body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1200px;color:#222}
table{border-collapse:collapse;margin:.6em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}
th{background:#f3f3f3}.documented{color:#186a3b}.inferred{color:#9a6700}.addition{color:#6f42c1}
.changed{background:#fff3cd}img{max-width:100%;image-rendering:pixelated;border:1px solid #ddd}
section{border-top:2px solid #444;margin-top:2em}"""
COMPARE = ("steps", "d_loss", "g_loss", "images_per_s", "domain_fid", "domain_kid", "classes_covered",
           "kl_to_uniform", "diversity_ms_ssim")


def image(path: Path, alt: str) -> str:
    if not path.is_file():
        return ""
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{data}"><figcaption>' \
           f"{html.escape(alt)}</figcaption></figure>"


def number(value: float) -> str:
    """12,670 rather than 1.267e+04; four significant digits below 1,000."""
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"


def fmt(value: object) -> str:
    return number(value) if isinstance(value, float) else html.escape(str(value))


def recipe_table(config: dict) -> str:
    """Each recipe fact as the report documents it, beside what the run actually used."""
    settings, overrides = config.get("settings", {}), config.get("overrides", {})
    actual = {"batch_size": settings.get("batch_size"), "epochs": settings.get("epochs"), "data": config.get("data")}
    rows = ["<tr><th>field</th><th>spec value</th><th>status</th><th>source</th><th>this run</th></tr>"]
    for key, fact in config.get("recipe", {}).items():
        used = actual.get(key, "(a report claim; see the metrics)" if key == "outcome" else fact["value"])
        changed = " class=changed" if key in actual and key != "data" and used != fact["value"] else ""
        note = f' title="{html.escape(fact.get("note", ""))}"' if fact.get("note") else ""
        rows.append(f"<tr{changed}><td>{key}</td><td>{fmt(fact['value'])}</td>"
                    f"<td class={fact['status']}{note}>{fact['status']}</td><td>{html.escape(fact['source'])}</td>"
                    f"<td>{fmt(used)}</td></tr>")
    rows.append(f"<tr><td>data</td><td colspan=3></td><td>{fmt(config.get('data'))}</td></tr>")
    if overrides:
        rows.append(f"<tr class=changed><td>overrides</td><td colspan=4>{fmt(overrides)}</td></tr>")
    return "<table>" + "".join(rows) + "</table>"


def summary_row(run: Path, config: dict) -> dict:
    metrics = rundir.read_metrics(run)
    last = metrics[-1] if metrics else {}
    speed = [m["images_per_s"] for m in metrics[1:]] or [last.get("images_per_s", 0.0)]
    evaluated = {}
    if (run / "metrics.json").is_file():
        import json

        evaluated = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
    return {"run": run.name, "experiment": config["experiment"], "steps": last.get("step", 0),
            "d_loss": last.get("d_loss"), "g_loss": last.get("g_loss"),
            "images_per_s": sorted(speed)[len(speed) // 2], **{k: evaluated.get(k) for k in COMPARE[4:]}}


def section(run: Path, config: dict) -> str:
    samples = sorted((run / "samples").glob("*.png"))
    latent = "".join(image(p, f"latent study: {p.stem}") for p in sorted((run / "latent").glob("*.png")))
    return (f"<section><h2>{html.escape(run.name)}: {html.escape(config.get('title', ''))}</h2>"
            f"<p>report {config.get('report')}, {config.get('total_steps', '?')} steps planned, torch "
            f"{config.get('versions', {}).get('torch')}, commit {config.get('versions', {}).get('git_commit', '')[:10]}"
            f"</p><h3>Recipe: documented vs this run</h3>{recipe_table(config)}"
            f"<h3>Curves and samples</h3>{image(run / 'loss.png', 'loss curves')}"
            f"{image(samples[-1], 'samples: ' + samples[-1].stem) if samples else ''}{latent}</section>")


def build(runs: list[Path]) -> str:
    configs = [rundir.read_config(run) for run in runs]
    rows = [summary_row(run, c) for run, c in zip(runs, configs)]
    head = "".join(f"<th>{c}</th>" for c in ("run", "experiment", *COMPARE))
    body = "".join("<tr>" + "".join(f"<td>{fmt(r[c]) if r.get(c) is not None else '-'}</td>"
                                    for c in ("run", "experiment", *COMPARE)) + "</tr>" for r in rows)
    return (f"<!doctype html><html><head><meta charset=utf-8><title>gan-spec report</title><style>{CSS}</style>"
            f"</head><body><h1>gan-spec: {len(runs)} run(s)</h1><h2>Comparison</h2><table><tr>{head}</tr>{body}"
            "</table><p>d_loss, g_loss: last logged averages; images/s: median over logging intervals; FID, KID, "
            "coverage, KL and MS-SSIM from <code>python -m impl.evaluate</code> (blank if not evaluated).</p>"
            + "".join(section(run, c) for run, c in zip(runs, configs)) + "</body></html>")


@boundary("impl.report")
def main(argv: list[str] | None = None) -> int:
    p = cli.parser("python -m impl.report", __doc__)
    p.add_argument("runs", nargs="+", type=Path, help="run directories made by impl.train")
    p.add_argument("--out", type=Path, default=Path("report.html"))
    args = p.parse_args(argv)
    page = build(args.runs)
    try:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise RunError(f"--out {args.out}: cannot write ({exc.strerror or exc}); choose another --out") from None
    print(f"wrote {args.out} ({len(page) / 1e6:.1f} MB, {len(args.runs)} runs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
