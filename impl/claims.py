"""Reading the measurement a claim needs from a run folder, and the arms a set of claims needs trained.

    python -m impl.claims [REPORT...]      # the claims as a markdown table (docs/claims.md holds all of them)

A run folder gives four sources (docs/claims.md defines every measurement on them):
    metrics.json         impl.evaluate's final metrics            -> kind "final"
    epoch_metrics.jsonl  one line of metrics per finished epoch   -> kind "epoch_series"
    metrics.jsonl        the training log (losses every 50 steps) -> kind "loss_curve"
    latent/latent.json   impl.latent's probe                      -> kind "latent"
A value that cannot be read is a Reading with no value and the reason, never an exception.
"""

from __future__ import annotations

import json
import math
import statistics
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import spec
from impl import cli
from impl.errors import boundary
from spec.arm import ArmSpec
from spec.claim import ClaimSpec, MeasureSpec

MIN_LOSS_ROWS = 10  # a loss-curve property needs at least this many logged rows
_CLASSIFIER_KEYS = ("domain_fid", "domain_kid", "domain_fid_floor", "classes_covered", "kl_to_uniform",
                    "mean_confidence", "confident_share")


@dataclass(frozen=True)
class Reading:
    """One run's value of a measurement, or why there is none."""

    value: float | None
    reason: str = ""  # why there is no value
    source: str = ""  # the file the value was read from


class NotMeasurable(Exception):
    """Raised inside the readers; becomes a Reading without a value."""


def arms_needed(claims: Iterable[ClaimSpec]) -> dict[str, ArmSpec]:
    """Every arm the claims name, once per canonical key (experiment + sorted overrides), in first-use order."""
    out: dict[str, ArmSpec] = {}
    for claim in claims:
        for arm in claim.arms.values():
            out.setdefault(arm.key(), arm)
    return out


# ---------------------------------------------------------------- reductions (pure, on plain numbers)

def max_rise(series: dict[int, float], relative: bool = False) -> float:
    """The largest increase between consecutive epochs e -> e+1 (both present); relative: over |value at e|."""
    rises = [(series[e + 1] - series[e]) / (abs(series[e]) if relative else 1.0) for e in sorted(series)
             if e + 1 in series and not (relative and series[e] == 0)]
    if not rises:
        raise NotMeasurable(f"needs two consecutive epochs, got epochs {sorted(series) or 'none'}")
    return max(rises)


def late_change(series: dict[int, float], fraction: float) -> float:
    """Value at the last epoch L minus value at epoch F = max(1, floor(fraction * L)) (or the last one before it)."""
    last = max(series, default=0)
    start = max(1, math.floor(fraction * last))
    earlier = [e for e in series if e <= start]
    if not earlier or max(earlier) >= last:
        raise NotMeasurable(f"needs an epoch at or before {start} and a later one, "
                            f"got epochs {sorted(series) or 'none'}")
    return series[last] - series[max(earlier)]


def _volatility(values: list[float]) -> float:
    diffs = [b - a for a, b in zip(values, values[1:], strict=False)]
    if len(diffs) < 2:
        raise NotMeasurable(f"needs at least 3 logged values, got {len(values)}")
    return statistics.pstdev(diffs)


