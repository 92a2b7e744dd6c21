"""A study: several experiments ("arms") trained from the same seed for the same steps on the same data, each
evaluated, then one table, one JSON file and one image of their sample grids side by side.

impl.collapse (report 003's clip 0.01 vs 0.1) and impl.compare (the loss families) are studies. Their arguments
are checked before any folder is made; a study stopped part way continues with `--resume`, keeping evaluated arms
and resuming an arm from its checkpoint.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from pathlib import Path

import spec
from impl import cli
from impl.cli import nonempty, positive, seed
from impl.errors import DataError, Interrupted, RunError, UsageError
from impl.measure import evaluation
from impl.pages import html
from impl.runs import folder as rundir
from impl.runs import grids
from impl.training import overrides
from impl.training.run import RunRequest, resolve_device, run_experiment

MIN_N = 20  # generated images per arm below which the metrics mean nothing (MS-SSIM pairs, KID subsets)


def arguments(prog: str, doc: str, default_data: str | None, default_n: int) -> argparse.ArgumentParser:
    p = cli.parser(prog, doc)
    p.add_argument("--data", type=nonempty, default=default_data, help="as impl.train --data")
    p.add_argument("--steps", type=positive, help="steps (batches) per arm (default: each recipe's documented length)")
    p.add_argument("--seed", type=seed, default=0)
    p.add_argument("--n", type=positive, default=default_n,
                   help=f"generated images per arm for the metrics (default {default_n}, at least {MIN_N})")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--set", dest="set_values", action="append", default=[], metavar="KEY=VALUE",
                   help="change a recipe value in every arm, as impl.train --set")
    p.add_argument("--out", type=Path, default=None, help="output folder (default runs/<study>-<timestamp>)")
    p.add_argument("--resume", action="store_true",
                   help="continue the interrupted study in --out: evaluated arms are kept, an arm with a checkpoint "
                        "resumes from it, the rest start")
    p.add_argument("--quiet", action="store_true")
    return p


def images_per_s(run: Path) -> float | None:
    """The run's median training throughput (the first logged interval, with warm-up and capture, left out)."""
    rows = [r["images_per_s"] for r in rundir.read_metrics(run) if isinstance(r.get("images_per_s"), int | float)]
    return statistics.median(rows[1:] or rows) if rows else None


def cell(value: object) -> str:
    if isinstance(value, float):
        return html.number(value)
    return "n/a" if value is None else str(value)


def table(results: dict[str, dict], columns: tuple[str, ...], first: str, strip: str = "") -> str:
    lines = [f"| {first} | " + " | ".join(columns) + " |", "|" + " --- |" * (len(columns) + 1)]
    for arm, res in results.items():
        lines.append(f"| {arm.removeprefix(strip)} | " + " | ".join(cell(res.get(c)) for c in columns) + " |")
    return "\n".join(lines)


def check_args(args: argparse.Namespace) -> dict:
    """What makes the arms of a study comparable (the same data, steps, seed and sample count, the same networks,
    and the same device, which decides the arithmetic: bf16 graphs on a GPU, fp32 on the CPU), checked before
    any folder exists, so that a typo never leaves a folder that blocks the corrected command."""
    if args.n < MIN_N:
        raise UsageError(f"--n {args.n}: the metrics need at least {MIN_N} generated images per arm")
    if args.data is not None:
        if args.data not in ("synthetic", "fashion-mnist") and not Path(args.data).expanduser().exists():
            raise DataError(f"--data {args.data}: no such file or folder; pass a folder of images, a folder of "
                            "FashionMNIST IDX files, 'fashion-mnist' or 'synthetic'")
    wanted = {k: getattr(args, k, None) for k in ("data", "steps", "seed", "n", "networks")}
    sets = overrides.parse_sets(args.set_values)
    for _, experiment in getattr(args, "arms", []):
        overrides.apply(spec.load(experiment), sets)  # a wrong --set fails here, before any folder
    return wanted | {"device": resolve_device(args.device)} | ({"sets": sets} if sets else {})


def run(study: str, arms: list[tuple[str, str]], args: argparse.Namespace) -> tuple[Path, dict[str, dict]]:
    """Train and evaluate every arm into OUT/<arm>/. Returns OUT and the results per arm."""
    args.arms = arms
    wanted = check_args(args)
    out = args.out or Path("runs") / f"{study}-{time.strftime('%Y%m%d-%H%M%S')}"
    if args.resume:
        same_study(out, study, wanted, args.out is not None)
    elif out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise RunError(f"{out}: already holds files; continue that study with --resume, or choose another --out")
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
            train_arm(out / arm, experiment, args, study)
            results[arm] = evaluation.evaluate(out / arm, args.n, progress=not args.quiet)
        config = rundir.read_config(out / arm)
        results[arm] |= {"experiment": experiment, "steps": config["total_steps"],
                         "generator_steps": config.get("generator_steps"), "images_per_s": images_per_s(out / arm)}
    grids.side_by_side([sorted((out / arm / "samples").glob("*.png"))[-1] for arm, _ in arms], out / f"{study}.png")
    return out, results


