"""Images from a trained run: a grid to look at, or many images for other tools (clean-fid, torch-fidelity,
pytorch-fid) as a folder of numbered PNGs or one .npz array, made in batches with bounded memory.

    python -m impl.sample runs/r004-mlp-20261123-101500 --n 20 --seed 1 --out twenty.png
    python -m impl.sample RUN --n 50000 --format folder --out fakes/      # fakes/000000.png ... 049999.png
    python -m impl.sample RUN --n 50000 --format npz --out fakes.npz      # 'images': uint8 [N, H, W, C]
"""

from __future__ import annotations

import sys

import torch

from impl.errors import RunFailed, boundary
from impl.measure.sampling import check_out, generate, parser, write_folder, write_npz
from impl.progress import Progress
from impl.runs import grids
from impl.runs.checkpoint import load_generator


@boundary("impl.sample")
def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    check_out(args.format, args.n, args.out)
    g, state = load_generator(args.run)
    batches = generate(g, args.n, args.seed, state.get("fixed_noise"), args.batch)
    progress = Progress(args.n, 0, f"sampling {args.run.name}", args.quiet or args.format == "grid", unit="image")
    try:
        if args.format == "grid":
            out = args.out or args.run / "samples" / f"sample_{args.n}.png"
            grids.save_grid(torch.cat(list(batches)), out)
        elif args.format == "folder":
            out = args.out
            out.mkdir(parents=True, exist_ok=True)
            write_folder(batches, out, args.n, progress)
        else:
            out = args.out
            out.parent.mkdir(parents=True, exist_ok=True)
            write_npz(batches, out, args.n, tuple(g.spec.output), progress)
    except OSError as exc:
        raise RunFailed(f"cannot write {args.out or args.run}: {exc.strerror or exc}; check the path and free "
                       "space") from None
    finally:
        progress.close()
    print(f"wrote {out} ({args.n} images)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
