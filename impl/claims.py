"""Reading the measurement a claim needs from a run folder, and the arms a set of claims needs trained.

    python -m impl.claims [REPORT...]      # the claims as a markdown table (docs/claims.md holds all of them)

A run folder gives four sources (docs/claims.md defines every measurement on them):
    metrics.json         impl.evaluate's final metrics            -> kind "final"
    epoch_metrics.jsonl  one line of metrics per finished epoch   -> kind "epoch_series"
    metrics.jsonl        the training log (losses every 50 steps) -> kind "loss_curve"
    latent/latent.json   impl.latent's probe                      -> kind "latent"
A value that cannot be read is a Reading with no value and the reason, never an exception.
"""

from __future__ import annotations

import sys

import spec
from impl import cli
from impl.errors import boundary
from impl.verdicts.readings import claims_table


@boundary("impl.claims")
def main(argv: list[str] | None = None) -> int:
    p = cli.parser("python -m impl.claims", __doc__)
    p.add_argument("reports", nargs="*", help="report numbers (000 to 004); all when none")
    args = p.parse_args(argv)
    known = sorted({c.report for c in spec.claims()})
    unknown = [r for r in args.reports if r not in known]
    if unknown:
        p.error(f"no claims for report {unknown[0]!r}; reports with claims: {', '.join(known)}")
    print(claims_table(c for c in spec.claims() if not args.reports or c.report in args.reports))
    return 0


if __name__ == "__main__":
    sys.exit(main())
