"""Images from a trained run: a grid to look at, or many images for other tools (clean-fid, torch-fidelity,
pytorch-fid) as a folder of numbered PNGs or one .npz array, made in batches with bounded memory.

    python -m impl.sample runs/r004-mlp-20261123-101500 --n 20 --seed 1 --out twenty.png
    python -m impl.sample RUN --n 50000 --format folder --out fakes/      # fakes/000000.png ... 049999.png
    python -m impl.sample RUN --n 50000 --format npz --out fakes.npz      # 'images': uint8 [N, H, W, C]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from impl.core import cli
from impl.core.cli import positive, seed
from impl.core.errors import RunFailed, boundary
from impl.core.files import Root, write_failure
from impl.core.progress import Progress
from impl.measure.sampling import FORMATS, check_out, check_space, generate, write_folder, write_npz
from impl.runs import grids
from impl.runs.checkpoint import load_generator
from impl.runs.folder import RunFolder


def parser() -> argparse.ArgumentParser:
    p = cli.parser("python -m impl.sample", __doc__)
    p.add_argument("run", type=Path, help="a run directory made by impl.train")
    p.add_argument("--n", type=positive, default=20, help="number of images (reports show 8, 16 and 20)")
    p.add_argument("--seed", type=seed, help="noise seed (default: the run's fixed sample noise, then seed 0)")
    p.add_argument("--format", choices=FORMATS, default="grid", help="grid (one PNG), folder (numbered PNGs), npz")
    p.add_argument("--out", type=Path, help="where to write (default for a grid: RUN/samples/sample_<n>.png)")
    p.add_argument("--batch", type=positive, default=500, help="images generated at a time (bounds memory)")
    p.add_argument("--checkpoint", metavar="NAME", help="a checkpoint of RUN/checkpoints/ (default last.pt; "
                   "prev.pt, or epoch_NNN.pt kept by --keep-checkpoints)")
    p.add_argument("--quiet", action="store_true")
    return p


@boundary("impl.sample")
def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    check_out(args.format, args.n, args.out, args.run)
    g, state = load_generator(args.run, args.checkpoint)
    check_space(args.out, args.n, tuple(g.spec.output))
    batches = generate(g, args.n, args.seed, state.get("fixed_noise"), args.batch)
    progress = Progress(args.n, 0, f"sampling {args.run.name}", args.quiet or args.format == "grid", unit="image")
    try:
        if args.format == "grid":
            out = args.out or RunFolder(args.run).file(f"{RunFolder.SAMPLES}/sample_{args.n}.png")
            grids.save_grid(torch.cat(list(batches)), Root(out.parent), out.name)
        elif args.format == "folder":
            out = args.out
            write_folder(batches, out, args.n, progress)
        else:
            out = args.out
            write_npz(batches, out, args.n, tuple(g.spec.output), progress)
    except OSError as exc:
        cause, fix = write_failure(exc)
        raise RunFailed(f"cannot write {args.out or args.run}: {cause}; {fix}") from None
    finally:
        progress.close()
    print(f"wrote {out} ({args.n} images)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
