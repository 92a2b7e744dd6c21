"""Two runs' training curves side by side: what a setting (bf16 against fp32, say) does to the losses.

    python -m impl.train r004-conv --steps 300 --seed 0 --log-every 10 --precision fp32 --out runs/fp32
    python -m impl.train r004-conv --steps 300 --seed 0 --log-every 10 --precision bf16 --out runs/bf16
    python -m benchmarks.curves runs/fp32 runs/bf16 --out curves.png

Prints, for d_loss, g_loss, D(x) and D(G(z)), each run's mean over the last third of the logged rows and the largest
difference between the two at the same logged step; --out draws the four curves of both runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from impl.core import cli
from impl.core.errors import DataError, boundary
from impl.runs.folder import RunFolder

KEYS = ("d_loss", "g_loss", "d_real", "d_fake")


def rows_of(run: Path) -> list[dict]:
    rows = RunFolder(run).log()
    if not rows:
        raise DataError(f"{run}: no {RunFolder.LOG} rows; pass a run folder made by impl.train")
    return rows


def summary(a: list[dict], b: list[dict]) -> list[tuple[str, float, float, float]]:
    """(key, mean of run a over its last third, the same of run b, largest |a - b| at a common step)."""
    common = {r["step"]: r for r in b}
    out = []
    for key in KEYS:
        tail_a, tail_b = a[len(a) * 2 // 3:], b[len(b) * 2 // 3:]
        diffs = [abs(r[key] - common[r["step"]][key]) for r in a if r["step"] in common]
        out.append((key, sum(r[key] for r in tail_a) / len(tail_a), sum(r[key] for r in tail_b) / len(tail_b),
                    max(diffs, default=float("nan"))))
    return out


def draw(runs: dict[str, list[dict]], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(KEYS), figsize=(4 * len(KEYS), 3.2))
    for ax, key in zip(axes, KEYS):
        for (name, rows), style in zip(runs.items(), ("-", "--")):
            ax.plot([r["step"] for r in rows], [r[key] for r in rows], style, marker=".", label=name)
        ax.set_title(key)
        ax.set_xlabel("step")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


def parser() -> argparse.ArgumentParser:
    p = cli.parser("python -m benchmarks.curves", __doc__)
    p.add_argument("runs", nargs=2, type=Path, help="two run folders")
    p.add_argument("--out", type=Path, help="a PNG of the four curves of both runs")
    return p


@boundary("benchmarks.curves")
def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    a, b = (rows_of(run) for run in args.runs)
    names = [run.name for run in args.runs]
    print(f"{'':8} {names[0] + ' (last third)':>22} {names[1] + ' (last third)':>22} {'largest difference':>19}")
    for key, mean_a, mean_b, diff in summary(a, b):
        print(f"{key:8} {mean_a:22.4f} {mean_b:22.4f} {diff:19.4f}")
    if args.out:
        draw(dict(zip(names, (a, b))), args.out)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
