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
        return report.number(value)
    return "n/a" if value is None else str(value)


def table(results: dict[str, dict], columns: tuple[str, ...], first: str, strip: str = "") -> str:
    lines = [f"| {first} | " + " | ".join(columns) + " |", "|" + " --- |" * (len(columns) + 1)]
    for arm, res in results.items():
        lines.append(f"| {arm.removeprefix(strip)} | " + " | ".join(cell(res.get(c)) for c in columns) + " |")
    return "\n".join(lines)


def run(study: str, arms: list[tuple[str, str]], args: argparse.Namespace) -> tuple[Path, dict[str, dict]] | int:
    """Train and evaluate every arm into OUT/<arm>/. Returns (OUT, results per arm), or an exit code on failure."""
    out = args.out or Path("runs") / f"{study}-{time.strftime('%Y%m%d-%H%M%S')}"
    try:
        wanted = study_args(args)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    problem = same_study(out, study, wanted, args.out is not None) if args.resume else \
        (f"{out}: already holds files; continue that study with --resume, or choose another --out"
         if out.exists() and any(out.iterdir()) else None)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    if not (out / f"{study}-args.json").exists():
        rundir.write_json(out / f"{study}-args.json", wanted)
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


def study_args(args: argparse.Namespace) -> dict:
    """What makes the arms of a study comparable: the same data, steps, seed and sample count, the same networks
    (impl.compare), and the same device, which decides the arithmetic (bf16 graphs on a GPU, fp32 on the CPU)."""
    wanted = {k: getattr(args, k, None) for k in ("data", "steps", "seed", "n", "networks")}
    return wanted | {"device": train.resolve_device(args.device)}


def saved_args(out: Path, study: str) -> dict | str:
    """The arguments the study in `out` was started with, or why they cannot be known. A study folder from before
    <study>-args.json existed gives what its arms' config.json files record."""
    path = out / f"{study}-args.json"
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        pass
    except (OSError, ValueError) as exc:
        return f"{path}: unreadable ({exc}); the study folder is damaged"
    for config in sorted(out.glob("*/config.json")):
        try:
            arm = json.loads(config.read_text())
            return {"data": arm["overrides"].get("data"), "steps": arm["settings"]["max_steps"],
                    "seed": arm["settings"]["seed"], "device": arm["settings"]["device"]}
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return f"{out}: no {study} study to continue ({path.name} missing); check --out, or drop --resume"


def same_study(out: Path, study: str, wanted: dict, out_given: bool) -> str | None:
    """Why --resume cannot continue the study in `out` with these arguments, or None when it can."""
    if not out_given:
        return f"--resume needs --out: the folder of the {study} study to continue"
    saved = saved_args(out, study)
    if isinstance(saved, str):
        return saved
    changed = [f"--{k} {saved[k]} (now {wanted.get(k)})" for k in saved if saved[k] != wanted.get(k)]
    if changed:
        return (f"{out}: the study was started with " + ", ".join(changed)
                + "; resume it with the arguments it was started with, or start a new study in another --out")
    return None


def finished_arm(run: Path, experiment: str, args: argparse.Namespace) -> dict | None:
    """The saved metrics of an arm that an interrupted study finished: trained to its last step, and evaluated
    on --n images after that (an arm evaluated part way, by hand, is trained on, then evaluated again)."""
    try:
        saved = json.loads((run / "metrics.json").read_text())
        config = rundir.read_config(run)
        steps, total = config["settings"]["max_steps"], config["total_steps"]
    except (OSError, ValueError, KeyError, RunError):
        return None
    logged = rundir.read_metrics(run)
    return saved if saved.get("experiment") == experiment and saved.get("samples") == args.n \
        and steps == args.steps and logged and logged[-1].get("step") == total else None


def train_arm(run: Path, experiment: str, args: argparse.Namespace) -> int:
    """Train one arm: from its checkpoint when an interrupted study left one (--resume), else from the start."""
    common = ["--device", args.device, *(["--data", args.data] if args.data else []),
              *(["--quiet"] if args.quiet else []), *(["--steps", str(args.steps)] if args.steps else [])]
    if args.resume and any((run / "checkpoints").glob("*.pt")):  # prev.pt serves when last.pt is damaged
        return train.main([experiment, "--resume", str(run), *common])
    if run.exists():
        if (run / "metrics.json").exists():
            print(f"error: {run}: holds an evaluation this study cannot use and no checkpoint; move it away and run "
                  "the study again with --resume", file=sys.stderr)
            return 2
        shutil.rmtree(run)  # stopped before its first checkpoint: its partial log is not worth keeping
    return train.main([experiment, "--seed", str(args.seed), "--out", str(run), *common])


def write(out: Path, study: str, summary: dict, text: str, arms: list[str]) -> None:
    """OUT/<study>.json and .md, and OUT/report.html: every arm's recipe, curves, grids and metrics on one page."""
    rundir.write_json(out / f"{study}.json", summary)
    (out / f"{study}.md").write_text(text, encoding="utf-8")
    (out / "report.html").write_text(report.build([out / arm for arm in arms]), encoding="utf-8")
    print(text + f"\nsample grids side by side, in the table's order: {out / f'{study}.png'}\n"
          f"all runs on one page: {out / 'report.html'}")
