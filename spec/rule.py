"""A claim's measurement and its rule, as data, read strictly from its `measure` and `rule` tables.

A measurement turns one run folder into one number (docs/claims.md defines every kind and reduction). A rule
decides the claim from the numbers of several seeds: a comparison of two arms with its minimum effect
(`compare`, `not_better`, `similar`), a bound on one arm with its reference (`threshold`), or an event counted over
seeds (`event`). Every minimum effect and bound says where it comes from (a note, and for a bound its reference:
the real data's own value, a floor, the probe's unchanged images, or a named convention).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from spec.fields import SpecError, Table, closest
from spec.metrics import better as metric_better
from spec.metrics import claim_keys

LOSS_KEYS = ("d_loss", "g_loss", "d_real", "d_fake", "wasserstein")
# kind -> reduction -> (required fields, optional fields with defaults)
REDUCTIONS: dict[str, dict[str, tuple[tuple[str, ...], dict[str, float]]]] = {
    "final": {"": ((), {})},
    "epoch_series": {"last": ((), {}), "at_epoch": (("epoch",), {}), "max_rise": ((), {}),
                     "max_rel_rise": ((), {}), "late_change": ((), {"fraction": 0.8})},
    "loss_curve": {"early_peak": ((), {"fraction": 0.1}), "early_peak_ratio": ((), {"fraction": 0.1}),
                   "volatility": ((), {"fraction": 0.1}), "volatility_ratio": (("over",), {"fraction": 0.1}),
                   "settling": ((), {}), "trend": ((), {}), "late_level": ((), {})},
    "latent": {"pixel_change_max": (("value",), {}), "pixel_change_median": (("value",), {}),
               "direction_spread": (("value",), {}), "row_spread_max": (("value",), {}),
               "class_flips": (("value",), {})},
}
AGAINST = ("", "ratio", "above", "log_ratio")  # a metric as it is, over, minus, or log over its reference
RULES = ("compare", "not_better", "similar", "threshold", "event")
EXPECT = {"compare": ("higher", "lower", "better", "worse"), "threshold": ("above", "below", "near"),
          "event": ("above", "below")}
SCALES = ("absolute", "of_b")  # a minimum effect in the measure's units, or a share of |mean of arm b|
REFERENCES = ("real", "floor", "base", "convention")


@dataclass(frozen=True)
class MeasureSpec:
    kind: str  # final | epoch_series | loss_curve | latent
    key: str = ""  # metric key or role (final, epoch_series) or logged series (loss_curve); "" for latent
    reduce: str = ""
    epoch: int | None = None  # at_epoch
    fraction: float | None = None  # late_change: from this share of the run; loss_curve: the early share
    over: str = ""  # volatility_ratio: the series in the denominator
    value: float | None = None  # latent: the value the positions were set to
    against: str = ""  # "ratio", "above", "log_ratio": read against the metric's reference (spec/metrics.py)

    @property
    def direction(self) -> str:
        """'lower' or 'higher' is better, or '' where better is not implied."""
        better = metric_better(self.key)
        if self.against == "log_ratio":
            return ""
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
        name = f"{name}({args})" if args else name
        return {"ratio": f"{name} / reference", "above": f"{name} - reference",
                "log_ratio": f"|log({name} / reference)|"}.get(self.against, name)


@dataclass(frozen=True)
class RuleSpec:
    kind: str  # compare | not_better | similar | threshold | event | not_measurable
    a: str = ""  # compare, not_better, similar: arm a is claimed higher/better/... than arm b
    b: str = ""
    arm: str = ""  # threshold, event
    expect: str = ""  # compare: higher|lower|better|worse; threshold, event: above|below
    bound: float | None = None  # threshold: the bound of the mean; event: the per-run bound that makes the event
    min_effect: float | None = None  # the smallest difference that counts (threshold: beyond the bound; near: the
    # tolerance on either side of it)
    scale: str = "absolute"  # min_effect in the measure's units, or as a share of |mean of arm b|
    at_least: float | None = None  # of_b: the smallest minimum effect in the measure's units (b missing or near 0)
    reference: str = ""  # threshold: what the bound is anchored to (REFERENCES)
    rate: float | None = None  # event: the claim holds when the event's rate over seeds is above this
    false_rate: float | None = None  # event: the point estimate k / n of false_events (simulations only)
    false_rate_key: str = ""  # event: its entry in spec/false_rates.toml (spec/false_rates.py resolves it)
    false_events: tuple[int, int] | None = None  # event: k events of n clean runs, where it should not happen
    false_rate_from: str = ""  # event: the runs false_events were counted on (the recipe, a stand-in named)
    diverged: str = "unknown"  # event: a diverged run is the event ("event") or of unknown value ("unknown")
    note: str = ""  # why that bound, minimum effect or rate

    def describe(self) -> str:
        least = f" (at least {self.at_least or 0:g})"
        size = "" if self.min_effect is None else (f"{self.min_effect:.0%} of {self.b}{least}" if self.scale == "of_b"
                                                   else f"{self.min_effect:g}")
        if self.kind == "compare":
            return f"{self.a} {self.expect} than {self.b} by at least {size}"
        if self.kind == "threshold" and self.expect == "near":
            return f"{self.arm} within {size} of {self.bound:g} ({self.reference})"
        if self.kind == "threshold":
            return f"{self.arm} {self.expect} {self.bound:g} by at least {size} ({self.reference})"
        if self.kind == "not_better":
            return f"{self.a} not better than {self.b} by {size} or more"
        if self.kind == "similar":
            return f"{self.a} within {size} of {self.b}"
        if self.kind == "event":
            seen = f"in at least {self.min_effect or 0:.0%} of seeds" if not self.rate else \
                f"in more than {self.rate:.0%} of seeds"
            k, n = self.false_events or (0, 0)
            return f"{self.arm}: value {self.expect} {self.bound:g} {seen}, beyond false events ({k} of {n} " \
                "clean runs)"
        return "not measurable"


def read_measure(table: Table) -> MeasureSpec:
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
        keys = claim_keys() if kind in ("final", "epoch_series") else list(LOSS_KEYS)
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
                              "value": table.opt("value", float), "against": table.opt("against", str, "")}
    table.close()
    _check_measure_fields(table, kind, key, required, fields)
    return MeasureSpec(kind=kind, key=key, reduce=reduce, **fields)


def _check_measure_fields(table: Table, kind: str, key: str, required: tuple[str, ...], fields: dict[str, Any]) -> None:
    from spec.metrics import reference

    if fields["epoch"] is not None and fields["epoch"] <= 0:
        raise SpecError(f"{table.at('epoch')}: must be a positive epoch number, got {fields['epoch']}")
    if fields["fraction"] is not None and not 0 < fields["fraction"] < 1:
        raise SpecError(f"{table.at('fraction')}: must be between 0 and 1, got {fields['fraction']!r}")
    if fields["value"] is not None and not math.isfinite(fields["value"]):
        raise SpecError(f"{table.at('value')}: must be a finite number, got {fields['value']!r}")
    if "over" in required and (fields["over"] not in LOSS_KEYS or fields["over"] == key):
        raise SpecError(f"{table.at('over')}: must be another logged series than {key!r}, one of "
                        f"{', '.join(LOSS_KEYS)}; got {fields['over']!r}")
    if fields["against"] not in AGAINST:
        raise SpecError(f"{table.at('against')}: must be one of {', '.join(repr(a) for a in AGAINST[1:])}, got "
                        f"{fields['against']!r}")
    if fields["against"] and (kind not in ("final", "epoch_series") or not reference(key)):
        raise SpecError(f"{table.at('against')}: {key or kind} has no reference value to be read against "
                        "(spec/metrics.py); remove `against`")


def _arm_name(table: Table, field: str, arms: dict[str, Any]) -> str:
    name: str = table.req(field, str)
    if name not in arms:
        raise SpecError(f"{table.at(field)}: no arm {name!r}{closest(name, list(arms))}; the claim's arms: "
                        f"{', '.join(arms) or 'none'}")
    return name


def _finite(table: Table, name: str, positive: bool = False) -> float:
    value = table.req(name, float)
    if not math.isfinite(value) or (positive and value <= 0):
        raise SpecError(f"{table.at(name)}: must be a {'positive ' if positive else ''}finite number, got {value!r}")
    return float(value)


def read_rule(table: Table, arms: dict[str, Any], measure: MeasureSpec) -> RuleSpec:
    kind = table.req("kind", str)
    if kind not in RULES:
        raise SpecError(f"{table.at('kind')}: unknown rule {kind!r}{closest(kind, RULES)}; known: {', '.join(RULES)}"
                        " (a claim nothing can measure says `measurable = false` and `reason`)")
    fields: dict[str, Any] = {"kind": kind}
    if kind in ("threshold", "event"):
        fields["arm"], fields["bound"] = _arm_name(table, "arm", arms), _finite(table, "bound")
    else:
        fields["a"], fields["b"] = _arm_name(table, "a", arms), _arm_name(table, "b", arms)
        if fields["a"] == fields["b"]:
            raise SpecError(f"{table.at('b')}: compares arm {fields['a']!r} with itself; name two arms")
        fields["scale"] = table.opt("scale", str, "absolute")
        if fields["scale"] not in SCALES:
            raise SpecError(f"{table.at('scale')}: must be one of {', '.join(SCALES)}, got {fields['scale']!r}")
        if fields["scale"] == "of_b":  # a share of b alone vanishes when b is missing or near zero
            fields["at_least"] = _finite(table, "at_least", positive=True)
    if kind != "event":  # every rule has a minimum effect, a threshold's beyond its bound too (an event's below)
        fields["min_effect"] = _finite(table, "min_effect", positive=True)
    if kind in EXPECT:
        expect = table.req("expect", str)
        if expect not in EXPECT[kind]:
            raise SpecError(f"{table.at('expect')}: {kind} expects one of {', '.join(EXPECT[kind])}, got {expect!r}")
        fields["expect"] = expect
    if kind == "threshold":
        fields["reference"] = table.req("reference", str)
        _check_reference(table, fields["reference"], measure)
    if kind == "event":
        _read_event(table, fields)
    fields["note"] = table.req("note", str)
    if not fields["note"].strip():
        raise SpecError(f"{table.at('note')}: say why that bound, minimum effect or rate (its reference)")
    table.close()
    if (fields.get("expect") in ("better", "worse") or kind == "not_better") and not measure.direction:
        raise SpecError(f"{table.at('kind')}: {measure.describe()} has no better direction; "
                        "use expect = \"higher\" or \"lower\"")
    unused = set(arms) - {fields.get("a"), fields.get("b"), fields.get("arm")}
    if unused:
        raise SpecError(f"{table.where.rsplit('.', 1)[0]}.arms.{sorted(unused)[0]}: not used by the rule; "
                        "remove the arm or compare it")
    return RuleSpec(**fields)


def _read_event(table: Table, fields: dict[str, Any]) -> None:
    """An event's claimed rate, its minimum effect (the smallest per-run rate 'it happens' implies, so that clean
    seeds can refute it), the key of its false-event count on clean runs, and what a diverged run is."""
    fields["rate"] = table.opt("rate", float, 0.0)
    if not 0 <= fields["rate"] < 1:
        raise SpecError(f"{table.at('rate')}: a rate of seeds must be in [0, 1), got {fields['rate']!r}")
    if fields["rate"] == 0 or table.has("min_effect"):
        fields["min_effect"] = _finite(table, "min_effect", positive=True)
        if not fields["rate"] < fields["min_effect"] < 1:
            raise SpecError(f"{table.at('min_effect')}: an event's minimum effect is the smallest per-run rate the "
                            f"claim implies, above rate {fields['rate']:g} and below 1; got {fields['min_effect']!r}")
    fields["false_rate_key"] = table.req("false_rate", str)  # the key of its entry in spec/false_rates.toml
    if not fields["false_rate_key"].strip():
        raise SpecError(f"{table.at('false_rate')}: name the entry of spec/false_rates.toml that counts this event "
                        "on clean runs")
    fields["diverged"] = table.opt("diverged", str, "unknown")
    if fields["diverged"] not in ("event", "unknown"):
        raise SpecError(f"{table.at('diverged')}: must be 'event' (the claim names a divergence) or 'unknown', got "
                        f"{fields['diverged']!r}")


def _check_reference(table: Table, ref: str, measure: MeasureSpec) -> None:
    """A threshold's bound is anchored: to the real data's own value or a floor (the measure is read against it),
    to the probe's unchanged images (a latent ratio), or to a named convention (the note names it)."""
    if ref not in REFERENCES:
        raise SpecError(f"{table.at('reference')}: must be one of {', '.join(REFERENCES)}, got {ref!r}")
    wants = {"real": ("ratio", "log_ratio"), "floor": ("above",)}.get(ref)
    if wants and measure.against not in wants:
        raise SpecError(f"{table.at('reference')}: a bound on the {ref} value needs the measure read against it "
                        f"(measure.against = {' or '.join(repr(w) for w in wants)})")
    if ref == "base" and measure.kind != "latent":
        raise SpecError(f"{table.at('reference')}: 'base' (the probe's unchanged images) is for latent measures")
