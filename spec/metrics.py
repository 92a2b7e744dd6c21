"""The metrics a run's metrics.json and epoch_metrics.jsonl hold (impl/measure writes them): which way each is
better and what it is read against. The one home of these directions: claims (spec/claim.py) validate their keys
and directions with it, the report's columns take their arrows from it, and docs/metrics.md states the same
(tests/test_homes.py checks all three)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Metric:
    key: str
    better: str  # "lower", "higher", or "" where no direction is better (read it against `reference`)
    reference: str = ""  # the key of the value it is read against: a real-vs-real floor or the real set's own


METRICS: dict[str, Metric] = {m.key: m for m in (
    Metric("domain_fid", "lower", "domain_fid_floor"),
    Metric("domain_kid", "lower", "domain_kid_floor"),
    Metric("domain_fid_floor", ""),
    Metric("precision", "higher"),
    Metric("recall", "higher"),
    Metric("density", "", "real: about 1"),
    Metric("coverage", "higher"),
    Metric("classes_covered", "higher"),
    Metric("kl_to_uniform", "lower"),
    Metric("diversity_ms_ssim", "lower", "real_diversity_ms_ssim"),
    Metric("sharpness", "", "real_sharpness"),
    Metric("real_sharpness", ""),
    Metric("mean_confidence", "higher", "real_mean_confidence"),
    Metric("confident_share", "higher", "real_confident_share"),
    Metric("inception_fid", "lower", "inception_fid_floor"),
    Metric("inception_kid", "lower", "inception_kid_floor"),
    Metric("inception_score", "higher", "real_inception_score"),
)}


def better(key: str) -> str:
    """'lower', 'higher' or '' for a metric key ('' for a key that is not a metric)."""
    metric = METRICS.get(key)
    return metric.better if metric else ""
