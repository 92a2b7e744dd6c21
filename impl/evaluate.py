"""Measure a trained run: domain FID/KID, class coverage and MS-SSIM diversity (and Inception FID/KID when the
weights are supplied). Writes RUN_DIR/metrics.json.

    python -m impl.evaluate runs/r004-conv-20261123-101500 --n 10000
    python -m impl.evaluate RUN_DIR --inception-weights inception_v3.pth --real faces/
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import torch

import spec
from impl import cli, metrics, rundir
from impl.checkpoint import load_generator
from impl.data import DataError, adapt, fashion_mnist, image_folder, to_unit
from impl.errors import RunError, boundary


@torch.no_grad()
def generate(run: Path, n: int, seed: int = 0, batch: int = 500) -> tuple[torch.Tensor, str]:
    """n images in [-1, 1] from the run's last checkpoint (generator in eval mode), and the experiment name."""
    g, state = load_generator(run)
    net = g.spec
    gen = torch.Generator().manual_seed(seed)
    out = [g(torch.randn(min(batch, n - i), *net.input, generator=gen)) for i in range(0, n, batch)]
    return torch.cat(out).clamp(-1, 1), state["experiment"]


def is_fashion(run: Path) -> bool:
    """Whether the run trained on FashionMNIST (native or adapted to 64x64 RGB): then domain metrics apply."""
    return str(rundir.read_config(run).get("data", "")).startswith("FashionMNIST")


def evaluate(run: Path, n: int = 10000, inception_weights: Path | None = None, real_folder: Path | None = None,
             fashion_folder: Path | None = None, progress: bool = True) -> dict:
    fake, experiment = generate(run, n)
    result: dict = {"experiment": experiment, "samples": n, "evaluated": time.strftime("%Y-%m-%d %H:%M:%S"),
                    "diversity_ms_ssim": metrics.ms_ssim_diversity(fake)}
    real = None
    if is_fashion(run):
        classifier, acc = metrics.load_classifier(fashion_folder, progress=progress)
        test = fashion_mnist(fashion_folder, "test")
        real = to_unit(adapt(test.images, tuple(fake.shape[1:])))
        domain = metrics.fid_kid(real, fake, metrics.FeatureExtractor(classifier, 128))
        result.update({"classifier_test_accuracy": acc, "domain_fid": domain["fid"], "domain_kid": domain["kid"],
                       "real_set": f"FashionMNIST test split ({len(real):,} images)",
                       **metrics.coverage(fake, classifier),
                       "real_diversity_ms_ssim": metrics.ms_ssim_diversity(real)})
    if inception_weights:
        if real_folder:
            real = to_unit(image_folder(real_folder, fake.shape[-1], fake.shape[1], progress=progress).images[:n])
        if real is None:
            raise DataError("Inception FID needs real images: pass --real FOLDER (or evaluate a FashionMNIST run)")
        scores = metrics.fid_kid(real, fake, metrics.inception(inception_weights))
        result.update({"inception_fid": scores["fid"], "inception_kid": scores["kid"]})
    rundir.write_json(run / "metrics.json", result)
    return result


@boundary("impl.evaluate")
def main(argv: list[str] | None = None) -> int:
    p = cli.parser("python -m impl.evaluate", __doc__)
    p.add_argument("run", help="a run directory made by impl.train")
    p.add_argument("--n", type=int, default=10000, help="generated images to evaluate (default 10,000)")
    p.add_argument("--inception-weights", type=Path, help="torchvision inception_v3 weights file (never downloaded)")
    p.add_argument("--real", type=Path, help="folder of real images for Inception FID of non-FashionMNIST runs")
    p.add_argument("--fashion", type=Path, help="folder of the FashionMNIST IDX files (default: Debian's)")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    if args.n < 2:
        p.error("--n must be at least 2")
    try:
        result = evaluate(Path(args.run), args.n, args.inception_weights, args.real, args.fashion, not args.quiet)
    except (RunError, DataError, spec.SpecError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({k: v for k, v in result.items() if k != "class_histogram"}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
