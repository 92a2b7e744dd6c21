"""The FashionMNIST classifier behind the domain metrics: its network, gan-spec's training recipe, and the trained
weights that ship with the package (impl/measure/assets/fashion-classifier.safetensors, with a JSON record beside it).

Every machine loads the same file, so domain FID/KID and class coverage are comparable between machines and the
first evaluation trains nothing. Retraining rewrites the file reproducibly (fixed seed, one thread):

    python -m impl.classifier             # the shipped file's record and its accuracy on the real test split
    python -m impl.classifier --retrain   # train again on the real train split and rewrite the file
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from impl.core import cli
from impl.core.errors import DataError
from impl.data.load import fashion_mnist
from impl.measure.domain_classifier import (
    ASSET,
    MIN_ACCURACY,
    SHIPPED_SHA256,
    accuracy,
    load_classifier,
    record,
    retrain,
)


def main(argv: list[str] | None = None) -> int:
    p = cli.add_version(argparse.ArgumentParser(prog="python -m impl.classifier",
                                                description=__doc__.split("\n\n")[0]))
    p.add_argument("--retrain", action="store_true", help="train again by the recipe and rewrite the file")
    p.add_argument("--fashion", type=Path, help="folder of the FashionMNIST IDX files (default: Debian's)")
    p.add_argument("--out", type=Path, default=ASSET, help=f"classifier file (default {ASSET})")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    try:
        if args.retrain:
            info = retrain(args.fashion, args.out, progress=not args.quiet)
            print(json.dumps(info, indent=2))
            if args.out == ASSET and info["sha256"] != SHIPPED_SHA256:
                print(f"note: the file changed; set SHIPPED_SHA256 = \"{info['sha256']}\" in impl/classifier.py "
                      "(domain metrics before and after are not comparable)", file=sys.stderr)
            return 0
        model, recorded = load_classifier(args.out)
        measured = accuracy(model, fashion_mnist(args.fashion, "test"))
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    info = record(args.out)
    print(f"{args.out}: {info['bytes']:,} bytes, sha256 {info['sha256']}\nrecipe {info['recipe']}, trained "
          f"{info['trained']} (torch {info['torch']})\ntest accuracy: recorded {recorded:.2%}, measured now "
          f"{measured:.2%} on the FashionMNIST test split")
    return 0 if measured >= MIN_ACCURACY else 3


if __name__ == "__main__":
    sys.exit(main())
