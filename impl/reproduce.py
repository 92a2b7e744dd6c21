"""Do the reports' results hold? Train the arms their claims compare, over several seeds, measure them, and decide
every claim: holds, does not hold, inconclusive (the effect is within seed-to-seed noise), or not measurable here.

    python -m impl.reproduce 004                        # report 004's claims on FashionMNIST, seeds added in rounds
    python -m impl.reproduce 004 --seeds 3              # exactly 3 seeds per arm, decided once
    python -m impl.reproduce 004 --out runs/sc --resume --max-seeds 12   # more rounds where more seeds matter
    python -m impl.reproduce --steps 3000               # every report; arms cut to 3,000 steps (the scorecard says so)
    python -m impl.reproduce 003 --data faces/ --inception-weights weights-inception-2015-12-05-6726825d.pth
    python -m impl.reproduce --quick                    # every claim end to end on tiny step counts (a smoke test)
    python -m impl.reproduce 004 --out runs/sc --resume # continue an interrupted scorecard
    python -m impl.reproduce 004 --launcher slurm --jobs 8 --partition gpu --gpus-per-run 1   # runs as Slurm jobs

Writes OUT/<arm>/seed-<s>/ (ordinary runs, each evaluated), OUT/scorecard.md, OUT/scorecard.json and
OUT/report.html. An arm several claims share is trained once. With --seeds auto (the default) every arm starts at 3
seeds; after each round the claims are decided at the level alpha spending allows that look (O'Brien-Fleming or
Pocock, docs/claims.md), and only the arms of claims still undecided get more seeds, up to --max-seeds and --budget.
Without --data, the anime-face claims are decided on FashionMNIST-64 (FashionMNIST upscaled to 64x64 RGB), the
offline stand-in, and every verdict says so.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from impl.arms import jobs, launch
from impl.arms.engine import ArmsFolder, resume_command, signals_name
from impl.core import cli
from impl.core.errors import boundary
from impl.measure import features
from impl.verdicts import rounds, scorecard, sequential
from impl.verdicts.plan import QUICK_BATCH, QUICK_N, QUICK_STEPS, chosen_claims, finisher, plan, settings_of


def parser() -> cli.Parser:
    p = cli.parser("python -m impl.reproduce", __doc__)
    p.add_argument("reports", nargs="*", help="report numbers (000 ... 004); default: all five")
    p.add_argument("--seeds", type=seeds_argument, help="seeds per arm, or 'auto' (the default; with --quick: "
                   f"{sequential.START}): rounds of seeds from {sequential.START}, only for the arms of claims still "
                   "undecided (alpha spending keeps the error at its level over the looks)")
    p.add_argument("--max-seeds", type=cli.count("seeds"), default=8,
                   help="--seeds auto: at most this many seeds per arm (default 8)")
    p.add_argument("--budget", type=rounds.budget, help="--seeds auto: stop adding rounds past this many runs ('40') "
                   "or this wall time ('2h', '90m')")
    p.add_argument("--spending", choices=sequential.SPENDING, default=sequential.SPENDING[0],
                   help="--seeds auto: the alpha spending function (default obrien-fleming)")
    p.add_argument("--steps", type=cli.count("steps"),
                   help="cut every arm to this many steps (default: each recipe's length)")
    p.add_argument("--data", type=cli.nonempty, help="the anime faces (a folder of images) for reports 000-003; "
                   "default: $GAN_SPEC_FACES, ./faces, else FashionMNIST-64 as the stand-in")
    p.add_argument("--fashion", type=Path, help="folder of the FashionMNIST IDX files (default: Debian's)")
    p.add_argument("--inception-weights", type=features.weights_argument, metavar="FILE|hub",
                   help=f"{features.WEIGHTS_HELP}: FID/KID/IS comparable with published numbers (needed for claims "
                   "on the real faces)")
    p.add_argument("--n", type=cli.positive, default=5000, help="generated images per run for the metrics (5,000)")
    p.add_argument("--epoch-n", type=cli.positive, default=1000,
                   help="generated images per epoch for per-epoch metrics (claims about training stability)")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--out", type=Path, help="output folder (default runs/scorecard-<timestamp>)")
    p.add_argument("--resume", action="store_true", help="continue the interrupted scorecard in --out")
    p.add_argument("--quick", action="store_true", help=f"{QUICK_STEPS} steps of batch {QUICK_BATCH} per arm, "
                   f"{QUICK_N} images per metric: every claim end to end in minutes (a smoke run: its verdicts mean "
                   "nothing, and say so)")
    p.add_argument("--quiet", action="store_true")
    launch.add_arguments(p)
    return p


def seeds_argument(text: str) -> str | int:
    return "auto" if text == "auto" else cli.count("seeds")(text)


@boundary("impl.reproduce")
def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parser().parse_args(argv)
    t0 = time.time()
    if args.seeds is None:  # a smoke run checks the plumbing in one round; its verdicts decide nothing
        args.seeds = sequential.START if args.quick else "auto"
    auto = args.seeds == "auto"
    if auto:
        args.seeds = args.max_seeds  # what settings_of checks; the rounds plan their own seeds
    claims = chosen_claims(args.reports)
    score = settings_of(args)
    launcher = launch.from_args(args)
    out = args.out or Path("runs") / f"scorecard-{time.strftime('%Y%m%d-%H%M%S')}"
    folder = ArmsFolder(out, "reproduce", "scorecard")
    saved = score.saved() | ({"seeds": "auto"} if auto else {})  # --max-seeds may change on --resume
    folder.check(saved, args.resume, args.out is not None)
    hint = resume_command("impl.reproduce", argv, out)
    with folder.opened(saved), folder.clock() as clock, signals_name(hint, "scorecard"):
        def train(todo: rounds.Items) -> None:
            jobs.run_all([item for _, item in todo], finisher(todo, claims, score), hint, clock, args.quiet, launcher,
                         out)

        if auto:
            items, verdicts, summary = rounds.rounds(args, claims, score, out, train, clock)
        else:
            items, summary = plan(claims, score, out), {}
            train(items)
            verdicts = scorecard.decide_all(claims, items, smoke=score.quick)
        scorecard.write(folder, claims, verdicts, items, quiet=args.quiet, meta=score.saved() | summary | {
            "wall_s": clock(), "this_call_s": round(time.time() - t0, 1),
            "faces": score.faces or "FashionMNIST-64 stand-in"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
