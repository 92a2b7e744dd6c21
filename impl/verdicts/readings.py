"""Reading the measurement a claim needs from a run folder, and the arms a set of claims needs trained.

A run folder gives four sources (docs/claims.md defines every measurement on them): impl.evaluate's metrics
(kind "final"), per-epoch metrics ("epoch_series"), the training log ("loss_curve") and impl.latent's probe
("latent"). A value that cannot be read is a Reading with no value and the reason, never an exception.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from impl.runs.folder import RunFolder
from impl.verdicts.reductions import NotMeasurable, late_change, latent_property, loss_property, max_rise, number
from spec.arm import ArmSpec
from spec.claim import ClaimSpec, MeasureSpec

# metrics.json keys computed on the FashionMNIST classifier (impl.evaluate: only for FashionMNIST runs)
_CLASSIFIER_KEYS = ("domain_fid", "domain_kid", "domain_fid_floor", "classes_covered", "kl_to_uniform",
                    "mean_confidence", "confident_share", "precision", "recall", "density", "coverage")


@dataclass(frozen=True)
class Reading:
    """One run's value of a measurement, or why there is none."""

    value: float | None
    reason: str = ""  # why there is no value
    source: str = ""  # the file the value was read from


def arms_needed(claims: Iterable[ClaimSpec]) -> dict[str, ArmSpec]:
    """Every arm the claims name, once per canonical key (experiment + sorted overrides), in first-use order."""
    out: dict[str, ArmSpec] = {}
    for claim in claims:
        for arm in claim.arms.values():
            out.setdefault(arm.key(), arm)
    return out


# ---------------------------------------------------------------- reading the files of a run folder

def _rows(run: RunFolder, name: str) -> list[dict[str, Any]]:
    if not run.file(name).is_file():
        raise NotMeasurable(f"{run.file(name)} is missing")
    return run.rows(name)


def _json_file(run: RunFolder, name: str, how: str) -> dict[str, Any]:
    found, why = run.optional(name)
    if found is None:
        raise NotMeasurable(f"{why or f'{run.file(name)} is missing'}; {how}")
    return found


def _missing_metric_hint(key: str) -> str:
    if key.startswith("inception_"):
        return "it was evaluated without Inception weights; pass --inception-weights FILE to impl.evaluate"
    if key in _CLASSIFIER_KEYS:
        return ("the domain classifier knows FashionMNIST only, so face data has none; "
                "pass --inception-weights for Inception FID")
    return "evaluate the run again with python -m impl.evaluate RUN"


def _final(run: RunFolder, key: str) -> tuple[float, Path]:
    path = run.file(RunFolder.EVALUATION)
    data = _json_file(run, RunFolder.EVALUATION, f"run python -m impl.evaluate {run}")
    value = number(data.get(key))
    if value is None:
        problem = "has no" if key not in data else f"has a non-finite {data[key]!r} as"
        raise NotMeasurable(f"{path} {problem} {key}: {_missing_metric_hint(key)}")
    return value, path


def _epoch_series(run: RunFolder, key: str) -> tuple[dict[int, float], Path]:
    """epoch -> value of `key`, the last line of an epoch counting (a resumed run may repeat one)."""
    path = run.file(RunFolder.EPOCH_LOG)
    series: dict[int, float] = {}
    for row in _rows(run, RunFolder.EPOCH_LOG):
        epoch, value = number(row.get("epoch")), number(row.get(key))
        if epoch is not None and epoch == int(epoch) and epoch >= 1 and value is not None:
            series[int(epoch)] = value
    if not series:
        raise NotMeasurable(f"{path} has no epoch with a finite {key}: {_missing_metric_hint(key)}")
    return series, path


def _by_step(run: RunFolder, key: str) -> dict[float, float]:
    """step -> logged value of `key` (the last line for a step a resume logged again)."""
    by_step: dict[float, float] = {}
    for row in _rows(run, RunFolder.LOG):
        step, value = number(row.get("step")), number(row.get(key))
        if step is not None and value is not None:
            by_step[step] = value
    return by_step


