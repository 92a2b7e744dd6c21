"""Calibrating the scorecard's rules on known answers, with report 004's MLP GAN at its real length.

    python -m tools.calibrate --seeds 12 --harmed 6 --out runs/calibration       # about 20 minutes on 2 CPU cores
    python -m tools.calibrate --quick --out /tmp/cal                             # the plumbing only

Trains r004-mlp with `--seeds` seeds (the A/A arm) and with `--harmed` seeds at a tenth of its steps (the planted
effect), evaluates every run as the scorecard does, then decides, with the scorecard's own rules and minimum
effects, every measure a claim uses:
- A/A: the seeds split at random into two halves of the same recipe, as arm a and arm b of a compare, not_better
  and similar rule. No difference exists, so a compare that holds is a false alarm (goal: at most 1 in 20), and a
  not_better or similar that does not hold is a false alarm of the other kind.
- planted: random halves of the full runs against the harmed runs, as "full better than harmed": how often the
  rule finds the harm.
Writes OUT/calibration.json and OUT/calibration.md (the table docs/findings.md quotes).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter
from pathlib import Path

import spec
from impl.arms.engine import ArmsFolder, Planned, resume_command, signals_name, train_or_resume
from impl.core import cli
from impl.core.errors import boundary, say
from impl.core.progress import eta
from impl.measure import evaluation
from impl.measure.reference import Reference
from impl.runs.folder import RunFolder
from impl.training.request import RunRequest
from impl.verdicts.decide import FAILS, HOLDS, judge
from impl.verdicts.readings import read_measure
from spec.claim import ArmSpec, ClaimSpec
from spec.rule import MeasureSpec, RuleSpec

EXPERIMENT = "r004-mlp"
# (label, measure, minimum effect, scale): the measures report claims decide by, with the claims' minimum effects
MEASURES = [
    ("FID above floor", MeasureSpec("final", "fid", against="above"), 0.1, "of_b"),
    ("precision", MeasureSpec("final", "precision"), 0.05, "absolute"),
    ("recall", MeasureSpec("final", "recall"), 0.5, "of_b"),
    ("coverage", MeasureSpec("final", "coverage"), 0.1, "of_b"),
    ("realism_p05", MeasureSpec("final", "realism_p05"), 0.2, "of_b"),
    ("structure MS-SSIM", MeasureSpec("final", "structure_ms_ssim"), 0.1, "absolute"),
    ("sharpness |log ratio|", MeasureSpec("final", "sharpness", against="log_ratio"), 0.05, "absolute"),
    ("G loss early peak ratio", MeasureSpec("loss_curve", "g_loss", "early_peak_ratio", fraction=0.1), 0.1, "of_b"),
    ("D loss late level", MeasureSpec("loss_curve", "d_loss", "late_level"), 0.1, "of_b"),
]


def claim(kind: str, measure: MeasureSpec, min_effect: float, scale: str) -> ClaimSpec:
    expect = "higher" if not measure.direction else "better" if kind == "compare" else ""
    rule = RuleSpec(kind=kind, a="a", b="b", expect=expect if kind == "compare" else "", min_effect=min_effect,
                    scale=scale, note="calibration")
    return ClaimSpec(id="c004-calibration", file=Path("calibration"), report="004", section="", quote="",
                     paraphrase="", reading="", data="fashion-mnist",
                     arms={"a": ArmSpec(EXPERIMENT), "b": ArmSpec(EXPERIMENT, (("steps", 1),))}, measure=measure,
                     rule=rule)


def values(runs: list[Path], measure: MeasureSpec) -> list[float | None]:
    return [read_measure(measure, run).value for run in runs]


def aa(full: list[Path], splits: int, rng: random.Random) -> dict[str, dict[str, Counter]]:
    """Verdict counts per measure and rule kind over random splits of the same recipe's runs into two halves."""
    half = len(full) // 2
    out: dict[str, dict[str, Counter]] = {}
    table = {label: values(full, m) for label, m, _, _ in MEASURES}
    for label, measure, effect, scale in MEASURES:
        out[label] = {}
        for kind in ("compare", "not_better", "similar"):
            if kind == "not_better" and not measure.direction:
                continue
            c, tally = claim(kind, measure, effect, scale), Counter()
            for _ in range(splits):
                order = rng.sample(range(len(full)), len(full))
                got = table[label]
                tally[judge(c, {"a": [got[i] for i in order[:half]], "b": [got[i] for i in order[half:2 * half]]}
                            ).verdict] += 1
            out[label][kind] = tally
    return out


