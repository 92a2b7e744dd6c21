"""gan-spec's error types, their exit codes, and the one error boundary every command runs inside.

An expected error is one line, `error: <the thing>: <the problem>; <the fix>`, and an exit code:

    2  bad input: a spec file (spec.SpecError), data (DataError), a run folder or checkpoint (RunError),
       arguments that cannot work here (UsageError: no GPU, a batch that does not split over the processes)
    3  the run started and cannot go on (RunFailed: non-finite loss, out of memory, disk full)
    128+signal  interrupted (Interrupted: the checkpoint is saved and the message gives the resume command)

Anything else is a bug: the boundary prints one line naming the command and a file holding the full traceback,
and exits 1. A user never sees a traceback.
"""

from __future__ import annotations

import functools
import os
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from spec.fields import SpecError


class BadInput(ValueError):
    """Input gan-spec cannot use (exit 2). The message is one line naming the input and the fix."""

    exit_code = 2


class DataError(BadInput):
    """Missing or unusable training data."""


class RunError(BadInput):
    """A run folder, its config.json or its checkpoints cannot be used."""


class UsageError(BadInput):
    """Arguments that cannot work together or on this machine (a device that is not there, a batch size that does
    not fit the data or split over the processes)."""


class RunFailed(RuntimeError):
    """Training started but cannot go on (exit 3); the message says what happened and what was kept."""

    exit_code = 3


class Diverged(RunFailed):
    """Training stopped on a non-finite loss (exit 3): for a scorecard an outcome of the run, not an accident."""


class NonFinite(RunError):
    """A run's generator holds or makes NaN or infinite values (exit 2 for a command; a scorecard's outcome)."""


class Interrupted(RuntimeError):
    """A signal stopped the work after saving it (exit 128 + the signal number). `what` says what was stopped and
    kept; `resume` is the command that continues it (data: a study that trained the run replaces it with its own)."""

    def __init__(self, what: str, signum: int, resume: str = "") -> None:
        super().__init__(what)
        self.what, self.signum, self.resume = what, signum, resume
        self.exit_code = 128 + signum

    def __str__(self) -> str:
        return self.what + (f"; continue with: {self.resume}" if self.resume else "")

    def continued_by(self, resume: str) -> Interrupted:
        """The same interruption, continued by another command (the study's or scorecard's, not the run's)."""
        return Interrupted(self.what, self.signum, resume)


def first_line(exc: BaseException) -> str:
    """'Type: first line of the message', short enough for a one-line warning."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0][:160]}" if text else type(exc).__name__


def say(message: str) -> None:
    """Print to stderr once: under torchrun only the first process speaks."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0:
        print(message, file=sys.stderr, flush=True)


def teardown() -> None:
    """End a torchrun process group once the command's last word is said (only the first process says it)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def user_cache() -> Path:
    """gan-spec's folder in the user cache: $XDG_CACHE_HOME/gan-spec, or ~/.cache/gan-spec when the variable is unset,
    empty or relative (the XDG rule: a relative path is ignored, so an empty one never means the current folder)."""
    given = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(given) if given and Path(given).is_absolute() else Path.home() / ".cache"
    return base / "gan-spec"


def crash_folder() -> Path:
    return user_cache() / "crashes"


def save_traceback(command: str, exc: BaseException) -> Path:
    """Write the full traceback of an unexpected error to a file and return its path (a temporary file when the
    cache folder cannot be written)."""
    text = "".join(traceback.format_exception(exc))
    name = f"{command.replace('.', '-')}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.txt"
    for folder in (crash_folder(), Path(os.environ.get("TMPDIR", "/tmp"))):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / name
            path.write_text(f"{command} {' '.join(sys.argv[1:])}\n\n{text}", encoding="utf-8")
            return path
        except OSError:
            continue
    return Path("(could not be written)")


def expected_exit(exc: BaseException) -> int | None:
    """The exit code of an expected error, None for anything else."""
    if isinstance(exc, SpecError):
        return 2
    return getattr(exc, "exit_code", None) if isinstance(exc, BadInput | RunFailed | Interrupted) else None


def printable_streams() -> None:
    """Under an ASCII locale (LC_ALL=C, no PYTHONIOENCODING) stdout and stderr cannot encode the reports' Chinese
    quotes or the tables' box characters: such characters are written as escapes instead of ending the command."""
    for stream in (sys.stdout, sys.stderr):
        encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "")
        if encoding not in ("utf8", "utf16", "utf32") and hasattr(stream, "reconfigure"):
            try:
                stream.reconfigure(errors="backslashreplace")
            except (ValueError, OSError):  # a closed or unusual stream: leave it as it is
                pass


def boundary(command: str) -> Callable[[Callable[..., int]], Callable[..., int]]:
    """Decorate a command's `main(argv) -> int`: expected errors become their line and exit code, anything else one
    line naming the command and the saved traceback (exit 1). argparse's own usage errors (SystemExit 2) pass."""

    def wrap(main: Callable[..., int]) -> Callable[..., int]:
        @functools.wraps(main)
        def guarded(*args: object, **kwargs: object) -> int:
            printable_streams()
            try:
                return main(*args, **kwargs)
            except KeyboardInterrupt:  # training saves on the first Ctrl-C; anything else stops here at once
                say("\ninterrupted (Ctrl-C); stopped at once, without saving; what was saved before is intact")
                return 130
            except BrokenPipeError:  # `... | head`: the reader went away; nothing to say to it
                sys.stderr.close()
                return 141
            except Exception as exc:
                code = expected_exit(exc)
                if code is not None:
                    text = str(exc)
                    say(text if isinstance(exc, Interrupted) else f"error: {text}")
                    return code
                path = save_traceback(command, exc)
                say(f"error: {command} failed unexpectedly ({first_line(exc)}); this is a bug in gan-spec; "
                    f"the full traceback is in {path}")
                return 1
            finally:
                teardown()

        return guarded

    return wrap
