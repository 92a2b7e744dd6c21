"""The reductions a claim's measurement applies, on plain numbers: the largest rise between consecutive epochs,
the change over the last part of training, loss-curve properties (early peak, its ratio to the late level, the
late level, the trend, volatility and settling) and properties of report 004's latent probe, each anchored to the
probe's unchanged images. A value that cannot be computed raises NotMeasurable with the reason.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from typing import Any

MIN_LOSS_ROWS = 10  # a loss-curve property needs at least this many logged rows


class NotMeasurable(Exception):
    """Raised by the reductions and the readers; becomes a Reading without a value."""


def number(x: Any) -> float | None:
    """x as a finite float, or None (booleans, strings, NaN and infinities are not measurements)."""
    if isinstance(x, bool) or not isinstance(x, int | float) or not math.isfinite(x):
        return None
    return float(x)


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


def _window(values: list[float], start: float, end: float) -> list[float]:
    n = len(values)
    return values[math.floor(start * n): math.ceil(end * n)]


def _late_level(values: list[float], early: int, over: list[float] | None) -> float:
    return statistics.median(values[len(values) // 2:])


def _early_peak(values: list[float], early: int, over: list[float] | None) -> float:
    return max(values[:early])


def _early_peak_ratio(values: list[float], early: int, over: list[float] | None) -> float:
    late = _late_level(values, early, over)
    if late <= 0:
        raise NotMeasurable(f"the late median is {late:.4g}; a ratio to it needs a positive level")
    return _early_peak(values, early, over) / late


def _trend(values: list[float], early: int, over: list[float] | None) -> float:
    """The fall from the second tenth to the last fifth, relative to both levels (-1 to 1)."""
    before, after = statistics.median(_window(values, 0.1, 0.2)), statistics.median(_window(values, 0.8, 1.0))
    if before == after == 0:
        raise NotMeasurable("the loss is 0 early and late; a relative fall needs a non-zero level")
    return (before - after) / (abs(before) + abs(after))


def _settling(values: list[float], early: int, over: list[float] | None) -> float:
    """Late window (70-100 %) over middle window (20-50 %): the early transient left out."""
    middle = _volatility(_window(values, 0.2, 0.5))
    if middle == 0:
        raise NotMeasurable("the middle of the run does not fluctuate at all; no ratio to it")
    return _volatility(_window(values, 0.7, 1.0)) / middle


def _volatility_after(values: list[float], early: int, over: list[float] | None) -> float:
    return _volatility(values[early:])


def _volatility_ratio(values: list[float], early: int, over: list[float] | None) -> float:
    other = _volatility((over or [])[early:])
    if other == 0:
        raise NotMeasurable("the other series does not fluctuate at all; no ratio to it")
    return _volatility(values[early:]) / other


# reduction -> f(values, early rows, the other series): one entry per name spec/rule.py's REDUCTIONS["loss_curve"]
# knows (tests/test_registries.py), looked up, never fallen through to
LOSS_REDUCTIONS: dict[str, Callable[[list[float], int, list[float] | None], float]] = {
    "early_peak": _early_peak, "early_peak_ratio": _early_peak_ratio, "volatility": _volatility_after,
    "volatility_ratio": _volatility_ratio, "settling": _settling, "trend": _trend, "late_level": _late_level}


def loss_property(values: list[float], reduce: str, fraction: float | None, over: list[float] | None = None) -> float:
    """A property of one logged series (in step order): see docs/claims.md for each reduction's formula."""
    compute = LOSS_REDUCTIONS[reduce]  # an unknown name is a KeyError, never another reduction
    n = len(values)
    if n < MIN_LOSS_ROWS:
        raise NotMeasurable(f"{n} logged rows; loss-curve measures need at least {MIN_LOSS_ROWS} "
                            "(train longer or log more often with --log-every)")
    return compute(values, max(1, math.ceil((fraction or 0.0) * n)), over)


# reduction -> the probe's row field it reads (direction_spread reads the probe's own table); tests/test_registries.py
LATENT_FIELDS = {"pixel_change_max": "pixel_change", "pixel_change_median": "pixel_change",
                 "row_spread_max": "row_spread", "class_flips": "class_flips", "direction_spread": ""}


def latent_property(probe: dict[str, Any], reduce: str, value: float) -> float:
    """A property of impl.latent's rows at one value, over the positions: see docs/claims.md. Pixel changes and
    row spreads are read against the base row (the 8 unchanged images' mean pixel distance)."""
    field = LATENT_FIELDS[reduce]  # an unknown name is a KeyError, never another reduction
    rows = [r for r in probe.get("rows", []) if isinstance(r, dict) and number(r.get("value")) is not None
            and math.isclose(r["value"], value, rel_tol=1e-9)]
    if not rows:
        values = sorted({r.get("value") for r in probe.get("rows", []) if isinstance(r, dict)}, key=str)
        raise NotMeasurable(f"the latent probe has no rows at value {value:g} (values: {values}); "
                            f"run python -m impl.latent RUN --values ... {value:g}")
    if reduce == "direction_spread":
        spreads = probe.get("direction_spread")
        found = number(spreads.get(f"{value:g}")) if isinstance(spreads, dict) else None
        if found is None:
            raise NotMeasurable(f"the latent probe has no direction_spread at value {value:g}; run impl.latent again")
        return found
    field = LATENT_FIELDS[reduce]
    numbers = [x for x in (number(r.get(field)) for r in rows) if x is not None]
    if len(numbers) < len(rows):
        hint = " (class flips need a FashionMNIST run)" if field == "class_flips" else ""
        raise NotMeasurable(f"the latent probe's rows at value {value:g} lack a finite {field}{hint}")
    if reduce == "class_flips":
        return statistics.fmean(numbers)
    base = number(probe.get("base_row_spread"))
    if not base:
        raise NotMeasurable("the latent probe has no positive base_row_spread")
    pick = statistics.median if reduce == "pixel_change_median" else max
    return pick(numbers) / base
