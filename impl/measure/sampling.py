"""Images from a trained run: a grid to look at, or many images for other tools (clean-fid, torch-fidelity,
pytorch-fid) as a folder of numbered PNGs or one .npz array, made in batches with bounded memory.

    python -m impl.sample runs/r004-mlp-20261123-101500 --n 20 --seed 1 --out twenty.png
    python -m impl.sample RUN --n 50000 --format folder --out fakes/      # fakes/000000.png ... 049999.png
    python -m impl.sample RUN --n 50000 --format npz --out fakes.npz      # 'images': uint8 [N, H, W, C]
"""

from __future__ import annotations

import argparse
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from impl import cli
from impl.cli import positive, seed
from impl.errors import UsageError
from impl.networks.build import SpecNet
from impl.progress import Progress
from impl.runs import folder as rundir

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


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """[-1, 1] NCHW floats -> uint8 NHWC (grey stays one channel), as image tools expect."""
    return ((images * 0.5 + 0.5) * 255).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()


def write_folder(batches: Iterator[torch.Tensor], out: Path, n: int, progress: Progress) -> None:
    from PIL import Image

    done = 0
    for images in batches:
        for arr in to_uint8(images):
            Image.fromarray(arr[..., 0] if arr.shape[-1] == 1 else arr).save(out / f"{done:06d}.png")
            done += 1
        progress.update(done)


def write_npz(batches: Iterator[torch.Tensor], out: Path, n: int, shape: tuple[int, ...], progress: Progress) -> None:
    """One array 'images' (uint8, [N, H, W, C]) in an .npz, streamed batch by batch into the zip entry."""
    c, h, w = shape
    tmp = out.with_name(out.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf, \
            zf.open("images.npy", "w", force_zip64=True) as fh:
        header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.uint8)), "fortran_order": False,
                  "shape": (n, h, w, c)}
        np.lib.format.write_array_header_2_0(fh, header)
        done = 0
        for images in batches:
            fh.write(np.ascontiguousarray(to_uint8(images)).tobytes())
            done += len(images)
            progress.update(done)
    tmp.replace(out)


def check_out(fmt: str, n: int, out: Path | None) -> None:
    """Refuse an output that cannot work before any image is made."""
    if fmt == "grid" and n > MAX_GRID:
        raise UsageError(f"--n {n}: a grid holds at most {MAX_GRID} images; use --format folder or npz")
    if fmt != "grid" and out is None:
        raise UsageError(f"--format {fmt} needs --out ({'a folder' if fmt == 'folder' else 'a .npz file'})")
    if out is None:
        return
    blocker = rundir.file_in_the_way(out, itself=False)
    if blocker is not None:
        raise UsageError(f"--out {out}: {blocker} is a file, not a folder; choose another --out")
    if fmt == "folder" and out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UsageError(f"--out {out}: exists and is not an empty folder; choose a new folder")
    if fmt != "folder" and out.is_dir():
        raise UsageError(f"--out {out}: is a folder; name a file")
    if fmt == "npz" and out.suffix != ".npz":
        raise UsageError(f"--out {out}: an npz file's name ends in .npz")


def parser() -> argparse.ArgumentParser:
    p = cli.parser("python -m impl.sample", __doc__)
    p.add_argument("run", type=Path, help="a run directory made by impl.train")
    p.add_argument("--n", type=positive, default=20, help="number of images (reports show 8, 16 and 20)")
    p.add_argument("--seed", type=seed, help="noise seed (default: the run's fixed sample noise, then seed 0)")
    p.add_argument("--format", choices=FORMATS, default="grid", help="grid (one PNG), folder (numbered PNGs), npz")
    p.add_argument("--out", type=Path, help="where to write (default for a grid: RUN/samples/sample_<n>.png)")
    p.add_argument("--batch", type=positive, default=500, help="images generated at a time (bounds memory)")
    p.add_argument("--quiet", action="store_true")
    return p
