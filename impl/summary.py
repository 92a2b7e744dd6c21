"""torchsummary-format tables of the built networks, beside the numbers the reports document.

    python -m impl.summary course-dcgan-g        # one network
    python -m impl.summary r000-dcgan --json     # both networks of an experiment, as JSON

Rows follow torchsummary's rules (hooks on every non-container module, numbered in call order; parameters are
each module's own weight and bias; sizes in MB assume 4-byte floats), so report 000's tables come out
line for line. Every value that differs from the report is marked with `<-- report: ...`.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict

import spec
from impl.core import cli
from impl.core.errors import boundary
from impl.networks.tables import networks_of, table_for


@boundary("impl.summary")
def main(argv: list[str] | None = None) -> int:
    parser = cli.parser("python -m impl.summary", __doc__)
    parser.add_argument("name", nargs="?", help="a network or experiment name (see --list)")
    parser.add_argument("--json", action="store_true", help="print the tables as JSON")
    parser.add_argument("--list", action="store_true", help="list every network and experiment")
    args = parser.parse_args(argv)
    try:
        if args.list or not args.name:
            reg = spec.registry()
            for n in reg.names():
                item = reg.load(n)
                print(f"{n:24} {'network' if n in reg.networks else 'experiment':10} {item.title}")
            return 0
        results = []
        for net in networks_of(args.name):
            table, doc = table_for(net)
            results.append((net, table, doc))
    except spec.SpecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        payload = [{"network": net.name, "role": net.role, **asdict(table), "total_mb": table.total_mb,
                    "documented": doc, "mismatches": table.marks} for net, table, doc in results]
        print(json.dumps(payload, indent=2, ensure_ascii=False))
        return 0
    for net, table, doc in results:
        where = f"documented in {next(e.source for e in net.evidence if e.kind == 'summary')}" if doc else \
            "no documented table"
        print(f"{net.name} ({net.role}, {where})")
        print(table.render())
        verdict = "matches the report" if not table.marks else f"{len(table.marks)} mismatch(es) with the report"
        print(verdict if doc else "", end="\n\n" if doc else "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
