"""Do the reports' results hold? Train the arms their claims compare, over several seeds, measure them, and decide
every claim: holds, does not hold, inconclusive (the effect is within seed-to-seed noise), or not measurable here.

    python -m impl.reproduce 004 --seeds 3              # report 004's claims on FashionMNIST, at the report's length
    python -m impl.reproduce --steps 3000               # every report; arms cut to 3,000 steps (the scorecard says so)
    python -m impl.reproduce 003 --data faces/ --inception-weights pt_inception-2015-12-05.pth
    python -m impl.reproduce --quick                    # every claim end to end on tiny step counts (a smoke test)
    python -m impl.reproduce 004 --out runs/sc --resume # continue an interrupted scorecard

Writes OUT/<arm>/seed-<s>/ (ordinary runs, each evaluated), OUT/scorecard.md, OUT/scorecard.json and
OUT/report.html. An arm several claims share is trained once. Without --data, the anime-face claims are decided on
FashionMNIST-64 (FashionMNIST upscaled to 64x64 RGB), the offline stand-in, and every verdict says so.
"""

from __future__ import annotations

import sys
import time

from impl.arms.engine import (
    check,
    chosen_claims,
    data_for,
    faces_folder,
    open_out,
    parser,
    plan,
    resume_command,
    signals_name,
    spent_time,
    train,
)
from impl.errors import boundary, say
from impl.verdicts import scorecard
from impl.verdicts.measuring import ScoreSettings, evaluate_run, hooks_for, needs_latent


@boundary("impl.reproduce")
def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parser().parse_args(argv)
    t0 = time.time()
    claims = chosen_claims(args.reports)
    wanted = check(args)
    faces = faces_folder(args)
    out = open_out(args, wanted)
    hint = resume_command(argv, out)
    score = ScoreSettings(n=args.n, epoch_n=args.epoch_n, fashion=args.fashion, faces=faces,
                          inception_weights=args.inception_weights, quiet=args.quiet)
    items = plan(claims, args, out)
    with spent_time(out) as clock, signals_name(hint):
        for i, item in enumerate(items, 1):
            if not args.quiet:
                say(f"[{i}/{len(items)}] {item.arm.key()} seed {item.seed}")
            train(item, args, data_for(item.arm, args, faces), hooks_for(item.arm, claims, score), hint)
            evaluate_run(item.folder, score, latent_probe=needs_latent(item.arm, claims))
        verdicts = scorecard.decide_all(claims, items)
        scorecard.write(out, claims, verdicts, items, wanted | {"wall_s": clock(), "this_call_s": round(
            time.time() - t0, 1), "faces": faces or "FashionMNIST-64 stand-in"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
