"""Reading the measurement a claim needs from a run folder, and the arms a set of claims needs trained.

A run folder gives four sources (docs/claims.md defines every measurement on them): impl.evaluate's metrics
(kind "final"), per-epoch metrics ("epoch_series"), the training log ("loss_curve") and impl.latent's probe
("latent"). A claim's metric role resolves to the key its data has (`fid` is `domain_fid` on FashionMNIST and
`inception_fid` on the faces, spec/metrics.py), and a measure read against its reference (the real set's own
value, or the floor) comes back with that reference beside it. A run that diverged is an outcome the rule reads,
not a missing value; so is a generator in whose images the detector finds no face (NO_FACE) for a face measure.
A value that cannot be read is a Reading with no value and the reason, never an exception.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from impl.runs.folder import RunFolder
from impl.verdicts.reductions import NotMeasurable, late_change, latent_property, loss_property, max_rise, number
from spec.arm import ArmSpec
from spec.claim import ClaimSpec, MeasureSpec
from spec.metrics import METRICS, ROLES, reference, resolve

DIVERGED = RunFolder.DIVERGED
NO_FACE = "no face"  # the detector found no face in any generated image: every face measure's worst outcome
WORST = (DIVERGED, NO_FACE)  # outcomes a rule ranks as their arm's worst value (impl/verdicts/decide.py)
STAND_IN = "not measurable on the FashionMNIST stand-in: the claim is about the anime faces' own features"


@dataclass(frozen=True)
class Reading:
    """One run's value of a measurement, or why there is none."""

    value: float | None
    reason: str = ""  # why there is no value
    source: str = ""  # the file the value was read from
    reference: float | None = None  # the real set's own value or the floor the value was read against
    outcome: str = ""  # "diverged": the run stopped on a non-finite loss; "no face": no generated face (WORST)


def worst_seeds(*marks: dict[str, list[bool]]) -> dict[str, list[bool]]:
    """Per arm, the seeds that any of `marks` marks (diverged, faceless): each is its arm's worst outcome."""
    def marked(arm: str, i: int) -> bool:
        return any(i < len(m.get(arm, [])) and m[arm][i] for m in marks)

    arms = {arm for m in marks for arm in m}
    return {arm: [marked(arm, i) for i in range(max(len(m.get(arm, [])) for m in marks))] for arm in arms}


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


class _NoFace(NotMeasurable):
    """A face measure of a generator in whose images the detector found no face, while it found real ones."""


def _no_face(data: dict[str, Any], key: str, path: Path) -> None:
    """Raise _NoFace where `key` is a face measure left out because no generated image showed a face (a detection
    rate of 0 beside real faces that were found): the generator's worst outcome, not a missing value."""
    rate, real = number(data.get("face_detection_rate")), number(data.get("real_face_detection_rate"))
    if key in METRICS and METRICS[key].faces_only and rate == 0 and real is not None and real > 0:
        raise _NoFace(f"{path}: the detector found no face in any generated image (and {real:.0%} of the real "
                      f"ones), so {key} is its worst outcome")


def _missing_metric_hint(key: str) -> str:
    if key.startswith("inception_"):
        return "the run was evaluated without Inception weights; pass --inception-weights FILE"
    if key in METRICS and METRICS[key].faces_only:
        return "face metrics need the anime-face detector (pip install 'gan-spec[faces]') and the real faces"
    if key in {pair[0] for pair in ROLES.values()} or key in ("confident_share", "mean_confidence"):
        return "the domain classifier knows FashionMNIST only"
    return "evaluate the run again with python -m impl.evaluate RUN"


def _against(value: float, ref: float | None, how: str, where: str) -> float:
    """A value read against its reference: its ratio, its excess, or the absolute log of the ratio."""
    if not how:
        return value
    if ref is None:
        raise NotMeasurable(f"{where} has no finite reference value to read it against")
    if how == "above":
        return value - ref
    if ref <= 0 or (how == "log_ratio" and value <= 0):
        raise NotMeasurable(f"{where}: a ratio to a reference of {ref:.4g} is not defined")
    return abs(math.log(value / ref)) if how == "log_ratio" else value / ref


def _final(run: RunFolder, measure: MeasureSpec, fashion: bool) -> tuple[float, Path, float | None]:
    path = run.file(RunFolder.EVALUATION)
    data = _json_file(run, RunFolder.EVALUATION, f"run python -m impl.evaluate {run}")
    key = resolve(measure.key, fashion)
    value = number(data.get(key))
    if value is None:
        _no_face(data, key, path)
        problem = "has no" if key not in data else f"has a non-finite {data[key]!r} as"
        raise NotMeasurable(f"{path} {problem} {key}: {_missing_metric_hint(key)}")
    ref = number(data.get(resolve(reference(measure.key), fashion))) if measure.against else None
    return _against(value, ref, measure.against, f"{path} {key}"), path, ref


