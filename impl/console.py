"""`gan-spec <command> ...`: the installed console script, one name for every `python -m impl.<command>`.

    gan-spec train r004-mlp          # = python -m impl.train r004-mlp
    gan-spec summary course-dcgan-g  # = python -m impl.summary course-dcgan-g
    gan-spec --help                  # the commands
    gan-spec --version               # gan-spec's version and commit, torch's version (every command has it too)
"""

from __future__ import annotations

import importlib
import sys

COMMANDS = {
    "train": "train an experiment, or resume a run",
    "sample": "images from a trained run: a grid, a folder of PNGs or an .npz",
    "evaluate": "metrics of a trained run (FID/KID, precision/recall, coverage, ...), kept in the run folder",
    "latent": "report 004's latent probe on a trained run",
    "report": "one HTML page comparing runs",
    "summary": "torchsummary tables of the built networks beside the reports' numbers",
    "collapse": "report 003's mode-collapse study (clip 0.01 vs 0.1)",
    "compare": "the loss families compared on the same networks",
    "reproduce": "do the reports' results hold? every claim decided over seeds, in one scorecard",
    "claims": "the reports' claims about their results, as a table",
    "ingest": "a new report's printouts read into spec files, every stated number checked",
    "classifier": "the shipped FashionMNIST classifier behind the domain metrics: its record, or --retrain",
}  # the one list of commands: impl/'s root holds exactly these (tests/test_layout.py), the docs name each


def usage() -> str:
    width = max(map(len, COMMANDS))
    rows = "\n".join(f"  {name:{width}}  {what}" for name, what in COMMANDS.items())
    return f"usage: gan-spec <command> [arguments]\n\ncommands:\n{rows}\n\n`gan-spec <command> --help` for each one."


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0
    if argv[0] == "--version":
        from impl.core.cli import version

        print(version())
        return 0
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        import difflib

        close = difflib.get_close_matches(command, list(COMMANDS), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        print(f"error: gan-spec: unknown command {command!r}{hint}; `gan-spec --help` lists them", file=sys.stderr)
        return 2
    module = importlib.import_module(f"impl.{command}")
    typed, sys.argv[0] = sys.argv[0], f"gan-spec {command}"  # the spelling messages name (impl.core.cli.spelling)
    try:
        code: int = module.main(rest)
        return code
    finally:  # a caller in the same process (a test) gets its argv back
        sys.argv[0] = typed


if __name__ == "__main__":
    sys.exit(main())
