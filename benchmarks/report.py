"""Throughput report: training-step timings per experiment, fast path beside the seed-style eager loop.

    python -m benchmarks.report                          # every experiment, documented batch and 512, on CUDA
    python -m benchmarks.report --experiments r000-dcgan r002-dcgan --batches 64
    python -m benchmarks.report --epoch                  # plus one full epoch per experiment, data loading included
    python -m benchmarks.report --full-recipe            # report 000's whole recipe on a generated 71,314-image folder
    python -m benchmarks.report --experiments r000-dcgan --batches 64 --profile traces/   # what bounds a step

Columns: ms per step, images/s, GFLOP per step (torch.utils.flop_counter), achieved TFLOP/s and its share of the
bf16 matmul peak measured at the start of the same run; "x eager" is the fast path's speed-up at that batch.
`--json FILE` also writes the rows.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

import spec
from benchmarks.measure import ALL_MODES, MODES, NotFastPath, Row, flops_per_step, matmul_peak, measure, profile
from impl.core import cli
from impl.core.errors import boundary
from impl.data.load import synthetic


def table(rows: list[Row], peak: float | None) -> str:
    lines = [f"bf16 matmul peak measured now: {peak / 1e12:,.0f} TFLOP/s" if peak else "bf16 matmul peak: n/a (CPU)",
             f"{'experiment':15} {'batch':>5} {'mode':8} {'ms/step':>8} {'images/s':>10} {'GFLOP':>7} "
             f"{'TFLOP/s':>8} {'peak':>6} {'x eager':>7}"]
    eager = {(r.experiment, r.batch): r for r in rows if r.mode == "eager"}
    for r in rows:
        share = f"{r.peak_share:6.1%}" if r.peak_share is not None else "     -"
        base = eager.get((r.experiment, r.batch))
        gain = f"{r.images_per_s / base.images_per_s:7.2f}" if r.mode != "eager" and base else "      -"
        lines.append(f"{r.experiment:15} {r.batch:5d} {r.mode:8} {r.ms_per_step:8.3f} {r.images_per_s:10,.0f} "
                     f"{r.gflop_per_step:7.2f} {r.tflop_per_s:8.1f} {share} {gain}")
    return "\n".join(lines)


def timed_run(args: list[str]) -> float:
    """Wall seconds of one `python -m impl.train` run in a fresh process: start-up and data loading included."""
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "impl.train", *args, "--out", str(Path(tmp) / "run"), "--quiet"],
                              capture_output=True, text=True)
        seconds = time.perf_counter() - t0
    if done.returncode:
        raise SystemExit(f"error: impl.train {' '.join(args)} failed: {done.stderr.strip().splitlines()[-1]}")
    return seconds


def write_faces(folder: Path, count: int, size: int = 96) -> None:
    """A folder of `count` size x size JPEGs like the course's anime faces (smooth synthetic blobs)."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)

    def chunk(start: int) -> None:
        images = synthetic(min(1000, count - start), (3, size, size), seed=start).images.permute(0, 2, 3, 1).numpy()
        for i, arr in enumerate(images):
            Image.fromarray(np.ascontiguousarray(arr)).save(folder / f"{start + i:06d}.jpg", quality=90)

    with ThreadPoolExecutor() as pool:
        list(pool.map(chunk, range(0, count, 1000)))


def batch_or_documented(text: str) -> str:
    """argparse type of --batches: 'documented' or a batch size within cli.BOUNDS['batches']."""
    return text if text == "documented" else str(cli.count("batches")(text))


def parser() -> cli.Parser:
    p = cli.parser("python -m benchmarks.report", __doc__)
    p.add_argument("--experiments", nargs="+", default=spec.names("experiment"))
    p.add_argument("--batches", nargs="+", type=batch_or_documented, default=["documented", "512"],
                   help="'documented' or sizes")
    p.add_argument("--modes", nargs="+", default=list(MODES), choices=ALL_MODES,
                   help="fast and eager (default); compiled: the fast path under torch.compile (impl.train --compile)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--steps", type=cli.count("steps"), default=200, help="timed steps per row (default 200)")
    p.add_argument("--epoch", action="store_true", help="also time one full epoch per experiment, end to end")
    p.add_argument("--data", help="--data for the epoch timings (default: each experiment's own data set)")
    p.add_argument("--full-recipe", action="store_true",
                   help="time report 000's recipe (51 epochs at batch 64) on a generated folder of 71,314 JPEGs")
    p.add_argument("--faces", type=cli.count("images"), default=71_314, help="images in that folder (default 71,314)")
    p.add_argument("--profile", type=Path, help="profile each row too: Chrome traces into this folder, top ops printed")
    p.add_argument("--no-autotune", dest="tune", action="store_false",
                   help="fast rows without cuDNN autotuning (to measure what it buys)")
    p.add_argument("--json", help="write the rows to this file")
    return p


def timed_rows(args: argparse.Namespace, peak: float | None) -> list[Row]:
    """Every (experiment, batch, mode) row; a fast row whose capture failed is refused and the rest kept."""
    rows = []
    for name in args.experiments:
        exp = spec.load(name)
        for batch in dict.fromkeys(exp.batch_size.value if b == "documented" else int(b) for b in args.batches):
            flops = flops_per_step(name, batch, args.device)
            for mode in args.modes:
                try:
                    rows.append(measure(name, batch, mode, args.device, min_steps=args.steps, peak=peak, flops=flops,
                                        tune=args.tune))
                except NotFastPath as exc:
                    print(f"refused {name} batch {batch} {mode}: {exc}", file=sys.stderr)
                    continue
                print(f"measured {name} batch {batch} {mode}: {rows[-1].images_per_s:,.0f} images/s",
                      file=sys.stderr)
                if args.profile:
                    print(f"\nprofile of {name} batch {batch} {mode} (trace in {args.profile}):\n"
                          + profile(name, batch, mode, args.device, args.profile, tune=args.tune))
    return rows


def whole_runs(args: argparse.Namespace) -> dict[str, float]:
    """--epoch and --full-recipe: wall seconds of whole runs in fresh processes."""
    extra: dict[str, float] = {}
    if args.epoch:
        print("\none epoch, end to end (a fresh process: start-up, data loading, training, checkpoint):")
        for name in args.experiments:
            data = ["--data", args.data] if args.data else []
            extra[f"epoch:{name}"] = timed_run([name, "--epochs", "1", "--device", args.device, *data])
            print(f"  {name:15} {extra[f'epoch:{name}']:8.1f} s")
    if args.full_recipe:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            write_faces(Path(tmp) / "faces", args.faces)
            print(f"\nwrote {args.faces:,} 96x96 JPEGs in {time.perf_counter() - t0:.1f} s")
            extra["full-recipe:r000-dcgan"] = timed_run(["r000-dcgan", "--data", str(Path(tmp) / "faces"),
                                                         "--device", args.device])
        print(f"report 000's full recipe (51 epochs, batch 64, decode included): "
              f"{extra['full-recipe:r000-dcgan']:.1f} s")
    return extra


@boundary("benchmarks.report")
def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    for name in args.experiments:
        spec.load(name)  # an unknown name fails here, with the closest one suggested
    peak = matmul_peak(args.device)
    rows = timed_rows(args, peak)
    print(table(rows, peak))
    extra = whole_runs(args)
    if args.json:
        Path(args.json).write_text(json.dumps({"peak_flops": peak, "rows": [r.as_dict() for r in rows],
                                               "timings_s": extra, "device": args.device,
                                               "torch": torch.__version__}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
