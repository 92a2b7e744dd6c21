"""A study: several experiments ("arms") trained from the same seed for the same steps on the same data, each
evaluated, then one table, one JSON file and one image of their sample grids side by side.

impl.collapse (report 003's clip 0.01 vs 0.1) and impl.compare (the loss families) are studies on the arms engine
(impl/arms/engine.py). Their arguments are checked before any folder is made; a study stopped part way continues
with `--resume`, keeping evaluated arms and resuming an arm from its checkpoint.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from impl.arms import jobs, launch
from impl.arms.engine import MIN_N, ArmsFolder, Planned, resume_command, signals_name
from impl.core import cli
from impl.core.cli import nonempty, positive, seed
from impl.core.errors import DataError, UsageError, say
from impl.measure import evaluation, metrics
from impl.measure.reference import Reference
from impl.pages import html
from impl.runs import grids
from impl.runs.folder import RunFolder
from impl.training import overrides
from impl.training.request import RunRequest, experiment_named
from impl.training.run import resolve_device


def arguments(prog: str, doc: str, default_data: str | None, default_n: int) -> argparse.ArgumentParser:
    p = cli.parser(prog, doc)
    p.add_argument("--data", type=nonempty, default=default_data, help="as impl.train --data")
    p.add_argument("--steps", type=positive, help="steps (batches) per arm (default: each recipe's documented length)")
    p.add_argument("--seed", type=seed, default=0)
    p.add_argument("--n", type=positive, default=default_n,
                   help=f"generated images per arm for the metrics (default {default_n}, at least {MIN_N})")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--set", dest="set_values", action="append", default=[], metavar="KEY=VALUE",
                   help="change a recipe value in every arm, as impl.train --set (not one the study varies)")
    p.add_argument("--out", type=Path, default=None, help="output folder (default runs/<study>-<timestamp>)")
    p.add_argument("--resume", action="store_true",
                   help="continue the interrupted study in --out: evaluated arms are kept, an arm with a checkpoint "
                        "resumes from it, the rest start")
    p.add_argument("--quiet", action="store_true")
    launch.add_arguments(p)
    return p


def images_per_s(run: Path) -> float | None:
    """The run's median training throughput (the first logged interval, with warm-up and capture, left out)."""
    rows = [r["images_per_s"] for r in RunFolder(run).log() if isinstance(r.get("images_per_s"), int | float)]
    return statistics.median(rows[1:] or rows) if rows else None


def check_args(args: argparse.Namespace, arms: list[tuple[str, str]], varies: tuple[str, ...]) -> dict[str, Any]:
    """What makes the arms of a study comparable (the same data, steps, seed and sample count, the same networks,
    and the same device, which decides the arithmetic: bf16 graphs on a GPU, fp32 on the CPU), checked before
    any folder exists, so that a typo never leaves a folder that blocks the corrected command."""
    if args.n < MIN_N:
        raise UsageError(f"--n {args.n}: the metrics need at least {MIN_N} generated images per arm")
    metrics.check_at_most("--n", args.n)
    if args.data is not None:
        if args.data not in ("synthetic", "fashion-mnist") and not Path(args.data).expanduser().exists():
            raise DataError(f"--data {args.data}: no such file or folder; pass a folder of images, a folder of "
                            "FashionMNIST IDX files, 'fashion-mnist' or 'synthetic'")
    wanted = {k: getattr(args, k, None) for k in ("data", "steps", "seed", "n", "networks")}
    sets = overrides.parse_sets(args.set_values)
    for key in sets:
        if key in varies:
            raise UsageError(f"--set {key}: this study compares arms that differ in {key}; drop it (impl.train "
                             "--set changes it in one run)")
    for _, experiment in arms:
        overrides.apply(experiment_named(experiment), sets)  # a wrong --set fails here, before any folder
    return wanted | {"device": resolve_device(args.device)} | ({"sets": sets} if sets else {})


def finished_arm(run: Path, experiment: str, args: argparse.Namespace) -> dict[str, Any] | None:
    """The saved metrics of an arm that an interrupted study finished: trained to its last step, and evaluated
    on --n images after that (an arm evaluated part way, by hand, is trained on, then evaluated again)."""
    folder = RunFolder(run)
    saved = folder.evaluation()
    if not folder.finished() or saved is None:
        return None
    steps = folder.config()["settings"].get("max_steps")
    return saved if saved.get("experiment") == experiment and saved.get("samples") == args.n \
        and steps == args.steps and saved.get("step") == folder.config()["total_steps"] else None


def run(study: str, arms: list[tuple[str, str]], args: argparse.Namespace, varies: tuple[str, ...] = ()
        ) -> tuple[Path, dict[str, dict[str, Any]]]:
    """Train and evaluate every arm into OUT/<arm>/. Returns OUT and the results per arm."""
    wanted = check_args(args, arms, varies)
    launcher = launch.from_args(args)
    out = args.out or Path("runs") / f"{study}-{time.strftime('%Y%m%d-%H%M%S')}"
    folder = ArmsFolder(out, study, f"{study} study")
    folder.check(wanted, args.resume, args.out is not None)
    hint = resume_command(f"impl.{study}", sys.argv[1:], out)
    sets = overrides.parse_sets(args.set_values)
    experiments, ref = dict(arms), Reference()  # the real side prepared once for every arm
    items = [Planned(f"{arm} ({experiment})", RunRequest(
        experiment=experiment, seed=args.seed, out=out / arm, sets=sets, steps=args.steps, device=args.device,
        data=args.data, quiet=args.quiet, origin=f"study {study}")) for arm, experiment in arms]

    def finish(item: Planned) -> dict[str, Any]:
        arm = item.folder.name
        kept = finished_arm(item.folder, experiments[arm], args) if args.resume else None
        if kept is not None and not args.quiet:
            say(f"{arm}: kept ({item.folder / RunFolder.EVALUATION}, evaluated {kept['evaluated']})")
        result = kept or evaluation.evaluate(item.folder, args.n, progress=not args.quiet, ref=ref)
        config = RunFolder(item.folder).config()
        return result | {"experiment": experiments[arm], "steps": config["total_steps"],
                         "generator_steps": config.get("generator_steps"), "images_per_s": images_per_s(item.folder)}

    with folder.opened(wanted), folder.clock() as spent, signals_name(hint, study):
        done = jobs.run_all(items, finish, hint, spent, args.quiet, launcher, out)
        results = {arm: result for (arm, _), result in zip(arms, done) if result is not None}
        grids.side_by_side([RunFolder(out / arm).grids()[-1] for arm, _ in arms], folder.root, f"{study}.png")
    return out, results


def write(out: Path, study: str, summary: dict[str, Any], text: str, arms: list[str]) -> None:
    """OUT/<study>.json and .md, and OUT/report.html: every arm's recipe, curves, grids and metrics on one page."""
    folder = ArmsFolder(out, study, f"{study} study")
    with folder.held():  # the lock again: a second process must not start on the folder while these are written
        folder.root.write_json(f"{study}.json", summary)
        folder.root.write_text(f"{study}.md", text)
        folder.root.write_text("report.html", html.build([out / arm for arm in arms]))
    print(text + f"\nsample grids side by side, in the table's order: {out / f'{study}.png'}\n"
          f"all runs on one page: {out / 'report.html'}")
