"""Data loaders on small files the tests make: IDX files, image folders with hostile content, caching."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from impl.data import load as data
from impl.data.load import DataError, adapt, fashion_mnist, for_experiment, image_folder, read_idx, to_unit
from tests.helpers import fake_fashion, hostile_folder, png_header, write_idx


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


def test_adapt_grey_28_to_rgb_64_and_range() -> None:
    grey = torch.randint(0, 256, (5, 1, 28, 28), dtype=torch.uint8)
    rgb = adapt(grey, (3, 64, 64))
    assert rgb.shape == (5, 3, 64, 64) and rgb.dtype == torch.uint8
    assert torch.equal(rgb[:, 0], rgb[:, 2])
    assert torch.equal(adapt(grey, (3, 64, 64), chunk=2), rgb)  # chunks change no pixel
    colour = torch.randint(0, 256, (5, 3, 40, 40), dtype=torch.uint8)
    assert torch.equal(adapt(colour, (1, 28, 28), chunk=3), adapt(colour, (1, 28, 28)))
    unit = to_unit(torch.tensor([0, 255], dtype=torch.uint8))
    assert unit.tolist() == [-1.0, 1.0]


ADAPT_PEAK = """
import resource, sys, torch
from impl.data.load import adapt
grey = torch.randint(0, 256, (8192, 1, 28, 28), dtype=torch.uint8)
adapt(grey[:8], (3, 64, 64))  # the resize's own buffers, before the baseline
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
out = adapt(grey, (3, 64, 64), chunk=512)
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024 / out.numel())
"""


@pytest.mark.slow  # a fresh interpreter: 5-9 s on 2 busy cores
def test_adapt_never_holds_the_whole_set_as_floats() -> None:
    """8,192 grey images to 3x64x64 in chunks of 512: the peak grows by the uint8 result (100 MB) and a chunk's floats,
    not by the set as floats (4 bytes an element, twice over when rounded: 800 MB)."""
    proc = subprocess.run([sys.executable, "-c", ADAPT_PEAK], capture_output=True, text=True, timeout=120,
                          env=os.environ | {"OMP_NUM_THREADS": "1"}, cwd=Path(__file__).resolve().parent.parent)
    assert proc.returncode == 0, proc.stderr
    # bytes of peak growth per output byte (the uint8 result alone is 1): 1.3 measured, 16 with the set as floats
    assert float(proc.stdout) < 2


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


# ---------------------------------------------------------------- hostile folders, part two (issue 13)

def test_decompression_bombs_are_counted_not_raised(tmp_path: Path) -> None:
    """PIL warns above Image.MAX_IMAGE_PIXELS (89 MP) and raises DecompressionBombError above twice that; both
    headers are a counted skip, no warning escapes, and PIL's own limit is left as it was."""
    folder = tmp_path / "f"
    folder.mkdir()
    limit = Image.MAX_IMAGE_PIXELS
    (folder / "warns.png").write_bytes(png_header(10_000, 10_000))  # 100 MP: DecompressionBombWarning
    (folder / "raises.png").write_bytes(png_header(20_000, 20_000))  # 400 MP: DecompressionBombError
    Image.new("RGB", (8, 8), "red").save(folder / "good.png")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = image_folder(folder, 8, progress=False)
    assert len(ds.images) == 1 and ds.skipped == {"too large": 2}
    assert not [w for w in caught if issubclass(w.category, Image.DecompressionBombWarning)]
    assert Image.MAX_IMAGE_PIXELS == limit


def test_file_names_that_are_not_utf8(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """Linux names are bytes: a folder, a subfolder and a file whose names are not UTF-8 are read, cached and
    described in text that prints."""
    root = tmp_path / os.fsdecode(b"faces-\xff")
    sub = root / os.fsdecode(b"sub-\xfe\xfd")
    sub.mkdir(parents=True)
    Image.new("RGB", (8, 8), "red").save(root / os.fsdecode(b"\xe9t\xe9.png"))
    Image.new("RGB", (8, 8), "blue").save(sub / os.fsdecode(b"\x80.png"))
    first = image_folder(root, 8, progress=False)
    second = image_folder(root, 8, progress=False)
    assert len(first.images) == 2 and "(cached)" in second.description
    print(first.description, second.description)  # pytest's capture encodes as UTF-8, strictly
    assert "images from" in capsys.readouterr().out
    first.description.encode("utf-8")


def test_float_images_are_scaled_by_their_range(tmp_path: Path) -> None:
    """32-bit float (mode F) TIFFs: values in [0, 1] and in [0, 1000] both span black to white, not black."""
    folder = tmp_path / "f"
    folder.mkdir()
    ramp = np.tile(np.linspace(0, 1, 16, dtype=np.float32), (16, 1))
    Image.fromarray(ramp, "F").save(folder / "unit.tif")
    Image.fromarray(ramp * 1000, "F").save(folder / "wide.tif")
    nan = ramp.copy()
    nan[3, 3] = np.nan
    Image.fromarray(nan, "F").save(folder / "nan.tif")
    ds = image_folder(folder, 16, channels=1, progress=False)
    assert len(ds.images) == 2 and ds.skipped == {"non-finite pixel values (NaN or infinity)": 1}
    for image in ds.images:
        row = image[0, 0].tolist()
        assert row[0] == 0 and row[-1] == 255 and row == sorted(row)


def test_empty_data_argument_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture) -> None:
    """--data "" would be the current folder, runs/ and all; it is refused."""
    with pytest.raises(DataError, match=r"^--data '': empty; pass a folder of images"):
        for_experiment("anime-faces", "", (3, 64, 64), "how")
    from impl import train

    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_:  # the command line refuses it first, as a usage error
        train.main(["r004-mlp", "--data", "", "--steps", "1", "--quiet"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.count("\n") == 1
    assert err.startswith("error: python -m impl.train: argument --data: must not be empty")
    assert not any(tmp_path.iterdir())
