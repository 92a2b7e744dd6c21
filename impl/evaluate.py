"""Measure a trained run and write RUN_DIR/metrics.json: diversity and sharpness for every run; for FashionMNIST
runs the domain scores of the shipped classifier (FID/KID with their real-vs-real floor, precision/recall,
density/coverage, class coverage, confidence); with --inception-weights the standard Inception FID/KID/IS.

    python -m impl.evaluate runs/r004-conv-20261123-101500 --n 10000
    python -m impl.evaluate RUN_DIR --checkpoint epoch_005.pt     # a checkpoint kept by --keep-checkpoints
    python -m impl.evaluate RUN_DIR --inception-weights weights-inception-2015-12-05-6726825d.pth --real faces/
    python -m impl.evaluate RUN_DIR --inception-weights hub --real faces/   # the file in torch hub's cache

Real-set features are prepared once and cached (~/.cache/gan-spec/real-features). See docs/metrics.md for what
each number means, its direction and what it can be compared with.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from impl.core import cli
from impl.core.errors import DataError, boundary
from impl.measure import features, metrics, reference
from impl.measure.evaluation import evaluate
from impl.runs.folder import RunFolder


@boundary("impl.evaluate")
def main(argv: list[str] | None = None) -> int:
    p = cli.parser("python -m impl.evaluate", __doc__)
    p.add_argument("run", help="a run directory made by impl.train")
    p.add_argument("--n", type=int, default=10000, help="generated images to evaluate (default 10,000)")
    p.add_argument("--n-real", type=cli.positive, default=reference.N_REAL,
                   help="real images to compare with (default 10,000: the whole FashionMNIST test split)")
    p.add_argument("--inception-weights", type=features.weights_argument, metavar="FILE|hub",
                   help=features.WEIGHTS_HELP)
    p.add_argument("--real", type=Path, help="folder of real images for Inception scores of non-FashionMNIST runs")
    p.add_argument("--fashion", type=Path, help="folder of the FashionMNIST IDX files (default: Debian's)")
    p.add_argument("--checkpoint", metavar="NAME", help="a checkpoint of RUN/checkpoints/ (default last.pt; "
                   "prev.pt, or epoch_NNN.pt kept by impl.train --keep-checkpoints); metrics.json names it")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    if args.n < 2:
        raise DataError(f"--n {args.n}: MS-SSIM diversity compares pairs, so at least 2 images are needed")
    metrics.check_at_most("--n", args.n)
    metrics.check_at_most("--n-real", args.n_real)
    cli.writable_run(args.run, RunFolder.EVALUATION)
    result = evaluate(Path(args.run), args.n, args.inception_weights, args.real, args.fashion, not args.quiet,
                      n_real=args.n_real, checkpoint=args.checkpoint)
    print(json.dumps({k: v for k, v in result.items() if k != "class_histogram"}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
