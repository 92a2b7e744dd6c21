"""Data loaders on small files the tests make: IDX files, image folders with hostile content, caching."""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from impl import data
from impl.data import DataError, adapt, fashion_mnist, for_experiment, image_folder, read_idx, to_unit


def write_idx(path: Path, array: np.ndarray, magic: int, gz: bool = False) -> Path:
    header = struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in array.shape)
    raw = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(raw) if gz else raw)
    return path


def fake_fashion(folder: Path, n: int = 20, gz: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    suffix = ".gz" if gz else ""
    write_idx(folder / f"train-images-idx3-ubyte{suffix}", rng.integers(0, 256, (n, 28, 28)), 2051, gz)
    write_idx(folder / f"train-labels-idx1-ubyte{suffix}", rng.integers(0, 10, (n,)), 2049, gz)
    return folder


@pytest.mark.parametrize("gz", [True, False])
def test_idx_round_trip(tmp_path: Path, gz: bool) -> None:
    ds = fashion_mnist(fake_fashion(tmp_path, 20, gz))
    assert ds.images.shape == (20, 1, 28, 28) and ds.images.dtype == torch.uint8
    assert ds.labels.shape == (20,) and int(ds.labels.max()) < 10


def test_torchvision_layout_is_found(tmp_path: Path) -> None:
    fake_fashion(tmp_path / "FashionMNIST" / "raw")
    assert len(fashion_mnist(tmp_path).images) == 20


def test_wrong_magic(tmp_path: Path) -> None:
    folder = fake_fashion(tmp_path)
    write_idx(folder / "train-images-idx3-ubyte.gz", np.zeros((4, 28, 28)), 2049, gz=True)
    with pytest.raises(DataError, match=r"magic 2049, expected 2051"):
        fashion_mnist(folder)


def test_truncated_idx(tmp_path: Path) -> None:
    path = write_idx(tmp_path / "x-idx3-ubyte", np.zeros((10, 28, 28)), 2051)
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DataError, match=r"truncated or padded .* re-download it"):
        read_idx(path, 2051)


def test_corrupt_gzip(tmp_path: Path) -> None:
    folder = fake_fashion(tmp_path)
    (folder / "train-images-idx3-ubyte.gz").write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(DataError, match=r"cannot read"):
        fashion_mnist(folder)


