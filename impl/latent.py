"""Report 004's latent probe, measured: one fixed batch of 8 latent vectors; 5 positions each set to 1, 10 and
100; three 5x8 grids plus the base row, and a table of how far each change moves the images.

    python -m impl.latent runs/r004-mlp-20261123-101500 [--positions 0 20 40 60 80] [--values 1 10 100]

Positions are 0-based. The report's rows are 'every 20 numbers' yet name positions 1 and 20 (erratum e12);
gan-spec uses 0, 20, 40, 60, 80. Writes RUN/latent/{base,value_1,value_10,value_100}.png and latent.json.
"""

from __future__ import annotations

import sys
from pathlib import Path

import spec
from impl.core import cli
from impl.core.errors import boundary
from impl.measure.probe import probe
from impl.runs.folder import RunFolder


@boundary("impl.latent")
def main(argv: list[str] | None = None) -> int:
    p = cli.parser("python -m impl.latent", __doc__)
    p.add_argument("run", help="a run directory made by impl.train")
    r004 = spec.load("r004-mlp")
    assert isinstance(r004, spec.ExperimentSpec) and r004.latent is not None  # spec/ states report 004's study
    documented = r004.latent  # report 004's study: positions (erratum e12) and values
    p.add_argument("--positions", type=int, nargs="+", default=list(documented.positions.value))
    p.add_argument("--values", type=cli.latent_value, nargs="+", default=[float(v) for v in documented.values.value])
    p.add_argument("--seed", type=cli.seed, default=0)
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    cli.writable_run(args.run, f"{RunFolder.LATENT_DIR}/")
    result = probe(Path(args.run), args.positions, args.values, seed=args.seed, progress=not args.quiet)
    print(f"base row spread {result['base_row_spread']:.3f} (mean pixel distance between its 8 images)")
    print(f"{'position':>8} {'value':>6} {'pixel change':>12} {'row spread':>10} {'class flips':>11}")
    for r in result["rows"]:
        print(f"{r['position']:>8} {r['value']:>6g} {r['pixel_change']:>12.3f} {r['row_spread']:>10.3f} "
              f"{r.get('class_flips', '-'):>11}")
    print(f"grids and the table in {RunFolder(args.run).file(RunFolder.LATENT_DIR)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
