"""Which files of an image folder are training data, and the caches of decoded folders.

Runs and studies that gan-spec wrote into the data folder are left out (their images are counted, not learnt);
a decoded folder is cached beside it, or in the user cache when the folder is read-only, one cache per folder
and image size.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch

from impl.core.errors import user_cache
from impl.core.files import Root
from impl.runs.folder import RunFolder

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif", ".tif", ".tiff"}
RUN_FILES = "inside a gan-spec run or study folder"  # the skip reason of images in runs written into the data


def printable(path: Path | str) -> str:
    """A path as text that prints and encodes as UTF-8: bytes of a name that are not UTF-8 become U+FFFD."""
    return os.fsencode(path).decode("utf-8", "replace")


def _cache_name(folder: Path, size: int, channels: int) -> str:
    """The start of the names of `folder`'s caches at this size, beside it or in the user cache. In the user
    cache the folder's absolute path is hashed into the name, so two folders called faces/ stay apart."""
    prefix = f".gan-spec-{size}px-{channels}c-"
    if os.access(folder, os.W_OK):
        return prefix
    where = hashlib.sha256(os.fsencode(folder.resolve())).hexdigest()[:8]
    return f"{printable(folder.name)}-{where}{prefix}"


def cache_path(folder: Path, files: list[Path], size: int, channels: int) -> Path:
    """Where the decoded set of these files at this size is cached: keyed by their names, sizes and times."""
    key = hashlib.sha256(f"{size}:{channels}".encode())
    for f in files:
        try:
            st = f.stat()
            stamp = f":{st.st_size}:{st.st_mtime_ns}\n"
        except OSError:  # removed since the folder was listed: decoding will count it
            stamp = ":gone\n"
        key.update(os.fsencode(f.relative_to(folder)) + stamp.encode())
    name = f"{_cache_name(folder, size, channels)}{key.hexdigest()[:16]}.pt"
    if os.access(folder, os.W_OK):
        return folder / name
    return user_cache() / name


def read_cache(cache: Path, size: int, channels: int, count: int) -> tuple[torch.Tensor, dict[str, int]] | None:
    """The images and skip counts of a cache, if it holds what gan-spec writes for this folder: uint8 images of
    shape (n, channels, size, size) with 1 <= n <= count, and a table of counts. Anyone who can write beside the
    data can replace the file, so anything else (an 8x8 tensor, floats, NaN, a list) is removed and rebuilt:
    None. weights_only=True: the file cannot run code."""
    try:
        saved = torch.load(cache, weights_only=True)
    except Exception:  # truncated, not a torch file, a pickle carrying code
        saved = None
    images = saved.get("images") if isinstance(saved, dict) else None
    skipped = saved.get("skipped") if isinstance(saved, dict) else None
    if (isinstance(images, torch.Tensor) and images.dtype == torch.uint8 and images.dim() == 4
            and tuple(images.shape[1:]) == (channels, size, size) and 1 <= len(images) <= count
            and isinstance(skipped, dict) and all(isinstance(k, str) and type(v) is int for k, v in skipped.items())):
        return images, skipped
    try:
        Root(cache.parent).remove(cache.name)
    except OSError:
        pass
    return None


def write_cache(cache: Path, images: torch.Tensor, skipped: dict[str, int]) -> None:
    """Save the decoded set, then remove the older caches of the same folder and size: one cache per folder and
    size is kept (a folder whose files change would otherwise leave one more file of its whole size each time).
    Written through impl.core.files.Root: a link planted at a cache's name (or its temporary name) is never followed."""
    root = Root(cache.parent)
    try:
        with root.replacing(cache.name) as fh:
            torch.save({"images": images, "skipped": skipped}, fh)
    except OSError:
        return  # a cache is an optimisation; a read-only or full disk must not stop training
    stem = cache.name[: -len("0123456789abcdef.pt")]
    for old in cache.parent.iterdir():
        if old.name.startswith(stem) and old.suffix in (".pt", ".tmp") and old != cache:
            try:
                root.remove(old.name)  # a link is removed itself, never its target
            except OSError:
                pass


def _is_gan_spec_output(folder: Path, subfolders: list[str], files: list[str]) -> bool:
    """A run, or a folder of runs that gan-spec made: runs/ or a study folder (with its <study>-args.json)."""
    if RunFolder.looks_like_run(folder):
        return True
    if folder.name == "runs" or any(f.endswith("-args.json") for f in files):
        return any(RunFolder.looks_like_run(folder / sub) for sub in subfolders)
    return False


def image_files(folder: Path) -> tuple[list[Path], int]:
    """The image files under `folder` (symlinked files followed, symlinked folders not), and how many image files
    were left out because they lie in gan-spec's own output: runs written into the data folder are not data."""
    found, left_out = [], 0
    for top, subfolders, files in os.walk(folder):
        here = Path(top)
        if _is_gan_spec_output(here, subfolders, files):
            left_out += sum(1 for _, _, fs in os.walk(here) for f in fs if Path(f).suffix.lower() in IMAGE_SUFFIXES)
            subfolders.clear()
            continue
        found += [here / f for f in files if Path(f).suffix.lower() in IMAGE_SUFFIXES and (here / f).is_file()]
    return sorted(found), left_out
