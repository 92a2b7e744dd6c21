"""CPU speed side by side: a training step of each report network pair through gan-spec's Trainer, beside a plain
eager PyTorch loop of the same networks (benchmarks/plain.py), in one process and interleaved, so that a load from
other processes slows both alike and their ratio survives it.

    python -m benchmarks.cpu                                   # every report network pair, fp32, documented batch
    python -m benchmarks.cpu --experiments r004-conv --modes fp32 bf16 --rounds 20
    python -m benchmarks.cpu --experiments r004-conv --modes fp32 bf16 compiled-bf16 --threads 2

A mode is how gan-spec trains: fp32 (what `impl.train` does on the CPU), bf16 (`--precision bf16`, which brings
channels_last on the CPU; bf16-cl is the same, bf16-nchw the NCHW layout), fp32-cl (`--channels-last`), compiled and
compiled-bf16 (`--compile`). Each round times one unit of every mode and of the plain loop (n_critic steps each,
in a rotating order); "x plain" is the ratio of the summed times, "median" the median of the per-round ratios and
"best" the ratio of the fastest rounds (on a shared machine the least disturbed ones; timeit's rule).
GFLOP per step is counted by torch.utils.flop_counter on each loop's own step (matmuls and convolutions, forward
and backward); the share is of the fp32 (or, for bf16 modes, the bf16) matmul peak measured at the start.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

import spec
from benchmarks.plain import PlainLoop
from impl.core import cli
from impl.core.errors import boundary, first_line
from impl.data.load import synthetic, to_unit
from impl.training.fastpath import speed_defaults
from impl.training.settings import Settings
from impl.training.trainer import Trainer

MODES = {"fp32": {}, "bf16": {"precision": "bf16"}, "fp32-cl": {"channels_last": True},
         "bf16-cl": {"precision": "bf16", "channels_last": True},
         "bf16-nchw": {"precision": "bf16", "channels_last": False},
         "compiled": {"compile": True}, "compiled-bf16": {"compile": True, "precision": "bf16"}}


def report_pairs() -> list[str]:
    """The first experiment of each report (rNNN-) naming a (generator, discriminator) pair: every pair once."""
    seen: dict[tuple[str, str], str] = {}
    for name in spec.names("experiment"):
        exp = spec.load(name)
        if name.startswith("r"):
            seen.setdefault((exp.generator.value, exp.discriminator.value), name)
    return list(seen.values())


def cpu_trainer(name: str, batch: int, images: torch.Tensor, mode: str) -> Trainer:
    """A Trainer as `impl.train NAME --device cpu` builds it, with the mode's flags."""
    exp = spec.load(name)
    flags = MODES[mode]
    speed = speed_defaults("cpu", eager=False, precision=flags.get("precision"),
                           channels_last=flags.get("channels_last", False))
    if flags.get("channels_last") is False:  # bf16-nchw: what --precision bf16 ran before it brought channels_last
        speed["channels_last"] = False
    settings = Settings(name, batch_size=batch, epochs=10**6, max_steps=None, seed=0, device="cpu",
                        compile=flags.get("compile", False), **speed)
    return Trainer(exp, images, settings)


