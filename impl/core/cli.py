"""What every gan-spec command line shares: a parser whose usage errors are one line, and argument types that
refuse values the code cannot use (before anything is loaded or written)."""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn, TypeVar

T = TypeVar("T")
P = TypeVar("P", bound=argparse.ArgumentParser)

MAX_SEED = 2**32 - 1  # torch.manual_seed takes 64 bits, but seeds are combined with epochs and offsets


@dataclass(frozen=True)
class Bound:
    """The range a count argument may take, and why: checked when the command line is read, before any work."""

    low: int
    high: int
    why: str


# Every count argument of the commands, tools and benchmarks, in one table (`count(name)` is the argparse type).
# Upper bounds stop a plan that would fill memory or never end; lower bounds say what the work needs.
BOUNDS: dict[str, Bound] = {
    "seeds": Bound(1, 1_000, "seeds per arm: each trains a run"),
    "calibration_seeds": Bound(2, 1_000, "an A/A split needs two seeds at least, one per half"),
    "steps": Bound(1, 100_000_000, "steps (batches) of a run, as --set steps bounds it"),
    "splits": Bound(1, 1_000_000, "random splits and draws of a calibration"),
    "batches": Bound(1, 1_000_000, "a batch size, as --set batch_size bounds it"),
    "rounds": Bound(1, 100_000, "timed rounds of a benchmark"),
    "jobs": Bound(1, 10_000, "runs at the same time, as jobs"),
    "nodes": Bound(1, 100_000, "nodes of a modelled cluster"),
    "images": Bound(1, 10_000_000, "images generated for a measurement or a benchmark folder"),
}


def count(name: str) -> Callable[[str], int]:
    """argparse type: an integer within BOUNDS[name]; a value outside is one usage line naming the range."""
    bound = BOUNDS[name]

    def convert(text: str) -> int:
        value = _read(text, int, "an integer")
        if not bound.low <= value <= bound.high:
            raise argparse.ArgumentTypeError(f"must be between {bound.low:,} and {bound.high:,} ({bound.why}), "
                                             f"got {value:,}")
        return value

    convert.__name__ = name
    return convert


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors: `error: <prog>: <problem>; see --help` and exit 2."""

    def error(self, message: str) -> NoReturn:
        print(f"error: {self.prog}: {message}; see --help", file=sys.stderr)
        sys.exit(2)


def version() -> str:
    """What `--version` prints after the command's name: gan-spec's version, the commit of the checkout it runs from
    ('+dirty' with changes not committed; config.json records the same two facts) and torch's version."""
    import torch

    from impl import __version__
    commit, dirty = source_state()
    where = f", commit {commit[:12]}{'+dirty' if dirty else ''}" if commit != "unknown" else ""
    return f"gan-spec {__version__}{where}, torch {torch.__version__}"


class VersionAction(argparse.Action):
    """`--version`: prints `<prog>: version()` and exits 0; the version is looked up only when asked for."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS,
                         help="print gan-spec's version (and commit) and torch's, and exit")

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        print(f"{parser.prog}: {version()}")
        parser.exit()


def add_version(p: P) -> P:
    p.add_argument("--version", action=VersionAction)
    return p


def spelling(prog: str) -> str:
    """The command as the user would type it: `gan-spec X` when the `gan-spec` script runs any command (impl/console.py
    sets argv[0] to 'gan-spec <command>'), else `prog` ('python -m impl.X'), so messages and usage lines name what
    the user can type again, also when one command names another (an interrupted scorecard run's resume hint)."""
    command = prog.removeprefix("python -m impl.")
    return f"gan-spec {command}" if sys.argv[:1] and sys.argv[0].startswith("gan-spec ") else prog


def parser(prog: str, doc: str | None) -> Parser:
    """A command's parser: the first paragraph of its module docstring as description, the rest as epilog, and
    --version."""
    parts = (doc or "").strip().split("\n\n")
    return add_version(Parser(prog=spelling(prog), description=parts[0], epilog="\n\n".join(parts[1:]) or None,
                              formatter_class=argparse.RawDescriptionHelpFormatter))


def _read(text: str, convert: Callable[[str], T], what: str) -> T:
    try:
        return convert(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None


def positive(text: str) -> int:
    """argparse type: a positive integer."""
    value = _read(text, int, "a positive integer")
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return value


def seed(text: str) -> int:
    """argparse type: a random seed in [0, 2^32)."""
    value = _read(text, int, "an integer seed")
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"must be between 0 and {MAX_SEED}, got {value}")
    return value


def nonempty(text: str) -> str:
    """argparse type: a name or path that is not empty or blank."""
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return text


def finite(text: str) -> float:
    """argparse type: a finite number."""
    value = _read(text, float, "a number")
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
    return value


def latent_value(text: str) -> float:
    """argparse type: a value to write into a latent vector; beyond 1e6 a network's float32 sums overflow into
    inf and NaN images, which no reading of a report needs (report 004 uses 1, 10 and 100)."""
    value = finite(text)
    if abs(value) > 1e6:
        raise argparse.ArgumentTypeError(f"must lie between -1e6 and 1e6, got {text}")
    return value


def writable_run(run: Path | str, writes: str) -> None:
    """Refuse a run folder this command would write into (`writes`: 'metrics.json') when it cannot be written
    (read-only file system, no permission): one line before the work, not an error after it."""
    from impl.core.errors import UsageError
    from impl.core.files import unwritable

    run = Path(run)
    stuck = unwritable(run) if run.is_dir() else None
    if stuck is not None:
        raise UsageError(f"{run}: cannot be written (read-only or no permission), and {writes} goes into it; copy the "
                         "run to a folder you can write and pass the copy")


def _git(*args: str) -> str | None:
    """git in gan-spec's own checkout; None for an installed copy (site-packages may sit inside some other
    repository, whose commit is not gan-spec's)."""
    root = Path(__file__).resolve().parents[2]
    if not (root / "pyproject.toml").is_file():
        return None
    try:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def source_state() -> tuple[str, bool | None]:
    """(the gan-spec commit or 'unknown', whether tracked files have changes not committed; None when unknown)."""
    status = _git("status", "--porcelain", "--untracked-files=no")
    return _git("rev-parse", "HEAD") or "unknown", None if status is None else bool(status)
