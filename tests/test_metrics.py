"""Scores on constructed sets whose answer is known: precision/recall/density/coverage, FID, KID, IS, the floor,
class and confidence scores, sharpness and MS-SSIM diversity."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from impl.data.load import DataError
from impl.measure import metrics
from impl.measure.domain_classifier import FashionClassifier


def gauss(n: int, dim: int = 8, seed: int = 0, shift: float = 0.0) -> torch.Tensor:
    return torch.randn(n, dim, generator=torch.Generator().manual_seed(seed)) + shift


def images(n: int = 64, seed: int = 0, shape: tuple[int, ...] = (1, 28, 28)) -> torch.Tensor:
    return torch.rand(n, *shape, generator=torch.Generator().manual_seed(seed)) * 2 - 1


REAL = gauss(400)
PRDC_CASES = {  # fake set -> (lowest, highest) allowed for precision, recall, density, coverage
    "identical": (REAL.clone(), [(1, 1), (1, 1), (0.99, 1.01), (1, 1)]),  # density: a tie may flip
    "same distribution": (gauss(400, seed=1), [(0.6, 1), (0.6, 1), (0.7, 1.3), (0.85, 1)]),
    "collapsed to one real point": (REAL[:1].repeat(400, 1), [(1, 1), (0, 0.01), (0, 2), (0, 0.05)]),
    "far away": (gauss(400, seed=1, shift=50.0), [(0, 0), (0, 0), (0, 0), (0, 0)]),
    "half the modes": (REAL[REAL[:, 0] > 0].repeat(3, 1)[:400] + 1e-3 * gauss(400, seed=2),
                       [(0.9, 1), (0.3, 0.7), (0.5, 2), (0.4, 0.8)]),
}


@pytest.mark.parametrize("case", list(PRDC_CASES))
def test_prdc_on_sets_whose_answer_is_known(case: str) -> None:
    fake, bounds = PRDC_CASES[case]
    got = metrics.prdc(REAL, fake, chunk=100)
    for name, (low, high) in zip(("precision", "recall", "density", "coverage"), bounds):
        assert low - 1e-9 <= got[name] <= high + 1e-9, (case, name, got)


def brute_prdc(real: np.ndarray, fake: np.ndarray, k_pr: int = 3, k_dc: int = 5) -> dict[str, float]:
    """The five definitions written out on full distance matrices, independently of impl.metrics."""
    rr = np.linalg.norm(real[:, None] - real[None], axis=-1)
    ff = np.linalg.norm(fake[:, None] - fake[None], axis=-1)
    fr = np.linalg.norm(fake[:, None] - real[None], axis=-1)
    r_pr, r_dc, f_pr = np.sort(rr, 1)[:, k_pr], np.sort(rr, 1)[:, k_dc], np.sort(ff, 1)[:, k_pr]
    kept = r_pr <= np.median(r_pr)  # realism: the half of the real balls with the smallest radii
    with np.errstate(divide="ignore"):
        realism = [max(r_pr[i] / fr[j, i] for i in np.flatnonzero(kept)) for j in range(len(fake))]
    return {"realism_p05": float(np.quantile(realism, 0.05)),
            "precision": float(np.mean([(fr[j] <= r_pr).any() for j in range(len(fake))])),
            "recall": float(np.mean([(fr[:, i] <= f_pr).any() for i in range(len(real))])),
            "density": float((fr < r_dc[None]).sum() / (k_dc * len(fake))),
            "coverage": float(np.mean(fr.min(0) < r_dc))}


@settings(max_examples=25, deadline=None)
@given(n_real=st.integers(6, 40), n_fake=st.integers(6, 40), dim=st.integers(1, 5), chunk=st.integers(1, 50),
       shift=st.floats(0, 3), seed=st.integers(0, 1000))
def test_chunked_prdc_equals_the_definitions(n_real: int, n_fake: int, dim: int, chunk: int, shift: float,
                                             seed: int) -> None:
    real = torch.randn(n_real, dim, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    fake = torch.randn(n_fake, dim, generator=torch.Generator().manual_seed(seed + 1), dtype=torch.float64) + shift
    real, fake = (real * 64).round() / 64, (fake * 64).round() / 64  # exact in float32: no ties decided by rounding
    got = metrics.prdc(real, fake, chunk=chunk)
    want = brute_prdc(real.float().numpy().astype(np.float64), fake.float().numpy().astype(np.float64))
    # cdist's matrix-product distances may flip a boundary tie; a realism ratio is compared relative to its size
    assert got.pop("realism_p05") == pytest.approx(want.pop("realism_p05"), rel=1e-3, abs=1e-6)
    assert got == pytest.approx(want, abs=0.05)


def test_prdc_boundaries_count_as_the_papers_define_them() -> None:
    """Points 0..6 on a line; six fakes at -3, exactly on point 0's k=3 radius (3) and point 1's k=5 radius (4)."""
    real, fake = torch.arange(7.0)[:, None], torch.full((6, 1), -3.0)
    got = metrics.prdc(real, fake)
    assert got["precision"] == 1.0  # closed balls: on point 0's 3-NN radius is inside
    assert got["recall"] == 0.0  # identical fakes: their 3-NN radius is 0
    assert got["density"] == pytest.approx(6 * 1 / (5 * 6))  # open balls: only point 0's (radius 5) holds -3
    assert got["coverage"] == pytest.approx(1 / 7)


def test_prdc_refuses_too_few_points() -> None:
    with pytest.raises(DataError, match=r"^precision/recall/density/coverage: 5 images, too few .* at least 6"):
        metrics.prdc(gauss(5), gauss(50))


def test_fid_is_the_squared_mean_shift_for_unit_gaussians() -> None:
    real, fake = gauss(20000, dim=4), gauss(20000, dim=4, seed=1, shift=1.0)  # ||mu||^2 = 4, equal covariances
    assert metrics.frechet(real, fake) == pytest.approx(4.0, abs=0.15)
    assert metrics.frechet(real, real.clone()) == pytest.approx(0.0, abs=1e-6)


def test_kid_repeats_exactly_and_grows_with_a_shift() -> None:
    real = gauss(300, dim=16)
    same = metrics.kernel(real, gauss(300, dim=16, seed=1), subsets=5)
    torch.rand(100)  # the global random state moves on (as training would move it): KID's subsets must not
    assert metrics.kernel(real, gauss(300, dim=16, seed=1), subsets=5) == same
    assert abs(same[0]) < 0.05 and metrics.kernel(real, gauss(300, dim=16, seed=1, shift=1.0), subsets=5)[0] > 0.5


def test_floor_is_small_for_one_distribution_and_below_a_shift() -> None:
    real = gauss(1000, dim=4)
    low = metrics.floor(real)
    assert 0 < low["fid_floor"] < 0.1 and abs(low["kid_floor"]) < 0.01
    assert metrics.frechet(real, gauss(1000, dim=4, seed=1, shift=0.5)) > 10 * low["fid_floor"]
    a, b = metrics.halves(11)
    assert len(a) == len(b) == 5 and not set(a.tolist()) & set(b.tolist())


def test_inception_score_counts_confident_distinct_classes() -> None:
    sure = torch.eye(10).repeat(10, 1) * 50  # 100 confident predictions spread evenly over 10 classes: IS = 10
    assert metrics.inception_score(sure, splits=1)[0] == pytest.approx(10.0, rel=1e-3)
    assert metrics.inception_score(torch.eye(10)[[4] * 100] * 50)[0] == pytest.approx(1.0)  # one class: 1
    assert metrics.inception_score(torch.zeros(100, 10))[0] == pytest.approx(1.0)  # no information: 1


def test_class_scores_of_confident_and_uncertain_logits() -> None:
    sure = metrics.class_scores(torch.eye(10)[[3] * 50] * 20)
    assert sure["classes_covered"] == 1 and sure["kl_to_uniform"] == pytest.approx(math.log(10))
    assert sure["mean_confidence"] > 0.99 and sure["confident_share"] == 1.0
    one_hot = torch.eye(10)[[0] * 10]
    assert metrics.class_scores(one_hot * math.log(0.95 / 0.05 * 9))["confident_share"] == 1.0  # top p = 0.95
    assert metrics.class_scores(one_hot * math.log(0.85 / 0.15 * 9))["confident_share"] == 0.0  # top p = 0.85
    unsure = metrics.class_scores(torch.zeros(50, 10))
    assert unsure["mean_confidence"] == pytest.approx(0.1) and unsure["confident_share"] == 0.0


def test_sharpness_drops_when_images_are_blurred() -> None:
    sharp = images(32)
    blurred = torch.nn.functional.avg_pool2d(sharp, 3, stride=1, padding=1)
    assert metrics.sharpness(torch.zeros(4, 1, 28, 28)) == 0.0
    ramp = torch.linspace(-1, 1, 28).expand(2, 1, 28, 28)  # varied pixels, but no curvature: Laplacian 0
    assert metrics.sharpness(ramp) == pytest.approx(0.0, abs=1e-10)
    checker = (torch.arange(28)[:, None] + torch.arange(28)).remainder(2).float().expand(2, 1, 28, 28) * 2 - 1
    assert metrics.sharpness(checker) == pytest.approx(16.0)  # grey 0/1 alternating: Laplacian +-4 everywhere
    assert metrics.sharpness(blurred) < 0.5 * metrics.sharpness(sharp)
    assert metrics.sharpness(images(8, shape=(3, 64, 64))) > 0


def test_collapsed_set_covers_one_class_and_is_self_similar() -> None:
    torch.manual_seed(0)
    classifier = FashionClassifier().eval()
    collapsed = images(1).repeat(100, 1, 1, 1)
    with torch.no_grad():
        cov = metrics.class_scores(classifier(collapsed))
    assert cov["classes_covered"] == 1 and cov["kl_to_uniform"] == pytest.approx(math.log(10))
    assert metrics.ms_ssim_diversity(collapsed) == pytest.approx(1.0, abs=1e-4)
    assert metrics.ms_ssim_diversity(images(100)) < 0.5
    assert metrics.ms_ssim_diversity(images(20, shape=(3, 64, 64))) < 0.5
