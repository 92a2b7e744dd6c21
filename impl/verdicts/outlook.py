"""What one more round of seeds would do for a claim still undecided, stated as power: the chance that the next look
decides it (holds or does not hold at the level alpha spending gives that look), from the claim's own measured
effect and spread, by a seeded simulation through the claim's own rule (impl/verdicts/decide.judge).

The seeds already run stay; each simulated round adds new seeds per arm drawn from what the runs showed:
- a comparison: arm b's seeds from a normal with b's mean and spread, arm a's as b's plus a paired difference drawn
  from the observed differences' mean and spread (so the pairing the rule relies on is kept);
- a threshold: the arm's seeds from a normal with its mean and spread;
- an event rule, or any claim with a diverged run: new seeds drawn from the claim's own seeds (a bootstrap, each
  drawn seed with its value and whether it diverged), since a rate or a rank has no normal to draw from; with a
  diverged run each draw is decided by exact rank tests, so fewer draws are made (RANK_DRAWS).
The next look is the design's next one; after --max-seeds it is the look `--resume --max-seeds N` would add (its
level from the design over N seeds). The chance is before Holm's adjustment over the report, so an upper bound
where several claims of a report are open.
"""

from __future__ import annotations

import math
import random
import statistics
from dataclasses import dataclass
from typing import Any

from impl.verdicts import sequential
from impl.verdicts.decide import judge
from impl.verdicts.verdict import FAILS, HOLDS, INCONCLUSIVE, NOT_MEASURABLE, Verdict
from spec.claim import ClaimSpec

DRAWS, SEED = 200, 28  # simulated rounds per claim (about 3.5 points of Monte Carlo error at 50 %), and their seed
RANK_DRAWS = 50  # where a run diverged: each draw is exact rank tests (about 70 ms at 18 seeds per arm); 7 points

Values = dict[str, list[float | None]]
Flags = dict[str, list[bool]]


@dataclass(frozen=True)
class NextRound:
    """One more round for an undecided claim: the seeds it adds, the seeds per arm after it, the level it would be
    tested at, how to run it, and the simulated chance that it decides the claim either way."""

    added: int
    seeds: int
    level: float
    how: str  # "the next round" or "--resume --max-seeds N"
    holds: float
    fails: float

    @property
    def power(self) -> float:
        return self.holds + self.fails

    def text(self) -> str:
        return (f"one more round of {self.added} seed{'s' * (self.added > 1)} ({self.seeds} per arm, {self.how}, "
                f"tested at {self.level:.2g}): about {self.power:.0%} chance to decide it ({self.holds:.0%} holds, "
                f"{self.fails:.0%} does not hold; simulated from its own effect and spread, before Holm)")

    def to_json(self) -> dict[str, Any]:
        return {"added": self.added, "seeds": self.seeds, "level": self.level, "how": self.how, "holds": self.holds,
                "fails": self.fails, "power": self.power, "text": self.text()}


def next_look(design: sequential.Design, seeds: int) -> tuple[int, float, str]:
    """(seeds per arm at the look after `seeds`, that look's level, how to run it)."""
    plan = design.plan
    later = design.next_seeds(seeds)
    if later is not None:
        return later, sequential.levels(plan, design.max_seeds, design.kind)[plan.index(later)], "the next round"
    more = max(seeds + 1, math.ceil(seeds * 1.5))
    longer = sequential.schedule(design.start, more)
    return more, sequential.levels(longer, more, design.kind)[-1], f"--resume --max-seeds {more}"


def observed(v: Verdict) -> tuple[Values, Flags]:
    """The claim's per-seed values and which seeds diverged: a diverged run has no value, so an arm's first
    `v.diverged[arm]` seeds without a value are its diverged ones (all of them where nothing else went missing)."""
    flags: Flags = {}
    for arm, xs in v.values.items():
        left = v.diverged.get(arm, 0)
        flags[arm] = []
        for x in xs:
            down = x is None and left > 0
            left -= down
            flags[arm].append(down)
    return {arm: list(xs) for arm, xs in v.values.items()}, flags


