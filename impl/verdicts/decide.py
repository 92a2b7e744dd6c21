"""Deciding a claim from per-seed values: holds, does not hold, inconclusive, or not measurable here.

Seeds are paired by index (run i of every arm used seed i). Every rule looks at a 95 % Student-t interval over
seeds: of the paired difference a - b (compare, not_better, similar) or of one arm's values (threshold). A claim
holds when the whole interval lies on the claimed side, does not hold when it lies wholly on the other side, and
is inconclusive when it straddles the line: the effect is within seed-to-seed noise. One seed has no spread, so
it is always inconclusive. docs/claims.md states every rule with its statistics.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from impl.errors import RunError
from impl.runs.folder import RunFolder
from impl.verdicts.readings import read_measure
from spec.claim import ClaimSpec

HOLDS, FAILS, INCONCLUSIVE, NOT_MEASURABLE = "holds", "does not hold", "inconclusive", "not measurable here"
VERDICTS = (HOLDS, FAILS, INCONCLUSIVE, NOT_MEASURABLE)
# Student-t 0.975 quantiles by degrees of freedom (statistics tables); between rows the smaller df is used, which
# gives the wider (conservative) interval
T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228,
        11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145, 15: 2.131, 16: 2.120, 17: 2.110, 18: 2.101, 19: 2.093,
        20: 2.086, 21: 2.080, 22: 2.074, 23: 2.069, 24: 2.064, 25: 2.060, 26: 2.056, 27: 2.052, 28: 2.048,
        29: 2.045, 30: 2.042, 40: 2.021, 60: 2.000, 120: 1.980}
Z975 = 1.960  # the limit for infinitely many degrees of freedom
MARKDOWN_HEADER = ("| claim | quote | data | measure | rule | verdict | effect [95 % interval] | seeds | why |\n"
                   "| --- | --- | --- | --- | --- | --- | --- | --- | --- |")


def t975(df: int) -> float:
    """The 0.975 quantile of Student's t with `df` degrees of freedom (df >= 1)."""
    if df < 1:
        raise ValueError(f"degrees of freedom must be >= 1, got {df}")
    return T975[max(d for d in T975 if d <= df)] if df <= 120 else Z975


@dataclass(frozen=True)
class Interval:
    """Mean, sample standard deviation and 95 % t interval of the mean of n values (n >= 2)."""

    mean: float
    sd: float
    low: float
    high: float
    n: int


def interval(values: list[float]) -> Interval:
    n = len(values)
    mean, sd = statistics.fmean(values), statistics.stdev(values)
    half = t975(n - 1) * sd / math.sqrt(n)
    return Interval(mean, sd, mean - half, mean + half, n)


