"""Scores of a set of generated images against a real set, from features (impl.features) or from pixels.

Distribution scores: FID, KID and the Inception Score through torchmetrics (on features computed once, so real
features can be cached), precision/recall (Kynkaanniemi et al. 2019, k=3) and density/coverage (Naeem et al. 2020,
k=5) written here in chunks of bounded memory. Per-image scores: class coverage and confidence from the domain
classifier, MS-SSIM diversity, and a sharpness proxy (variance of the Laplacian). impl.measure.reference applies
them against a real set (`domain_scores`).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from impl.core.errors import DataError, UsageError, user_cache
from impl.measure.domain_classifier import CLASSES

MIN_SAMPLES = 10  # FID, KID, IS, precision/recall/density/coverage refuse fewer generated (and real) images
MAX_SAMPLES = 200_000  # images held in memory at once: 200,000 FashionMNIST-64 images are 9.8 GB of floats
K_PR, K_DC = 3, 5  # neighbours: Kynkaanniemi et al. (precision, recall), Naeem et al. (density, coverage)
KID_SUBSETS, KID_SUBSET_SIZE = 25, 1000  # torch-fidelity uses 100 subsets; 25 keep a 2,000-image check fast
CONFIDENT = 0.9


class _Given(nn.Module):
    """The 'feature network' handed to torchmetrics when the features are already computed."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.num_features = dim

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return features


def check_at_most(flag: str, n: int) -> None:
    """Refuse an image count whose images and features cannot be held in memory, before any folder or image."""
    if n > MAX_SAMPLES:
        raise UsageError(f"{flag} {n:,}: at most {MAX_SAMPLES:,} images are held in memory for the scores (published "
                         "FIDs use 50,000); ask for fewer")


def check_count(what: str, n: int, minimum: int = MIN_SAMPLES) -> None:
    if n < minimum:
        raise DataError(f"{what}: {n} images, too few for FID, KID and the neighbour scores (they need at least "
                        f"{minimum}; 2,000 or more give stable numbers); evaluate more images")


def check_finite(what: str, *features: torch.Tensor) -> None:
    """Features about to reach LAPACK (FID's eigenvalues, KID's kernels) hold only numbers: oneMKL segfaults or
    aborts on NaN, so a NaN from a damaged file or network stops here, in one line."""
    for side, value in zip(("real", "generated"), features):
        if not torch.isfinite(value).all():
            raise DataError(f"{what}: the {side} features hold NaN or infinite values; a feature cache or the "
                            f"feature network's weights are damaged (delete {user_cache() / 'real-features'})")


def finite_cpu(images: torch.Tensor) -> torch.Tensor:
    """Generated images as float32 on the CPU, after checking that every pixel is a number."""
    images = images.detach().float().cpu()
    bad = int((~torch.isfinite(images.flatten(1))).any(1).sum())
    if bad:
        raise DataError(f"generated images: {bad} of {len(images)} hold NaN or infinite pixels; the generator is "
                        "broken (evaluate an earlier checkpoint)")
    return images


@torch.no_grad()
def frechet(real: torch.Tensor, fake: torch.Tensor) -> float:
    """FID between two feature sets (torchmetrics' arithmetic, float64)."""
    check_count("FID", min(len(real), len(fake)), 2)
    check_finite("FID", real, fake)
    from torchmetrics.image.fid import FrechetInceptionDistance  # a slow import, after the cheap refusals

    fid = FrechetInceptionDistance(feature=_Given(real.shape[1]))
    fid.update(real.double(), real=True)
    fid.update(fake.double(), real=False)
    return float(fid.compute())


@torch.no_grad()
def kernel(real: torch.Tensor, fake: torch.Tensor, subsets: int = KID_SUBSETS, seed: int = 0) -> tuple[float, float]:
    """KID (mean and std over `subsets` random subsets of up to 1,000), seeded so that it repeats exactly."""
    size = min(KID_SUBSET_SIZE, len(real), len(fake))
    check_count("KID", size, 2)
    check_finite("KID", real, fake)
    from torchmetrics.image.kid import KernelInceptionDistance  # a slow import, after the cheap refusals

    with warnings.catch_warnings():  # KID keeps every feature vector: 2 x 10,000 x 2048 doubles is fine here
        warnings.simplefilter("ignore", UserWarning)
        kid = KernelInceptionDistance(feature=_Given(real.shape[1]), subsets=subsets, subset_size=size)
    kid.update(real.double(), real=True)
    kid.update(fake.double(), real=False)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        mean, std = kid.compute()
    return float(mean), float(std)