def _loss_series(run: RunFolder, key: str) -> tuple[list[float], Path]:
    """The logged values of `key` in step order, one per step."""
    by_step = _by_step(run, key)
    return [by_step[s] for s in sorted(by_step)], run.file(RunFolder.LOG)


def curve(measure: MeasureSpec, path: Path) -> tuple[list[float], list[float]]:
    """The curve a per-epoch or loss-curve measurement is read from (x: epochs or steps), for a chart; empty lists
    where the run has none."""
    run = RunFolder(path, trusted=False)
    try:
        if measure.kind == "epoch_series":
            series = _epoch_series(run, measure.key)[0]
        elif measure.kind == "loss_curve":
            series = _by_step(run, measure.key)
        else:
            return [], []
    except NotMeasurable:
        return [], []
    xs = sorted(series)
    return [float(x) for x in xs], [series[x] for x in xs]


def _read(measure: MeasureSpec, run: RunFolder) -> tuple[float, Path]:
    if measure.kind == "final":
        return _final(run, measure.key)
    if measure.kind == "epoch_series":
        series, path = _epoch_series(run, measure.key)
        if measure.reduce == "last":
            return series[max(series)], path
        if measure.reduce == "at_epoch":
            if measure.epoch not in series:
                raise NotMeasurable(f"{path} has epochs {min(series)}-{max(series)}; the claim reads epoch "
                                    f"{measure.epoch}")
            return series[measure.epoch], path
        if measure.reduce == "late_change":
            return late_change(series, measure.fraction or 0.8), path
        return max_rise(series, relative=measure.reduce == "max_rel_rise"), path
    if measure.kind == "loss_curve":
        values, path = _loss_series(run, measure.key)
        over = _loss_series(run, measure.over)[0] if measure.over else None
        return loss_property(values, measure.reduce, measure.fraction, over), path
    probe = _json_file(run, RunFolder.LATENT, f"run python -m impl.latent {run}")
    return latent_property(probe, measure.reduce, measure.value or 0.0), run.file(RunFolder.LATENT)


def read_measure(measure: MeasureSpec, run: Path) -> Reading:
    """The value of `measure` in run folder `run`, or a Reading without a value saying why (never raises for
    missing, damaged or too short files)."""
    if not run.is_dir():
        return Reading(None, f"{run} is not a run folder")
    try:
        value, path = _read(measure, RunFolder(run, trusted=False))
    except NotMeasurable as exc:
        return Reading(None, str(exc))
    except OSError as exc:
        return Reading(None, f"{run}: cannot read ({exc.strerror})")
    if not math.isfinite(value):
        return Reading(None, f"{measure.describe()} is not finite ({value}) in {path}")
    return Reading(value, source=str(path))


# ---------------------------------------------------------------- the claims as a table

def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def claims_table(claims: Iterable[ClaimSpec]) -> str:
    """Markdown: id, report, quote, reading, measurement (arms, proxy), rule or the not-measurable reason."""
    lines = ["| id | report | quote | reading | measurement | rule |", "| --- | --- | --- | --- | --- | --- |"]
    for c in claims:
        arms = ", ".join(f"{name} = {arm.key()}" for name, arm in c.arms.items())
        if c.measure is None:
            measurement, rule = f"not measurable ({arms})" if arms else "not measurable", f"*{c.reason}*"
        else:
            measurement = f"`{c.measure.describe()}` on {arms}" + (f"; proxy: {c.proxy}" if c.proxy else "")
            rule = c.rule.describe() + (f" ({c.rule.note})" if c.rule.note else "")
        lines.append("| " + " | ".join(_cell(x) for x in (f"`{c.id}`", c.report, c.quote,
                                                              c.reading or c.paraphrase, measurement, rule)) + " |")
    return "\n".join(lines)
