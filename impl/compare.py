"""The loss families compared by measurement: BCE, WGAN with weight clipping, WGAN-GP, LSGAN and SNGAN, each on
the same networks, trained from the same seed for the same number of steps on the same data, then evaluated.

    python -m impl.compare                                   # report 004's conv networks on FashionMNIST
    python -m impl.compare --networks course --steps 5000    # the course DCGAN networks on FashionMNIST-64

A step is one batch and one critic update, so every family sees the same images; the WGAN families update their
generator every 5th step (the generator_steps column). Writes OUT/<family>/ (ordinary runs), OUT/compare.png,
OUT/compare.json and OUT/compare.md with domain FID, coverage, KL, MS-SSIM diversity and images/s.
"""

from __future__ import annotations

import sys

from impl.arms import study
from impl.core.errors import boundary
from impl.pages import markdown

FAMILIES = {
    "r004": [("bce", "r004-conv"), ("wgan-clip", "r004-wgan"), ("wgan-gp", "r004-wgangp"), ("lsgan", "r004-lsgan"),
             ("sngan", "r004-sngan")],
    "course": [("bce", "r000-dcgan"), ("wgan-clip", "r003-wgan"), ("wgan-gp", "course-wgangp"),
               ("lsgan", "course-lsgan"), ("sngan", "course-sngan")],
}
VARIES = ("clip_value", "gp_weight", "d_loss", "n_critic")  # each family sets its own
COLUMNS = ("experiment", "steps", "generator_steps", "domain_fid", "classes_covered", "kl_to_uniform",
           "diversity_ms_ssim", "images_per_s")


@boundary("impl.compare")
def main(argv: list[str] | None = None) -> int:
    p = study.arguments("python -m impl.compare", __doc__, None, 5000)
    p.add_argument("--networks", choices=sorted(FAMILIES), default="r004",
                   help="r004: report 004's conv networks (28x28); course: the course DCGAN networks (64x64)")
    args = p.parse_args(argv)
    if args.networks == "course" and not args.data:
        args.data = "fashion-mnist"  # the course networks' own data set (anime faces) is not offline; say so below
    out, results = study.run("compare", FAMILIES[args.networks], args, varies=VARIES)
    text = (f"# Loss families on the {args.networks} networks\n\ndata: {args.data or 'FashionMNIST'}; "
            f"seed {args.seed}; {args.n} generated images per family\n\n"
            f"{markdown.table(results, COLUMNS, 'family')}\n\n"
            "domain_fid: FID on the FashionMNIST classifier's features (lower is closer to the real set); "
            "classes_covered: classes with >= 1 % of the samples; kl_to_uniform: 0 is a uniform class mix; "
            "diversity_ms_ssim: mean MS-SSIM of random pairs (higher = more alike); images_per_s: median training "
            "throughput.\n")
    study.write(out, "compare", {"networks": args.networks, "data": args.data, "seed": args.seed, "families": results},
                text, list(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