def loss_property(values: list[float], reduce: str, fraction: float | None, over: list[float] | None = None) -> float:
    """A property of one logged series (in step order): see docs/claims.md for each reduction's formula."""
    n = len(values)
    if n < MIN_LOSS_ROWS:
        raise NotMeasurable(f"{n} logged rows; loss-curve measures need at least {MIN_LOSS_ROWS} "
                            "(train longer or log more often with --log-every)")
    early = max(1, math.ceil((fraction or 0.0) * n))
    if reduce in ("early_peak", "early_peak_ratio"):
        peak = max(values[:early])
        if reduce == "early_peak":
            return peak
        level = statistics.median(values[n // 2:])
        if level <= 0:
            raise NotMeasurable(f"the late median is {level:.4g}; a ratio to it needs a positive level")
        return peak / level
    if reduce == "settling":
        first = _volatility(values[:n // 2])
        if first == 0:
            raise NotMeasurable("the first half does not fluctuate at all; no ratio to it")
        return _volatility(values[n // 2:]) / first
    own = _volatility(values[early:])
    if reduce == "volatility":
        return own
    other = _volatility((over or [])[early:])
    if other == 0:
        raise NotMeasurable("the other series does not fluctuate at all; no ratio to it")
    return own / other


def latent_property(probe: dict[str, Any], reduce: str, value: float) -> float:
    """A property of impl.latent's rows at one value (averaged over positions): see docs/claims.md."""
    rows = [r for r in probe.get("rows", []) if isinstance(r, dict) and _number(r.get("value")) is not None
            and math.isclose(r["value"], value, rel_tol=1e-9)]
    if not rows:
        values = sorted({r.get("value") for r in probe.get("rows", []) if isinstance(r, dict)}, key=str)
        raise NotMeasurable(f"latent.json has no rows at value {value:g} (values: {values}); "
                            f"run python -m impl.latent RUN --values ... {value:g}")
    field = {"pixel_change": "pixel_change", "position_spread": "pixel_change", "row_spread_ratio": "row_spread",
             "class_flips": "class_flips"}[reduce]
    numbers = [_number(r.get(field)) for r in rows]
    if any(x is None for x in numbers):
        hint = " (class flips need a FashionMNIST run)" if field == "class_flips" else ""
        raise NotMeasurable(f"latent.json rows at value {value:g} lack a finite {field}{hint}")
    mean = statistics.fmean(numbers)
    if reduce == "position_spread":
        if len(numbers) < 2 or mean == 0:
            raise NotMeasurable("needs two positions with a non-zero mean change")
        return statistics.pstdev(numbers) / mean
    if reduce == "row_spread_ratio":
        base = _number(probe.get("base_row_spread"))
        if not base:
            raise NotMeasurable("latent.json has no positive base_row_spread")
        return mean / base
    return mean


# ---------------------------------------------------------------- reading the files of a run folder

def _number(x: Any) -> float | None:
    """x as a finite float, or None (booleans, strings, NaN and infinities are not measurements)."""
    if isinstance(x, bool) or not isinstance(x, int | float) or not math.isfinite(x):
        return None
    return float(x)


def _json_lines(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise NotMeasurable(f"{path} is missing")
    rows = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            row = json.loads(line)
        except (json.JSONDecodeError, RecursionError):
            continue  # a line cut short by a kill
        if isinstance(row, dict):
            rows.append(row)
    return rows


def _json_file(path: Path, how: str) -> dict[str, Any]:
    if not path.is_file():
        raise NotMeasurable(f"{path} is missing; {how}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise NotMeasurable(f"{path} cannot be read ({type(exc).__name__}); {how}") from None
    if not isinstance(data, dict):
        raise NotMeasurable(f"{path} is not a JSON object; {how}")
    return data


def _missing_metric_hint(key: str) -> str:
    if key.startswith("inception_"):
        return "it was evaluated without Inception weights; pass --inception-weights FILE to impl.evaluate"
    if key in _CLASSIFIER_KEYS:
        return ("the domain classifier knows FashionMNIST only, so face data has none; "
                "pass --inception-weights for Inception FID")
    return "evaluate the run again with python -m impl.evaluate RUN"


def _final(run: Path, key: str) -> tuple[float, Path]:
    path = run / "metrics.json"
    data = _json_file(path, f"run python -m impl.evaluate {run}")
    value = _number(data.get(key))
    if value is None:
        problem = "has no" if key not in data else f"has a non-finite {data[key]!r} as"
        raise NotMeasurable(f"{path} {problem} {key}: {_missing_metric_hint(key)}")
    return value, path


def _epoch_series(run: Path, key: str) -> tuple[dict[int, float], Path]:
    """epoch -> value of `key`, the last line of an epoch counting (a resumed run may repeat one)."""
    path = run / "epoch_metrics.jsonl"
    series: dict[int, float] = {}
    for row in _json_lines(path):
        epoch, value = _number(row.get("epoch")), _number(row.get(key))
        if epoch is not None and epoch == int(epoch) and epoch >= 1 and value is not None:
            series[int(epoch)] = value
    if not series:
        raise NotMeasurable(f"{path} has no epoch with a finite {key}: {_missing_metric_hint(key)}")
    return series, path


def _by_step(path: Path, key: str) -> dict[float, float]:
    """step -> logged value of `key` (the last line for a step a resume logged again)."""
    by_step: dict[float, float] = {}
    for row in _json_lines(path):
        step, value = _number(row.get("step")), _number(row.get(key))
        if step is not None and value is not None:
            by_step[step] = value
    return by_step


def _loss_series(run: Path, key: str) -> tuple[list[float], Path]:
    """The logged values of `key` in step order, one per step."""
    by_step = _by_step(run / "metrics.jsonl", key)
    return [by_step[s] for s in sorted(by_step)], run / "metrics.jsonl"


def curve(measure: MeasureSpec, run: Path) -> tuple[list[float], list[float]]:
    """The curve a per-epoch or loss-curve measurement is read from (x: epochs or steps), for a chart; empty lists
    where the run has none."""
    try:
        if measure.kind == "epoch_series":
            series = _epoch_series(run, measure.key)[0]
        elif measure.kind == "loss_curve":
            series = _by_step(run / "metrics.jsonl", measure.key)
        else:
            return [], []
    except NotMeasurable:
        return [], []
    xs = sorted(series)
    return [float(x) for x in xs], [series[x] for x in xs]


def _read(measure: MeasureSpec, run: Path) -> tuple[float, Path]:
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
    path = run / "latent" / "latent.json"
    probe = _json_file(path, f"run python -m impl.latent {run}")
    return latent_property(probe, measure.reduce, measure.value or 0.0), path


def read_measure(measure: MeasureSpec, run: Path) -> Reading:
    """The value of `measure` in run folder `run`, or a Reading without a value saying why (never raises for
    missing, damaged or too short files)."""
    if not run.is_dir():
        return Reading(None, f"{run} is not a run folder")
    try:
        value, path = _read(measure, run)
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


@boundary("impl.claims")
def main(argv: list[str] | None = None) -> int:
    p = cli.parser("python -m impl.claims", __doc__)
    p.add_argument("reports", nargs="*", help="report numbers (000 to 004); all when none")
    args = p.parse_args(argv)
    known = sorted({c.report for c in spec.claims()})
    unknown = [r for r in args.reports if r not in known]
    if unknown:
        p.error(f"no claims for report {unknown[0]!r}; reports with claims: {', '.join(known)}")
    print(claims_table(c for c in spec.claims() if not args.reports or c.report in args.reports))
    return 0


if __name__ == "__main__":
    sys.exit(main())
