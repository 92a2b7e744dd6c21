"""impl.sample: grids, folders of numbered PNGs and .npz arrays for other tools, made batch by batch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from impl import sample, train
from impl.measure import sampling
from impl.runs.checkpoint import load_generator


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sample") / "run"
    assert train.main(["r004-conv", "--data", "synthetic", "--steps", "3", "--batch-size", "16", "--out", str(out),
                       "--quiet"]) == 0
    return out


def test_folder_and_npz_hold_the_same_images_as_the_generator(run: Path, tmp_path: Path) -> None:
    folder, npz = tmp_path / "fakes", tmp_path / "fakes.npz"
    assert sample.main([str(run), "--n", "23", "--seed", "5", "--format", "folder", "--out", str(folder),
                        "--batch", "4", "--quiet"]) == 0
    assert sample.main([str(run), "--n", "23", "--seed", "5", "--format", "npz", "--out", str(npz), "--batch", "7",
                        "--quiet"]) == 0
    names = sorted(p.name for p in folder.iterdir())
    assert names == [f"{i:06d}.png" for i in range(23)]
    array = np.load(npz)["images"]
    assert array.shape == (23, 28, 28, 1) and array.dtype == np.uint8
    pngs = np.stack([np.asarray(Image.open(folder / name)) for name in names])
    assert np.array_equal(pngs, array[..., 0])  # batch size changes nothing: the same noise stream
    g, _ = load_generator(run)
    expected = torch.cat(list(sampling.generate(g, 23, seed=5, batch=23)))
    assert np.abs(sampling.to_uint8(expected).astype(int) - array.astype(int)).max() <= 1


def test_generation_is_batched(run: Path) -> None:
    g, _ = load_generator(run)
    sizes = [len(b) for b in sampling.generate(g, 1001, seed=0, batch=300)]
    assert sizes == [300, 300, 300, 100, 1]  # never more than --batch, never across a noise chunk
    assert sampling.batch_count(1001, 300) == len(sizes)  # what a progress count of the batches expects
    assert [sampling.batch_count(n) for n in (1, 500, 501, 2000, 2001)] == [1, 1, 2, 4, 5]


@pytest.mark.parametrize("argv,message", [
    (["--n", "2000"], "a grid holds at most 1024 images; use --format folder or npz"),
    (["--format", "folder"], "--format folder needs --out"),
    (["--format", "npz", "--out", "x.png"], "an npz file's name ends in .npz"),
])
def test_outputs_that_cannot_work_are_refused_first(run: Path, tmp_path: Path, argv: list[str], message: str,
                                                    capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
                                                    ) -> None:
    monkeypatch.chdir(tmp_path)
    assert sample.main([str(run), *argv, "--quiet"]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


def test_a_folder_that_holds_files_is_not_written_into(run: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "keep.txt").write_text("x")
    assert sample.main([str(run), "--n", "3", "--format", "folder", "--out", str(folder), "--quiet"]) == 2
    assert "exists and is not an empty folder" in capsys.readouterr().err
    assert sorted(p.name for p in folder.iterdir()) == ["keep.txt"]
