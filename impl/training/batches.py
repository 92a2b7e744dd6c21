"""Which images each training step sees: the data set on the training device, one shuffle per epoch, and each
process's share of a global batch.

The order of epoch e is a permutation drawn from (seed, e) alone, so a resumed run draws exactly the batches the
uninterrupted run would have drawn, without saving any loader state. The last partial batch of an epoch is dropped
(fixed batch shapes, as a captured CUDA graph needs).
"""

from __future__ import annotations

import torch

from impl.core.errors import UsageError
from impl.data.load import to_unit


class Batches:
    """The training images (uint8, on `device`) and the batches of every step."""

    def __init__(self, images: torch.Tensor, batch_size: int, seed: int, device: torch.device,
                 rank: int = 0, world_size: int = 1, channels_last: bool = False) -> None:
        if batch_size % world_size:
            raise UsageError(f"batch size {batch_size} does not split over {world_size} processes; "
                             "pass a --batch-size divisible by the number of processes")
        self.steps_per_epoch = len(images) // batch_size
        if self.steps_per_epoch == 0:
            raise UsageError(f"batch size {batch_size} is larger than the data set ({len(images)} images); "
                             "pass a smaller --batch-size")
        self.images = images.to(device)
        self.batch_size, self.seed, self.device = batch_size, seed, device
        self.local = batch_size // world_size  # this process's share of every global batch
        self.rank, self.channels_last = rank, channels_last
        self._epoch, self._order = -1, torch.empty(0)

    def order(self, epoch: int) -> torch.Tensor:
        """The shuffle of `epoch`, from (seed, epoch) alone: resumable without saved state."""
        if epoch != self._epoch:
            gen = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self._order, self._epoch = torch.randperm(len(self.images), generator=gen).to(self.device), epoch
        return self._order

    def indices(self, step: int, steps: int = 1) -> torch.Tensor:
        """The image indices of `steps` consecutive global batches from `step` on (within one epoch)."""
        epoch, index = divmod(step, self.steps_per_epoch)
        b = self.batch_size
        return self.order(epoch)[index * b:(index + steps) * b]

    def real(self, indices: torch.Tensor) -> torch.Tensor:
        """This process's share of one global batch of indices, as floats in [-1, 1]."""
        mine = indices[self.local * self.rank:self.local * (self.rank + 1)]
        real = to_unit(torch.index_select(self.images, 0, mine))
        return real.contiguous(memory_format=torch.channels_last) if self.channels_last else real

    def share(self, batch: torch.Tensor) -> torch.Tensor:
        """This process's share of a tensor drawn for the whole global batch (the noise)."""
        return batch[self.local * self.rank:self.local * (self.rank + 1)]