def saved_args(out: Path, study: str) -> dict:
    """The arguments the study in `out` was started with. A study folder from before <study>-args.json existed
    gives what its arms' config.json files record."""
    path = out / f"{study}-args.json"
    try:
        saved = json.loads(path.read_text())
        if isinstance(saved, dict):
            return saved
        raise RunError(f"{path}: not a table; the study folder is damaged")
    except FileNotFoundError:
        pass
    except (OSError, ValueError) as exc:
        raise RunError(f"{path}: unreadable ({exc}); the study folder is damaged") from None
    for config in sorted(out.glob("*/config.json")):
        try:
            arm = json.loads(config.read_text())
            data = arm["overrides"].get("data")
            return {"data": data.get("value") if isinstance(data, dict) else data,
                    "steps": arm["settings"]["max_steps"], "seed": arm["settings"]["seed"],
                    "device": arm["settings"]["device"]}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue
    raise RunError(f"{out}: no {study} study to continue ({path.name} missing); check --out, or drop --resume")


def same_study(out: Path, study: str, wanted: dict, out_given: bool) -> None:
    """Refuse --resume unless `out` holds this study, started with these arguments."""
    if not out_given:
        raise UsageError(f"--resume needs --out: the folder of the {study} study to continue")
    saved = saved_args(out, study)
    changed = [f"--{k} {saved[k]} (now {wanted.get(k)})" for k in saved if saved[k] != wanted.get(k)]
    if changed:
        raise RunError(f"{out}: the study was started with " + ", ".join(changed)
                       + "; resume it with the arguments it was started with, or start a new study in another --out")


def finished_arm(run: Path, experiment: str, args: argparse.Namespace) -> dict | None:
    """The saved metrics of an arm that an interrupted study finished: trained to its last step, and evaluated
    on --n images after that (an arm evaluated part way, by hand, is trained on, then evaluated again)."""
    try:
        saved = json.loads((run / "metrics.json").read_text())
        config = rundir.read_config(run)
        steps, total = config["settings"]["max_steps"], config["total_steps"]
    except (OSError, ValueError, KeyError, TypeError, RunError):
        return None
    logged = rundir.read_metrics(run)
    return saved if isinstance(saved, dict) and saved.get("experiment") == experiment \
        and saved.get("samples") == args.n and steps == args.steps and logged and logged[-1].get("step") == total \
        else None


def train_arm(run: Path, experiment: str, args: argparse.Namespace, study: str) -> None:
    """Train one arm: from its checkpoint when an interrupted study left one (--resume), else from the start."""
    common = {"device": args.device, "data": args.data, "quiet": args.quiet, "steps": args.steps,
              "origin": f"study {study}"}
    sets = overrides.parse_sets(args.set_values)
    if args.resume and any((run / "checkpoints").glob("*.pt")):  # prev.pt serves when last.pt is damaged
        request = RunRequest(resume=run, **common)
    else:
        if run.exists():
            if (run / "metrics.json").exists():
                raise RunError(f"{run}: holds an evaluation this study cannot use and no checkpoint; move it away "
                               "and run the study again with --resume")
            shutil.rmtree(run)  # stopped before its first checkpoint: its partial log is not worth keeping
        request = RunRequest(experiment=experiment, seed=args.seed, out=run, sets=sets, **common)
    try:
        run_experiment(request)
    except Interrupted as exc:  # the arm saved its checkpoint; the study is what the user continues
        resume = " ".join(a for a in sys.argv[1:] if a != "--resume")
        raise Interrupted(f"{str(exc).split('; continue with')[0]}; continue the study with: "
                          f"python -m impl.{study} {resume} --resume", exc.exit_code - 128) from None


def write(out: Path, study: str, summary: dict, text: str, arms: list[str]) -> None:
    """OUT/<study>.json and .md, and OUT/report.html: every arm's recipe, curves, grids and metrics on one page."""
    rundir.write_json(out / f"{study}.json", summary)
    (out / f"{study}.md").write_text(text, encoding="utf-8")
    (out / "report.html").write_text(html.build([out / arm for arm in arms]), encoding="utf-8")
    print(text + f"\nsample grids side by side, in the table's order: {out / f'{study}.png'}\n"
          f"all runs on one page: {out / 'report.html'}")
