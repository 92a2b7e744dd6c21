"""What `python -m impl.<command>` and the `gan-spec` script do before anything else is imported (impl/__init__).

- Ctrl-C while torch and the rest load ends the process with one line and exit 130, as Ctrl-C does once a command
  runs (impl.core.errors.boundary), never with a traceback of the import machinery.
- The working directory cannot shadow the installed package: `python -m` puts it first on sys.path, so a `spec/`
  folder there (someone's own spec, a data folder) would be imported as gan-spec's `spec`. When gan-spec runs
  from elsewhere (an installed or editable package), that entry is removed before `spec` is imported.

Nothing here happens on a plain `import impl` (a test, a notebook): only when impl is the program.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from types import TracebackType

PROJECT = Path(__file__).resolve().parents[2]  # the folder that holds impl/ and spec/


def is_entry() -> bool:
    """Whether impl is being run as the program: `python -m impl.X` (argv[0] is '-m' while the module is looked
    up) or the installed `gan-spec` script."""
    first = sys.argv[0] if sys.argv else ""
    return first == "-m" or Path(first).name == "gan-spec"


def interrupted_at_start(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
    """sys.excepthook while impl is the program: Ctrl-C before the command's boundary is one line, exit 130."""
    if issubclass(kind, KeyboardInterrupt):
        try:
            print("\ninterrupted (Ctrl-C) while gan-spec was starting; nothing was done", file=sys.stderr, flush=True)
        finally:
            os._exit(130)
    sys.__excepthook__(kind, value, tb)


def unshadow() -> None:
    """Drop the working directory from sys.path when gan-spec's own package lives elsewhere, so that its `spec/`
    or `impl/` folders are never imported in place of gan-spec's."""
    cwd = Path.cwd().resolve()
    if cwd == PROJECT:
        return
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != cwd]


def guard() -> None:
    """Both, when impl is the program; nothing otherwise."""
    if is_entry():
        sys.excepthook = interrupted_at_start
        unshadow()
