"""The anime-face detector and the face measures on faces the tests paint (tests/faces_painter.py): faces it must
find, images it must reject, eye colours it must tell apart, deformed proportions it must see, and thresholds read
from the real faces' own spread. The detector tests skip without the faces extra (pip install 'gan-spec[faces]')."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from impl.measure import faces
from impl.measure.reference import RealSet, Reference
from spec.metrics import METRICS, RECORDS
from tests.faces_painter import EYE_COLOURS, HAIR_COLOURS, SKIN, Face, as_batch, paint, population


@pytest.fixture(scope="module")
def detector() -> faces.Detector:
    path = faces.library_path()
    if path is None:
        pytest.skip("the anime-face detector is not installed (pip install 'gan-spec[faces]')")
    return faces.Detector(path)


def detect(painted: list[Face], detector: faces.Detector) -> list[faces.Face | None]:
    return faces.detect_all(as_batch([paint(f) for f in painted]), detector)


@pytest.fixture(scope="module")
def real(detector: faces.Detector) -> faces.RealFaces:
    """80 painted faces standing in for the real set (about 4 s on a CPU core)."""
    return faces.RealFaces.of(detect(population(80, seed=1), detector))


def test_the_detector_finds_the_faces_it_must_find(detector: faces.Detector) -> None:
    """Painted anime faces of every eye and hair colour, at 64x64 as a generator makes them: each one found, its
    face box inside the prepared frame and its eyes inside the face box."""
    found = detect(population(20, seed=5), detector)
    assert sum(f is not None for f in found) >= 19, found
    side = 64 * faces.SCALE + 2 * faces.BORDER
    for f in filter(None, found):
        x, y, w, h = f.face
        assert 0 <= x and 0 <= y and x + w <= side and y + h <= side and w >= 42
        for ex, ey, ew, eh in (f.left_eye, f.right_eye):
            assert x <= ex and ex + ew <= x + w and y <= ey and ey + eh <= y + h


def _blob(kind: str, rng: random.Random) -> np.ndarray:
    if kind == "no eyes":
        return paint(Face(eyes=False))
    image = Image.new("RGB", (64, 64), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    if kind == "skin oval":
        draw.ellipse([10, 8, 54, 60], fill=SKIN)
    elif kind == "hair and skin":
        draw.rectangle([2, 0, 62, 64], fill=HAIR_COLOURS[1])
        draw.ellipse([12, 16, 52, 60], fill=SKIN)
    else:
        for _ in range(6):
            x, y, r = rng.uniform(0, 64), rng.uniform(0, 64), rng.uniform(3, 15)
            draw.ellipse([x - r, y - r, x + r, y + r], fill=tuple(rng.randint(0, 255) for _ in range(3)))
    return np.asarray(image)


def test_the_detector_rejects_noise_blank_images_and_faceless_blobs(detector: faces.Detector) -> None:
    """No face in noise, in a white or a black image, in a skin-coloured oval, in hair around skin, in a face
    painted without its eyes, or in random coloured discs."""
    rng = random.Random(0)
    noise = torch.rand(10, 3, 64, 64, generator=torch.Generator().manual_seed(0)) * 2 - 1
    blank = torch.cat([torch.ones(2, 3, 64, 64), -torch.ones(2, 3, 64, 64)])
    blobs = as_batch([_blob(k, rng) for k in ("no eyes", "skin oval", "hair and skin") for _ in range(3)] +
                     [_blob("discs", rng) for _ in range(10)])
    assert not any(faces.detect_all(torch.cat([noise, blank, blobs]), detector))


def test_eye_colours_are_told_apart(detector: faces.Detector, real: faces.RealFaces) -> None:
    """Each painted eye colour comes back nearest to itself among blue, red, green and purple; faces whose eyes
    differ in colour are all heterochromatic against the real faces' thresholds, far more often than the real faces
    (c001-heterochromia's ratio to the real share, above its line 1.05), and faces whose eyes agree are not."""
    palette = list(EYE_COLOURS.values())
    for colour in palette:
        for f in filter(None, detect([Face(left_colour=colour, right_colour=colour)] * 3, detector)):
            for seen in (f.left_colour, f.right_colour):
                assert min(palette, key=lambda c: np.linalg.norm(np.subtract(c, seen))) == colour, (colour, seen)
    mixed = [Face(left_colour=a, right_colour=b) for a in palette for b in palette if a != b]
    got = faces.face_metrics(detect(mixed, detector), real)
    assert got["face_detection_rate"] == 1.0 and got["heterochromia_share"] == 1.0
    assert got["heterochromia_share"] > 1.05 * max(got["real_heterochromia_share"], 0.05)
    same = faces.face_metrics(detect(population(20, seed=3), detector), real)
    assert same["heterochromia_share"] <= 0.35 < got["heterochromia_share"]
    shades = faces.face_metrics(detect([Face(right_colour=(70, 120, 240))] * 4, detector), real)
    assert shades["heterochromia_share"] == 1.0  # two blues about 50 apart: beyond the real spread, under the fallback


def test_thresholds_are_the_real_faces_own_spread() -> None:
    """The eye thresholds are the far-out fence of the real faces' own eye differences, upper quartile plus 3
    interquartile ranges (colour gaps spread evenly over 0-10: 7.5 + 3 x 5 = 22.5), which forces no share of the real
    faces beyond it: the share beyond is that of the real outliers (10 of 400 gaps of 200 here), and none without
    them. Too few real faces fall back to the constants, and metrics.json's record says which."""
    rng = np.random.default_rng(0)
    colour = np.concatenate([np.linspace(0, 10, 390), np.full(10, 200.0)])
    rows = np.column_stack([colour, np.linspace(1, 1.2, 400), rng.uniform(0.3, 0.6, (400, 6)), np.full(400, 1 / 80)])
    limits = faces.thresholds(rows)
    low, high = np.percentile(colour, [25, 75])
    assert limits.eye_colour == pytest.approx(high + 3 * (high - low)) and 20 < limits.eye_colour < 25
    assert limits.eye_area == pytest.approx(1.15 + 3 * 0.1)
    assert limits.real_faces == 400 and "upper quartile + 3 IQR of 400 real faces" in limits.record()["from"]
    assert faces.eye_shares(rows, limits)[0] == pytest.approx(10 / 400)  # the outliers, no more
    assert faces.eye_shares(rows[:390], faces.thresholds(rows[:390]))[0] == 0.0  # no outlier: no share forced
    few = faces.thresholds(rows[:faces.MIN_REAL_FACES - 1])
    assert (few.eye_colour, few.eye_area, few.real_faces) == (faces.EYE_COLOUR, faces.EYE_AREA, 0)
    assert "fallback" in few.record()["from"]
    wider = faces.thresholds(rows * np.array([2, 1, 1, 1, 1, 1, 1, 1, 1]))  # real eyes that differ twice as much
    assert wider.eye_colour == pytest.approx(2 * limits.eye_colour)


def test_the_painted_real_faces_give_thresholds_far_below_the_fallback(real: faces.RealFaces) -> None:
    """On painted faces whose two eyes share a colour, the colour gap the detector reports is a few RGB units: the
    threshold read from them sits far below the fallback 80, so a gap of 40 counts there and would not by the
    constant; the typical geometry's scale is never below one pixel of the face box."""
    limits = real.thresholds()
    assert limits.real_faces == len(real.rows) // 2 >= faces.MIN_REAL_FACES
    assert limits.eye_colour < 40 < faces.EYE_COLOUR
    pixel = float(np.median(real.halves()[0][:, -1]))
    assert all(scale >= pixel for _, scale in limits.typical)


@pytest.mark.parametrize("deformation", [{"eye_y": 31.0}, {"right_eye_shift": 5.0}],
                         ids=["eyes too high", "crooked eyes"])
def test_deformed_faces_are_out_of_proportion(detector: faces.Detector, real: faces.RealFaces,
                                              deformation: dict[str, float]) -> None:
    """Faces with their eyes too high, or one eye lower than the other, stray from the real faces' typical geometry
    well beyond the real faces' own level (c001-poor-proportions' ratio, above its line 1.05); faces painted as the
    real ones are not."""
    deformed = faces.face_metrics(detect(population(16, seed=7, **deformation), detector), real)
    assert deformed["face_detection_rate"] >= 0.9
    assert deformed["proportion_error"] > 1.55 * deformed["real_proportion_error"]  # measured 1.66-2.46 (3 seeds)


def test_faces_painted_as_the_real_ones_keep_their_proportions(detector: faces.Detector, real: faces.RealFaces) -> None:
    """A second set painted as the real faces are scores about the real faces' own proportion error (measured
    1.10 times it with 80 faces, 1.24-1.44 with 16: the ratio's noise at tens of faces)."""
    regular = faces.face_metrics(detect(population(40, seed=2), detector), real)
    assert regular["proportion_error"] < 1.3 * regular["real_proportion_error"]


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    yield tmp_path / "cache"


def test_the_real_faces_are_detected_once_and_kept_with_the_reference(detector: faces.Detector, cache: Path) -> None:
    """The real faces' detections are stored beside the real features (the user cache's real-features folder):
    a second evaluation, even by a new Reference, reads them instead of detecting again, and gets the same
    thresholds."""
    painted = torch.from_numpy(np.stack([paint(f) for f in population(24, seed=11)])).permute(0, 3, 1, 2)
    loads: list[int] = []

    def load() -> torch.Tensor:
        loads.append(1)
        return painted.contiguous()

    real_set = RealSet("painted-24", len(painted), (3, 64, 64), "24 painted faces", load)
    fake = as_batch([paint(replace(f, right_colour=EYE_COLOURS["red"])) for f in population(4, seed=12)])
    first = Reference().face_scores(fake, real_set)
    second = Reference().face_scores(fake, real_set)
    assert len(loads) == 1 and first == second and first["face_detection_rate"] == 1.0
    assert list((cache / "gan-spec" / "real-features").glob("faces-*.safetensors"))


def test_the_face_metrics_write_only_keys_spec_knows() -> None:
    """Every key face_metrics writes into metrics.json is a metric of spec/metrics.py, its reference, or a record
    (face_thresholds): tests/test_registries.py checks the same for a FashionMNIST run only."""
    def face(gap: int) -> faces.Face:
        return faces.Face(1.0, (30, 20, 50, 60), (40, 40, 10, 8), (40 + gap, 40, 10, 8), (30.0, 60.0, 200.0),
                          (32.0, 61.0, 198.0), (55, 55), (48, 62, 14, 6), (55, 78))
    got = faces.face_metrics([face(20), None], faces.RealFaces.of([face(18 + i % 5) for i in range(50)]))
    known = {k for m in METRICS.values() if m.faces_only for k in (m.key, m.reference)}
    assert set(got) == known | {"face_thresholds"} and "face_thresholds" in RECORDS
