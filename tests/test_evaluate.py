"""impl.evaluate and domain_scores end to end on a tiny FashionMNIST look-alike: the keys of metrics.json, the real
side prepared once and cached, refused counts, no NaN written; and the latent study."""

from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from impl import evaluate, latent, train
from impl.data.load import DataError, fashion_mnist, to_unit
from impl.measure import evaluation, features, metrics, reference
from tests.helpers import SmallInception, fake_fashion_split, tile_layout

DOMAIN_KEYS = ("domain_fid", "domain_kid", "domain_kid_std", "domain_fid_floor", "domain_kid_floor", "precision",
               "recall", "density", "coverage", "classes_covered", "kl_to_uniform", "mean_confidence",
               "confident_share", "real_mean_confidence", "real_confident_share", "real_diversity_ms_ssim",
               "real_sharpness", "classifier_test_accuracy")
RUN_KEYS = ("samples", "evaluation_seconds", "diversity_ms_ssim", "sharpness", "structure_ms_ssim", "duplicate_share")


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty cache folder for this test (the in-memory side lives in each command's own Reference)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "gan-spec"


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two short runs trained once for the module: on the FashionMNIST look-alike, and on synthetic blobs."""
    root = tmp_path_factory.mktemp("runs")
    folder = fake_fashion_split(root / "fm")
    assert train.main(["r004-mlp", "--data", str(folder), "--steps", "6", "--batch-size", "32", "--out",
                       str(root / "fashion"), "--quiet"]) == 0
    assert train.main(["r004-mlp", "--data", "synthetic", "--steps", "2", "--out", str(root / "synthetic"),
                       "--quiet"]) == 0
    return {"folder": folder, "fashion": root / "fashion", "synthetic": root / "synthetic"}


def fresh(run: Path, tmp_path: Path) -> Path:
    """A copy of a trained run, so that each test starts without metrics.json."""
    return Path(shutil.copytree(run, tmp_path / run.name))


@pytest.fixture
def fashion_run(trained: dict[str, Path], tmp_path: Path, cache: Path) -> tuple[Path, Path]:
    return fresh(trained["fashion"], tmp_path), trained["folder"]


def test_evaluate_writes_every_metric_and_prepares_the_real_side_once(fashion_run: tuple[Path, Path], cache: Path,
                                                                       capsys: pytest.CaptureFixture) -> None:
    run, folder = fashion_run
    assert evaluate.main([str(run), "--n", "64", "--fashion", str(folder)]) == 0
    first = json.loads((run / "metrics.json").read_text())
    err = capsys.readouterr().err
    assert "preparing fashion-classifier features of the FashionMNIST test split (256 images) once" in err
    # the long parts say how far they are, with the time elapsed
    generating = r"^evaluate: generating 64 images \| 1/1 batches \(100%\) \| \d+ s elapsed \| done$"
    assert re.search(generating, err, re.M), err
    for key in RUN_KEYS + DOMAIN_KEYS:
        assert isinstance(first[key], (int, float)) and math.isfinite(first[key]), key
    assert first["samples"] == 64 and first["real_samples"] == 256 and 1 <= first["classes_covered"] <= 10
    assert first["evaluated"] and first["classifier_sha256"] == features.classifier.SHIPPED_SHA256
    assert 0 <= first["precision"] <= 1 and 0 <= first["coverage"] <= 1 and 0 <= first["confident_share"] <= 1
    cached = list((cache / "real-features").glob("*.safetensors"))
    assert len(cached) == 1
    # the next command has its own Reference: the disk cache serves
    assert evaluate.main([str(run), "--n", "64", "--fashion", str(folder)]) == 0
    assert "preparing" not in capsys.readouterr().err
    second = json.loads((run / "metrics.json").read_text())
    assert {k: v for k, v in second.items() if k not in ("evaluated", "evaluation_seconds")} == \
        {k: v for k, v in first.items() if k not in ("evaluated", "evaluation_seconds")}
    assert evaluate.main([str(run), "--n", "64", "--n-real", "40", "--fashion", str(folder), "--quiet"]) == 0
    assert len(list((cache / "real-features").glob("*.safetensors"))) == 2  # another count: another entry
    cached[0].write_bytes(b"damaged")
    assert evaluate.main([str(run), "--n", "64", "--fashion", str(folder), "--quiet"]) == 0
    assert json.loads((run / "metrics.json").read_text())["domain_fid_floor"] == first["domain_fid_floor"]


def test_evaluate_measures_the_checkpoint_named(fashion_run: tuple[Path, Path], capsys: pytest.CaptureFixture) -> None:
    """--checkpoint picks a kept checkpoint (as impl.sample's does); metrics.json names it and its step."""
    run, folder = fashion_run
    kept = run / "checkpoints" / "epoch_001.pt"
    state = torch.load(run / "checkpoints" / "last.pt", weights_only=False)
    torch.save(state | {"step": 3}, kept)
    assert evaluate.main([str(run), "--n", "64", "--fashion", str(folder), "--checkpoint", kept.name, "--quiet"]) == 0
    saved = json.loads((run / "metrics.json").read_text())
    assert (saved["checkpoint"], saved["step"]) == ("epoch_001.pt", 3)
    assert evaluate.main([str(run), "--n", "64", "--fashion", str(folder), "--checkpoint", "epoch_009.pt"]) == 2
    assert "epoch_009.pt" in capsys.readouterr().err


@pytest.mark.parametrize("n", [5, 9])
def test_too_few_images_are_refused_before_anything_is_written(fashion_run: tuple[Path, Path], n: int,
                                                               capsys: pytest.CaptureFixture) -> None:
    run, folder = fashion_run
    assert evaluate.main([str(run), "--n", str(n), "--fashion", str(folder)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: --n: {n} images, too few for FID, KID and the neighbour scores (they need at least 10; " \
                  "2,000 or more give stable numbers); evaluate more images"
    assert not (run / "metrics.json").exists()


def test_a_generator_that_makes_nan_is_refused(fashion_run: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture) -> None:
    run, folder = fashion_run
    g, state = evaluation.load_generator(run)
    next(g.parameters()).data.fill_(math.nan)
    monkeypatch.setattr(evaluation, "load_generator", lambda run, checkpoint=None: (g, state))
    assert evaluate.main([str(run), "--n", "20", "--fashion", str(folder)]) == 2
    assert "the generator made 20 of 20 images with NaN or infinite pixels" in capsys.readouterr().err
    assert not (run / "metrics.json").exists()


def test_a_metric_that_is_not_finite_is_named_and_not_written() -> None:
    with pytest.raises(DataError, match=r"^domain_fid, sharpness: not finite"):
        evaluation.check_finite({"domain_fid": math.nan, "sharpness": math.inf, "samples": 3, "real_set": "x"})


def test_inception_scores_are_written_beside_the_domain_ones(fashion_run: tuple[Path, Path],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    run, folder = fashion_run
    monkeypatch.setattr(features, "load_inception", lambda path: (SmallInception(), "f" * 64))
    assert evaluate.main([str(run), "--n", "40", "--fashion", str(folder), "--inception-weights", "w.pth",
                          "--quiet"]) == 0
    result = json.loads((run / "metrics.json").read_text())
    for key in ("inception_fid", "inception_kid", "inception_fid_floor", "inception_kid_floor", "inception_score",
                "real_inception_score", "inception_precision", "inception_recall", "inception_density",
                "inception_coverage", "domain_fid"):
        assert math.isfinite(result[key]), key
    assert result["inception_weights_sha256"] == "f" * 64 and result["inception_fid"] > result["inception_fid_floor"]


def test_inception_scores_against_a_folder_of_real_images(trained: dict[str, Path], tmp_path: Path, cache: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    run, faces = fresh(trained["synthetic"], tmp_path), tmp_path / "faces"
    faces.mkdir()
    rng = np.random.default_rng(0)
    for i in range(30):
        Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(faces / f"{i:02d}.png")
    monkeypatch.setattr(features, "load_inception", lambda path: (SmallInception(), "e" * 64))
    assert evaluate.main([str(run), "--n", "20", "--real", str(faces), "--n-real", "24", "--inception-weights",
                          "w.pth", "--quiet"]) == 0
    result = json.loads((run / "metrics.json").read_text())
    assert result["real_set"] == f"{faces} (24 images)" and result["real_samples"] == 24
    assert math.isfinite(result["inception_fid"]) and math.isfinite(result["real_sharpness"])
    assert "domain_fid" not in result


def test_a_missing_inception_file_is_refused_before_generating(fashion_run: tuple[Path, Path], tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture) -> None:
    run, folder = fashion_run
    monkeypatch.setattr(evaluation, "generate", lambda *a, **k: pytest.fail("generated before checking the file"))
    assert evaluate.main([str(run), "--fashion", str(folder), "--inception-weights", str(tmp_path / "none.pth")]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith(f"error: {tmp_path / 'none.pth'}: no such file; --inception-weights expects torch-fidelity")
    assert not (run / "metrics.json").exists()


def test_inception_without_real_images_is_refused(trained: dict[str, Path], tmp_path: Path, cache: Path,
                                                  capsys: pytest.CaptureFixture) -> None:
    run = fresh(trained["synthetic"], tmp_path)
    assert evaluate.main([str(run), "--n", "20", "--inception-weights", "w.pth"]) == 2
    assert capsys.readouterr().err.strip().startswith("error: Inception FID needs real images: pass --real FOLDER")
    assert evaluate.main([str(run), "--n", "20", "--quiet"]) == 0  # no real set: diversity and sharpness only
    assert set(json.loads((run / "metrics.json").read_text())) == {"experiment", "step", "checkpoint", "evaluated",
                                                                    *RUN_KEYS}


def test_domain_scores_rank_real_images_above_noise(tmp_path: Path, cache: Path) -> None:
    folder = fake_fashion_split(tmp_path / "fm")
    real = to_unit(fashion_mnist(folder, "train").images[:100])  # the same kind of images, not the same ones
    noise = torch.rand(100, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1
    ref = reference.Reference()
    good = reference.domain_scores(real, ref, fashion_folder=folder)
    bad = reference.domain_scores(noise, ref, fashion_folder=folder)
    assert all(isinstance(v, (int, float)) for v in good.values())
    assert good["domain_fid"] < bad["domain_fid"] and good["precision"] > bad["precision"] + 0.5
    assert good["coverage"] > bad["coverage"] and good["domain_fid_floor"] == bad["domain_fid_floor"]


def test_latent_study_grids_and_table(fashion_run: tuple[Path, Path]) -> None:
    run, _ = fashion_run
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


def test_neighbour_scores_from_the_cache_equal_a_direct_computation(tmp_path: Path, cache: Path) -> None:
    folder = fake_fashion_split(tmp_path / "fm")
    fake, real = (to_unit(fashion_mnist(folder, split).images[:50]) for split in ("train", "test"))
    net = features.DomainNet()
    want = metrics.prdc(features.extract(net, real)["features"], features.extract(net, fake)["features"])
    got = reference.domain_scores(fake, reference.Reference(), fashion_folder=folder, n_real=50)  # cached radii
    assert {k: got[k] for k in want} == pytest.approx(want, abs=1e-9)
    assert want["density"] > 0 and 0 < want["coverage"] <= 1