def _epoch_series(run: RunFolder, measure: MeasureSpec, fashion: bool) -> tuple[dict[int, float], Path]:
    """epoch -> value (read against its reference when the measure says so), the last line of an epoch counting."""
    path, key = run.file(RunFolder.EPOCH_LOG), resolve(measure.key, fashion)
    ref_key = resolve(reference(measure.key), fashion) if measure.against else ""
    series: dict[int, float] = {}
    for row in _rows(run, RunFolder.EPOCH_LOG):
        epoch, value = number(row.get("epoch")), number(row.get(key))
        if epoch is not None and epoch == int(epoch) and epoch >= 1 and value is not None:
            ref = number(row.get(ref_key)) if ref_key else None
            try:
                series[int(epoch)] = _against(value, ref, measure.against, f"{path} epoch {int(epoch)}")
            except NotMeasurable:
                continue
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
        series: dict[float, float]  # epochs or steps
        if measure.kind == "epoch_series":
            series = {float(epoch): v for epoch, v in _epoch_series(run, measure, run.on_fashion())[0].items()}
        elif measure.kind == "loss_curve":
            series = _by_step(run, measure.key)
        else:
            return [], []
    except NotMeasurable:
        return [], []
    xs = sorted(series)
    return [float(x) for x in xs], [series[x] for x in xs]


def _at_epoch(series: dict[int, float], measure: MeasureSpec, path: Path) -> float:
    if measure.epoch not in series:
        raise NotMeasurable(f"{path} has epochs {min(series)}-{max(series)}; the claim reads epoch {measure.epoch}")
    return series[measure.epoch]


# reduction -> f(epoch series, measure, path): one entry per name of spec/rule.py's REDUCTIONS["epoch_series"]
EPOCH_REDUCTIONS: dict[str, Callable[[dict[int, float], MeasureSpec, Path], float]] = {
    "last": lambda series, m, p: series[max(series)],
    "at_epoch": _at_epoch,
    "late_change": lambda series, m, p: late_change(series, m.fraction or 0.8),
    "max_rise": lambda series, m, p: max_rise(series),
    "max_rel_rise": lambda series, m, p: max_rise(series, relative=True),
}


def _read_final(measure: MeasureSpec, run: RunFolder, fashion: bool) -> tuple[float, Path, float | None]:
    return _final(run, measure, fashion)


def _read_epoch_series(measure: MeasureSpec, run: RunFolder, fashion: bool) -> tuple[float, Path, float | None]:
    reduce = EPOCH_REDUCTIONS[measure.reduce]  # an unknown name is a KeyError, never another reduction
    series, path = _epoch_series(run, measure, fashion)
    return reduce(series, measure, path), path, None


def _read_loss_curve(measure: MeasureSpec, run: RunFolder, fashion: bool) -> tuple[float, Path, float | None]:
    values, path = _loss_series(run, measure.key)
    over = _loss_series(run, measure.over)[0] if measure.over else None
    return loss_property(values, measure.reduce, measure.fraction, over), path, None


def _read_latent(measure: MeasureSpec, run: RunFolder, fashion: bool) -> tuple[float, Path, float | None]:
    probe = _json_file(run, RunFolder.LATENT, f"run python -m impl.latent {run}")
    ref = number(probe.get("base_row_spread"))
    return latent_property(probe, measure.reduce, measure.value or 0.0), run.file(RunFolder.LATENT), ref


# measurement kind -> its reader: one entry per kind of spec/rule.py's REDUCTIONS (tests/test_registries.py)
READERS: dict[str, Callable[[MeasureSpec, RunFolder, bool], tuple[float, Path, float | None]]] = {
    "final": _read_final, "epoch_series": _read_epoch_series, "loss_curve": _read_loss_curve, "latent": _read_latent}


def _read(measure: MeasureSpec, run: RunFolder) -> tuple[float, Path, float | None]:
    return READERS[measure.kind](measure, run, run.on_fashion())  # an unknown kind is a KeyError, never latent


def read_measure(measure: MeasureSpec, path: Path, face_specific: bool = False) -> Reading:
    """The value of `measure` in run folder `path`, or a Reading without a value saying why (never raises for
    missing, damaged or too short files). A face-specific claim is never read on the stand-in."""
    run = RunFolder(path, trusted=False)
    if not run.path.is_dir():
        return Reading(None, f"{run} is not a run folder")
    outcome = run.outcome()
    if outcome.get("outcome") == DIVERGED:
        return Reading(None, f"{run}: diverged ({outcome.get('reason', 'a non-finite loss')})", outcome=DIVERGED)
    if face_specific and run.on_fashion():
        return Reading(None, STAND_IN, outcome="stand-in")
    try:
        value, source, ref = _read(measure, run)
    except _NoFace as exc:
        return Reading(None, str(exc), outcome=NO_FACE)
    except NotMeasurable as exc:
        return Reading(None, str(exc))
    except OSError as exc:
        return Reading(None, f"{run}: cannot read ({exc.strerror})")
    if not math.isfinite(value):
        return Reading(None, f"{measure.describe()} is not finite ({value}) in {source}")
    return Reading(value, source=str(source), reference=ref)
