"""Live curves where people look for them: `--tensorboard` mirrors the run's hyperparameters (with each --set value)
and config.json, the logged statistics, the sample grids and, after impl.evaluate, its metrics (which the HPARAMS
table then shows beside each run's values) into TensorBoard event files in RUN/tensorboard/
(metrics.jsonl and metrics.json stay the record). Optional: it needs the tensorboard package
(`pip install 'gan-spec[tensorboard]'`)."""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

import torch

from impl.core.errors import RunError, UsageError
from impl.runs.folder import RunFolder
from spec import metrics as spec_metrics

if TYPE_CHECKING:
    from impl.training.trainer import Trainer

# the curves the HPARAMS table shows beside each run's values: its losses and every metric impl.evaluate writes
METRICS = ("train/d_loss", "train/g_loss", *(f"evaluation/{key}" for key in spec_metrics.METRICS))


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

    def __init__(self, run: RunFolder, trainer: Trainer | None = None) -> None:
        check_available()
        from torch.utils.tensorboard import SummaryWriter

        run.root.mkdir(RunFolder.TENSORBOARD)  # refuses a link planted where the events go
        self.writer = SummaryWriter(log_dir=str(run.file(RunFolder.TENSORBOARD)))
        if trainer is not None and trainer.step == 0:
            self.hparams(trainer, run)

    def hparams(self, trainer: Trainer, run: RunFolder | None = None) -> None:
        """The recipe, settings and each --set value (`set/<key>`) as TensorBoard's HPARAMS table, linked to the loss
        and evaluation curves; config.json whole as the text `config`."""
        from torch.utils.tensorboard.summary import hparams

        exp, s = trainer.exp, trainer.settings
        values = {"experiment": exp.name, "loss": exp.loss.value, "optimizer": exp.optimizer["name"].value,
                  "lr": exp.optimizer["lr"].value, "batch_size": s.batch_size, "n_critic": trainer.n_critic,
                  "total_steps": trainer.total_steps, "seed": s.seed, "precision": s.precision, "device": s.device}
        if trainer.clip is not None:
            values["clip_value"] = trainer.clip
        config = self.config(run)
        given = config.get("overrides")
        overrides: dict[str, Any] = given if isinstance(given, dict) else {}
        for key, entry in overrides.items():
            value = entry.get("value") if isinstance(entry, dict) else entry
            if isinstance(value, bool | int | float | str):
                values[f"set/{key}"] = value
        # SummaryWriter opens its file writer in __init__ and only close() drops it; this runs before any close
        assert self.writer.file_writer is not None
        for summary in hparams(values, {name: math.nan for name in METRICS}):
            self.writer.file_writer.add_summary(summary)
        if config:  # four spaces: TensorBoard's text panel shows Markdown, and this as code
            lines = json.dumps(config, indent=2, ensure_ascii=False).splitlines()
            self.writer.add_text("config", "\n".join("    " + line for line in lines))

    @staticmethod
    def config(run: RunFolder | None) -> dict[str, Any]:
        if run is None:
            return {}
        try:
            return run.config()
        except RunError:  # written before training starts; a run without one still gets its curves
            return {}

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


def write_evaluation(run: RunFolder, step: int, result: dict[str, Any]) -> None:
    """impl.evaluate's numbers as scalars `evaluation/<key>` at the run's last step, for a run trained with
    --tensorboard (other runs get no events folder)."""
    if not run.file(RunFolder.TENSORBOARD).is_dir():
        return
    try:
        board = TensorBoard(run)
    except UsageError:  # the package is gone since the run was trained: metrics.json holds the numbers
        return
    try:
        for key, value in result.items():
            if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
                board.writer.add_scalar(f"evaluation/{key}", value, step)
    finally:
        board.close()
