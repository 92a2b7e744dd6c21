"""Metrics on tiny sets whose answer is known, the classifier cache, and the evaluate / latent commands."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from impl import evaluate, latent, metrics, train
from impl.data import DataError, fashion_mnist
from tests.test_data import write_idx
from tests.test_report import tile_layout


def fake_fashion_split(folder: Path, n: int = 256) -> Path:
    """A tiny FashionMNIST look-alike whose class decides the image (so a classifier can learn it)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for prefix in ("train", "t10k"):
        labels = rng.integers(0, 10, n)
        images = np.zeros((n, 28, 28), dtype=np.uint8)
        for i, c in enumerate(labels):
            images[i, 2 * c:2 * c + 8, 4:24] = 200 + rng.integers(0, 50)
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", images, 2051, gz=True)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", labels, 2049, gz=True)
    return folder


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "gan-spec"


def images(n: int = 64, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_fid_of_identical_sets_is_zero_and_grows_with_a_shift() -> None:
    torch.manual_seed(0)
    extractor = metrics.FeatureExtractor(metrics.FashionClassifier().eval(), 128)
    real = images()
    same = metrics.fid_kid(real, real.clone(), extractor)
    shifted = metrics.fid_kid(real, (real * 0.5 - 0.5), extractor)
    assert abs(same["fid"]) < 1e-3 and shifted["fid"] > 1e-3 and shifted["kid"] > same["kid"]


def test_collapsed_set_covers_one_class_and_is_self_similar() -> None:
    torch.manual_seed(0)
    classifier = metrics.FashionClassifier().eval()
    collapsed = images(1).repeat(100, 1, 1, 1)
    cov = metrics.coverage(collapsed, classifier)
    assert cov["classes_covered"] == 1 and cov["kl_to_uniform"] == pytest.approx(math.log(10))
    assert metrics.ms_ssim_diversity(collapsed) == pytest.approx(1.0, abs=1e-4)
    assert metrics.ms_ssim_diversity(images(100)) < 0.5
    assert metrics.ms_ssim_diversity(torch.rand(20, 3, 64, 64) * 2 - 1) < 0.5


def test_classifier_is_cached_and_retrained_when_missing_or_damaged(tmp_path: Path, cache: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    folder = fake_fashion_split(tmp_path / "fm")
    model, acc = metrics.load_classifier(folder, progress=False)
    assert acc > 0.9, "the tiny set is separable; the classifier must learn it"
    files = list(cache.glob("fashion-classifier-*.pt"))
    assert len(files) == 1
    monkeypatch.setattr(metrics, "train_classifier", lambda *a, **k: pytest.fail("retrained despite the cache"))
    again, acc2 = metrics.load_classifier(folder, progress=False)
    assert acc2 == acc and all(torch.equal(a, b) for a, b in zip(model.state_dict().values(),
                                                                  again.state_dict().values()))
    monkeypatch.undo()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    files[0].write_bytes(b"damaged")
    metrics.load_classifier(folder, progress=False)
    assert torch.load(files[0], weights_only=True)["accuracy"] == acc
    other = fake_fashion_split(tmp_path / "fm2", n=128)  # other data: another key, another file
    metrics.load_classifier(other, progress=False)
    assert len(list(cache.glob("fashion-classifier-*.pt"))) == 2


def test_inception_weights_are_loaded_from_a_file(tmp_path: Path) -> None:
    from torchvision.models import inception_v3

    torch.manual_seed(0)
    path = tmp_path / "inception.pth"
    torch.save(inception_v3(weights=None, aux_logits=True, init_weights=False).state_dict(), path)
    scores = metrics.fid_kid(images(6), images(6, seed=1), metrics.inception(path))
    assert math.isfinite(scores["fid"]) and scores["fid"] > 0
    (tmp_path / "bad.pth").write_bytes(b"not weights")
    with pytest.raises(DataError, match=r"not a torchvision inception_v3 state dict"):
        metrics.inception(tmp_path / "bad.pth")


@pytest.fixture
def fashion_run(tmp_path: Path, cache: Path) -> tuple[Path, Path]:
    folder = fake_fashion_split(tmp_path / "fm")
    run = tmp_path / "run"
    assert train.main(["r004-mlp", "--data", str(folder), "--steps", "6", "--batch-size", "32", "--out", str(run),
                       "--quiet"]) == 0
    return run, folder


def test_evaluate_writes_metrics(fashion_run: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    run, folder = fashion_run
    monkeypatch.setattr(evaluate, "fashion_mnist", lambda f, split: fashion_mnist(folder, split))
    monkeypatch.setattr(metrics, "fashion_mnist", lambda f, split: fashion_mnist(folder, split))
    assert evaluate.main([str(run), "--n", "64", "--quiet"]) == 0
    result = json.loads((run / "metrics.json").read_text())
    for key in ("domain_fid", "domain_kid", "classes_covered", "kl_to_uniform", "diversity_ms_ssim",
                "real_diversity_ms_ssim", "classifier_test_accuracy"):
        assert math.isfinite(result[key]), key
    assert result["samples"] == 64 and 1 <= result["classes_covered"] <= 10


def test_latent_study_grids_and_table(fashion_run: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    run, folder = fashion_run
    monkeypatch.setattr(metrics, "fashion_mnist", lambda f, split: fashion_mnist(folder, split))
    assert latent.main([str(run), "--quiet"]) == 0
    result = json.loads((run / "latent/latent.json").read_text())
    assert [(r["position"], r["value"]) for r in result["rows"][:5]] == [(p, 1.0) for p in (0, 20, 40, 60, 80)]
    assert len(result["rows"]) == 15 and all("class_flips" in r for r in result["rows"])
    for value in ("1", "10", "100"):  # 28-pixel images enlarged 3x, between grey gaps, labelled
        with Image.open(run / f"latent/value_{value}.png") as grid:
            assert tile_layout(grid)[:2] == ([84] * 5, [84] * 8)
    with Image.open(run / "latent/base.png") as grid:
        assert tile_layout(grid)[:2] == ([84], [84] * 8)
    assert latent.main([str(run), "--positions", "100", "--quiet"]) == 2
