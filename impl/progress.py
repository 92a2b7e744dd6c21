"""Progress of long work (training, decoding, dumping samples) where a person is looking.

On a terminal: a tqdm bar. Without one (CI, `nohup`, output sent to a log file), carriage-return redraws would
fill the log with one unreadable line, so plain lines are printed instead: at most one every `every_s` seconds,
at epoch ends, and at the end.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import TextIO, TypeVar

T = TypeVar("T")


def plural(unit: str) -> str:
    return unit + ("es" if unit.endswith(("ch", "s", "x")) else "s")


class Progress:
    """Counts `total` units from `initial`; `update(done, text)` sets the count reached and a short status."""

    def __init__(self, total: int, initial: int = 0, desc: str = "", disabled: bool = False, unit: str = "step",
                 stream: TextIO | None = None, every_s: float = 30.0) -> None:
        self.total, self.done, self.desc, self.unit = total, initial, desc, unit
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
        parts = [p for p in (self.desc, count, self.text, note) if p]
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
