"""Measuring each event measure's per-run false-event rate on clean runs, where the event should not happen.

    python -m tools.false_rates --train 30 --out runs/false-rates          # 30 evaluated runs of the stand-in
    python -m tools.false_rates runs/false-rates/r004-mlp/seed-*           # k of n per event measure, printed
    python -m tools.false_rates runs/false-rates/r004-mlp/seed-* --write   # ... stored in spec/false_rates.toml

--train trains the stand-in recipe (report 004's MLP GAN on FashionMNIST, at its report's length) exactly as a
scorecard trains an arm that the event claims read (the scorecard's own plan: each step logged where a claim reads
an early peak, the per-epoch metrics where one reads an epoch series, metrics.json on --n images). The measuring
part reads each event measure from each run with the scorecard's own reader (impl.verdicts.readings) and counts the
runs past the entry's per-run bound with the event rule's own test: k of n. --write stores, per measure and bound,
k, n, the recipe, the command that made the runs, the seeds and folders, the date and the commit; the claim files
name that entry by its key (`false_rate = "KEY"`), and impl/verdicts/events.py turns k of n into the rate's
uncertainty. The claims' own arms train on the anime faces, which are not here: each entry names its stand-in
recipe.
"""

from __future__ import annotations

import argparse
import datetime
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import spec
from impl.arms.engine import ArmsFolder, resume_command, run_all
from impl.core import cli
from impl.core.errors import UsageError, boundary, say
from impl.runs.folder import RunFolder
from impl.verdicts.events import event_seen
from impl.verdicts.measuring import ScoreSettings
from impl.verdicts.plan import finisher, plan
from impl.verdicts.readings import read_measure
from spec.claim import ArmSpec, ClaimSpec, RuleSpec
from spec.false_rates import FILE_NAME, FalseRate, measure_table, read_entries, write_entries

STAND_IN_WHY = ("the claims' own arms train on the anime faces, which are not here: report 004's MLP GAN on "
                "FashionMNIST, at its report's length, stands in")
STAND_IN = "r004-mlp"  # report 004's MLP GAN on FashionMNIST: trains in seconds on a CPU, and never collapses


def the_file() -> Path:
    return spec.spec_dir() / FILE_NAME


def as_claim(entry: FalseRate) -> ClaimSpec:
    """An entry as an event claim on the stand-in: the scorecard plans the stand-in's runs for it, and decides
    whether a run shows the event, as it does for the claims that name the entry."""
    rule = RuleSpec(kind="event", arm="clean", expect=entry.expect, bound=entry.bound, note="false_rates")
    return ClaimSpec(id=f"c004-false-rate-{entry.key}", file=the_file(), report="004", section="", quote="",
                     paraphrase="", reading="", data="fashion-mnist", arms={"clean": ArmSpec(STAND_IN)},
                     measure=entry.measure, rule=rule)


def train(count: int, out: Path, first_seed: int, n: int, epoch_n: int, resume: bool, argv: list[str]) -> list[Path]:
    """`count` evaluated runs of the stand-in, seeds first_seed..., in OUT/r004-mlp/seed-<s>/, trained and measured
    as a scorecard trains an arm whose claims read these measures."""
    claims = [as_claim(entry) for entry in read_entries(the_file()).values()]
    score = ScoreSettings(reports=("004",), seeds=first_seed + count, n=n, epoch_n=epoch_n, fashion=None, faces=None,
                          inception_weights=None, quiet=True)
    items = [item for item in plan(claims, score, out) if item[1].request.seed is not None
             and item[1].request.seed >= first_seed]
    folder = ArmsFolder(out, "false-rates", "set of clean runs")
    wanted = {"recipe": STAND_IN, "n": n, "epoch_n": epoch_n}
    folder.check(wanted, resume=resume, out_given=True)
    hint = resume_command("tools.false_rates", argv, out)
    t0 = time.time()
    with folder.opened(wanted):
        run_all([item for _, item in items], finisher(items, claims, score), hint, lambda: time.time() - t0)
    return [item.folder for _, item in items]


def count_events(entry: FalseRate, runs: list[Path]) -> tuple[int, int, list[str]]:
    """k runs with the event of n read (with the scorecard's reader and the event rule's own test), and why any
    run could not be read."""
    seen, problems = [], []
    for run in runs:
        reading = read_measure(entry.measure, run)
        if reading.value is None:
            problems.append(f"{run}: {reading.reason}")
            continue
        seen.append(event_seen(as_claim(entry).rule, reading.value))
    return sum(seen), len(seen), problems


def entries(runs: list[Path], command: str) -> dict[str, dict[str, Any]]:
    """Per entry of spec/false_rates.toml (an event measure and bound): k of n clean runs, with their runs."""
    out: dict[str, dict[str, Any]] = {}
    configs = [RunFolder(run).config() for run in runs]
    seeds = [config.get("settings", {}).get("seed") for config in configs]
    commits = sorted({str(config.get("versions", {}).get("git_commit")) for config in configs})
    for key, entry in read_entries(the_file()).items():
        k, n, problems = count_events(entry, runs)
        for problem in problems:
            say(f"{key}: not read: {problem}")
        if n == 0:
            raise UsageError(f"{key}: no run of {len(runs)} could be read; pass finished, evaluated run folders "
                             "made by python -m tools.false_rates --train N --out FOLDER")
        out[key] = {"measure": measure_table(entry.measure), "expect": entry.expect, "bound": entry.bound,
                    "events": k, "runs": n, "recipe": STAND_IN, "stand_in": STAND_IN_WHY,
                    "command": command, "seeds": [s for s in seeds if isinstance(s, int)],
                    "folders": [str(run) for run in runs], "date": datetime.date.today().isoformat(),
                    "commit": ", ".join(commits)}
    return out


def parser() -> argparse.ArgumentParser:
    p = cli.parser("python -m tools.false_rates", __doc__)
    p.add_argument("runs", nargs="*", type=Path, help="finished, evaluated run folders of the stand-in recipe")
    p.add_argument("--train", type=cli.count("seeds"), help="train and evaluate this many clean runs into --out")
    p.add_argument("--out", type=Path, help="--train: the folder of the clean runs")
    p.add_argument("--first-seed", type=cli.seed, default=0, help="--train: the first seed (default 0)")
    p.add_argument("--n", type=cli.count("images"), default=5000, help="images per run (the scorecard's 5,000)")
    p.add_argument("--epoch-n", type=cli.count("images"), default=1000, help="images per epoch (the scorecard's 1,000)")
    p.add_argument("--resume", action="store_true", help="--train: continue the clean runs in --out")
    p.add_argument("--command", help="--write: the command that made the runs (default: the --train line)")
    p.add_argument("--write", action="store_true", help="store the counts in spec/false_rates.toml")
    return p


@boundary("tools.false_rates")
def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parser().parse_args(argv)
    runs = list(args.runs)
    if args.train:
        if args.out is None:
            raise UsageError("--train needs --out FOLDER, where the clean runs go")
        runs += train(args.train, args.out, args.first_seed, args.n, args.epoch_n, args.resume, argv)
    if not runs:
        raise UsageError("no runs: pass run folders, or --train N --out FOLDER")
    command = args.command or shlex.join(["python", "-m", "tools.false_rates", *argv])
    found = entries(runs, command)
    for key, entry in found.items():
        print(f"{key}: {entry['events']} of {entry['runs']} clean runs of {entry['recipe']}")
    if args.write:
        write_entries(the_file(), found)
        print(f"written: {the_file()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
