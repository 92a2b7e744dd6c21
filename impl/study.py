"""A study: several experiments ("arms") trained from the same seed for the same steps on the same data, each
evaluated, then one table, one JSON file and one image of their sample grids side by side.

impl.collapse (report 003's clip 0.01 vs 0.1) and impl.compare (the loss families) are studies.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from pathlib import Path

from impl import evaluate, report, rundir, train
from impl.data import DataError
from impl.rundir import RunError


def arguments(prog: str, doc: str, default_data: str | None, default_n: int) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description=doc.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n\n".join(doc.split("\n\n")[1:]))
    p.add_argument("--data", default=default_data, help="as impl.train --data")
    p.add_argument("--steps", type=int, help="steps (batches) per arm (default: each recipe's documented length)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n", type=int, default=default_n, help=f"generated images per arm for the metrics ({default_n})")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--out", type=Path, default=None, help="output folder (default runs/<study>-<timestamp>)")
    p.add_argument("--resume", action="store_true",
                   help="continue the interrupted study in --out: evaluated arms are kept, an arm with a checkpoint "
                        "resumes from it, the rest start")
    p.add_argument("--quiet", action="store_true")
    return p


def side_by_side(grids: list[Path], out: Path, gap: int = 20) -> Path:
    from PIL import Image

    images = [Image.open(g).convert("RGB") for g in grids]
    canvas = Image.new("RGB", (sum(i.width for i in images) + gap * (len(images) - 1), max(i.height for i in images)),
                       "white")
    x = 0
    for img in images:
        canvas.paste(img, (x, 0))
        x += img.width + gap
        img.close()
    canvas.save(out)
    return out


def images_per_s(run: Path) -> float | None:
    """The run's median training throughput (the first logged interval, with warm-up and capture, left out)."""
    rows = [r["images_per_s"] for r in rundir.read_metrics(run) if "images_per_s" in r]
    return statistics.median(rows[1:] or rows) if rows else None


def cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"
    return "n/a" if value is None else str(value)


def table(results: dict[str, dict], columns: tuple[str, ...], first: str, strip: str = "") -> str:
    lines = [f"| {first} | " + " | ".join(columns) + " |", "|" + " --- |" * (len(columns) + 1)]
    for arm, res in results.items():
        lines.append(f"| {arm.removeprefix(strip)} | " + " | ".join(cell(res.get(c)) for c in columns) + " |")
    return "\n".join(lines)


def run(study: str, arms: list[tuple[str, str]], args: argparse.Namespace) -> tuple[Path, dict[str, dict]] | int:
    """Train and evaluate every arm into OUT/<arm>/. Returns (OUT, results per arm), or an exit code on failure."""
    out = args.out or Path("runs") / f"{study}-{time.strftime('%Y%m%d-%H%M%S')}"
    if out.exists() and any(out.iterdir()) and not args.resume:
        print(f"error: {out}: already holds files; continue that study with --resume, or choose another --out",
              file=sys.stderr)
        return 2
    results = {}
    for arm, experiment in arms:
        kept = finished_arm(out / arm, experiment, args) if args.resume else None
        if kept is not None:
            if not args.quiet:
                print(f"{arm}: kept ({out / arm / 'metrics.json'}, evaluated {kept['evaluated']})", file=sys.stderr)
            results[arm] = kept
        else:
            code = train_arm(out / arm, experiment, args)
            if code:
                return code
            try:
                results[arm] = evaluate.evaluate(out / arm, args.n, progress=not args.quiet)
            except (RunError, DataError) as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 2
        config = rundir.read_config(out / arm)
        results[arm] |= {"experiment": experiment, "steps": config["total_steps"],
                         "generator_steps": config["generator_steps"], "images_per_s": images_per_s(out / arm)}
    side_by_side([sorted((out / arm / "samples").glob("*.png"))[-1] for arm, _ in arms], out / f"{study}.png")
    return out, results


def finished_arm(run: Path, experiment: str, args: argparse.Namespace) -> dict | None:
    """The saved metrics of an arm that an interrupted study finished: trained for the steps asked, and evaluated
    on --n images (metrics.json is written only after both)."""
    try:
        saved = json.loads((run / "metrics.json").read_text())
        steps = rundir.read_config(run)["settings"]["max_steps"]
    except (OSError, ValueError, KeyError, RunError):
        return None
    return saved if saved.get("experiment") == experiment and saved.get("samples") == args.n \
        and steps == args.steps else None


def train_arm(run: Path, experiment: str, args: argparse.Namespace) -> int:
    """Train one arm: from its checkpoint when an interrupted study left one (--resume), else from the start."""
    data = ["--data", args.data] if args.data else []
    quiet = ["--quiet"] if args.quiet else []
    if args.resume and (run / "checkpoints" / "last.pt").is_file():
        return train.main(["--resume", str(run), *data, *quiet, *(["--steps", str(args.steps)] if args.steps else [])])
    if run.exists():  # stopped before its first checkpoint: nothing in it is worth keeping
        shutil.rmtree(run)
    return train.main([experiment, "--seed", str(args.seed), "--device", args.device, "--out", str(run), *data,
                       *quiet, *(["--steps", str(args.steps)] if args.steps else [])])


def write(out: Path, study: str, summary: dict, text: str, arms: list[str]) -> None:
    """OUT/<study>.json and .md, and OUT/report.html: every arm's recipe, curves, grids and metrics on one page."""
    rundir.write_json(out / f"{study}.json", summary)
    (out / f"{study}.md").write_text(text, encoding="utf-8")
    (out / "report.html").write_text(report.build([out / arm for arm in arms]), encoding="utf-8")
    print(text + f"\nsample grids side by side, in the table's order: {out / f'{study}.png'}\n"
          f"all runs on one page: {out / 'report.html'}")