def test_missing_labels_and_missing_set(tmp_path: Path) -> None:
    folder = fake_fashion(tmp_path / "a")
    (folder / "train-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match=r"no train-labels-idx1-ubyte\[\.gz\]; add the labels file"):
        fashion_mnist(folder)
    with pytest.raises(DataError, match=r"FashionMNIST not found in .*apt-get install dataset-fashion-mnist"):
        fashion_mnist(tmp_path / "empty")


def test_real_fashion_mnist_when_installed() -> None:
    if not Path(data.FASHION_DIRS[0]).is_dir():
        pytest.skip("Debian's dataset-fashion-mnist is not installed")
    ds = fashion_mnist()
    assert ds.images.shape == (60000, 1, 28, 28) and torch.bincount(ds.labels).tolist() == [6000] * 10


def hostile_folder(folder: Path) -> Path:
    """Every kind of file a user's image folder may hold."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    Image.fromarray(rng.integers(0, 256, (96, 96, 3), dtype=np.uint8)).save(folder / "rgb.jpg")
    Image.fromarray(rng.integers(0, 256, (40, 50), dtype=np.uint8)).save(folder / "grey.png")
    Image.fromarray(rng.integers(0, 256, (64, 64, 4), dtype=np.uint8), "RGBA").save(folder / "rgba.png")
    Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).convert("P").save(folder / "palette.png")
    Image.fromarray(rng.integers(0, 65535, (64, 64), dtype=np.uint16)).save(folder / "sixteen.png")
    (folder / "sub").mkdir(exist_ok=True)
    Image.fromarray(rng.integers(0, 256, (70, 70, 3), dtype=np.uint8)).save(folder / "sub" / "nested.jpeg")
    good = (folder / "rgb.jpg").read_bytes()
    (folder / "truncated.jpg").write_bytes(good[: len(good) // 3])
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "notes.txt").write_text("not an image")
    (folder / "fake.png").write_text("not a png either")
    return folder


def test_hostile_folder_keeps_good_images_and_counts_the_rest(tmp_path: Path) -> None:
    ds = image_folder(hostile_folder(tmp_path / "faces"), size=64, channels=3, progress=False)
    assert ds.images.shape == (6, 3, 64, 64) and ds.images.dtype == torch.uint8  # 16-bit, grey, RGBA, palette kept
    # truncated.jpg, empty.jpg and fake.png are skipped and counted; notes.txt is not an image file at all
    assert ds.skipped == {"not a readable image (truncated, empty or corrupt)": 3}


def test_sixteen_bit_png_is_scaled_not_clipped(tmp_path: Path) -> None:
    folder = tmp_path / "s"
    folder.mkdir()
    ramp = np.tile(np.linspace(0, 65535, 32, dtype=np.uint16), (32, 1))
    Image.fromarray(ramp).save(folder / "ramp.png")
    ds = image_folder(folder, size=32, channels=1, progress=False)
    row = ds.images[0, 0, 0].tolist()
    assert row[0] == 0 and row[-1] == 255 and row == sorted(row)


def test_huge_image_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = hostile_folder(tmp_path / "f")
    monkeypatch.setattr(data, "MAX_PIXELS", 90 * 90)
    ds = image_folder(folder, size=64, progress=False)
    assert ds.skipped.get("too large") == 2  # rgb.jpg and its truncated copy say 96x96 in their headers


def test_unreadable_file_is_counted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = hostile_folder(tmp_path / "f")
    real_open = Image.open

    def deny(path, *args, **kwargs):  # root reads any file, so permission errors are simulated
        if str(path).endswith("grey.png"):
            raise PermissionError(13, "Permission denied")
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(Image, "open", deny)
    ds = image_folder(folder, size=64, progress=False)
    assert ds.skipped.get("unreadable (permission denied)") == 1


def test_empty_and_imageless_folders(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"no image files"):
        image_folder(tmp_path / "empty", 64)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "a.jpg").write_bytes(b"")
    (bad / "b.png").write_text("x")
    with pytest.raises(DataError, match=r"none of the 2 image files could be used \(2 not a readable image"):
        image_folder(bad, 64, progress=False)
    with pytest.raises(DataError, match=r"no such folder"):
        image_folder(tmp_path / "missing", 64)


def test_decoded_folder_is_cached_and_invalidated(tmp_path: Path) -> None:
    folder = hostile_folder(tmp_path / "f")
    first = image_folder(folder, 64, progress=False)
    second = image_folder(folder, 64, progress=False)
    assert "(cached)" in second.description and torch.equal(first.images, second.images)
    Image.new("RGB", (64, 64), "red").save(folder / "new.png")
    third = image_folder(folder, 64, progress=False)
    assert "(cached)" not in third.description and len(third.images) == len(first.images) + 1
    cache = next(folder.glob(".gan-spec-*.pt"))
    cache.write_bytes(b"garbage")  # a damaged cache is rebuilt, not trusted
    assert len(image_folder(folder, 64, progress=False).images) == len(third.images)


def test_read_only_folder_caches_elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = hostile_folder(tmp_path / "f")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    image_folder(folder, 64, progress=False)
    assert list((tmp_path / "cache" / "gan-spec").glob("*.pt")) and not list(folder.glob(".gan-spec-*"))


def test_adapt_grey_28_to_rgb_64_and_range() -> None:
    grey = torch.randint(0, 256, (5, 1, 28, 28), dtype=torch.uint8)
    rgb = adapt(grey, (3, 64, 64))
    assert rgb.shape == (5, 3, 64, 64) and rgb.dtype == torch.uint8
    assert torch.equal(rgb[:, 0], rgb[:, 2])
    unit = to_unit(torch.tensor([0, 255], dtype=torch.uint8))
    assert unit.tolist() == [-1.0, 1.0]


def test_data_argument_forms(tmp_path: Path) -> None:
    fake_fashion(tmp_path / "fm")
    assert for_experiment("fashion-mnist", str(tmp_path / "fm"), (1, 28, 28), "how").images.shape[1:] == (1, 28, 28)
    hostile_folder(tmp_path / "img")
    assert for_experiment("anime-faces", str(tmp_path / "img"), (3, 64, 64), "how",
                          progress=False).images.shape[1:] == (3, 64, 64)
    with pytest.raises(DataError, match=r"--data .*nope: no such file or folder"):
        for_experiment("anime-faces", str(tmp_path / "nope"), (3, 64, 64), "how")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(blob=st.binary(max_size=300), gz=st.booleans())
def test_random_bytes_give_only_data_errors(tmp_path: Path, blob: bytes, gz: bool) -> None:
    path = tmp_path / ("x.gz" if gz else "x")
    path.write_bytes(gzip.compress(blob) if gz and blob[:1] != b"!" else blob)
    try:
        read_idx(path, 2051)
    except DataError as exc:
        assert "\n" not in str(exc)
    folder = tmp_path / "imgs"
    folder.mkdir(exist_ok=True)
    (folder / "a.png").write_bytes(blob)
    try:
        image_folder(folder, 16, progress=False)
    except DataError as exc:
        assert "\n" not in str(exc)
