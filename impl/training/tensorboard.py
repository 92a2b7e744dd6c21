"""Live curves where people look for them: `--tensorboard` mirrors the logged statistics and the sample grids into
TensorBoard event files in RUN/tensorboard/ (metrics.jsonl stays the record). Optional: it needs the tensorboard
package (`pip install 'gan-spec[tensorboard]'`)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch

from impl.errors import UsageError


def check_available() -> None:
    """Refuse --tensorboard up front, before any training, when the package is missing."""
    try:
        import tensorboard  # noqa: F401
        from torch.utils.tensorboard import SummaryWriter  # noqa: F401
    except ImportError:
        raise UsageError("--tensorboard needs the tensorboard package; pip install 'gan-spec[tensorboard]' "
                         "(or drop --tensorboard: metrics.jsonl and loss.png hold the same curves)") from None


class TensorBoard:
    """An event writer for one run: scalars per logging step, a sample grid per epoch."""

    def __init__(self, run: Path) -> None:
        check_available()
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(run / "tensorboard"))

    def scalars(self, row: dict[str, Any]) -> None:
        step = int(row["step"])
        for key, value in row.items():
            if key not in ("step", "experiment") and isinstance(value, int | float) and math.isfinite(value):
                group = "speed" if key == "images_per_s" else "train"
                self.writer.add_scalar(f"{group}/{key}", value, step)

    def grid(self, images: torch.Tensor, step: int, tag: str = "samples") -> None:
        from torchvision.utils import make_grid

        columns = len(images) if len(images) <= 10 else math.ceil(math.sqrt(len(images)))
        self.writer.add_image(tag, make_grid(images.float() * 0.5 + 0.5, nrow=columns).clamp(0, 1), step)

    def close(self) -> None:
        self.writer.flush()
        self.writer.close()