def _finite(xs: list[float | None]) -> list[float]:
    return [float(x) for x in xs if isinstance(x, int | float) and math.isfinite(x)]


def _pairs(a: list[float | None], b: list[float | None]) -> list[tuple[float, float]]:
    """The seeds where both arms have a finite value, paired by index."""
    return [(x, y) for x, y in zip(a, b, strict=False) if x is not None and y is not None and _finite([x, y]) == [x, y]]


def _spread(xs: list[float]) -> tuple[float, float]:
    return statistics.fmean(xs), statistics.stdev(xs) if len(xs) > 1 else 0.0


def extend(claim: ClaimSpec, values: Values, flags: Flags, seeds: int, rng: random.Random) -> tuple[Values, Flags]:
    """The claim's seeds plus new ones up to `seeds` per arm, drawn as the module's docstring says."""
    out, down = {a: list(xs) for a, xs in values.items()}, {a: list(f) for a, f in flags.items()}
    rule = claim.rule
    if rule.kind == "event" or any(any(f) for f in flags.values()):
        for arm, xs in values.items():
            for _ in range(max(seeds - len(xs), 0)):
                i = rng.randrange(len(xs))
                out[arm].append(xs[i])
                down.setdefault(arm, [False] * len(xs)).append(bool(flags.get(arm) and flags[arm][i]))
        return out, down
    if rule.kind == "threshold":
        mean, sd = _spread(_finite(values[rule.arm]))
        out[rule.arm] += [rng.gauss(mean, sd) for _ in range(max(seeds - len(values[rule.arm]), 0))]
        return out, down
    pairs = _pairs(values[rule.a], values[rule.b])
    b_mean, b_sd = _spread([y for _, y in pairs])
    d_mean, d_sd = _spread([x - y for x, y in pairs])
    for _ in range(max(seeds - min(len(values[rule.a]), len(values[rule.b])), 0)):
        b = rng.gauss(b_mean, b_sd)
        out[rule.a].append(b + rng.gauss(d_mean, d_sd))
        out[rule.b].append(b)
    return out, down


def can_simulate(claim: ClaimSpec, v: Verdict) -> bool:
    """An undecided measurable claim with values on every arm (two paired seeds for a comparison) to draw from."""
    if not claim.measurable or v.verdict == NOT_MEASURABLE or not v.values or (v.holm or v.verdict) != INCONCLUSIVE:
        return False
    values, flags = observed(v)
    if any(not values.get(arm) for arm in claim.arms):
        return False
    if claim.rule.kind == "event" or any(any(f) for f in flags.values()):
        return True
    if claim.rule.kind == "threshold":
        return len(_finite(values[claim.rule.arm])) >= 2
    return len(_pairs(values[claim.rule.a], values[claim.rule.b])) >= 2


def next_round(claim: ClaimSpec, v: Verdict, design: sequential.Design, seeds: int, draws: int = DRAWS,
               seed: int = SEED) -> NextRound | None:
    """The power of one more round for an undecided claim last looked at with `seeds` seeds per arm; None where
    there is nothing to simulate from (not measurable, decided, or too few values)."""
    if not can_simulate(claim, v):
        return None
    target, level, how = next_look(design, seeds)
    values, flags = observed(v)
    have = max(len(xs) for xs in values.values())
    if any(any(f) for f in flags.values()):
        draws = min(draws, RANK_DRAWS)
    rng, holds, fails = random.Random(seed), 0, 0
    for _ in range(draws):
        more, down = extend(claim, values, flags, target, rng)
        result = judge(claim, more, diverged=down)
        if result.p_value is not None and result.p_value < level:
            holds += result.verdict == HOLDS
            fails += result.verdict == FAILS
    return NextRound(max(target - have, 1), target, level, how, holds / draws, fails / draws)
