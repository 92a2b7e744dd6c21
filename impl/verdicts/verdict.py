"""A decided claim as a record: the verdict and its reason, the effect with its spread over seeds, the raw and the
Holm-adjusted decision, the seeds that would likely settle an inconclusive one, the values per arm and seed with
the reference they were read against, and the runs and data behind it. A smoke run's verdicts say so everywhere."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

HOLDS, FAILS, INCONCLUSIVE, NOT_MEASURABLE = "holds", "does not hold", "inconclusive", "not measurable here"
HOLDS_SMALLER = "holds, but smaller than the minimum effect"  # a directional claim's fourth outcome
VERDICTS = (HOLDS, FAILS, INCONCLUSIVE, NOT_MEASURABLE)
SMOKE = "smoke: means nothing"
MARKDOWN_HEADER = ("| claim | quote | data | measure | rule | verdict (Holm, per report) | raw | "
                   "effect [95 % interval] | seeds | why |\n"
                   "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")


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
    effect: float | None = None  # on the measure's scale: mean of the arm, or of the paired difference a - b
    effect_label: str = ""
    sd: float | None = None  # of the per-seed differences (or values)
    ci: tuple[float, float] | None = None  # 95 % t interval of the effect (None: one seed, events, a sign test)
    n: int = 0  # seeds decided on
    p_value: float | None = None  # one-sided p-value of the decision taken (or of the nearer one, inconclusive)
    holm: str = ""  # the verdict after Holm's adjustment over its family ("" before it is applied)
    family: str = ""  # the claims Holm adjusted it with: its report's ("report 004"), never other reports' too
    seeds_needed: int | None = None  # inconclusive: seeds that would likely decide it at the observed spread
    events: tuple[int, int] | None = None  # an event rule: (runs with the event, runs)
    values: dict[str, list[float | None]] = field(default_factory=dict)  # per arm, per seed
    references: dict[str, list[float | None]] = field(default_factory=dict)  # the real/floor/base value per seed
    diverged: dict[str, int] = field(default_factory=dict)  # per arm, the seeds that diverged (an outcome)
    faceless: dict[str, int] = field(default_factory=dict)  # per arm, the seeds whose images showed no face (worst)
    runs: dict[str, list[str]] = field(default_factory=dict)  # per arm, the run folders read
    decided_on: list[str] = field(default_factory=list)  # the runs' training data (config.json "data")
    proxy: str = ""  # what stands in for the claim's own words, when the measure is a proxy
    smoke: bool = False  # decided on a --quick smoke run: the verdict means nothing and is shown as such
    smaller: bool = False  # 'does not hold' as claimed, but the claimed direction holds beyond seed noise
    path: list[dict[str, Any]] = field(default_factory=list)  # --seeds auto: the evidence and decision at each look
    next_round: dict[str, Any] | None = None  # undecided: the power of one more round (impl/verdicts/outlook.py)

    @property
    def outcome(self) -> str:
        """One of four for a directional claim: holds; holds, but smaller than the minimum effect; does not hold;
        inconclusive (or not measurable here). `verdict` keeps the three-way decision on the minimum effect."""
        return HOLDS_SMALLER if self.smaller and self.verdict == FAILS else self.verdict

    @property
    def shown(self) -> str:
        """The verdict as every page shows it: a smoke run's says it means nothing."""
        return SMOKE if self.smoke and self.verdict != NOT_MEASURABLE else self.verdict

    @property
    def shown_holm(self) -> str:
        return "" if self.smoke and self.verdict != NOT_MEASURABLE else self.holm

    @property
    def headline(self) -> str:
        """What the scorecard leads with: the outcome after Holm's adjustment over the claim's report (four outcomes
        for a directional claim), the raw verdict where nothing was adjusted; a smoke run's means nothing."""
        if self.smoke and self.verdict != NOT_MEASURABLE:
            return SMOKE
        if not self.holm:
            return self.outcome
        return HOLDS_SMALLER if self.smaller and self.holm == FAILS else self.holm

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
        out["events"] = list(self.events) if self.events else None
        out |= {"data_label": self.data_label, "shown": self.shown, "shown_holm": self.shown_holm,
                "outcome": self.outcome, "headline": self.headline}
        json_out: dict[str, Any] = plain(out)  # plain keeps a dict a dict (its keys as strings)
        return json_out

    def effect_text(self) -> str:
        if self.events is not None:
            return f"{self.events[0]} of {self.events[1]} seeds"
        effect = "-" if self.effect is None else f"{self.effect:.4g}"
        return effect + (f" [{self.ci[0]:.4g}, {self.ci[1]:.4g}]" if self.ci is not None else "")

    def markdown_row(self) -> str:
        raw = "-" if self.shown == SMOKE else self.outcome
        cells = (f"`{self.claim}`", self.quote, self.data_label, f"`{self.measure}`", self.rule, f"**{self.headline}**",
                 raw, self.effect_text(), str(self.n), self.reason)
        return "| " + " | ".join(" ".join(c.split()).replace("|", "\\|") for c in cells) + " |"


def plain(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): plain(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [plain(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x
