"""Calibrating every claim's own rule on independent replicate sets of real runs, with planted effects and harms.

    OMP_NUM_THREADS=1 python -m tools.calibrate --out runs/calibration    # docs/findings.md's tables: ~30 min quiet
    python -m tools.calibrate --quick --pool 12 --harm-sets 1 --out /tmp/cal          # the plumbing only

Trains a pool of report 004's MLP GAN on FashionMNIST at its full length (`--pool` seeds), logs every step (as the
scorecard does for early-peak claims), measures each run as the scorecard does (metrics.json on `--n` images, the
per-epoch FID, report 004's latent probe), then decides every claim measurable on FashionMNIST with that claim's own
rule and minimum effect (impl/verdicts/decide.judge) on disjoint replicate sets of 3 seeds per arm, each run in one
set only (tools/calibration_cases.py):
- A/A: both arms are runs of the same recipe (a threshold's arm centred on the bound by the mean of the pool's other
  runs); a planted effect: arm a's measured values shifted by exactly 1, 1.5 and 2 times the claim's minimum effect;
  the same at 2x with arm b's first run marked diverged by impl's own record (outcome.json).
- harms applied to real generators' images at evaluation time (mode dropping, blur, deformation) and to their
  records (a run marked diverged, a planted early loss peak): which measures find them (tools/calibration_harms.py).
Writes OUT/calibration.json and OUT/calibration.md. Every count comes with its exact (Clopper-Pearson) 95 % interval.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import spec
from impl.arms.engine import ArmsFolder, Planned, resume_command, signals_name, train_or_resume
from impl.core import cli
from impl.core.errors import boundary, say
from impl.core.progress import eta
from impl.training.request import RunRequest
from impl.verdicts.measuring import ScoreSettings, evaluate_run, hooks_for
from spec.arm import ArmSpec
from spec.claim import ClaimSpec
from tools import calibration_cases, calibration_harms

EXPERIMENT = "r004-mlp"
POOL = 60  # default runs: 10 two-arm or 20 one-arm replicate sets of 3 seeds per arm (docs/findings.md)


def on_pool(claim: ClaimSpec) -> ClaimSpec:
    """The claim with every arm trained as the pool's recipe (its rule, measure and minimum effect unchanged)."""
    return dataclasses.replace(claim, arms={name: ArmSpec(EXPERIMENT) for name in claim.arms}, data="fashion-mnist")


def claims() -> list[ClaimSpec]:
    """Every measurable claim, on the pool's recipe (face-only measures stay in: their rows say why no value)."""
    return [on_pool(c) for c in spec.claims() if c.measurable]


def pool_items(args: argparse.Namespace, score: ScoreSettings) -> list[Planned]:
    hook = hooks_for(ArmSpec(EXPERIMENT), claims(), score)  # per-epoch FID for the epoch-series claims
    return [Planned(f"pool seed {s}", RunRequest(experiment=EXPERIMENT, seed=s, out=args.out / "pool" / f"seed-{s}",
                                                 data=str(args.fashion) if args.fashion else None, quiet=True,
                                                 origin="calibration", log_every=1, epoch_hook=hook,
                                                 steps=16 if args.quick else None,
                                                 batch_size=16 if args.quick else None))
            for s in range(args.pool)]


def train_pool(items: list[Planned], score: ScoreSettings, hint: str, clock: Callable[[], float],
               quiet: bool) -> list[Path]:
    for i, item in enumerate(items):
        if not quiet:
            say(f"[{i + 1}/{len(items)}] {item.label}; {eta(i, len(items), clock())}")
        train_or_resume(item, hint)
        evaluate_run(item.folder, score, latent_probe=True)
    return [item.folder for item in items]


def parser() -> argparse.ArgumentParser:
    p = cli.parser("python -m tools.calibrate", __doc__)
    p.add_argument("--pool", type=cli.count("calibration_seeds"), default=POOL,
                   help=f"runs of r004-mlp at full length, each used in one replicate set only (default {POOL})")
    p.add_argument("--harm-sets", type=cli.count("seeds"), default=4,
                   help="replicate sets (3 harmed seeds against 3 clean ones) per planted harm (default 4)")
    p.add_argument("--n", type=cli.count("images"), default=5000, help="generated images per run (the scorecard's)")
    p.add_argument("--fashion", type=Path, help="folder of the FashionMNIST IDX files (default: Debian's)")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--resume", action="store_true")
    p.add_argument("--pool-only", action="store_true", help="train and measure the pool, decide nothing yet")
    p.add_argument("--quick", action="store_true", help="tiny runs: checks the plumbing, means nothing")
    p.add_argument("--quiet", action="store_true")
    return p


@boundary("tools.calibrate")
def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    p = parser()
    args = p.parse_args(argv)
    if args.pool < 6:
        p.error(f"--pool {args.pool}: one replicate set of two arms needs 6 runs; pass --pool 6 or more")
    if 6 * args.harm_sets > args.pool:  # each harm set takes 3 harmed and 3 clean runs of the pool
        p.error(f"--harm-sets {args.harm_sets} needs {6 * args.harm_sets} pool runs; pass --pool "
                f"{6 * args.harm_sets} or more, or fewer --harm-sets")
    score = ScoreSettings(reports=(), seeds=3, n=args.n, epoch_n=200 if args.quick else 1000, fashion=args.fashion,
                          faces=None, inception_weights=None, quick=args.quick, quiet=True)
    folder = ArmsFolder(args.out, "calibrate", "calibration")
    wanted = {"n": args.n, "quick": args.quick}  # --pool may grow on --resume: seeds 0..pool-1, each run alone
    folder.check(wanted, args.resume, True)
    hint = resume_command("tools.calibrate", argv, args.out)
    with folder.opened(wanted), folder.clock() as clock, signals_name(hint, "calibration"):
        runs = train_pool(pool_items(args, score), score, hint, clock, args.quiet)
        pool_seconds = clock()
        if args.pool_only:
            say(f"the pool of {len(runs)} runs is measured ({pool_seconds:.0f} s); continue with --resume")
            return 0
        harmed = calibration_harms.plant_all(runs, args.harm_sets, args.out / "harms", score, args.quiet)
        result: dict[str, Any] = {"pool": len(runs), "n": args.n, "quick": args.quick,
                  "rules": calibration_cases.rule_rows(claims(), runs, args.out / "diverged"),
                  "events": calibration_cases.false_events(claims(), runs),
                  "harms": calibration_harms.harm_rows(claims(), runs, harmed),
                  "harm_means": calibration_harms.harm_means(harmed)}
        result["seconds"] = clock()
        text = markdown(result, argv)
        folder.root.write_json("calibration.json", result)
        folder.root.write_text("calibration.md", text)
    print(text)
    return 0


def markdown(result: dict[str, Any], argv: list[str]) -> str:
    head = f"`python -m tools.calibrate {' '.join(argv)}`: {result['pool']} runs of {EXPERIMENT}" + \
        (" (--quick: tiny runs, the plumbing only)" if result["quick"] else " at full length") + \
        f", {result['n']} images each, {result['seconds']:.0f} s"
    return "\n".join([head, "", *calibration_cases.rule_table(result["rules"]), "",
                      *calibration_cases.event_table(result["events"]), "",
                      *calibration_harms.harm_table(result["harms"]), "",
                      *calibration_harms.means_table(result["harm_means"])]) + "\n"


def saved(out: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((out / "calibration.json").read_text(encoding="utf-8"))
    return loaded


if __name__ == "__main__":
    sys.exit(main())

