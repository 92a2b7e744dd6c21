"""Report 003's mode-collapse study, measured: the WGAN recipe with weight clipping 0.01 and 0.1, same seed, same
steps, same data, then coverage, KL to uniform and MS-SSIM diversity side by side.

    python -m impl.collapse --data fashion-mnist --steps 3000     # FashionMNIST-64: offline, has a classifier
    python -m impl.collapse --data faces/                         # the report's own data (diversity only)

Writes OUT/clip-0.01/ and OUT/clip-0.1/ (ordinary runs), OUT/collapse.png (both sample grids), OUT/collapse.json
and OUT/collapse.md. Report 003 says 0.1 collapses and 0.01 cures it; the table says what happened here.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from impl import evaluate, rundir, train
from impl.data import DataError
from impl.rundir import RunError

ARMS = (("clip-0.01", "r003-wgan"), ("clip-0.1", "r003-collapse"))
COLUMNS = ("classes_covered", "kl_to_uniform", "diversity_ms_ssim", "domain_fid")


def side_by_side(left: Path, right: Path, out: Path) -> Path:
    from PIL import Image

    with Image.open(left) as a, Image.open(right) as b:
        canvas = Image.new("RGB", (a.width + b.width + 20, max(a.height, b.height)), "white")
        canvas.paste(a, (0, 0))
        canvas.paste(b, (a.width + 20, 0))
        canvas.save(out)
    return out


def table(results: dict[str, dict]) -> str:
    lines = ["| clip | " + " | ".join(COLUMNS) + " |", "|" + " --- |" * (len(COLUMNS) + 1)]
    for arm, res in results.items():
        cells = [f"{res[c]:.4g}" if isinstance(res.get(c), float) else str(res.get(c, "n/a")) for c in COLUMNS]
        lines.append(f"| {arm.removeprefix('clip-')} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m impl.collapse", description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default="fashion-mnist", help="as impl.train --data (default: fashion-mnist, offline)")
    p.add_argument("--steps", type=int, help="steps per arm (default: the documented 10 epochs)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n", type=int, default=5000, help="generated images per arm for the metrics")
    p.add_argument("--out", type=Path, default=None, help="output folder (default runs/collapse-<timestamp>)")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    out = args.out or Path("runs") / f"collapse-{time.strftime('%Y%m%d-%H%M%S')}"
    if out.exists() and any(out.iterdir()):
        print(f"error: {out}: already holds files; choose another --out", file=sys.stderr)
        return 2
    results = {}
    for arm, experiment in ARMS:
        extra = ["--steps", str(args.steps)] if args.steps else []
        code = train.main([experiment, "--data", args.data, "--seed", str(args.seed), "--out", str(out / arm),
                           *extra, *(["--quiet"] if args.quiet else [])])
        if code:
            return code
        try:
            results[arm] = evaluate.evaluate(out / arm, args.n, progress=not args.quiet)
        except (RunError, DataError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    grids = [sorted((out / arm / "samples").glob("*.png"))[-1] for arm, _ in ARMS]
    side_by_side(*grids, out / "collapse.png")
    summary = {"data": args.data, "seed": args.seed, "steps": rundir.read_config(out / ARMS[0][0])["total_steps"],
               "arms": results}
    rundir.write_json(out / "collapse.json", summary)
    text = (f"# Mode collapse: WGAN weight clipping 0.01 vs 0.1\n\ndata: {args.data}; seed {args.seed}; "
            f"{summary['steps']} steps each; {args.n} generated images per arm\n\n{table(results)}\n\n"
            "classes_covered: FashionMNIST classes with >= 1 % of the samples (10 is full coverage); kl_to_uniform: "
            "0 is a uniform class mix; diversity_ms_ssim: mean MS-SSIM of random pairs, higher = more alike.\n")
    (out / "collapse.md").write_text(text, encoding="utf-8")
    print(text + f"\nside-by-side samples (left 0.01, right 0.1): {out / 'collapse.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
