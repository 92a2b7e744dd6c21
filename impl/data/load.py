"""Training data as one uint8 tensor [N, C, H, W]: FashionMNIST IDX files, a folder of images, or synthetic.

The whole set is decoded once and kept as uint8 (71,314 64x64 RGB faces are 876 MB; FashionMNIST 47 MB), so a
batch is an index into a tensor that can live on the GPU; `to_unit` turns it into floats in [-1, 1].
Image folders skip unreadable files and report how many; a decoded folder is cached beside it (or in the user
cache) keyed by the file list and the size, so the second start takes seconds.
"""

from __future__ import annotations

import gzip
import os
import warnings
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from impl.core.errors import DataError
from impl.core.files import read_regular
from impl.data.folders import RUN_FILES, cache_path, image_files, printable, read_cache, write_cache
from impl.runs.source import DataKind, DataSource

FASHION_DIRS = ("/usr/share/datasets/fashion-mnist",)
FACES_DIRS = ("faces", "data/faces")
MAX_PIXELS = 64_000_000  # larger files are refused rather than decoded (decompression bombs)
IDX_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
             "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


@dataclass
class Dataset:
    images: torch.Tensor  # uint8 [N, C, H, W]
    labels: torch.Tensor | None
    description: str  # for config.json and the progress output
    skipped: dict[str, int] | None = None  # image folders: reason -> count of files left out
    source: DataSource | None = None  # what it is and where it came from, typed (for_experiment sets it)


# ---------------------------------------------------------------- FashionMNIST (IDX files)

def read_idx(path: Path, magic: int) -> np.ndarray:
    """An IDX file (raw or .gz) as a uint8 array, after checking its magic number and its length."""
    try:
        raw = read_regular(path)  # a FIFO or a device is one line (impl.core.files), never a wait
        raw = gzip.decompress(raw) if path.suffix == ".gz" else raw
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise DataError(f"{path}: cannot read ({exc}); re-download or reinstall the FashionMNIST files") from None
    if len(raw) < 8 or int.from_bytes(raw[:4], "big") != magic:
        found = int.from_bytes(raw[:4], "big") if len(raw) >= 4 else None
        raise DataError(f"{path}: not an IDX file of the expected kind (magic {found}, expected {magic}); "
                        "point --data at the FashionMNIST IDX files")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    start, count = 4 + 4 * ndim, int(np.prod(dims))
    if len(raw) != start + count:
        raise DataError(f"{path}: truncated or padded ({len(raw) - start} data bytes for shape {dims}, "
                        f"expected {count}); re-download it")
    return np.frombuffer(raw, dtype=np.uint8, offset=start).reshape(dims)


def _find_idx(folder: Path, stem: str) -> Path | None:
    for sub in ("", "FashionMNIST/raw", "raw"):
        for name in (stem, stem + ".gz"):
            if (folder / sub / name).is_file():
                return folder / sub / name
    return None


def is_idx_folder(folder: Path) -> bool:
    return _find_idx(folder, IDX_FILES["train"][0]) is not None


def fashion_mnist(folder: Path | None = None, split: str = "train", download: bool = False) -> Dataset:
    """FashionMNIST from `folder`, else the Debian package's folder, else (if allowed) torchvision's download."""
    candidates = [Path(folder)] if folder else [Path(d) for d in FASHION_DIRS]
    for root in candidates:
        images_path = _find_idx(root, IDX_FILES[split][0])
        if images_path is None:
            continue
        labels_path = _find_idx(root, IDX_FILES[split][1])
        if labels_path is None:
            raise DataError(f"{root}: has {images_path.name} but no {IDX_FILES[split][1]}[.gz]; add the labels file")
        images, labels = read_idx(images_path, 2051), read_idx(labels_path, 2049)
        if len(images) != len(labels):
            raise DataError(f"{root}: {len(images)} images but {len(labels)} labels; the files do not belong together")
        return Dataset(torch.from_numpy(images.copy()).unsqueeze(1), torch.from_numpy(labels.astype(np.int64)),
                       f"FashionMNIST {split} ({len(images):,} images) from {images_path.parent}")
    if download and folder:
        try:
            from torchvision.datasets import FashionMNIST

            FashionMNIST(str(folder), train=split == "train", download=True)
            return fashion_mnist(folder, split, download=False)
        except Exception as exc:  # no network, no space: say so in one line
            raise DataError(f"FashionMNIST download into {folder} failed ({type(exc).__name__}); "
                            "install the Debian package dataset-fashion-mnist or pass --data DIR") from None
    where = ", ".join(str(c) for c in candidates)
    raise DataError(f"FashionMNIST not found in {where}; apt-get install dataset-fashion-mnist, or pass --data DIR "
                    "holding train-images-idx3-ubyte[.gz] and train-labels-idx1-ubyte[.gz]")


