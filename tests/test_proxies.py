"""Each proxy a claim decides by, shown to tell apart the difference it claims to detect, on constructed inputs
whose answer is known: blur, collapse, deformed and worst images, what a latent position changes, a broken epoch,
and the anime-face metrics (with a detector whose answers are given)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from impl.measure import faces, metrics
from impl.measure.features import DomainNet, extract
from impl.measure.probe import direction_spread
from impl.verdicts.reductions import max_rise


def garments(n: int, seed: int = 0) -> torch.Tensor:
    """n 28x28 images in [-1, 1] of ten distinct shapes (a bar whose place and size decide the class), with noise."""
    g = torch.Generator().manual_seed(seed)
    images = -torch.ones(n, 1, 28, 28)
    for i in range(n):
        c = int(torch.randint(0, 10, (1,), generator=g))
        images[i, 0, 2 * c:2 * c + 8, 4 + c:24 - c // 2] = 0.8
    return (images + 0.05 * torch.randn(images.shape, generator=g)).clamp(-1, 1)


def blur(images: torch.Tensor) -> torch.Tensor:
    kernel = torch.ones(1, 1, 5, 5) / 25
    return F.conv2d(F.pad(images, (2, 2, 2, 2), mode="replicate"), kernel)


def test_a_blurred_real_set_scores_blurrier_than_the_real_set() -> None:
    """c001-poor-detail and c002-deeper-blurrier read sharpness against the real set's: a blurred copy is further
    from the real sharpness (|log ratio|) and below it (ratio < 1)."""
    real = garments(200)
    ratio = metrics.sharpness(blur(real)) / metrics.sharpness(real)
    assert ratio < 0.5
    assert abs(math.log(ratio)) > abs(math.log(metrics.sharpness(garments(200, seed=1)) / metrics.sharpness(real)))


def shapes(n: int, seed: int = 0) -> torch.Tensor:
    """n 28x28 images in [-1, 1] of varied rectangles (place and size drawn per image): a diverse set."""
    g = torch.Generator().manual_seed(seed)
    images = -torch.ones(n, 1, 28, 28)
    for i in range(n):
        y, x = torch.randint(0, 14, (2,), generator=g).tolist()
        h, w = torch.randint(6, 14, (2,), generator=g).tolist()
        images[i, 0, y:y + h, x:x + w] = 0.8
    return images


@pytest.mark.slow
def test_a_generator_of_ten_images_scores_collapsed() -> None:
    """c002-training-often-collapses' event (near-copy pairs above the real set's share by 0.05): a generator of
    ten images repeats itself in about a tenth of random pairs, one of a single image in all of them, a fresh
    sample of the data in (almost) none. c003-collapse-alike's structure MS-SSIM rises with the collapse: 1 for one
    image, above a fresh sample for ten, and a fresh sample of the data scores what the data does."""
    real, fresh = shapes(200), shapes(200, seed=1)
    ten, one = shapes(10, seed=2).repeat(20, 1, 1, 1), shapes(1, seed=3).repeat(200, 1, 1, 1)
    noise = torch.randn(ten.shape, generator=torch.Generator().manual_seed(5))
    base = metrics.duplicate_share(real)
    assert metrics.duplicate_share(ten) - base == pytest.approx(0.1, abs=0.04)
    # a collapsed generator repeats itself with small differences: copies under noise (MS-SSIM about 0.96) still
    # count as near-copies
    assert metrics.duplicate_share((ten + 0.1 * noise).clamp(-1, 1)) - base == pytest.approx(0.1, abs=0.04)
    assert metrics.duplicate_share(one) == 1.0 and abs(metrics.duplicate_share(fresh) - base) < 0.02
    alike = [metrics.structure_ms_ssim(x) for x in (one, ten, fresh, real)]
    assert alike[0] > 0.99 and alike[1] > alike[2] + 0.03 and abs(alike[2] - alike[3]) < 0.03


def test_recall_falls_and_precision_holds_for_a_collapsed_set() -> None:
    """c003-collapse-modes reads recall: ten repeated images cover little of the real set (low recall) though each
    is a fine image (precision stays high); deformed images (noise) fall off the manifold (low precision and low
    realism_p05; precision is c003-wgan-fewer-deformed's measure)."""
    net = DomainNet()
    real, fresh = (extract(net, x)["features"].float() for x in (garments(300), garments(300, seed=1)))
    ten = extract(net, garments(10, seed=2).repeat(30, 1, 1, 1))["features"].float()
    noisy = garments(300, seed=3)
    noisy[:150] = torch.rand(150, 1, 28, 28, generator=torch.Generator().manual_seed(4)) * 2 - 1
    deformed = extract(net, noisy)["features"].float()
    good, collapsed, bad = (metrics.prdc(real, x) for x in (fresh, ten, deformed))
    assert collapsed["recall"] < 0.5 * good["recall"] and collapsed["precision"] > 0.8
    assert bad["precision"] < good["precision"] - 0.3
    assert bad["realism_p05"] < 0.5 * good["realism_p05"]


def test_what_a_position_changes_is_told_apart_from_how_much() -> None:
    """c004-value-10-position-dependent: two positions that change different features by the same amount score
    high; two that change the same feature score zero. How much each changes is equal in both cases, so the
    old reading (the spread of the amounts) could not tell them apart."""
    top, bottom = torch.zeros(8, 1, 28, 28), torch.zeros(8, 1, 28, 28)
    top[:, :, :14], bottom[:, :, 14:] = 0.5, 0.5
    different, same = direction_spread([top, bottom]), direction_spread([top, top.clone()])
    assert top.abs().mean() == bottom.abs().mean()
    assert different > 1.5 and same == 0.0
    assert direction_spread([top, -top]) >= different  # opposite changes differ at least as much


def test_a_broken_epoch_is_a_relative_rise_above_the_floor() -> None:
    """c000-dcgan-unstable's event: FID above its floor doubling from one epoch to the next. A steady run's wobble
    stays under it; the same absolute wobble near the floor would not, which is why it is read above the floor."""
    steady = {1: 80.0, 2: 60.0, 3: 50.0, 4: 52.0, 5: 45.0}
    broken = {1: 80.0, 2: 60.0, 3: 50.0, 4: 130.0, 5: 55.0}
    assert max_rise(steady, relative=True) < 1.0 < max_rise(broken, relative=True)


def face(left: tuple, right: tuple, eyes: tuple = ((40, 40, 10, 8), (60, 40, 10, 8)), nose_y: int = 55) -> faces.Face:
    return faces.Face(1.0, (30, 20, 50, 60), eyes[0], eyes[1], left, right, (55, nose_y), (48, 62, 14, 6), (55, 78))


def test_face_metrics_count_what_the_detector_reports() -> None:
    """With a detector's answers given: a face whose eyes differ by 150 in colour is heterochromatic, one by 10 is
    not; a face whose nose sits far off the real faces' geometry has a larger proportion error than theirs."""
    blue, brown, bluish = (30.0, 60.0, 200.0), (120.0, 70.0, 30.0), (35.0, 65.0, 190.0)
    real = [face(blue, bluish, nose_y=54 + i % 3) for i in range(40)]
    odd = [face(blue, brown, nose_y=75) for _ in range(10)]
    got = faces.face_metrics([*odd, None, None], faces.RealFaces.of(real))
    assert got["face_detection_rate"] == pytest.approx(10 / 12) and got["real_face_detection_rate"] == 1.0
    assert got["heterochromia_share"] == 1.0 and got["real_heterochromia_share"] == 0.0
    assert got["eye_mismatch"] == 1.0 and got["proportion_error"] > 5 * got["real_proportion_error"]
    assert got["face_thresholds"]["real_faces"] == 20  # the first half of the real faces set the thresholds
    nothing = faces.face_metrics([None], faces.RealFaces.of(real))
    assert nothing["face_detection_rate"] == 0 and "proportion_error" not in nothing  # left out, never NaN


def test_the_detector_finds_no_face_in_noise_or_garments() -> None:
    """The bundled AnimeFace 2009 library through gan-spec's binding (skipped without the faces extra): random
    noise and FashionMNIST-like garments, prepared as 64x64 images are, give (almost) no faces."""
    path = faces.library_path()
    if path is None:
        pytest.skip("the anime-face detector is not installed (pip install 'gan-spec[faces]')")
    detector = faces.Detector(path)
    noise = torch.rand(20, 3, 64, 64, generator=torch.Generator().manual_seed(0)) * 2 - 1
    found = faces.detect_all(noise, detector) + faces.detect_all(F.interpolate(garments(20), size=64), detector)
    assert sum(f is not None for f in found) <= 2
