"""The reports' claims about their results, as a table: quote, reading, measurement and rule of each.

    python -m impl.claims [REPORT...]      # docs/claims.md holds the table of all of them
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
