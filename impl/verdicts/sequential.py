"""Sequential seeds: a scorecard that looks at its claims after every round of seeds and adds seeds only to the arms
of claims still undecided, with the family-wise error held at its level although it looks many times.

The design is group-sequential with alpha spending (Lan and DeMets): a spending function alpha(t) gives the error
that may be spent by the information fraction t = seeds / max seeds, O'Brien-Fleming's (little early, most at the
end) or Pocock's (evenly). Each look tests at the alpha spent since the look before; by the union bound over looks
the chance of any false decision stays below alpha(t_last) <= alpha, whatever the correlation between looks (a
conservative design: exact boundaries would spend a little less caution). Within a look, Holm's method holds the
error over each report's claims at that look's level. A claim decided at a look keeps that decision; its arms get no
more seeds on its account.

    schedule(3, 12) -> [3, 5, 8, 12]; levels([3, 5, 8, 12], 12) -> the level of each look
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from impl.verdicts import stats
from impl.verdicts.verdict import FAILS, HOLDS, INCONCLUSIVE, NOT_MEASURABLE, Verdict
from spec.claim import ClaimSpec

SPENDING = ("obrien-fleming", "pocock")
START = 3  # seeds per arm at the first look: the fewest with a spread to judge by (2 degrees of freedom)


def _phi(z: float) -> float:
    return 0.5 * (1 + math.erf(z / math.sqrt(2)))


@functools.lru_cache(maxsize=64)
def _z(p: float) -> float:
    """The standard normal quantile, by bisection."""
    low, high = -40.0, 40.0
    for _ in range(200):
        middle = (low + high) / 2
        low, high = (middle, high) if _phi(middle) < p else (low, middle)
    return (low + high) / 2


def spent(fraction: float, kind: str = "obrien-fleming", alpha: float = stats.ALPHA) -> float:
    """The error that may be spent by information fraction `fraction` (0 to 1): O'Brien-Fleming's
    2 - 2 Phi(z(1 - alpha/2) / sqrt(t)) or Pocock's alpha ln(1 + (e - 1) t); both reach alpha at t = 1."""
    if kind not in SPENDING:
        raise ValueError(f"spending {kind!r}: one of {', '.join(SPENDING)}")
    t = min(max(fraction, 0.0), 1.0)
    if t == 0:
        return 0.0
    if kind == "pocock":
        return alpha * math.log(1 + (math.e - 1) * t)
    return 2 - 2 * _phi(_z(1 - alpha / 2) / math.sqrt(t))


def levels(looks: Sequence[int], max_seeds: int, kind: str = "obrien-fleming") -> list[float]:
    """The level each look tests at: the error spent between it and the look before."""
    out, before = [], 0.0
    for n in looks:
        now = spent(n / max_seeds, kind)
        out.append(max(now - before, 0.0))
        before = max(before, now)
    return out


def schedule(start: int, max_seeds: int) -> list[int]:
    """Seeds per arm at each look: `start`, then about half as many again each round, ending at `max_seeds`."""
    looks = [min(start, max_seeds)]
    while looks[-1] < max_seeds:
        looks.append(min(max_seeds, max(looks[-1] + 1, math.ceil(looks[-1] * 1.5))))
    return looks


def decided_at(verdicts: list[Verdict], level: float) -> dict[str, str]:
    """Each claim's decision at a look tested at `level`: Holm over each report's claims, a raw 'holds' or 'does not
    hold' stays when its adjusted p-value is below the level; the others are inconclusive, not measurable stays."""
    out: dict[str, str] = {}
    for report in dict.fromkeys(v.report for v in verdicts):
        family = [v for v in verdicts if v.report == report and v.p_value is not None]
        p_values = [v.p_value for v in family if v.p_value is not None]  # all of them: family has only those
        for v, p in zip(family, stats.holm(p_values), strict=True):
            out[v.claim] = v.verdict if v.verdict in (HOLDS, FAILS) and p < level else INCONCLUSIVE
    for v in verdicts:
        out.setdefault(v.claim, NOT_MEASURABLE if v.verdict == NOT_MEASURABLE else INCONCLUSIVE)
    return out


