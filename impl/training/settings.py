"""A run's resolved settings: the spec's values with the command line's changes applied, as config.json records
them and a resume reads them back."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from impl.core.errors import RunError


@dataclass
class Settings:
    """How one run trains. `fast` is the CUDA fast path (CUDA graphs, fused optimizers, bf16, channels_last; see
    impl/fastpath.py); on the CPU it trains in blocks of n_critic steps computed eagerly, the same arithmetic."""

    experiment: str
    batch_size: int
    epochs: int | None  # the run's length in epochs; None when --steps alone sets it
    max_steps: int | None  # the run's length in steps (batches), if set; with epochs too, the smaller length
    seed: int
    device: str
    log_every: int = 50
    precision: str = "fp32"  # "bf16": forward passes under bfloat16 autocast (weights and optimizers stay fp32)
    channels_last: bool = False  # NHWC memory layout for the conv networks (faster convolutions on GPUs)
    fast: bool = False  # the fast path: training blocks of n_critic steps, replayed as one CUDA graph on a GPU
    compile: bool = False  # torch.compile the networks' training calls (fewer, fused kernels; slow first steps)
    sample_every: int | None = None  # also write a sample grid every this many steps
    keep_every: int | None = None  # also keep the checkpoint of every this many epochs (checkpoints/epoch_NNN.pt)
    tensorboard: bool = False  # mirror the statistics and grids into TensorBoard events (RUN/tensorboard/)

    @classmethod
    def from_config(cls, data: Any, where: Path) -> Settings:
        """The settings a run's config.json records, checked: a file from another gan-spec version or edited by
        hand is refused with one line naming the key, never half-read."""
        if not isinstance(data, dict):
            raise RunError(f"{where}: 'settings' is {type(data).__name__}, not a table; the run folder is damaged")
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise RunError(f"{where}: unknown settings key {unknown[0]!r}: the run was made by another gan-spec "
                           "version; resume it with that version")
        missing = [n for n, f in known.items() if n not in data and f.default is dataclasses.MISSING]
        if missing:
            raise RunError(f"{where}: settings key {missing[0]!r} missing; the run folder is damaged")
        settings = cls(**data)
        settings.check(where)
        return settings

    def check(self, where: Path | str) -> None:
        """Types and ranges of every field (config.json is a file anyone can edit)."""
        def bad(name: str, want: str) -> RunError:
            return RunError(f"{where}: settings.{name} is {getattr(self, name)!r}, expected {want}; "
                            "the run folder is damaged")

        for name in ("batch_size", "seed", "log_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or (value <= 0 and name != "seed"):
                raise bad(name, "a positive integer" if name != "seed" else "an integer")
        for name in ("epochs", "max_steps", "sample_every", "keep_every"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value <= 0):
                raise bad(name, "a positive integer or null")
        if self.epochs is None and self.max_steps is None:
            raise bad("epochs", "a positive integer when max_steps is null")
        if not isinstance(self.experiment, str) or not isinstance(self.device, str):
            raise bad("experiment" if not isinstance(self.experiment, str) else "device", "a string")
        if self.precision not in ("fp32", "bf16"):
            raise bad("precision", "'fp32' or 'bf16'")
        for name in ("channels_last", "fast", "compile", "tensorboard"):
            if not isinstance(getattr(self, name), bool):
                raise bad(name, "true or false")