@dataclass
class Verdict:
    """A claim decided: the verdict, the effect with its spread over seeds, and the evidence behind it."""

    claim: str
    report: str
    quote: str
    data: str  # the data set the report made the claim on
    measure: str
    rule: str
    verdict: str
    reason: str  # one line, in words
    effect: float | None = None  # compare/not_better/similar: mean of a - b; threshold: mean of the arm
    effect_label: str = ""
    sd: float | None = None  # of the per-seed differences (or values)
    ci: tuple[float, float] | None = None  # 95 % t interval of the effect
    n: int = 0  # seeds with a value in every arm
    values: dict[str, list[float | None]] = field(default_factory=dict)  # per arm, per seed
    runs: dict[str, list[str]] = field(default_factory=dict)  # per arm, the run folders read
    decided_on: list[str] = field(default_factory=list)  # the runs' training data (config.json "data")
    proxy: str = ""  # what stands in for the claim's own words, when the measure is a proxy

    @property
    def data_label(self) -> str:
        """The data the verdict was decided on, FashionMNIST-64 labelled as the stand-in it is."""
        if not self.decided_on:
            return self.data
        if all(d.startswith("FashionMNIST") for d in self.decided_on):
            size = "FashionMNIST-64" if any("adapted" in d for d in self.decided_on) else "FashionMNIST"
            return f"{size} (offline stand-in for the anime faces)" if self.data == "anime-faces" else size
        return "; ".join(self.decided_on)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON types; a non-finite number becomes null (JSON has no NaN)."""
        out = asdict(self)
        out["ci"] = list(self.ci) if self.ci else None
        out["data_label"] = self.data_label
        return _plain(out)

    def markdown_row(self) -> str:
        effect = "-" if self.effect is None else f"{self.effect:.4g}"
        if self.ci is not None:
            effect += f" [{self.ci[0]:.4g}, {self.ci[1]:.4g}]"
        cells = (f"`{self.claim}`", self.quote, self.data_label, f"`{self.measure}`", self.rule, f"**{self.verdict}**",
                 effect, str(self.n), self.reason)
        return "| " + " | ".join(" ".join(c.split()).replace("|", "\\|") for c in cells) + " |"


def _plain(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_plain(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def _g(x: float) -> str:
    return f"{x:.4g}"


def _finite(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def _sample(claim: ClaimSpec, values: dict[str, list[float | None]]) -> tuple[list[float], list[float], str]:
    """The per-seed sample the rule looks at (differences a - b, or the arm's values), the paired values of b
    (for margins), and a note on seeds dropped for lack of a value."""
    rule = claim.rule
    if rule.kind == "threshold":
        raw = values[rule.arm]
        kept = [float(x) for x in raw if _finite(x)]
        return kept, [], f"{len(raw) - len(kept)} of {len(raw)} seeds without a value" if len(kept) < len(raw) else ""
    a, b = values[rule.a], values[rule.b]
    pairs = [(float(x), float(y)) for x, y in zip(a, b, strict=False) if _finite(x) and _finite(y)]
    total = max(len(a), len(b))
    note = f"{total - len(pairs)} of {total} seeds without a value in both arms" if len(pairs) < total else ""
    return [x - y for x, y in pairs], [y for _, y in pairs], note


def _decide(claim: ClaimSpec, s: Interval, b_values: list[float]) -> tuple[str, str]:
    """(verdict, reason) for a sample of >= 2 seeds."""
    rule, lo, hi = claim.rule, s.low, s.high
    span = f"{_g(s.mean)}, 95 % interval [{_g(lo)}, {_g(hi)}] over {s.n} seeds"
    if rule.kind == "threshold":
        above = rule.expect == "above"
        if (lo > rule.bound) if above else (hi < rule.bound):
            return HOLDS, f"{rule.arm} is {rule.expect} {_g(rule.bound)} beyond seed noise: mean {span}"
        if (hi < rule.bound) if above else (lo > rule.bound):
            return FAILS, f"{rule.arm} is on the other side of {_g(rule.bound)}: mean {span}"
        return INCONCLUSIVE, f"the bound {_g(rule.bound)} is within seed-to-seed noise: mean {span}"
    if rule.kind == "compare":
        higher = rule.expect == "higher" or (rule.expect in ("better", "worse")
                                             and (claim.measure.direction == "higher") == (rule.expect == "better"))
        if (lo > 0) if higher else (hi < 0):
            return HOLDS, f"{rule.a} is {rule.expect} than {rule.b} beyond seed noise: a - b = {span}"
        if (hi < 0) if higher else (lo > 0):
            return FAILS, f"{rule.a} is the opposite of {rule.expect} than {rule.b}: a - b = {span}"
        if lo == hi == 0:  # no seed-to-seed noise to hide an effect in: the arms measured exactly the same
            return FAILS, f"{rule.a} and {rule.b} measure exactly the same on every seed: a - b = {span}"
        return INCONCLUSIVE, f"the effect is within seed-to-seed noise: a - b = {span} contains 0"
    margin = rule.margin * abs(statistics.fmean(b_values))
    if rule.kind == "similar":
        if -margin < lo and hi < margin:
            return HOLDS, f"a - b = {span} lies within +-{_g(margin)} ({rule.margin:.0%} of {rule.b})"
        if lo >= margin or hi <= -margin:
            return FAILS, f"a - b = {span} lies beyond +-{_g(margin)} ({rule.margin:.0%} of {rule.b})"
        return INCONCLUSIVE, f"a - b = {span} is too wide to tell whether it stays within +-{_g(margin)}"
    # not_better: the improvement of a over b (positive = a better) must stay below the margin
    sign = -1.0 if claim.measure.direction == "lower" else 1.0
    best, worst = max(sign * lo, sign * hi), min(sign * lo, sign * hi)
    what = f"improvement of {rule.a} over {rule.b} {_g(sign * s.mean)}, 95 % interval [{_g(worst)}, {_g(best)}]"
    if best < margin:
        return HOLDS, f"{what} rules out a gain of {_g(margin)} ({rule.margin:.0%} of {rule.b}) or more"
    if worst >= margin:
        return FAILS, f"{what}: {rule.a} is better by more than {_g(margin)} ({rule.margin:.0%} of {rule.b})"
    return INCONCLUSIVE, f"{what} cannot rule out a gain of {_g(margin)} ({rule.margin:.0%} of {rule.b})"


def judge(claim: ClaimSpec, values: dict[str, list[float | None]], missing: Iterable[str] = ()) -> Verdict:
    """Apply the claim's rule to per-seed values {arm name: [value of seed 0, seed 1, ...]} (None = no value;
    `missing` says why, one reason per missing value)."""
    out = Verdict(claim=claim.id, report=claim.report, quote=claim.quote, data=claim.data,
                  measure=claim.measure.describe() if claim.measure else "-", rule=claim.rule.describe(),
                  verdict=NOT_MEASURABLE, reason=claim.reason, values={k: list(v) for k, v in values.items()},
                  proxy=claim.proxy)
    if not claim.measurable:
        return out
    missing = list(missing)
    absent = [name for name in claim.arms if not values.get(name)]
    if absent:
        out.reason = f"no runs for arm {absent[0]!r}"
        return out
    sample, b_values, note = _sample(claim, values)
    out.n = len(sample)
    out.effect_label = f"mean of {claim.rule.arm}" if claim.rule.kind == "threshold" else \
        f"mean paired difference {claim.rule.a} - {claim.rule.b}"
    why = f" ({note}: {missing[0]})" if note and missing else (f" ({note})" if note else "")
    if not sample:
        out.reason = (missing[0] if missing else "no seed gave a value") + (f" (and {len(missing) - 1} more)"
                                                                             if len(missing) > 1 else "")
        return out
    out.effect = statistics.fmean(sample)
    if len(sample) == 1:
        out.verdict = INCONCLUSIVE
        out.reason = f"one seed: no spread to judge the effect {_g(out.effect)} by; run 3 or more seeds{why}"
        return out
    try:
        s = interval(sample)
    except (OverflowError, ValueError):
        out.verdict, out.reason = INCONCLUSIVE, f"the values are too large to summarise{why}"
        return out
    if not all(math.isfinite(x) for x in (s.sd, s.low, s.high)):
        out.verdict, out.reason = INCONCLUSIVE, f"the values are too large to summarise{why}"
        return out
    out.sd, out.ci = s.sd, (s.low, s.high)
    out.verdict, reason = _decide(claim, s, b_values)
    out.reason = reason + why
    return out


def _run_data(run: Path) -> str:
    try:
        data = RunFolder(run, trusted=False).config().get("data")
    except RunError:
        return ""
    return data if isinstance(data, str) else ""


def decide(claim: ClaimSpec, runs_by_arm: dict[str, list[Path]]) -> Verdict:
    """Read the claim's measurement from each run folder and apply its rule. `runs_by_arm` maps the claim's arm
    names, or the arms' canonical keys (ArmSpec.key()), to run folders in seed order."""
    if not claim.measurable:
        return judge(claim, {})
    values: dict[str, list[float | None]] = {}
    missing: list[str] = []
    runs: dict[str, list[str]] = {}
    for name, arm in claim.arms.items():
        paths = runs_by_arm.get(name, runs_by_arm.get(arm.key()))
        if paths is None:
            continue
        readings = [read_measure(claim.measure, Path(p)) for p in paths]
        values[name] = [r.value for r in readings]
        runs[name] = [str(p) for p in paths]
        missing += [f"{name} run {i}: {r.reason}" for i, r in enumerate(readings) if r.value is None]
    verdict = judge(claim, values, missing)
    verdict.runs = runs
    verdict.decided_on = sorted({d for paths in runs.values() for d in map(_run_data, map(Path, paths)) if d})
    return verdict
