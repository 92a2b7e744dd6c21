"""Report 004's latent probe: one fixed batch of 8 latent vectors, chosen positions each set to chosen values (the
report's 1, 10 and 100), a labelled grid per value plus the base row, and latent.json with how far and how each
change moves the images. Positions are 0-based (erratum e12)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from impl.core.errors import DataError
from impl.measure.domain_classifier import load_classifier
from impl.runs import grids
from impl.runs.checkpoint import load_generator
from impl.runs.folder import RunFolder


def mean_pairwise_distance(images: torch.Tensor) -> float:
    """Mean absolute pixel difference over all pairs in a row: how alike the row's images are."""
    flat = images.flatten(1)
    d = (flat[:, None] - flat[None]).abs().mean(-1)
    n = len(images)
    return float(d.sum() / (n * (n - 1)))


def direction_spread(changes: list[torch.Tensor]) -> float:
    """How differently the positions change the images: the mean pixel distance between two positions' change
    images (changed minus unchanged, over the same latent vectors), over the changes' mean size. 0 when every
    position changes the images alike; about 1.4 for independent changes of equal size; larger when they point
    opposite ways."""
    sizes = [float(c.abs().mean()) for c in changes]
    if len(changes) < 2 or not sum(sizes):
        return 0.0
    pairs = [float((a - b).abs().mean()) for i, a in enumerate(changes) for b in changes[i + 1:]]
    return (sum(pairs) / len(pairs)) / (sum(sizes) / len(sizes))


@torch.no_grad()
def probe(path: Path, positions: list[int], values: list[float], n: int = 8, seed: int = 0,
          progress: bool = True) -> dict[str, Any]:
    run = RunFolder(path)
    g, state = load_generator(run)
    net = g.spec
    dim = int(torch.tensor(net.input).prod())
    bad = [p for p in positions if not 0 <= p < dim]
    if bad:
        raise DataError(f"--positions {bad}: the latent vector has positions 0 to {dim - 1}")
    z = torch.randn(n, dim, generator=torch.Generator().manual_seed(seed))
    base = g(z.view(n, *net.input))
    classifier = load_classifier()[0] if run.on_fashion() else None
    base_labels = classifier(base).argmax(1) if classifier is not None else None
    columns = [f"vector {i + 1}" for i in range(n)]
    grids.labelled_grid(base, ["base"], columns, run.root, RunFolder.latent_grid(None))
    rows, spreads = [], {}
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
        spreads[f"{value:g}"] = direction_spread([images - base for images in grid])
        grids.labelled_grid(torch.cat(grid), [f"z[{p}] = {value:g}" for p in positions], columns, run.root,
                            RunFolder.latent_grid(value))
    result = {"experiment": state["experiment"], "step": state["step"], "positions": positions, "values": values,
              "base_row_spread": mean_pairwise_distance(base), "direction_spread": spreads, "rows": rows}
    run.write_json(RunFolder.LATENT, result)
    return result
