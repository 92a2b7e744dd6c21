"""Images from a trained generator, in batches of bounded memory: the noise drawn in fixed chunks (so the images do
not depend on the batch size), written as numbered PNGs or one streamed .npz array, never through a link."""

from __future__ import annotations

import shutil
import zipfile
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import numpy as np
import torch

from impl.core.errors import UsageError
from impl.core.files import Root, nearest_existing, unwritable
from impl.core.progress import Progress
from impl.networks.build import SpecNet
from impl.runs.folder import RunFolder, file_in_the_way

FORMATS = ("grid", "folder", "npz")
MAX_GRID = 1024  # images in one PNG grid; more belong in a folder or an .npz


NOISE_CHUNK = 1000  # noise is drawn this many vectors at a time, whatever the batch: --batch changes no image


@torch.no_grad()
def generate(g: SpecNet, n: int, seed: int | None = None, fixed: torch.Tensor | None = None,
             batch: int = 500) -> Iterator[torch.Tensor]:
    """n images in [-1, 1] from generator `g` (in eval mode), at most `batch` at a time: the first n of `fixed`
    noise when it is given and long enough (a run's own sample noise), else noise drawn from `seed` (0 by default)
    in chunks of NOISE_CHUNK vectors, so that the images do not depend on the batch size."""
    if fixed is not None and seed is None and n <= len(fixed):
        chunks = iter([fixed[:n]])
    else:
        gen = torch.Generator().manual_seed(seed or 0)
        chunks = (torch.randn(min(NOISE_CHUNK, n - i), *g.spec.input, generator=gen) for i in range(0, n, NOISE_CHUNK))
    for noise in chunks:
        for i in range(0, len(noise), batch):
            yield g(noise[i:i + batch]).clamp(-1, 1)


def batch_count(n: int, batch: int = 500) -> int:
    """How many batches `generate(g, n, seed=..., batch=batch)` yields (each noise chunk is split into batches)."""
    full, rest = divmod(n, NOISE_CHUNK)
    return full * -(-NOISE_CHUNK // batch) + -(-rest // batch)


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """[-1, 1] NCHW floats -> uint8 NHWC (grey stays one channel), as image tools expect."""
    return ((images * 0.5 + 0.5) * 255).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()


def write_folder(batches: Iterator[torch.Tensor], out: Path, n: int, progress: Progress) -> None:
    """Numbered PNGs 000000.png, 000001.png, ... in `out` (no link in it is followed)."""
    from PIL import Image

    root, done = Root(out), 0
    for images in batches:
        for arr in to_uint8(images):
            img = Image.fromarray(arr[..., 0] if arr.shape[-1] == 1 else arr)
            root.write_with(f"{done:06d}.png", partial(img.save, format="PNG"))
            done += 1
        progress.update(done)


def write_npz(batches: Iterator[torch.Tensor], out: Path, n: int, shape: tuple[int, ...], progress: Progress) -> None:
    """One array 'images' (uint8, [N, H, W, C]) in an .npz, streamed batch by batch into the zip entry."""
    c, h, w = shape
    with Root(out.parent).replacing(out.name) as raw, \
            zipfile.ZipFile(raw, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf, \
            zf.open("images.npy", "w", force_zip64=True) as fh:
        header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.uint8)), "fortran_order": False,
                  "shape": (n, h, w, c)}
        np.lib.format.write_array_header_2_0(fh, header)
        done = 0
        for images in batches:
            fh.write(np.ascontiguousarray(to_uint8(images)).tobytes())
            done += len(images)
            progress.update(done)


def check_space(out: Path | None, n: int, shape: tuple[int, ...]) -> None:
    """Refuse a --n whose images (uint8, at most one byte a value before compression) cannot fit on the disk of
    --out: one line before any image is made, not a full disk (and a multi-GB temporary file) an hour later."""
    if out is None:
        return
    need = n * int(np.prod(shape))
    existing = nearest_existing(out)
    free = shutil.disk_usage(existing).free
    if need > free:
        raise UsageError(f"--n {n:,}: {n:,} images of {'x'.join(map(str, shape))} take up to {size(need)} and "
                         f"{existing} has {size(free)} free; ask for fewer images or choose another --out")


def size(n: int) -> str:
    """A byte count for a message: '3.1 GB', '2.4 MB', '80 kB'."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:,.1f} {unit}"
    return f"{n} bytes"


def check_out(fmt: str, n: int, out: Path | None, run: Path) -> None:
    """Refuse an output that cannot work before any image is made."""
    if fmt == "grid" and n > MAX_GRID:
        raise UsageError(f"--n {n}: a grid holds at most {MAX_GRID} images; use --format folder or npz")
    if fmt != "grid" and out is None:
        raise UsageError(f"--format {fmt} needs --out ({'a folder' if fmt == 'folder' else 'a .npz file'})")
    where = out if out is not None else run / RunFolder.SAMPLES
    stuck = unwritable(where)
    if stuck is not None:
        blocker = "it" if stuck == where else str(stuck)
        raise UsageError(f"{'--out ' if out is not None else ''}{where}: {blocker} cannot be written (read-only or no "
                         "permission); choose another --out")
    if out is None:
        return
    in_the_way = file_in_the_way(out, itself=False)
    if in_the_way is not None:
        raise UsageError(f"--out {out}: {in_the_way} is a file, not a folder; choose another --out")
    if fmt == "folder" and out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UsageError(f"--out {out}: exists and is not an empty folder; choose a new folder")
    if fmt != "folder" and out.is_dir():
        raise UsageError(f"--out {out}: is a folder; name a file")
    if fmt == "npz" and out.suffix != ".npz":
        raise UsageError(f"--out {out}: an npz file's name ends in .npz")