# ---------------------------------------------------------------- folders of images

def _scaled(arr: np.ndarray, top: float) -> np.ndarray:
    """Grey values of any range as uint8: [min(0, lowest), max(top, highest)] -> [0, 255], so 16-bit and float
    images are scaled, not clipped to black or white (a float image in [0, 1] keeps its meaning)."""
    low, high = min(0.0, float(arr.min())), max(top, float(arr.max()))
    return np.round((arr - low) / (high - low) * 255).astype(np.uint8)


def _decode(path: Path, size: int, channels: int) -> np.ndarray | str:
    """One image as uint8 [C, size, size], or the reason it was left out."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as opened:
            img: Image.Image = opened  # a plain Image from here: the conversions below return one
            if img.width * img.height > MAX_PIXELS:
                return "too large"
            img.load()
            if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):  # 16/32-bit integer and 32-bit float grey
                arr = np.asarray(img, dtype=np.float64)
                if not np.isfinite(arr).all():
                    return "non-finite pixel values (NaN or infinity)"
                img = Image.fromarray(_scaled(arr, 1.0))
            img = img.convert("RGB" if channels == 3 else "L")  # palette, RGBA (alpha dropped), grey, CMYK
            img = img.resize((size, size), Image.Resampling.BICUBIC) if img.size != (size, size) else img
            arr = np.asarray(img, dtype=np.uint8)
    except Image.DecompressionBombError:  # PIL refuses headers above 2 * Image.MAX_IMAGE_PIXELS
        return "too large"
    except PermissionError:
        return "unreadable (permission denied)"
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return "not a readable image (truncated, empty or corrupt)"
    return arr[None] if channels == 1 else arr.transpose(2, 0, 1)


def image_folder(folder: Path, size: int, channels: int = 3, workers: int | None = None,
                 progress: bool = True) -> Dataset:
    """Every image file under `folder`, converted to `channels` and resized to size x size."""
    folder = Path(folder)
    shown = printable(folder)
    if not folder.is_dir():
        raise DataError(f"{shown}: no such folder; pass --data pointing at a folder of images")
    files, runs = image_files(folder)
    if not files:
        inside = f" (only {runs} inside gan-spec run folders, which are not data)" if runs else ""
        raise DataError(f"{shown}: no image files (.jpg, .png, ...) found{inside}; "
                        "pass --data pointing at a folder of images")
    cache = cache_path(folder, files, size, channels)
    saved = read_cache(cache, size, channels, len(files)) if cache.is_file() else None
    if saved is not None:  # anything but what gan-spec wrote for this folder and size is removed and rebuilt
        return Dataset(saved[0], None, f"{len(saved[0]):,} images from {shown} (cached)", saved[1])
    from PIL import Image

    from impl.core.progress import tracked

    with ThreadPoolExecutor(workers or min(16, (os.cpu_count() or 2) * 2)) as pool, warnings.catch_warnings():
        # PIL warns about headers above Image.MAX_IMAGE_PIXELS; _decode counts those files as too large itself
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        results = list(tracked(pool.map(lambda p: _decode(p, size, channels), files), len(files),
                               f"decoding {printable(folder.name)}", "image", not progress))
    good = [r for r in results if isinstance(r, np.ndarray)]
    skipped = dict(Counter(r for r in results if isinstance(r, str)))
    if runs:
        skipped[RUN_FILES] = runs
    if not good:
        reasons = ", ".join(f"{n} {why}" for why, n in skipped.items())
        raise DataError(f"{shown}: none of the {len(files)} image files could be used ({reasons}); check the folder")
    images = torch.from_numpy(np.stack(good))
    write_cache(cache, images, skipped)
    return Dataset(images, None, f"{len(images):,} images from {shown}", skipped)


# ---------------------------------------------------------------- synthetic data and shape adaptation

def synthetic(n: int, shape: tuple[int, ...], seed: int = 0) -> Dataset:
    """Smooth random blobs: cheap, deterministic images with structure for tests and smoke runs."""
    g = torch.Generator().manual_seed(seed)
    c, h, w = shape
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, h), torch.linspace(-1, 1, w), indexing="ij")
    centre = torch.rand(n, 2, generator=g) * 1.2 - 0.6
    radius = torch.rand(n, 1, 1, generator=g) * 0.4 + 0.2
    dist = ((xx - centre[:, 0, None, None]) ** 2 + (yy - centre[:, 1, None, None]) ** 2).sqrt()
    blob = (1 - (dist / radius).clamp(max=1)).unsqueeze(1)
    colour = torch.rand(n, c, 1, 1, generator=g)
    images = (blob * colour * 255).round().to(torch.uint8)
    return Dataset(images, torch.zeros(n, dtype=torch.int64), f"synthetic blobs ({n:,} images, seed {seed})")


ADAPT_CHUNK = 4096  # images adapted at a time: only this many are ever floats (67 MB of grey 64x64)


def adapt(images: torch.Tensor, shape: tuple[int, ...], chunk: int = ADAPT_CHUNK) -> torch.Tensor:
    """uint8 images in the network's input shape: grey <-> RGB, then bilinear resize (FashionMNIST-64).

    Written a chunk at a time straight into one uint8 tensor, so the peak is that tensor plus one chunk of floats
    (FashionMNIST-64 as floats would be 2.9 GB, and rounding them another 2.9 GB). A grey image is resized once and
    its channel repeated (the same numbers as resizing each copy: the resize is per channel).
    """
    c, h, w = shape
    if tuple(images.shape[1:]) == tuple(shape):
        return images.contiguous()
    out = torch.empty((len(images), c, h, w), dtype=torch.uint8, device=images.device)
    for start in range(0, len(images), chunk):
        part = images[start:start + chunk]
        if part.shape[1] != c and part.shape[1] != 1:  # colour to grey (then repeated if c > 1)
            part = part.float().mean(1, keepdim=True)
        if part.shape[2:] != (h, w):
            part = F.interpolate(part.float(), size=(h, w), mode="bilinear", antialias=True, align_corners=False)
        if part.is_floating_point():
            part = part.round().clamp_(0, 255)
        out[start:start + chunk].copy_(part.expand(-1, c, -1, -1))  # whole numbers in [0, 255]: exact in uint8
    return out


def to_unit(batch: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] -> float [-1, 1], the range of the generators' Tanh."""
    return batch.float().div_(127.5).sub_(1.0)