def matmul_peak(dtype: torch.dtype, n: int = 1024, windows: int = 10) -> float:
    """Dense matmul FLOP/s of this process's threads in `dtype`, measured now: the best of `windows` timings of
    one n x n product (the best, so that another process's burst of work does not lower the bar)."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b
    best = float("inf")
    for _ in range(windows):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best


def count_flops(step: Callable[[], object], steps: int) -> float:
    """FLOPs per step of `steps` calls of `step`; NaN where the counter cannot follow the step (in torch 2.14 its
    module tracker fails inside WGAN-GP's autograd.grad: 'A leaf node was passed to _will_engine_execute_node')."""
    counter = FlopCounterMode(display=False)
    try:
        with counter:
            for _ in range(steps):
                step()
    except RuntimeError as exc:
        print(f"note: FLOPs not counted ({first_line(exc)})", file=sys.stderr)
        return math.nan
    return counter.get_total_flops() / steps


@dataclass
class Row:
    experiment: str
    batch: int
    loop: str  # a gan-spec mode or "plain"
    ms_per_step: float
    images_per_s: float
    gflop_per_step: float
    gflop_per_s: float
    peak_share: float
    x_plain: float | None  # summed plain time / summed time of this loop
    median_x_plain: float | None  # median over rounds of the same ratio
    best_x_plain: float | None  # the plain loop's fastest round / this loop's fastest (the least disturbed rounds)


def trainer_step(trainer: Trainer) -> Callable[[], object]:
    return lambda: trainer.advance(trainer.step + trainer.n_critic)


def compare(name: str, batch: int, modes: list[str], rounds: int, warmup: int, peaks: dict[str, float]) -> list[Row]:
    """Time every mode and the plain loop on `name` at `batch`, interleaved round by round."""
    exp = spec.load(name)
    shape = spec.registry().networks[exp.discriminator.value].input
    n_critic = exp.n_critic.value if exp.n_critic else 1
    data = synthetic(max(4 * batch, 512), shape).images
    loops = {mode: trainer_step(cpu_trainer(name, batch, data, mode)) for mode in modes}
    plain = PlainLoop(exp, to_unit(data), batch)
    loops["plain"] = plain.step
    flops = {key: count_flops(step, n_critic) for key, step in loops.items()}
    for step in loops.values():
        for _ in range(warmup * n_critic):
            step()
    times: dict[str, list[float]] = {key: [] for key in loops}
    keys = list(loops)
    for r in range(rounds):
        for key in keys[r % len(keys):] + keys[:r % len(keys)]:  # rotate who goes first
            t0 = time.perf_counter()
            for _ in range(n_critic):
                loops[key]()
            times[key].append((time.perf_counter() - t0) / n_critic)
    rows = []
    for key, spent in times.items():
        seconds = sum(spent) / len(spent)
        ratio = sum(times["plain"]) / sum(spent) if key != "plain" else None
        median = statistics.median(p / s for p, s in zip(times["plain"], spent)) if key != "plain" else None
        best = min(times["plain"]) / min(spent) if key != "plain" else None
        peak = peaks["bf16" if "bf16" in key else "fp32"]
        rows.append(Row(name, batch, key, seconds * 1e3, batch / seconds, flops[key] / 1e9, flops[key] / seconds / 1e9,
                        flops[key] / seconds / peak, ratio, median, best))
    return rows


def header(peaks: dict[str, float]) -> str:
    return (f"matmul peak measured now ({torch.get_num_threads()} threads): fp32 {peaks['fp32'] / 1e9:,.0f} GFLOP/s, "
            f"bf16 {peaks['bf16'] / 1e9:,.0f} GFLOP/s\n"
            f"{'experiment':13} {'batch':>5} {'loop':14} {'ms/step':>8} {'images/s':>9} {'GFLOP':>6} {'GFLOP/s':>8} "
            f"{'peak':>6} {'x plain':>7} {'median':>6} {'best':>5}")


def line(r: Row) -> str:
    gain = (f"{r.x_plain:7.2f} {r.median_x_plain:6.2f} {r.best_x_plain:5.2f}" if r.x_plain is not None
            else f"{'-':>7} {'-':>6} {'-':>5}")
    return (f"{r.experiment:13} {r.batch:5d} {r.loop:14} {r.ms_per_step:8.1f} {r.images_per_s:9,.0f} "
            f"{r.gflop_per_step:6.2f} {r.gflop_per_s:8.1f} {r.peak_share:6.1%} {gain}")


def parser() -> argparse.ArgumentParser:
    p = cli.parser("python -m benchmarks.cpu", __doc__)
    p.add_argument("--experiments", nargs="+", help="default: each report network pair once (rNNN- experiments)")
    p.add_argument("--modes", nargs="+", default=["fp32"], choices=list(MODES), help="gan-spec loops (default fp32)")
    p.add_argument("--batch", type=cli.count("batches"), help="default: each experiment's documented batch size")
    p.add_argument("--rounds", type=cli.count("rounds"), default=10, help="timed rounds (default 10)")
    p.add_argument("--warmup", type=cli.positive, default=2, help="untimed units per loop first (default 2)")
    p.add_argument("--threads", type=cli.positive, help="torch.set_num_threads (default: torch's, one per core)")
    p.add_argument("--json", type=Path, help="also write the rows and peaks to this file")
    return p


@boundary("benchmarks.cpu")
def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    names = args.experiments or report_pairs()
    for name in names:
        spec.load(name)  # an unknown name fails here, with the closest one suggested
    if args.threads:
        torch.set_num_threads(args.threads)
    peaks = {"fp32": matmul_peak(torch.float32), "bf16": matmul_peak(torch.bfloat16)}
    rows: list[Row] = []
    print(header(peaks), flush=True)
    for name in names:  # each experiment's rows as soon as they are measured (a long run keeps what it has)
        batch = args.batch or spec.load(name).batch_size.value
        rows += compare(name, batch, args.modes, args.rounds, args.warmup, peaks)
        print("\n".join(line(r) for r in rows[-len(args.modes) - 1:]), flush=True)
    if args.json:
        args.json.write_text(json.dumps({"peaks": peaks, "threads": torch.get_num_threads(), "torch": torch.__version__,
                                         "rows": [asdict(r) for r in rows]}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
