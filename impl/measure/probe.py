"""Report 004's latent probe, measured: one fixed batch of 8 latent vectors; 5 positions each set to 1, 10 and
100; three 5x8 grids plus the base row, and a table of how far each change moves the images.

    python -m impl.latent runs/r004-mlp-20261123-101500 [--positions 0 20 40 60 80] [--values 1 10 100]

Positions are 0-based. The report's rows are 'every 20 numbers' yet name positions 1 and 20 (erratum e12);
gan-spec uses 0, 20, 40, 60, 80. Writes RUN/latent/{base,value_1,value_10,value_100}.png and latent.json.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from impl.data.load import DataError
from impl.measure import metrics
from impl.measure.evaluation import is_fashion
from impl.runs import grids
from impl.runs.checkpoint import load_generator


def mean_pairwise_distance(images: torch.Tensor) -> float:
    """Mean absolute pixel difference over all pairs in a row: how alike the row's images are."""
    flat = images.flatten(1)
    d = (flat[:, None] - flat[None]).abs().mean(-1)
    n = len(images)
    return float(d.sum() / (n * (n - 1)))


@torch.no_grad()
def probe(run: Path, positions: list[int], values: list[float], n: int = 8, seed: int = 0,
          progress: bool = True) -> dict:
    g, state = load_generator(run)
    net = g.spec
    dim = int(torch.tensor(net.input).prod())
    bad = [p for p in positions if not 0 <= p < dim]
    if bad:
        raise DataError(f"--positions {bad}: the latent vector has positions 0 to {dim - 1}")
    z = torch.randn(n, dim, generator=torch.Generator().manual_seed(seed))
    base = g(z.view(n, *net.input))
    classifier = metrics.load_classifier(progress=progress)[0] if is_fashion(run) else None
    base_labels = classifier(base).argmax(1) if classifier is not None else None
    out_dir = run / "latent"
    grids.labelled_grid(base, ["base"], [f"vector {i + 1}" for i in range(n)], out_dir / "base.png")
    rows = []
    for value in values:
        grid = []
        for pos in positions:
            changed = z.clone()
            changed[:, pos] = value
            images = g(changed.view(n, *net.input))
            grid.append(images)
            row = {"position": pos, "value": value, "pixel_change": float((images - base).abs().mean()),
                   "row_spread": mean_pairwise_distance(images)}
            if classifier is not None:
                row["class_flips"] = int((classifier(images).argmax(1) != base_labels).sum())
            rows.append(row)
        grids.labelled_grid(torch.cat(grid), [f"z[{p}] = {value:g}" for p in positions],
                            [f"vector {i + 1}" for i in range(n)], out_dir / f"value_{value:g}.png")
    result = {"experiment": state["experiment"], "step": state["step"], "positions": positions, "values": values,
              "base_row_spread": mean_pairwise_distance(base), "rows": rows}
    (out_dir / "latent.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    return result
