"""The training loop: train to the end, log every `log_every` steps, write each epoch's files, and stop cleanly on a
signal or a non-finite loss.

Under torchrun every decision (log, stop, diverged) is taken at the same logging step on all processes, from values
reduced over them; only the first process (the one with a run folder) writes.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import torch

from impl.core.errors import Diverged, RunError, RunFailed
from impl.core.files import Unsafe, write_failure
from impl.core.progress import Progress
from impl.runs import grids
from impl.runs.checkpoint import load_checkpoint, save_checkpoint, snapshot
from impl.runs.folder import RunFolder
from impl.runs.writer import BackgroundWriter, plot_losses, write_epoch
from impl.training.tensorboard import TensorBoard
from impl.training.trainer import STATS, Trainer

EpochHook = Callable[[Trainer, RunFolder], None]
# Ctrl-C, a scheduler's stop, a closed terminal, a scheduler's warning before a time limit (Slurm's --signal)
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR2)


class StopFlag:
    """A stop signal asks the loop to stop at the end of the current step, save and exit."""

    def __init__(self) -> None:
        self.signum = 0

    def __call__(self, signum: int, _frame: FrameType | None) -> None:
        if self.signum:  # a second Ctrl-C: the user insists
            raise KeyboardInterrupt
        self.signum = signum


def divergence_error(run: RunFolder | None, bad: int, values: dict[str, float]) -> Diverged:
    """The error for a non-finite loss at step `bad`, naming the last good checkpoint."""
    saved = None
    if run is not None and run.last_checkpoint.exists():
        saved = load_checkpoint(run)[0]["step"]
    kept = f"last good checkpoint at step {saved}" if saved is not None else "no checkpoint yet"
    where = f" in {run.file(RunFolder.CHECKPOINTS)}" if run is not None else ""
    return Diverged(f"non-finite loss at step {bad + 1} (averages now {values}); stopped; {kept}{where}; "
                     "try a lower learning rate (--set optimizer.lr=...)")


class Logger:
    """Reads the statistics at a logging step, agrees on stop and divergence with the other processes, and writes
    the metrics row and the epoch files (on a background writer, while the next epoch trains)."""

    def __init__(self, trainer: Trainer, run: RunFolder | None, progress: Progress, epoch_hook: EpochHook | None = None
                 ) -> None:
        self.trainer, self.run, self.progress, self.epoch_hook = trainer, run, progress, epoch_hook
        self.writer = BackgroundWriter()
        self.board = TensorBoard(run, trainer) if run is not None and trainer.settings.tensorboard else None
        self.t0 = time.perf_counter()
        self.carried = trainer.pending  # steps of the current interval summed before a stop, restored by a resume

    def save_between(self, stop: int) -> int:
        """A stop (single process) between two logging steps: no row, which would split the interval's sums; the
        checkpoint keeps them (Trainer.state_dict), and the resumed run logs the row an uninterrupted one does. A
        non-finite loss in the part of the interval trained is raised here: the last good checkpoint stays."""
        t = self.trainer
        bad = int(t.first_bad_step)
        if bad >= 0:
            self.writer.flush()
            raise divergence_error(self.run, bad, dict(zip(STATS, (t.sums / max(t.pending, 1)).tolist())))
        self.writer.check()
        if self.run is not None:
            self.writer.flush()
            save_checkpoint(self.run, t.state_dict())
        return stop

    def log(self, stop: int) -> int:
        """One logging step; returns the agreed stop signal (0 to go on). Raises RunFailed on divergence."""
        t = self.trainer
        if stop and not regular(t):
            return self.save_between(stop)
        means, count = t.read_stats()
        means = t.reduce_mean(means)
        flags = torch.stack([torch.tensor(stop, device=t.device), t.first_bad_step])
        if t.world_size > 1:
            torch.distributed.all_reduce(flags, op=torch.distributed.ReduceOp.MAX)
        values = dict(zip(STATS, means.tolist()))  # the only host sync
        # the agreed stop, kept apart from the flag: a process whose own signal comes after the agreement
        # (torchrun signals its workers one by one) must not take it for a second Ctrl-C
        stopping, bad = (int(v) for v in flags.tolist())
        if bad >= 0:
            self.writer.flush()  # the last good checkpoint is the one the message names
            raise divergence_error(self.run, bad, values)
        self.writer.check()  # a failed epoch write (full disk) stops the run now, not an epoch later
        spe, now = t.steps_per_epoch, time.perf_counter()
        trained_here, self.carried = count - self.carried, 0  # the steps a resume brought in were timed before
        row = {"experiment": t.exp.name, "step": t.step, "epoch": t.step / spe, **values,
               "images_per_s": trained_here * t.settings.batch_size / max(now - self.t0, 1e-9)}
        if t.family.critic:
            row["wasserstein"] = values["d_real"] - values["d_fake"]
        self.t0 = now
        self.progress.update(t.step, f"epoch {t.epoch}/{-(-t.total_steps // spe)} d {values['d_loss']:.3f} "
                                     f"g {values['g_loss']:.3f} {row['images_per_s']:,.0f} img/s")
        if self.run is not None:
            self.write(row, stopping)
        return stopping

    def write(self, row: dict[str, Any], stopping: int) -> None:
        t, run = self.trainer, self.run
        assert run is not None  # log() writes only on the process that has the run folder
        run.append_row(RunFolder.LOG, row)
        if self.board is not None:
            self.board.scalars(row)
        every = t.settings.sample_every
        if every and t.step % every == 0:
            self.grid(t.samples(), RunFolder.step_grid(t.step))
        if t.step % t.steps_per_epoch == 0:
            self.writer.flush()  # the previous epoch's files, which had a whole epoch to finish: one in flight
            samples = t.samples()
            keep = t.settings.keep_every and t.epoch % t.settings.keep_every == 0
            self.writer.submit(write_epoch, run, samples, snapshot(t.state_dict()), RunFolder.epoch_grid(t.epoch),
                               f"epoch_{t.epoch:03d}.pt" if keep else None)
            if self.board is not None:
                self.board.grid(samples, t.step)
            if self.epoch_hook is not None:
                # the hook may draw noise: it must not move the training's random stream
                with torch.random.fork_rng(devices=[t.device] if t.device.type == "cuda" else []):
                    self.epoch_hook(t, run)
            self.progress.epoch_done(t.epoch)
        if stopping:
            self.writer.flush()
            save_checkpoint(run, t.state_dict())

    def grid(self, samples: torch.Tensor, relative: str) -> None:
        assert self.run is not None  # called from write() and finish(), both only with a run folder
        grids.save_grid(samples, self.run.root, relative)
        if self.board is not None:
            self.board.grid(samples, self.trainer.step)

    def close(self) -> None:
        self.writer.close()
        if self.board is not None:
            self.board.close()

    def finish(self) -> None:
        """After the last step: what an epoch end has not written yet, and the loss plot."""
        t, run = self.trainer, self.run
        self.writer.flush()
        if run is None:
            return
        if t.step % t.steps_per_epoch:  # stopped inside an epoch by --steps: keep what it made
            self.grid(t.samples(), RunFolder.step_grid(t.step))
            save_checkpoint(run, t.state_dict())
        plot_losses(run)


def regular(trainer: Trainer) -> bool:
    """Whether this step logs a row: every log_every steps, at an epoch end, at the end, and at a sample step."""
    s = trainer.settings
    return (trainer.pending >= s.log_every or trainer.step % trainer.steps_per_epoch == 0
            or trainer.step == trainer.total_steps or bool(s.sample_every and trainer.step % s.sample_every == 0))


def due(trainer: Trainer, stop: StopFlag) -> bool:
    """Whether the loop stops to log or to save: at a regular logging step, and at once on a stop request (under
    torchrun only at the regular steps, where all processes meet)."""
    return regular(trainer) or bool(stop.signum and trainer.world_size == 1)


def train_loop(trainer: Trainer, run: RunFolder | None, quiet: bool, epoch_hook: EpochHook | None = None) -> int:
    """Train to the end. Returns 0 when done, or the signal that stopped it (its checkpoint saved). `run` is None
    on processes other than the first: they train but write nothing. `epoch_hook(trainer, run)` is called after
    each epoch's files are queued (the claims scorecard measures every epoch with it)."""
    stop = StopFlag()
    old = {s: signal.signal(s, stop) for s in STOP_SIGNALS}
    progress = Progress(trainer.total_steps, trainer.step, trainer.exp.name, quiet or run is None)
    logger = Logger(trainer, run, progress, epoch_hook)
    try:
        while trainer.step < trainer.total_steps:
            s = trainer.settings
            limit = trainer.step - trainer.pending + s.log_every
            if s.sample_every:
                limit = min(limit, (trainer.step // s.sample_every + 1) * s.sample_every)
            trainer.advance(min(trainer.total_steps, limit))
            if due(trainer, stop):
                stopping = logger.log(stop.signum)
                if stopping:
                    return stopping
        logger.finish()
        return 0
    except Unsafe:  # a link planted in the run while it trained: bad input, named as it is (exit 2)
        raise
    except RunError as exc:  # a checkpoint could not be written (disk full): the previous one is intact
        raise RunFailed(str(exc)) from None
    except OSError as exc:  # metrics.jsonl or a last grid could not be written
        cause, fix = write_failure(exc)
        raise RunFailed(f"{run}: cannot write {Path(exc.filename or 'a file').name} ({cause}); "
                        f"the last checkpoint is intact; {fix} and resume") from None
    except torch.OutOfMemoryError:
        raise RunFailed(f"out of GPU memory at batch size {trainer.settings.batch_size}; the last checkpoint "
                        f"{'in ' + str(run.file(RunFolder.CHECKPOINTS)) + ' ' if run else ''}is intact; "
                        "pass a smaller --batch-size") from None
    finally:
        progress.close()
        for signum, handler in old.items():  # first: a Ctrl-C during the wait below must not leave StopFlag installed
            signal.signal(signum, handler)
        logger.close()
