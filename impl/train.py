"""Train an experiment from spec/ as its report documents it.

    python -m impl.train r004-mlp                      # report 004's MLP GAN on FashionMNIST, 3 epochs
    python -m impl.train r000-dcgan --data faces/      # the anime-face set, 51 epochs at batch 64
    python -m impl.train r003-wgan --data fashion-mnist --epochs 5
    python -m impl.train --resume runs/r004-mlp-20261123-101500
    python -m impl.train r001-wgan --data synthetic --dry-run
    python -m impl.train r004-mlp --set optimizer.lr=1e-4,2e-4 --seeds 0,1 --out runs/lr   # a sweep: 4 runs, 1 page

Exit codes: 0 done, 2 bad input (spec, data, arguments, run directory), 3 the run failed (non-finite loss,
out of memory, disk full; the last good checkpoint is kept), 128+signal when interrupted (checkpoint saved).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import spec
from impl.core import cli
from impl.core.cli import nonempty, positive, seed
from impl.core.errors import boundary
from impl.runs.folder import RunFolder
from impl.training import overrides, sweep
from impl.training.request import RunRequest
from impl.training.run import run_experiment


def parser() -> argparse.ArgumentParser:
    p = cli.parser("python -m impl.train", __doc__)
    p.add_argument("experiment", nargs="?", help="experiment name (see --list)")
    p.add_argument("--list", action="store_true", help="list the experiments and exit")
    p.add_argument("--epochs", type=positive, help="override the documented number of epochs")
    p.add_argument("--steps", type=positive, help="train exactly this many steps (batches): the run's length "
                   "(with --epochs too: the smaller of the two)")
    p.add_argument("--batch-size", type=positive, help="override the documented batch size")
    p.add_argument("--set", dest="set_values", action="append", default=[], metavar="KEY=VALUE",
                   help="change a recipe value, e.g. --set optimizer.lr=2e-4 --set n_critic=3 --set clip_value=0.05 "
                        f"(settable: {', '.join(overrides.SETTABLE)})"),
    p.add_argument("--data", type=nonempty,
                   help="folder of images, folder of FashionMNIST IDX files, 'fashion-mnist' or 'synthetic'")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help="default: cuda if available")
    p.add_argument("--out", type=Path, help="run directory to create (default runs/<experiment>-<timestamp>)")
    p.add_argument("--resume", metavar="RUN_DIR", type=Path, help="continue a run from its last checkpoint")
    p.add_argument("--seed", type=seed, help="random seed of the weights, noise and data order (default 0)")
    p.add_argument("--seeds", type=sweep.seeds, metavar="0,1,...", help="a sweep: train every --set value list "
                   "(optimizer.lr=1e-4,2e-4) at each of these seeds into --out, one run folder each, and compare them "
                   "on OUT/report.html")
    p.add_argument("--log-every", type=positive, help="steps between metrics lines (default 50)")
    p.add_argument("--sample-every", type=positive, metavar="N", help="also write a sample grid every N steps")
    p.add_argument("--keep-checkpoints", dest="keep_every", type=positive, metavar="N",
                   help="also keep the checkpoint of every N-th epoch (checkpoints/epoch_NNN.pt; impl.sample and "
                        "impl.evaluate take it with --checkpoint)")
    p.add_argument("--tensorboard", action="store_true",
                   help="also write TensorBoard events (RUN/tensorboard/); needs the tensorboard package")
    p.add_argument("--dry-run", action="store_true",
                   help="a few small steps in a temporary directory, kept nowhere (with --resume: on a copy)")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.add_argument("--precision", choices=("fp32", "bf16"),
                   help="bf16: forward passes under bfloat16 autocast (default: bf16 on the CUDA fast path, else fp32)")
    p.add_argument("--channels-last", action="store_true",
                   help="NHWC memory layout (default on the CUDA fast path and with --precision bf16 on the CPU)")
    p.add_argument("--eager", action="store_true", help="on CUDA: no fast path (no CUDA graphs, fused optimizers, "
                   "bf16 or channels_last unless asked for): the plain PyTorch loop, for comparison and debugging")
    p.add_argument("--compile", action="store_true", help="torch.compile the networks' training calls: fused "
                   "kernels after a compile of a minute or more at the start (not WGAN-GP's critic)")
    p.add_argument("--sync-bn", action="store_true", help="under torchrun: batch-norm statistics over all processes")
    return p


def request_of(args: argparse.Namespace) -> RunRequest:
    """The request the command line makes: every RunRequest field that is also a flag."""
    names = [f.name for f in dataclasses.fields(RunRequest) if hasattr(args, f.name)]
    sets = {} if sweep.is_sweep(args.set_values, args.seeds) else overrides.parse_sets(args.set_values)
    return RunRequest(**{name: getattr(args, name) for name in names}, sets=sets)


@boundary("impl.train")
def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.list:
        for name in spec.names("experiment"):
            print(f"{name:16} {spec.load(name).title}")
        return 0
    if sweep.is_sweep(args.set_values, args.seeds):
        return sweep.run(request_of(args).replace(out=None), args.set_values, args.seeds, args.out)
    result = run_experiment(request_of(args))
    if result.rank != 0:  # under torchrun the first process speaks for all
        return 0
    if result.dry_run:
        last = result.last
        print(f"dry run ok: {result.experiment}, {result.steps} steps on {result.device}, "
              f"d_loss {last.get('d_loss', float('nan')):.4f}, g_loss {last.get('g_loss', float('nan')):.4f}; "
              f"data: {result.data}")
    elif result.run_dir is not None:
        run = RunFolder(result.run_dir)
        print(f"done: {result.experiment}, {result.steps:,} steps in {run}/: {RunFolder.CONFIG}, {RunFolder.LOG}, "
              f"{RunFolder.LOSS_PLOT}, {len(run.grids())} sample grids, {RunFolder.CHECKPOINTS}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