def planted(full: list[Path], harmed: list[Path], draws: int, rng: random.Random) -> dict[str, Counter]:
    """How often 'full better than harmed' holds, over random subsets of the full runs as large as the harmed."""
    out = {}
    for label, measure, effect, scale in MEASURES:
        if not measure.direction:
            continue
        c, got, bad, tally = claim("compare", measure, effect, scale), values(full, measure), values(harmed, measure), \
            Counter()
        for _ in range(draws):
            pick = rng.sample(range(len(full)), len(harmed))
            tally[judge(c, {"a": [got[i] for i in pick], "b": bad}).verdict] += 1
        out[label] = tally
    return out


def rate(tally: Counter, verdict: str) -> str:
    total = sum(tally.values())
    return f"{tally[verdict] / total:.3f}" if total else "-"


def markdown(result: dict, args: argparse.Namespace) -> str:
    length = "--quick: tiny runs, the plumbing only" if args.quick else "at full length"
    lines = [f"# Calibration on {EXPERIMENT} ({args.seeds} seeds {length}, {args.harmed} at a tenth)", "",
             "| measure | A/A compare holds (false alarm) | A/A not_better does not hold | A/A similar does not hold "
             "| A/A similar holds | planted harm found (compare holds) |", "| --- | --- | --- | --- | --- | --- |"]
    for label, *_ in MEASURES:
        kinds = result["aa"][label]
        lines.append(f"| {label} | {rate(kinds['compare'], HOLDS)} | "
                     f"{rate(kinds['not_better'], FAILS) if 'not_better' in kinds else '-'} | "
                     f"{rate(kinds['similar'], FAILS)} | {rate(kinds['similar'], HOLDS)} | "
                     f"{rate(result['planted'][label], HOLDS) if label in result['planted'] else '-'} |")
    return "\n".join(lines) + "\n"


def parser() -> argparse.ArgumentParser:
    p = cli.parser("python -m tools.calibrate", __doc__)
    p.add_argument("--seeds", type=cli.count("calibration_seeds"), default=12,
                   help="seeds of the full-length arm (A/A halves of it)")
    p.add_argument("--harmed", type=cli.count("seeds"), default=6, help="seeds of the arm trained a tenth of the steps")
    p.add_argument("--splits", type=cli.count("splits"), default=400, help="random A/A splits and planted draws")
    p.add_argument("--n", type=cli.count("images"), default=5000, help="generated images per run for the metrics")
    p.add_argument("--fashion", type=Path, help="folder of the FashionMNIST IDX files (default: Debian's)")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--resume", action="store_true")
    p.add_argument("--quick", action="store_true", help="tiny runs: checks the plumbing, means nothing")
    p.add_argument("--quiet", action="store_true")
    return p


@boundary("tools.calibrate")
def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    p = parser()
    args = p.parse_args(argv)
    if args.harmed > args.seeds:  # the planted draws pick as many full runs as there are harmed ones
        p.error(f"--harmed {args.harmed} is more than --seeds {args.seeds}; pass at most as many harmed seeds")
    recipe = spec.load(EXPERIMENT)
    steps = 16 if args.quick else None
    short = 2 if args.quick else recipe.epochs.value * (60000 // recipe.batch_size.value) // 10
    data = str(args.fashion) if args.fashion else None
    folder = ArmsFolder(args.out, "calibrate", "calibration")
    wanted = {"seeds": args.seeds, "harmed": args.harmed, "n": args.n, "quick": args.quick, "short": short}
    folder.check(wanted, args.resume, True)
    hint = resume_command("tools.calibrate", argv, args.out)
    items = [Planned(f"{arm} seed {s}", RunRequest(experiment=EXPERIMENT, seed=s, out=args.out / arm / f"seed-{s}",
                                                   steps=n_steps, data=data, quiet=args.quiet, origin="calibration",
                                                   batch_size=16 if args.quick else None))
             for arm, count, n_steps in (("full", args.seeds, steps), ("harmed", args.harmed, short))
             for s in range(count)]
    ref, start = Reference(), time.time()
    with folder.opened(wanted), folder.clock() as clock, signals_name(hint, "calibration"):
        for i, item in enumerate(items):
            if not args.quiet:
                say(f"[{i + 1}/{len(items)}] {item.label}; {eta(i, len(items), clock())}")
            train_or_resume(item, hint)
            if (RunFolder(item.folder).evaluation() or {}).get("samples") == args.n:
                continue
            evaluation.evaluate(item.folder, args.n, fashion_folder=args.fashion, progress=not args.quiet, ref=ref)
        full = [i.folder for i in items if i.label.startswith("full")]
        harmed = [i.folder for i in items if i.label.startswith("harmed")]
        rng = random.Random(0)
        result = {"aa": aa(full, args.splits, rng), "planted": planted(full, harmed, args.splits, rng)}
        text = markdown(result, args)
        folder.root.write_json("calibration.json", {**wanted, "seconds": round(time.time() - start),
                                                    "aa": result["aa"], "planted": result["planted"]})
        folder.root.write_text("calibration.md", text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
