"""A scorecard's seeds in rounds (`impl.reproduce --seeds auto`, the default): every arm starts at a few seeds; after
each round the claims are decided at the level alpha spending allows that look (impl/verdicts/sequential.py), and
only the arms of claims still undecided get more seeds, up to --max-seeds and --budget. The runs of each round go
through the one loop over planned runs (impl.arms.engine.run_all, or a launcher's), handed in as `train`."""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from impl.arms.engine import Planned
from impl.core.errors import say
from impl.runs.folder import RunFolder
from impl.verdicts import outlook, scorecard, sequential
from impl.verdicts.measuring import ScoreSettings
from impl.verdicts.plan import plan
from impl.verdicts.verdict import Verdict
from spec.arm import ArmSpec
from spec.claim import ClaimSpec

Items = list[tuple[ArmSpec, Planned]]
MAX_BUDGET_RUNS, MAX_BUDGET_S = 1_000_000, 365 * 24 * 3600.0  # past these a budget bounds nothing: refused


def budget(text: str) -> tuple[str, float]:
    """argparse type of --budget: ('runs', N) or ('seconds', S) from '40', '2h' or '90m'."""
    unit = {"h": 3600.0, "m": 60.0}.get(text[-1:].lower())
    try:
        value = float(text[:-1]) if unit else float(int(text))
    except ValueError:
        value = -1.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r}: a number of runs ('40') or a wall time ('2h', '90m')")
    if value * (unit or 1.0) > (MAX_BUDGET_S if unit else MAX_BUDGET_RUNS):
        raise argparse.ArgumentTypeError(f"{text!r}: at most {MAX_BUDGET_RUNS:,} runs or {MAX_BUDGET_S // 3600:,.0f}h")
    return ("seconds", value * unit) if unit else ("runs", value)


def over_budget(limit: tuple[str, float] | None, runs: int, seconds: float) -> bool:
    if limit is None:
        return False
    return runs > limit[1] if limit[0] == "runs" else seconds > limit[1]


def rounds(args: argparse.Namespace, claims: list[ClaimSpec], score: ScoreSettings, out: Path,
           train: Callable[[Items], object], clock: Callable[[], float]) -> tuple[Items, list[Verdict], dict[str, Any]]:
    """Train and decide in rounds; returns the runs decided on, the final verdicts and the rounds for the
    scorecard's files (each look: seeds, level, what it decided); each claim carries its path over the looks and,
    undecided, the power of one more round (impl/verdicts/outlook.py)."""
    design = sequential.Design(max_seeds=args.max_seeds, kind=args.spending,
                               start=min(sequential.START, args.max_seeds))
    seeds: int | None = design.plan[0]
    grow: set[str] | None = None
    stopped, trained = "every claim decided", 0
    items: Items = []
    verdicts: list[Verdict] = []
    while seeds is not None:
        planned = plan(claims, dataclasses.replace(score, seeds=seeds), out)
        todo = [(a, i) for a, i in planned if grow is None or a.key() in grow]
        new = sum(not RunFolder(i.folder).finished() for _, i in todo)
        if verdicts and over_budget(args.budget, trained + new, clock()):
            stopped = f"--budget {args.budget[1]:g} {args.budget[0]} reached"
            break
        train(todo)
        trained += new
        kept = {x.folder for _, x in items}
        items = [(a, i) for a, i in planned if grow is None or a.key() in grow or i.folder in kept]
        verdicts = scorecard.decide_all(claims, items, smoke=score.quick)
        look = design.look(seeds, verdicts)
        if not args.quiet:
            say(f"round {len(design.looks)}: {seeds} seeds per arm, tested at {look.level:.3g}: "
                + (", ".join(f"{c} {d}" for c, d in look.decided.items()) or "nothing decided"))
        still = design.open_claims(verdicts)
        if not still:
            break
        grow, seeds = sequential.arms_of(claims, still), design.next_seeds(seeds)
        if seeds is None:
            stopped = f"--max-seeds {args.max_seeds} reached"
    summary = {"seeds": "auto", "max_seeds": args.max_seeds, "spending": args.spending, "stopped": stopped,
               "runs_trained": trained, "rounds": [look.to_json() for look in design.looks]}
    final = design.final(verdicts)
    by_id = {c.id: c for c in claims}
    for v in final:
        ahead = outlook.next_round(by_id[v.claim], v, design, design.looks[-1].seeds) if design.looks else None
        v.next_round = ahead.to_json() if ahead else None
    return items, final, summary
