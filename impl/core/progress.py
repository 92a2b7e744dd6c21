"""Progress of long work (training, decoding, dumping samples) where a person is looking.

On a terminal: a tqdm bar (with its elapsed time and estimate). Without one (CI, `nohup`, output sent to a log
file), carriage-return redraws would fill the log with one unreadable line, so plain lines are printed instead: at
most one every `every_s` seconds, at epoch ends, and at the end, each with the time elapsed and the time left.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import TextIO, TypeVar

T = TypeVar("T")


def plural(unit: str) -> str:
    return unit + ("es" if unit.endswith(("ch", "s", "x")) else "s")


def now() -> float:
    """The clock every estimate reads (monotonic seconds); tests replace it."""
    return time.monotonic()


def duration(seconds: float) -> str:
    """'45 s', '12 min 03 s', '2 h 05 min'."""
    s = max(0, round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def eta(done: float, total: float, spent: float) -> str:
    """'1 min 05 s elapsed, about 40 s left' from the share done so far (no estimate before any is done, none after
    the end)."""
    left = spent / done * (total - done) if 0 < done < total else None
    return f"{duration(spent)} elapsed" + (f", about {duration(left)} left" if left is not None else "")


class Progress:
    """Counts `total` units from `initial`; `update(done, text)` sets the count reached and a short status."""

    def __init__(self, total: int, initial: int = 0, desc: str = "", disabled: bool = False, unit: str = "step",
                 stream: TextIO | None = None, every_s: float = 30.0) -> None:
        self.total, self.done, self.desc, self.unit = total, initial, desc, unit
        self.initial, self.start = initial, now()  # the estimate counts this call's work only
        self.stream = stream or sys.stderr
        self.disabled, self.every_s = disabled, every_s
        self.text, self.last_line = "", time.monotonic()
        self.bar = None
        if not disabled and self.stream.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=initial, unit=unit, desc=desc, dynamic_ncols=True, file=self.stream)

    def update(self, done: int, text: str = "") -> None:
        step, self.done, self.text = done - self.done, done, text
        if self.disabled:
            return
        if self.bar is not None:
            self.bar.update(step)
            if text:
                self.bar.set_postfix_str(text)
        elif time.monotonic() - self.last_line >= self.every_s:
            self.line()

    def epoch_done(self, epoch: int) -> None:
        if self.bar is None and not self.disabled:
            self.line(f"epoch {epoch} done")

    def line(self, note: str = "") -> None:
        share = f"{self.done / self.total:.0%}" if self.total else "-"
        count = f"{self.done:,}/{self.total:,} {plural(self.unit)} ({share})"
        timing = eta(self.done - self.initial, self.total - self.initial, now() - self.start)
        parts = [p for p in (self.desc, count, self.text, timing, note) if p]
        print(" | ".join(parts), file=self.stream, flush=True)
        self.last_line = time.monotonic()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        elif not self.disabled and self.done and self.text:
            self.line("end")
        self.disabled = True


def tracked(items: Iterable[T], total: int, desc: str, unit: str = "item", disabled: bool = False,
            every_s: float = 30.0) -> Iterator[T]:
    """`items`, counted on a Progress as they are consumed (a bar on a terminal, periodic plain lines in a log)."""
    progress = Progress(total, desc=desc, unit=unit, disabled=disabled, every_s=every_s)
    try:
        for done, item in enumerate(items, 1):
            yield item
            progress.update(done)
    finally:
        if progress.bar is not None:
            progress.bar.close()
        elif not progress.disabled and progress.done:
            progress.line("done")
        progress.disabled = True