@torch.no_grad()
def inception_score(logits: torch.Tensor, splits: int = 10, seed: int = 0) -> tuple[float, float]:
    """Inception Score (mean and std over `splits`) from InceptionV3's unbiased logits, seeded."""
    from torchmetrics.image.inception import InceptionScore

    check_count("Inception Score", len(logits), splits)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        score = InceptionScore(feature=_Given(logits.shape[1]), splits=splits)
    score.update(logits.double())
    with torch.random.fork_rng(devices=[]), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # one split has no spread: std is reported as 0
        torch.manual_seed(seed)
        mean, std = score.compute()
    return float(mean), float(std) if splits > 1 else 0.0


def knn_radii(x: torch.Tensor, ks: tuple[int, ...], chunk: int = 1024) -> list[torch.Tensor]:
    """For each k in ks, every point's distance to its k-th nearest other point of the same set (one pass)."""
    if len(x) <= max(ks):
        raise DataError(f"k-nearest-neighbour radius: {len(x)} points, needs more than k={max(ks)}; "
                        "evaluate more images")
    nearest = torch.cat([torch.cdist(part, x).topk(max(ks) + 1, dim=1, largest=False).values
                         for part in torch.split(x, chunk)])  # column 0 is the point itself
    return [nearest[:, k] for k in ks]


@torch.no_grad()
def prdc(real: torch.Tensor, fake: torch.Tensor, k_pr: int = K_PR, k_dc: int = K_DC, chunk: int = 1024,
         real_radii: list[torch.Tensor] | None = None) -> dict[str, float]:
    """Precision and recall (k_pr) and density and coverage (k_dc) between feature sets; memory O(chunk x N).

    precision: share of fake points within (<=) the k_pr-NN radius of some real point (inside the real manifold);
    recall: share of real points within the k_pr-NN radius of some fake point. density: the number of real k_dc-NN
    balls (open: distance < radius, as Naeem et al.'s code) holding each fake point, summed, over k_dc * n_fake
    (1 for identical sets, about 1 for two samples of one distribution, above 1 when fakes crowd dense real
    regions); coverage: share of real points whose k_dc-NN ball holds at least one fake point. realism_p05: the 5th
    percentile over fake points of the realism score (Kynkaanniemi et al.: the largest ratio of a real point's
    k_pr-NN radius to its distance from the fake point, over the half of the real points with the smallest radii;
    1 or more is inside the real manifold): how good the worst images are. `real_radii`, when
    given, are knn_radii(real, (k_pr, k_dc)) computed before. Both papers compare sets of equal size."""
    real, fake = real.float(), fake.float()
    check_count("precision/recall/density/coverage", min(len(real), len(fake)), max(k_pr, k_dc) + 1)
    r_pr, r_dc = real_radii or knn_radii(real, (k_pr, k_dc), chunk)
    (f_pr,) = knn_radii(fake, (k_pr,), chunk)
    inside, crowd = 0, 0.0
    recalled = torch.zeros(len(real), dtype=torch.bool)
    nearest_fake = torch.full((len(real),), math.inf)
    kept = r_pr <= r_pr.median()  # the realism score drops the half of the real balls with the largest radii
    realism = []
    for part, radius in zip(torch.split(fake, chunk), torch.split(f_pr, chunk)):
        d = torch.cdist(part, real)  # (fake chunk, real)
        realism.append((r_pr[kept] / d[:, kept].clamp_min(1e-12)).max(1).values)
        inside += int((d <= r_pr).any(1).sum())
        crowd += float((d < r_dc).sum(1).double().sum())
        recalled |= (d <= radius[:, None]).any(0)
        nearest_fake = torch.minimum(nearest_fake, d.min(0).values)
    return {"precision": inside / len(fake), "recall": float(recalled.double().mean()),
            "density": crowd / (k_dc * len(fake)), "coverage": float((nearest_fake < r_dc).double().mean()),
            "realism_p05": float(torch.quantile(torch.cat(realism).double(), 0.05))}


