"""Report 003's mode-collapse study, measured: the WGAN recipe with weight clipping 0.01 and 0.1, same seed, same
steps, same data, then coverage, KL to uniform and MS-SSIM diversity side by side.

    python -m impl.collapse --data fashion-mnist --steps 3000     # FashionMNIST-64: offline, has a classifier
    python -m impl.collapse --data faces/                         # the report's own data (diversity only)

Writes OUT/clip-0.01/ and OUT/clip-0.1/ (ordinary runs), OUT/collapse.png (both sample grids), OUT/collapse.json
and OUT/collapse.md. Report 003 says 0.1 collapses and 0.01 cures it; the table says what happened here.
"""

from __future__ import annotations

import sys

from impl.arms import study
from impl.core.errors import boundary
from impl.pages import markdown

ARMS = [("clip-0.01", "r003-wgan"), ("clip-0.1", "r003-collapse")]
COLUMNS = ("classes_covered", "kl_to_uniform", "diversity_ms_ssim", "domain_fid")


@boundary("impl.collapse")
def main(argv: list[str] | None = None) -> int:
    args = study.arguments("python -m impl.collapse", __doc__, "fashion-mnist", 5000).parse_args(argv)
    out, results = study.run("collapse", ARMS, args, varies=("clip_value",))
    steps = results[ARMS[0][0]]["steps"]
    text = (f"# Mode collapse: WGAN weight clipping 0.01 vs 0.1\n\ndata: {args.data}; seed {args.seed}; "
            f"{steps} steps each; {args.n} generated images per arm\n\n"
            f"{markdown.table(results, COLUMNS, 'clip', strip='clip-')}\n\n"
            "classes_covered: FashionMNIST classes with >= 1 % of the samples (10 is full coverage); kl_to_uniform: "
            "0 is a uniform class mix; diversity_ms_ssim: mean MS-SSIM of random pairs, higher = more alike.\n")
    summary = {"data": args.data, "seed": args.seed, "steps": steps, "arms": results}
    study.write(out, "collapse", summary, text, list(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
