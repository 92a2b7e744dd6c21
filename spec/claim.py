"""The reports' claims about their results, as data: spec/claims/rNNN.toml, one `[[claim]]` table per statement.

Each claim quotes its report verbatim, names the arms it compares (experiments with optional recipe overrides),
the measurement that decides it and the rule (impl/verdict.py applies it), or says why nothing can measure it.
Reading is strict like the rest of spec/: unknown keys, wrong types and unknown names are one-line SpecErrors.
docs/claims.md describes the format, every measurement and every rule. The module is singular like experiment.py
and network.py; `spec.claims()` is the function that lists the claims.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spec.arm import ArmSpec, check_arm, check_override, finite_positive
from spec.fields import SpecError, Table, closest
from spec.metrics import METRICS
from spec.metrics import better as metric_better

LOSS_KEYS = ("d_loss", "g_loss", "d_real", "d_fake", "wasserstein")
REDUCTIONS = {  # kind -> reduction -> (required fields, optional fields with defaults)
    "final": {"": ((), {})},
    "epoch_series": {"last": ((), {}), "at_epoch": (("epoch",), {}), "max_rise": ((), {}),
                     "max_rel_rise": ((), {}), "late_change": ((), {"fraction": 0.8})},
    "loss_curve": {"early_peak": ((), {"fraction": 0.1}), "early_peak_ratio": ((), {"fraction": 0.1}),
                   "volatility": ((), {"fraction": 0.1}), "volatility_ratio": (("over",), {"fraction": 0.1}),
                   "settling": ((), {})},
    "latent": {"pixel_change": (("value",), {}), "position_spread": (("value",), {}),
               "row_spread_ratio": (("value",), {}), "class_flips": (("value",), {})},
}
RULES = ("compare", "not_better", "similar", "threshold")
EXPECT = {"compare": ("higher", "lower", "better", "worse"), "threshold": ("above", "below")}


@dataclass(frozen=True)
class MeasureSpec:
    kind: str  # final | epoch_series | loss_curve | latent
    key: str = ""  # metric key (final, epoch_series) or logged series (loss_curve); "" for latent
    reduce: str = ""
    epoch: int | None = None  # at_epoch
    fraction: float | None = None  # late_change: from this share of the run; loss_curve: the early share
    over: str = ""  # volatility_ratio: the series in the denominator
    value: float | None = None  # latent: the value the positions were set to

    @property
    def direction(self) -> str:
        """'lower' or 'higher' is better, or '' where better is not implied."""
        better = metric_better(self.key)
        if self.kind == "final" or self.reduce in ("last", "at_epoch"):
            return better
        if self.reduce in ("max_rise", "max_rel_rise") and better == "lower":
            return "lower"  # smaller worsening between epochs: steadier
        return ""

    def describe(self) -> str:
        parts = {"epoch": self.epoch, "fraction": self.fraction, "over": self.over or None, "value": self.value}
        args = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in parts.items()
                         if v is not None)
        name = ".".join(p for p in (self.kind, self.key, self.reduce) if p)
        return f"{name}({args})" if args else name


@dataclass(frozen=True)
class RuleSpec:
    kind: str  # compare | not_better | similar | threshold | not_measurable
    a: str = ""  # compare, not_better, similar: arm a is claimed higher/better/... than arm b
    b: str = ""
    arm: str = ""  # threshold
    expect: str = ""  # compare: higher|lower|better|worse; threshold: above|below
    bound: float | None = None  # threshold
    margin: float | None = None  # not_better, similar: a share of |mean of arm b|
    note: str = ""  # why that bound or margin

    def describe(self) -> str:
        if self.kind == "compare":
            return f"{self.a} {self.expect} than {self.b}"
        if self.kind == "threshold":
            return f"{self.arm} {self.expect} {self.bound:g}"
        if self.kind == "not_better":
            return f"{self.a} not better than {self.b} by {self.margin:.0%}"
        if self.kind == "similar":
            return f"{self.a} within {self.margin:.0%} of {self.b}"
        return "not measurable"


@dataclass(frozen=True)
class ClaimSpec:
    id: str
    file: Path
    report: str
    section: str
    quote: str
    paraphrase: str
    reading: str
    data: str
    arms: dict[str, ArmSpec]
    measure: MeasureSpec | None
    rule: RuleSpec
    proxy: str = ""  # what stands in for the claim's own words, when the measure is a proxy
    reason: str = ""  # why the claim is not measurable

    @property
    def measurable(self) -> bool:
        return self.rule.kind != "not_measurable"

    def arm_keys(self) -> dict[str, str]:
        """Arm name -> canonical key (experiment + sorted overrides): equal keys are one training."""
        return {name: arm.key() for name, arm in self.arms.items()}


def _read_arm(table: Table) -> ArmSpec:
    experiment = table.req("experiment", str)
    raw = dict(table.opt("overrides", dict, {}))
    if isinstance(raw.get("optimizer"), dict):  # `optimizer.lr = 2e-4` in TOML is a nested table
        raw.update({f"optimizer.{k}": v for k, v in raw.pop("optimizer").items()})
    checked = {k: check_override(k, v, f"{table.at('overrides')}.{k}") for k, v in raw.items()}
    # pairs are kept as tuples, so an ArmSpec can be hashed (a set of arms, a dict key)
    overrides = tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in checked.items()))
    table.close()
    return ArmSpec(experiment=experiment, overrides=overrides)


def _read_measure(table: Table) -> MeasureSpec:
    kind = table.req("kind", str)
    if kind not in REDUCTIONS:
        raise SpecError(f"{table.at('kind')}: unknown measurement kind {kind!r}{closest(kind, list(REDUCTIONS))}; "
                        f"known: {', '.join(REDUCTIONS)}")
    reductions = REDUCTIONS[kind]
    if kind == "final" and table.has("reduce"):
        raise SpecError(f"{table.at('reduce')}: a final measurement reads metrics.json as it is; remove reduce "
                        "(epoch_series has reductions over epochs)")
    reduce = table.req("reduce", str) if kind != "final" else ""
    if reduce not in reductions:
        raise SpecError(f"{table.at('reduce')}: {kind} has no reduction {reduce!r}{closest(reduce, list(reductions))}"
                        f"; known: {', '.join(reductions)}")
    key = ""
    if kind != "latent":
        key = table.req("key", str)
        keys = list(METRICS) if kind in ("final", "epoch_series") else list(LOSS_KEYS)
        if key not in keys:
            raise SpecError(f"{table.at('key')}: {kind} has no key {key!r}{closest(key, keys)}; "
                            f"known: {', '.join(keys)}")
    required, optional = reductions[reduce]
    for name in ("epoch", "fraction", "over", "value"):
        if table.has(name) and name not in required and name not in optional:
            raise SpecError(f"{table.at(name)}: not used by {kind} {reduce or 'values'}; remove it")
        if name in required and not table.has(name):
            raise SpecError(f"{table.at(name)}: missing; {kind} {reduce} needs `{name} = ...`")
    fields: dict[str, Any] = {"epoch": table.opt("epoch", int), "over": table.opt("over", str, ""),
                              "fraction": table.opt("fraction", float, optional.get("fraction")),
                              "value": table.opt("value", float)}
    table.close()
    if fields["epoch"] is not None and fields["epoch"] <= 0:
        raise SpecError(f"{table.at('epoch')}: must be a positive epoch number, got {fields['epoch']}")
    if fields["fraction"] is not None and not 0 < fields["fraction"] < 1:
        raise SpecError(f"{table.at('fraction')}: must be between 0 and 1, got {fields['fraction']!r}")
    if fields["value"] is not None and not math.isfinite(fields["value"]):
        raise SpecError(f"{table.at('value')}: must be a finite number, got {fields['value']!r}")
    if "over" in required and (fields["over"] not in LOSS_KEYS or fields["over"] == key):
        raise SpecError(f"{table.at('over')}: must be another logged series than {key!r}, one of "
                        f"{', '.join(LOSS_KEYS)}; got {fields['over']!r}")
    return MeasureSpec(kind=kind, key=key, reduce=reduce, **fields)


def _arm_name(table: Table, field: str, arms: dict[str, ArmSpec]) -> str:
    name = table.req(field, str)
    if name not in arms:
        raise SpecError(f"{table.at(field)}: no arm {name!r}{closest(name, list(arms))}; the claim's arms: "
                        f"{', '.join(arms) or 'none'}")
    return name


def _read_rule(table: Table, arms: dict[str, ArmSpec], measure: MeasureSpec) -> RuleSpec:
    kind = table.req("kind", str)
    if kind not in RULES:
        raise SpecError(f"{table.at('kind')}: unknown rule {kind!r}{closest(kind, RULES)}; known: {', '.join(RULES)}"
                        " (a claim nothing can measure says `measurable = false` and `reason`)")
    fields: dict[str, Any] = {"kind": kind}
    if kind == "threshold":
        fields["arm"] = _arm_name(table, "arm", arms)
        bound = table.req("bound", float)
        if not math.isfinite(bound):
            raise SpecError(f"{table.at('bound')}: must be a finite number, got {bound!r}")
        fields["bound"] = bound
    else:
        fields["a"], fields["b"] = _arm_name(table, "a", arms), _arm_name(table, "b", arms)
        if fields["a"] == fields["b"]:
            raise SpecError(f"{table.at('b')}: compares arm {fields['a']!r} with itself; name two arms")
    if kind in EXPECT:
        expect = table.req("expect", str)
        if expect not in EXPECT[kind]:
            raise SpecError(f"{table.at('expect')}: {kind} expects one of {', '.join(EXPECT[kind])}, got {expect!r}")
        fields["expect"] = expect
    if kind in ("not_better", "similar"):
        fields["margin"] = finite_positive(table.req("margin", float), table.at("margin"))
    fields["note"] = table.opt("note", str, "")
    if kind != "compare" and not fields["note"].strip():
        raise SpecError(f"{table.at('note')}: a {kind} rule needs a note saying why that bound or margin")
    table.close()
    if (fields.get("expect") in ("better", "worse") or kind == "not_better") and not measure.direction:
        raise SpecError(f"{table.at('kind')}: {measure.describe()} has no better direction; "
                        "use expect = \"higher\" or \"lower\"")
    unused = set(arms) - {fields.get("a"), fields.get("b"), fields.get("arm")}
    if unused:
        raise SpecError(f"{table.where.rsplit('.', 1)[0]}.arms.{sorted(unused)[0]}: not used by the rule; "
                        "remove the arm or compare it")
    return RuleSpec(**fields)


def _read_claim(table: Table, report: str, file: Path) -> ClaimSpec:
    cid = table.req("id", str)
    if not cid.startswith(f"c{report}-") or set(cid) - set("abcdefghijklmnopqrstuvwxyz0123456789-"):
        raise SpecError(f"{table.at('id')}: {cid!r} must start with 'c{report}-' and use lowercase letters, "
                        "digits and '-'")
    text = {k: table.req(k, str) for k in ("section", "quote", "paraphrase", "data")}
    for k, v in text.items():
        if not v.strip():
            raise SpecError(f"{table.at(k)}: must not be empty")
    arms_table = table.sub("arms", required=False)
    arms = {}
    if arms_table is not None:
        for name in list(arms_table.data):
            if not name or set(name) - set("abcdefghijklmnopqrstuvwxyz0123456789_-"):
                raise SpecError(f"{arms_table.at(name)}: arm name {name!r} must use lowercase letters, digits, "
                                "'-' and '_'")
            arms[name] = _read_arm(Table(arms_table.req(name, dict), arms_table.at(name)))
    measurable = table.opt("measurable", bool, True)
    reason, proxy, reading = table.opt("reason", str, ""), table.opt("proxy", str, ""), table.opt("reading", str, "")
    if measurable:
        if table.has("reason"):
            raise SpecError(f"{table.at('reason')}: only a claim with `measurable = false` gives a reason")
        if not arms:
            raise SpecError(f"{table.at('arms')}: a measurable claim needs its arms")
        measure = _read_measure(table.sub("measure"))
        rule = _read_rule(table.sub("rule"), arms, measure)
    else:
        for key in ("measure", "rule"):
            if table.has(key):
                raise SpecError(f"{table.at(key)}: a claim with `measurable = false` has no {key}; remove it")
        if not reason.strip():
            raise SpecError(f"{table.at('reason')}: a claim with `measurable = false` needs the reason")
        measure, rule = None, RuleSpec(kind="not_measurable")
    table.close()
    return ClaimSpec(id=cid, file=file, report=report, reading=reading, arms=arms, measure=measure, rule=rule,
                     proxy=proxy, reason=reason, **text)


def read_claims(data: dict[str, Any], file: Path) -> list[ClaimSpec]:
    """Every claim of one claims file; its `report` must match the file name (r000.toml -> "000")."""
    top = Table(data, str(file))
    report = top.req("report", str)
    if file.stem != f"r{report}":
        raise SpecError(f"{top.at('report')}: {report!r} does not match the file name {file.name}; "
                        f"name it r{report}.toml")
    claims = [_read_claim(t, report, file) for t in top.subs("claim")]
    top.close()
    if not claims:
        raise SpecError(f"{top.at('claim')}: no [[claim]] tables; add at least one")
    return claims


def check_claims(claims: dict[str, ClaimSpec], experiments: dict, datasets: dict) -> None:
    """Cross-checks against the registry: arms name experiments, overrides fit them, data sets exist and match."""
    for c in claims.values():
        where = f"{c.file}:claim {c.id}"
        if c.data not in datasets:
            raise SpecError(f"{where}.data: unknown data set {c.data!r}{closest(c.data, list(datasets))}; "
                            f"known: {', '.join(datasets)}")
        for name, arm in c.arms.items():
            at = f"{where}.arms.{name}"
            exp = experiments.get(arm.experiment)
            if exp is None:
                raise SpecError(f"{at}.experiment: no experiment {arm.experiment!r}"
                                f"{closest(arm.experiment, list(experiments))}")
            if exp.dataset.value != c.data:
                raise SpecError(f"{at}.experiment: {exp.name} trains on {exp.dataset.value}, but the claim's data "
                                f"is {c.data}; a claim's arms train on the data the report made it on")
            check_arm(arm, exp, at)