def halves(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Two disjoint random halves of range(n), the same for the same n and seed."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return order[: n // 2], order[n // 2: 2 * (n // 2)]


def floor(real: torch.Tensor) -> dict[str, float]:
    """FID and KID between two disjoint halves of the real features: what two samples of the data itself score."""
    check_count("the real-vs-real floor (half of the real set)", len(real) // 2)
    a, b = halves(len(real))
    return {"fid_floor": frechet(real[a], real[b]), "kid_floor": kernel(real[a], real[b])[0]}


def class_scores(logits: torch.Tensor, min_share: float = 0.01) -> dict[str, Any]:
    """From classifier logits: classes with >= 1 % of the images, KL(histogram || uniform), the histogram, the mean
    top softmax probability and the share of images whose top probability is >= 0.9."""
    top = logits.softmax(1).max(1)
    hist = torch.bincount(top.indices, minlength=len(CLASSES)).double() / len(logits)
    nonzero = hist[hist > 0]
    return {"classes_covered": int((hist >= min_share).sum()),
            "kl_to_uniform": float((nonzero * (nonzero * len(CLASSES)).log()).sum()),
            "class_histogram": {CLASSES[i]: round(float(h), 4) for i, h in enumerate(hist)},
            "mean_confidence": float(top.values.mean()), "confident_share": float((top.values >= CONFIDENT).double()
                                                                                  .mean())}


DUPLICATE = 0.9  # MS-SSIM above which two images are near-copies of each other


@torch.no_grad()
def ms_ssim_pairs(images: torch.Tensor, pairs: int = 500, seed: int = 0, chunk: int = 100) -> torch.Tensor:
    """MS-SSIM of random pairs of distinct images (seeded), one value per pair: `pairs` of them but at most two per
    image (a smoke run's 40 images get 80: MS-SSIM costs about 10 ms a pair on a CPU). `chunk` pairs at a time, each
    pair's value its own, so the same numbers as all at once: 500 pairs of 64x64 RGB images at once held 1.7 GB of
    temporaries, 100 at a time 0.4 GB."""
    from torchmetrics.functional.image import multiscale_structural_similarity_index_measure as ms_ssim

    n = len(images)
    if n < 2:
        raise DataError("MS-SSIM diversity: needs at least 2 images; evaluate more images")
    pairs = min(pairs, 2 * n)
    g = torch.Generator().manual_seed(seed)
    a = torch.randint(0, n, (pairs,), generator=g)
    b = (a + torch.randint(1, n, (pairs,), generator=g)) % n  # never the same image
    side = images.shape[-1]
    scales = max(1, min(5, int(math.log2(side / 4))))  # three scales for 28x28, four for 64x64
    betas = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)[:scales]
    kernel_size = 3 if side < 48 else 7
    return torch.cat([ms_ssim(images[a[i:i + chunk]].float(), images[b[i:i + chunk]].float(), data_range=2.0,
                              kernel_size=kernel_size, betas=betas, reduction="none", normalize="relu")
                      for i in range(0, pairs, chunk)])


def ms_ssim_diversity(images: torch.Tensor, pairs: int = 500, seed: int = 0) -> float:
    """Mean MS-SSIM over random pairs of distinct images: near 1 for a collapsed set, lower for a diverse one."""
    return float(ms_ssim_pairs(images, pairs, seed).mean())


def duplicate_share(images: torch.Tensor, pairs: int = 500, seed: int = 0) -> float:
    """The share of random pairs that are near-copies (MS-SSIM above DUPLICATE): about 1/k for a generator that
    repeats k images, about 0 for a diverse set. Mode collapse shows here before the mean moves much."""
    return float((ms_ssim_pairs(images, pairs, seed) > DUPLICATE).double().mean())


def structure_ms_ssim(images: torch.Tensor, pairs: int = 500, seed: int = 0) -> float:
    """MS-SSIM diversity of the grey images: how alike their structure (shapes) is, colours left out."""
    return ms_ssim_diversity(images.float().mean(1, keepdim=True), pairs, seed)


def image_scores(images: torch.Tensor, prefix: str = "") -> dict[str, float]:
    """The scores read from the images alone: sharpness, MS-SSIM diversity and the near-copy share (one set of pairs
    for both), and the grey images' structure MS-SSIM; keys prefixed (`real_` for the real set)."""
    pairs = ms_ssim_pairs(images)
    scores = {"sharpness": sharpness(images), "diversity_ms_ssim": float(pairs.mean()),
              "duplicate_share": float((pairs > DUPLICATE).double().mean()),
              "structure_ms_ssim": structure_ms_ssim(images)}
    return {prefix + k: v for k, v in scores.items()}


LAPLACIAN = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]]).view(1, 1, 3, 3)


@torch.no_grad()
def sharpness(images: torch.Tensor, batch: int = 2000) -> float:
    """Mean over images of the variance of the Laplacian of the grey image in [0, 1]: lower is blurrier. Only
    comparable at equal image size (compare with `real_sharpness` of the same evaluation)."""
    values = []
    for part in torch.split(images, batch):
        grey = (part.float().mean(1, keepdim=True) + 1) / 2
        values.append(F.conv2d(grey, LAPLACIAN).flatten(1).var(1, correction=0))
    return float(torch.cat(values).mean())