def evidence_at(v: Verdict, level: float, spent_so_far: float, decision: str) -> dict[str, object]:
    """A claim's evidence at one look: seeds decided on and per arm (a diverged run counts: it is an outcome), the
    effect and its interval (or k of n seeds), the p-value, the level of this look and the alpha spent up to it,
    the raw verdict and the decision the look took."""
    per_arm = {arm: sum(x is not None for x in xs) + v.diverged.get(arm, 0) for arm, xs in v.values.items()}
    return {"seeds": v.n, "per_arm": per_arm, "effect": v.effect, "ci": list(v.ci) if v.ci else None,
            "events": list(v.events) if v.events else None, "p": v.p_value, "level": level, "spent": spent_so_far,
            "raw": v.outcome, "decision": decision}


@dataclass
class Look:
    """One round: the seeds per arm it looked at, the level it tested at, and the claims it decided."""

    seeds: int
    level: float
    decided: dict[str, str] = field(default_factory=dict)  # claim id -> holds / does not hold

    def to_json(self) -> dict[str, object]:
        return {"seeds": self.seeds, "level": self.level, "decided": dict(self.decided)}


@dataclass
class Design:
    """The sequential state of a scorecard: its looks so far and each claim's frozen decision."""

    max_seeds: int
    kind: str = "obrien-fleming"
    start: int = START
    looks: list[Look] = field(default_factory=list)
    frozen: dict[str, Verdict] = field(default_factory=dict)  # claim id -> the verdict at the look that decided it
    paths: dict[str, list[dict[str, object]]] = field(default_factory=dict)  # claim id -> its evidence at each look

    @property
    def plan(self) -> list[int]:
        return schedule(self.start, self.max_seeds)

    def look(self, seeds: int, verdicts: list[Verdict]) -> Look:
        """Record a look at `seeds` seeds per arm: the claims it decides are frozen with their verdict."""
        plan = self.plan
        index = plan.index(seeds) if seeds in plan else len(self.looks)
        spending = levels(plan, self.max_seeds, self.kind)
        level, spent_so_far = spending[min(index, len(plan) - 1)], sum(spending[:min(index, len(plan) - 1) + 1])
        decisions = decided_at(verdicts, level)
        now = Look(seeds, level)
        for v in verdicts:
            if v.claim not in self.frozen:
                self.paths.setdefault(v.claim, []).append(evidence_at(v, level, spent_so_far, decisions[v.claim]))
            if v.claim not in self.frozen and decisions[v.claim] in (HOLDS, FAILS):
                now.decided[v.claim] = decisions[v.claim]
                self.frozen[v.claim] = v
        self.looks.append(now)
        return now

    def open_claims(self, verdicts: Iterable[Verdict]) -> list[str]:
        """Claims that more seeds could still decide: measurable and not yet decided."""
        return [v.claim for v in verdicts if v.verdict != NOT_MEASURABLE and v.claim not in self.frozen]

    def next_seeds(self, seeds: int) -> int | None:
        """The seeds per arm of the next look, or None after the last."""
        later = [n for n in self.plan if n > seeds]
        return later[0] if later else None

    def final(self, verdicts: list[Verdict]) -> list[Verdict]:
        """The scorecard's verdicts: a decided claim's from the look that decided it (its `holm` the sequential
        decision), every other one from the last look, inconclusive after Holm and alpha spending."""
        out = []
        for v in verdicts:
            v.path = self.paths.get(v.claim, [])
            kept = self.frozen.get(v.claim)
            if kept is not None:
                kept.holm = next(look.decided[v.claim] for look in self.looks if v.claim in look.decided)
                kept.family, kept.path = f"report {kept.report}, sequential", v.path
                out.append(kept)
            else:
                v.holm = "" if v.verdict == NOT_MEASURABLE else INCONCLUSIVE
                v.family = f"report {v.report}, sequential"
                out.append(v)
        return out


def arms_of(claims: Iterable[ClaimSpec], claim_ids: Iterable[str]) -> set[str]:
    """The canonical keys of the arms the named claims compare: the arms that get the next round's seeds."""
    wanted = set(claim_ids)
    return {arm.key() for c in claims if c.id in wanted for arm in c.arms.values()}
