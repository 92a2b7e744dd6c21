"""The reports' claims about their results, as data: spec/claims/rNNN.toml, one `[[claim]]` table per statement.

Each claim quotes its report verbatim (and, in `also`, further sentences saying the same), names the arms it
compares (experiments with optional recipe overrides), the measurement and the rule that decide it
(spec/rule.py; impl/verdicts applies them), the errata whose reading it follows, or says why nothing can measure
it. A claim about the anime faces' own features (`face_specific`) is measured on the faces only, never on the
FashionMNIST stand-in. Reading is strict like the rest of spec/: unknown keys, wrong types and unknown names are
one-line SpecErrors. `spec.claims()` lists them; docs/claims.md holds the table and the sentences that are not
claims, with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spec.arm import ArmSpec, check_arm, check_override
from spec.experiment import DatasetSpec, Erratum, ExperimentSpec
from spec.fields import SpecError, Table, closest
from spec.rule import MeasureSpec, RuleSpec, read_measure, read_rule

__all__ = ["ArmSpec", "ClaimSpec", "MeasureSpec", "RuleSpec", "check_claims", "read_claims"]


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
    also: tuple[str, ...] = ()  # more verbatim sentences of the report that say the same
    errata: tuple[str, ...] = ()  # errata whose reading of the sentence the claim follows
    face_specific: bool = False  # about the anime faces' own features: never decided on a stand-in
    inferred: str = ""  # the inferred settings the verdict depends on (the report does not state them)

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


def _strings(table: Table, key: str) -> tuple[str, ...]:
    values = table.opt(key, list, [])
    for i, value in enumerate(values):
        if not isinstance(value, str) or not value.strip():
            raise SpecError(f"{table.at(key)}[{i}]: expected a non-empty string, got {value!r}")
    return tuple(values)


def _read_arms(table: Table) -> dict[str, ArmSpec]:
    arms_table = table.sub("arms", required=False)
    arms: dict[str, ArmSpec] = {}
    if arms_table is None:
        return arms
    for name in list(arms_table.data):
        if not name or set(name) - set("abcdefghijklmnopqrstuvwxyz0123456789_-"):
            raise SpecError(f"{arms_table.at(name)}: arm name {name!r} must use lowercase letters, digits, "
                            "'-' and '_'")
        arms[name] = _read_arm(Table(arms_table.req(name, dict), arms_table.at(name)))
    keys = [arm.key() for arm in arms.values()]
    if len(set(keys)) < len(keys):
        same = next(k for k in keys if keys.count(k) > 1)
        raise SpecError(f"{table.at('arms')}: two arms are the same training ({same}); a claim compares different "
                        "trainings, so name one arm or change its overrides")
    return arms


def _read_claim(table: Table, report: str, file: Path) -> ClaimSpec:
    cid = table.req("id", str)
    if not cid.startswith(f"c{report}-") or set(cid) - set("abcdefghijklmnopqrstuvwxyz0123456789-"):
        raise SpecError(f"{table.at('id')}: {cid!r} must start with 'c{report}-' and use lowercase letters, "
                        "digits and '-'")
    text = {k: table.req(k, str) for k in ("section", "quote", "paraphrase", "data")}
    for k, v in text.items():
        if not v.strip():
            raise SpecError(f"{table.at(k)}: must not be empty")
    arms = _read_arms(table)
    extra = {"also": _strings(table, "also"), "errata": _strings(table, "errata"),
             "face_specific": table.opt("face_specific", bool, False), "inferred": table.opt("inferred", str, "")}
    if extra["face_specific"] and text["data"] != "anime-faces":
        raise SpecError(f"{table.at('face_specific')}: only a claim about the anime faces can be face-specific")
    measurable = table.opt("measurable", bool, True)
    reason, proxy, reading = table.opt("reason", str, ""), table.opt("proxy", str, ""), table.opt("reading", str, "")
    if measurable:
        if table.has("reason"):
            raise SpecError(f"{table.at('reason')}: only a claim with `measurable = false` gives a reason")
        if not arms:
            raise SpecError(f"{table.at('arms')}: a measurable claim needs its arms")
        measure = read_measure(table.sub("measure"))
        rule = read_rule(table.sub("rule"), arms, measure)
    else:
        for key in ("measure", "rule"):
            if table.has(key):
                raise SpecError(f"{table.at(key)}: a claim with `measurable = false` has no {key}; remove it")
        if not reason.strip():
            raise SpecError(f"{table.at('reason')}: a claim with `measurable = false` needs the reason")
        measure, rule = None, RuleSpec(kind="not_measurable")
    table.close()
    return ClaimSpec(id=cid, file=file, report=report, reading=reading, arms=arms, measure=measure, rule=rule,
                     proxy=proxy, reason=reason, **text, **extra)


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


def check_claims(claims: dict[str, ClaimSpec], experiments: dict[str, ExperimentSpec], datasets: dict[str, DatasetSpec],
                 errata: tuple[Erratum, ...] = ()) -> None:
    """Cross-checks against the registry: arms name experiments, overrides fit them, data sets exist and match,
    cited errata exist and concern the claim's report."""
    known = {e.id: e for e in errata}
    for c in claims.values():
        where = f"{c.file}:claim {c.id}"
        if c.data not in datasets:
            raise SpecError(f"{where}.data: unknown data set {c.data!r}{closest(c.data, list(datasets))}; "
                            f"known: {', '.join(datasets)}")
        for eid in c.errata:
            if eid not in known or known[eid].report != c.report:
                raise SpecError(f"{where}.errata: {eid!r} is no erratum of report {c.report}"
                                f"{closest(eid, [e for e in known if known[e].report == c.report])}")
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
        seen: dict[tuple[str, tuple[tuple[str, Any], ...]], str] = {}
        for name, arm in c.arms.items():  # an override equal to the experiment's own value changes nothing
            facts = experiments[arm.experiment].facts()
            changed = tuple((k, v) for k, v in arm.overrides
                            if k not in facts or facts[k].value != (list(v) if isinstance(v, tuple) else v))
            if (arm.experiment, changed) in seen:
                raise SpecError(f"{where}.arms: {seen[(arm.experiment, changed)]} and {name} are the same training "
                                f"({arm.key()}: its overrides are {arm.experiment}'s own values); change a value "
                                "the claim compares")
            seen[(arm.experiment, changed)] = name
