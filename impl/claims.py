"""The reports' claims about their results, as a table: quote, reading, measurement and rule of each.

    python -m impl.claims [REPORT...]      # docs/claims.md holds the table of all of them
"""

from __future__ import annotations

import sys

from impl.core import cli
from impl.core.errors import boundary
from impl.pages.markdown import claims_table
from impl.verdicts.plan import chosen_claims


@boundary("impl.claims")
def main(argv: list[str] | None = None) -> int:
    p = cli.parser("python -m impl.claims", __doc__)
    p.add_argument("reports", nargs="*", help="report numbers (000 to 004); all when none")
    args = p.parse_args(argv)
    print(claims_table(chosen_claims(args.reports)))  # '4' names report 004, as impl.reproduce reads it
    return 0


if __name__ == "__main__":
    sys.exit(main())
