"""Size and power of every claim's own rule at the seeds the scorecard uses, on independent replicate sets drawn
from the seed-to-seed spread measured on real runs.

    python -m tools.power runs/sc-004/r004-mlp/seed-*       # every claim whose measure these runs give
    python -m tools.power RUN... --draws 400 --out power.md

For each claim whose measurement can be read on the given run folders, the runs give that measure's mean and
standard deviation over seeds. Then, with the claim's own rule and minimum effect (impl/verdicts/decide.py), fresh
independent sets of seeds are drawn from a normal distribution with that spread (never re-splits of one set):
- A/A: no effect at all (both arms alike; a threshold's arm at its bound; an event's runs with false events only);
- at the margin: an effect exactly at the minimum effect (a threshold's arm at bound + margin) — 'holds' here is the
  size at the decision line, at most 2.5 % by design;
- 1.5x and 2x the margin: the power.
Each at a fixed 3 seeds per arm and under the sequential design (--seeds auto: 3, 5, 8 seeds, O'Brien-Fleming),
with the mean seeds the sequential design used. An event claim is drawn as runs showing the event with the false-event
rate (A/A) or with the claim's least rate, 1.5x and 2x it. The real runs anchor only the spread: the table says so.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import spec
from impl.core import cli
from impl.core.errors import UsageError, boundary
from impl.verdicts import sequential
from impl.verdicts.decide import _line, _orient, judge
from impl.verdicts.events import false_rate_mean
from impl.verdicts.readings import read_measure
from impl.verdicts.verdict import HOLDS
from spec.claim import ClaimSpec

SCALES = (("A/A", 0.0), ("at margin", 1.0), ("1.5x", 1.5), ("2x", 2.0))
FIXED = 3  # the scorecard's fixed seeds per arm (--seeds 3)
MAX_SEEDS = 8  # --seeds auto's default --max-seeds

Sampler = Callable[[random.Random, int], dict[str, list[float]]]


def spread(claim: ClaimSpec, runs: list[Path]) -> tuple[float, float, int] | None:
    """(mean, sd, seeds) of the claim's measure on the runs, or None when fewer than 3 runs give a value."""
    assert claim.measure is not None
    got = [r.value for r in (read_measure(claim.measure, run) for run in runs) if r.value is not None]
    if len(got) < 3:
        return None
    return statistics.fmean(got), statistics.stdev(got), len(got)


def sampler(claim: ClaimSpec, mean: float, sd: float, scale: float) -> Sampler:
    """Draws {arm: values} for n seeds with the claim-oriented effect `scale` x the claim's margin."""
    rule, sign = claim.rule, _orient(claim)[0]
    if rule.kind == "event":
        p0, least = false_rate_mean(rule), max(rule.rate or 0.0, rule.min_effect or 0.0)  # not k0/n0 = 0
        share = p0 if scale == 0 else min(1.0, scale * least + p0 * (1 - scale * least))
        hit = (rule.bound or 0.0) + (1.0 if rule.expect == "above" else -1.0)
        miss = (rule.bound or 0.0) - (1.0 if rule.expect == "above" else -1.0)
        return lambda rng, n: {rule.arm: [hit if rng.random() < share else miss for _ in range(n)]}
    if rule.kind == "threshold":
        centre = (rule.bound or 0.0) + sign * scale * (rule.min_effect or 0.0)
        return lambda rng, n: {rule.arm: [rng.gauss(centre, sd) for _ in range(n)]}
    margin = abs(_line(claim, {rule.b: [mean]}))
    shift = sign * scale * margin * (-1.0 if rule.kind == "not_better" else 1.0)
    if rule.kind == "similar":
        shift = scale * margin  # beyond the band on one side: 'holds' (within) is the error at and past it
    return lambda rng, n: {rule.a: [rng.gauss(mean + shift, sd) for _ in range(n)],
                           rule.b: [rng.gauss(mean, sd) for _ in range(n)]}


def rates(claim: ClaimSpec, draw: Sampler, draws: int, rng: random.Random) -> tuple[float, float, float]:
    """(share holding at 3 seeds, share holding under the sequential design, mean seeds the design used)."""
    fixed = sequential_holds = seeds_used = 0
    for _ in range(draws):
        values = draw(rng, MAX_SEEDS)
        fixed += judge(claim, {a: v[:FIXED] for a, v in values.items()}).verdict == HOLDS
        design = sequential.Design(max_seeds=MAX_SEEDS)
        seeds: int | None = design.start
        while seeds is not None:
            v = judge(claim, {a: x[:seeds] for a, x in values.items()})
            look, used = design.look(seeds, [v]), seeds
            if look.decided:
                break
            seeds = design.next_seeds(seeds)
        sequential_holds += look.decided.get(claim.id) == HOLDS
        seeds_used += used
    return fixed / draws, sequential_holds / draws, seeds_used / draws


def table(claims: list[ClaimSpec], runs: list[Path], draws: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    lines = ["| claim | measure | rule | seeds' mean, sd (runs) | " + " | ".join(
        f"{label}: holds at 3 / sequential (mean seeds)" for label, _ in SCALES) + " |",
        "| --- | --- | --- | --- | " + " | ".join("---" for _ in SCALES) + " |"]
    for c in claims:
        got = spread(c, runs)
        if got is None:
            continue
        mean, sd, n = got
        cells = []
        for _, scale in SCALES:
            fixed, seq, used = rates(c, sampler(c, mean, sd, scale), draws, rng)
            cells.append(f"{fixed:.3f} / {seq:.3f} ({used:.1f})")
        lines.append(f"| `{c.id}` | `{c.measure.describe() if c.measure else '-'}` | {c.rule.kind} | "
                     f"{mean:.4g}, {sd:.3g} ({n}) | " + " | ".join(cells) + " |")
    return lines


def parser() -> argparse.ArgumentParser:
    p = cli.parser("python -m tools.power", __doc__)
    p.add_argument("runs", nargs="+", type=Path, help="run folders of one recipe over seeds (their spread is used)")
    p.add_argument("--draws", type=cli.positive, default=400, help="replicate sets per cell (default 400)")
    p.add_argument("--out", type=Path, help="also write the table to this markdown file")
    return p


@boundary("tools.power")
def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(sys.argv[1:] if argv is None else argv)
    missing = [r for r in args.runs if not r.is_dir()]
    if missing:
        raise UsageError(f"{missing[0]}: no such run folder; pass run folders (e.g. runs/sc/r004-mlp/seed-*)")
    start = time.time()
    claims = [c for c in spec.claims() if c.measurable]
    lines = table(claims, list(args.runs), args.draws)
    text = "\n".join([*lines, "", f"{args.draws} draws per cell, {time.time() - start:.0f} s"]) + "\n"
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
