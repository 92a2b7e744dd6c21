"""One self-contained HTML page comparing runs: a table of their metrics (which direction is better, the best run
marked among runs measured alike), a warning when they differ in steps, data, seed or device and another when their
metrics were measured differently (samples, image size, real set, data), their loss curves (overlaid up to ten
runs, one panel per run beyond), and per run the recipe as documented vs as run (notes and overrides as text), its
sample grids over the epochs and its latent grids.

    python -m impl.report runs/r004-mlp-cpu runs/r004-conv-cpu --out report.html

Run folders are read as untrusted (see impl.runfiles): every value is escaped, only PNGs inside a run are shown.
"""

from __future__ import annotations

import sys
from pathlib import Path

from impl import cli
from impl.errors import RunError, boundary
from impl.pages.html import build
from impl.runs.untrusted import text


@boundary("impl.report")
def main(argv: list[str] | None = None) -> int:
    p = cli.parser("python -m impl.report", __doc__)
    p.add_argument("runs", nargs="+", type=Path, help="run directories made by impl.train")
    p.add_argument("--out", type=Path, default=Path("report.html"))
    args = p.parse_args(argv)
    if args.out.is_file() and args.out.suffix.lower() not in (".html", ".htm"):
        raise RunError(f"{text(args.out)}: exists and is not an HTML file; choose another --out")
    page = build(args.runs)
    try:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise RunError(f"{text(args.out)}: cannot write ({exc.strerror or type(exc).__name__}); "
                       "choose another --out") from None
    print(f"wrote {text(args.out)} ({len(page) / 1e6:.1f} MB, {len(args.runs)} runs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