def for_experiment(dataset: str, data: str | None, shape: tuple[int, ...], how: str, progress: bool = True,
                   device: str = "cpu", limit: int | None = None) -> Dataset:
    """The images an experiment trains on, in its discriminator's input shape, on `device`.

    `data` is None (the experiment's own data set from its default places), 'fashion-mnist', 'synthetic',
    a folder of FashionMNIST IDX files, or a folder of images. Adapting (FashionMNIST-64) happens on `device`:
    a GPU resizes 60,000 images in well under a second, one busy CPU core in about 8 s. `limit` keeps the first
    that many images (a smoke run's tiny data set), before any adaptation.
    """
    folder: Path | None = None
    if data == "synthetic":
        kind, found = DataKind.SYNTHETIC, synthetic(1024, shape)
    elif data == "fashion-mnist" or (data is None and dataset == "fashion-mnist"):
        kind, found = DataKind.FASHION_MNIST, fashion_mnist()
    elif data is None:
        env = os.environ.get("GAN_SPEC_FACES")
        places = [Path(p) for p in ([env] if env else []) + list(FACES_DIRS)]
        folder = next((p for p in places if p.is_dir()), None)
        if folder is None:
            raise DataError(f"data set {dataset} not found (looked in {', '.join(str(p) for p in places)}); {how}")
        kind, found = DataKind.IMAGES, image_folder(folder, shape[1], shape[0], progress=progress)
    elif not data.strip():
        raise DataError(f"--data {data!r}: empty; pass a folder of images, a folder of FashionMNIST IDX files, "
                        "'fashion-mnist' or 'synthetic'")
    else:
        folder = Path(data).expanduser()
        if not folder.exists():
            raise DataError(f"--data {data}: no such file or folder; pass a folder of images, a folder of "
                            "FashionMNIST IDX files, 'fashion-mnist' or 'synthetic'")
        if folder.is_dir() and is_idx_folder(folder):
            kind, found = DataKind.FASHION_MNIST, fashion_mnist(folder)
        else:
            kind, found = DataKind.IMAGES, image_folder(folder, shape[1], shape[0], progress=progress)
    if limit is not None and limit < len(found.images):
        found.images = found.images[:limit]
        found.description += f", the first {limit:,} kept"
    native = tuple(found.images.shape[1:])
    found.images = adapt(found.images.to(device), shape)
    if native != tuple(shape):
        found.description += (f", adapted from {'x'.join(map(str, native))} to {'x'.join(map(str, shape))}"
                              " (channels repeated or averaged, bilinear resize)")
    found.source = DataSource(kind, None if folder is None else str(folder), limit, native, tuple(shape))
    return found
