"""The metrics a run's metrics.json and epoch_metrics.jsonl hold (impl/measure writes them): which way each is
better, what it is read against, and which key a claim's metric means on each kind of data. The one home of these
facts: claims (spec/claim.py) validate their keys and directions with it, the report's columns take their arrows
from it, and docs/metrics.md states the same (tests/test_homes.py checks all three).

A claim names a metric by its role where the key depends on the data: `fid` is `domain_fid` on FashionMNIST (the
shipped classifier's features) and `inception_fid` on the anime faces (torch-fidelity's InceptionV3, when the
scorecard has the weights), `fid_floor` their real-vs-real floors, and likewise `precision`, `recall`, `coverage`,
`density` and `realism_p05`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Metric:
    key: str
    better: str  # "lower", "higher", or "" where no direction is better (read it against `reference`)
    reference: str = ""  # the key of the value it is read against: a real-vs-real floor or the real set's own
    faces_only: bool = False  # computed by the anime-face detector: only on face data


METRICS: dict[str, Metric] = {m.key: m for m in (
    Metric("domain_fid", "lower", "domain_fid_floor"),
    Metric("domain_kid", "lower", "domain_kid_floor"),
    Metric("domain_fid_floor", ""),
    Metric("precision", "higher"),
    Metric("recall", "higher"),
    Metric("density", "", "real: about 1"),
    Metric("coverage", "higher"),
    Metric("realism_p05", "higher"),
    Metric("classes_covered", "higher"),
    Metric("kl_to_uniform", "lower"),
    Metric("diversity_ms_ssim", "lower", "real_diversity_ms_ssim"),
    Metric("structure_ms_ssim", "lower", "real_structure_ms_ssim"),
    Metric("duplicate_share", "lower", "real_duplicate_share"),
    Metric("sharpness", "", "real_sharpness"),
    Metric("real_sharpness", ""),
    Metric("mean_confidence", "higher", "real_mean_confidence"),
    Metric("confident_share", "higher", "real_confident_share"),
    Metric("inception_fid", "lower", "inception_fid_floor"),
    Metric("inception_kid", "lower", "inception_kid_floor"),
    Metric("inception_score", "higher", "real_inception_score"),
    Metric("face_detection_rate", "higher", "real_face_detection_rate", faces_only=True),
    Metric("heterochromia_share", "", "real_heterochromia_share", faces_only=True),
    Metric("eye_mismatch", "lower", "real_eye_mismatch", faces_only=True),
    Metric("proportion_error", "lower", "real_proportion_error", faces_only=True),
)}

# what else metrics.json holds: what was measured and how, never read as a metric (tests/test_registries.py checks
# that an evaluated run writes nothing outside METRICS, their references, ROLES and these)
RECORDS = ("experiment", "step", "checkpoint", "samples", "evaluated", "evaluation_seconds", "real_set",
           "real_samples", "class_histogram", "classifier_sha256", "classifier_test_accuracy", "domain_kid_std",
           "inception_kid_std", "face_thresholds")

# a claim's role -> (the key on FashionMNIST data, the key on other data such as the anime faces)
ROLES: dict[str, tuple[str, str]] = {
    "fid": ("domain_fid", "inception_fid"),
    "kid": ("domain_kid", "inception_kid"),
    "fid_floor": ("domain_fid_floor", "inception_fid_floor"),
    "precision": ("precision", "inception_precision"),
    "recall": ("recall", "inception_recall"),
    "density": ("density", "inception_density"),
    "coverage": ("coverage", "inception_coverage"),
    "realism_p05": ("realism_p05", "inception_realism_p05"),
}
ROLE_BETTER = {"fid": "lower", "kid": "lower", "precision": "higher", "recall": "higher", "coverage": "higher",
               "realism_p05": "higher", "density": ""}
ROLE_REFERENCE = {"fid": "fid_floor"}


def resolve(key: str, fashion: bool) -> str:
    """The metrics.json key a claim's metric means on this data (FashionMNIST or other)."""
    pair = ROLES.get(key)
    return key if pair is None else pair[0 if fashion else 1]


def better(key: str) -> str:
    """'lower', 'higher' or '' for a metric key or role ('' for a key that is not a metric)."""
    if key in ROLE_BETTER:
        return ROLE_BETTER[key]
    metric = METRICS.get(key)
    return metric.better if metric else ""


def reference(key: str) -> str:
    """The key (or role) a metric is read against ('' when it has none)."""
    if key in ROLES:
        return ROLE_REFERENCE.get(key, "")
    metric = METRICS.get(key)
    return metric.reference if metric and ":" not in metric.reference else ""


def claim_keys() -> list[str]:
    """Every key or role a claim's `final` or `epoch_series` measure may name."""
    return [*ROLES, *METRICS]
