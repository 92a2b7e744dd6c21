"""One self-contained HTML page comparing runs: a table of their metrics (which direction is better, the best run
marked among runs measured alike), a warning when they differ in steps, data, seed or device and another when their
metrics were measured differently (samples, image size, real set, data), their loss curves (overlaid up to ten
runs, one panel per run beyond), and per run the recipe as documented vs as run (notes and overrides as text), its
sample grids over the epochs and its latent grids.

    python -m impl.report runs/r004-mlp-cpu runs/r004-conv-cpu --out report.html
    python -m impl.report runs/sc-3seeds runs/sc-5seeds --out moved.html --csv claims.csv   # scorecards compared

A folder holding a scorecard.json (impl.reproduce's) is a scorecard: two or more are compared claim by claim (how
each verdict and effect moved), and --csv writes one row per claim and scorecard (verdict, Holm verdict, effect,
interval, n, p). Runs and scorecards are not mixed on one page.

Run folders are read as untrusted (see impl.runfiles): every value is escaped, only PNGs inside a run are shown.
"""

from __future__ import annotations

import sys
from pathlib import Path

from impl.core import cli
from impl.core.errors import RunError, UsageError, boundary
from impl.pages import scorecards
from impl.pages.html import build
from impl.runs.untrusted import text


@boundary("impl.report")
def main(argv: list[str] | None = None) -> int:
    p = cli.parser("python -m impl.report", __doc__)
    p.add_argument("runs", nargs="+", type=Path, help="run directories made by impl.train, or scorecard folders made "
                   "by impl.reproduce")
    p.add_argument("--out", type=Path, default=Path("report.html"))
    p.add_argument("--csv", type=Path, help="scorecards only: also write one row per claim and scorecard to this file")
    args = p.parse_args(argv)
    kinds = [scorecards.is_scorecard(path) for path in args.runs]
    if any(kinds) and not all(kinds):
        mixed = next(text(path) for path, card in zip(args.runs, kinds) if not card)
        raise UsageError(f"{mixed}: a run folder among scorecard folders; compare scorecards with scorecards and "
                         "runs with runs")
    if args.csv is not None and not all(kinds):
        raise UsageError("--csv exports scorecards (folders with a scorecard.json); drop --csv for run folders")
    for out, suffixes, kind, flag in ((args.out, (".html", ".htm"), "an HTML", "--out"),
                                      (args.csv, (".csv",), "a CSV", "--csv")):
        if out is not None and out.is_file() and out.suffix.lower() not in suffixes:
            raise RunError(f"{text(out)}: exists and is not {kind} file; choose another {flag}")
    cards = scorecards.loaded(args.runs) if all(kinds) else []
    page = scorecards.page(cards) if cards else build(args.runs)
    write(args.out, page, "--out")
    if args.csv is not None:
        write(args.csv, scorecards.to_csv(cards), "--csv")
        print(f"wrote {text(args.csv)} ({sum(len(c.claims) for c in cards)} rows)")
    what = f"{len(cards)} scorecards" if cards else f"{len(args.runs)} runs"
    print(f"wrote {text(args.out)} ({len(page) / 1e6:.1f} MB, {what})")
    return 0


def write(out: Path, content: str, flag: str) -> None:
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(content, encoding="utf-8")
    except OSError as exc:
        raise RunError(f"{text(out)}: cannot write ({exc.strerror or type(exc).__name__}); choose another {flag}") \
            from None


if __name__ == "__main__":
    sys.exit(main())
