"""No face is the worst outcome: a generator in whose images the detector finds no face counts as the worst value of
every face measure (it ranks last, as a diverged run does), never as a missing value that drops out of a claim."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import spec
from impl.measure import faces
from impl.verdicts import decide as V
from impl.verdicts import readings as R

CLAIMS = {c.id: c for c in spec.claims()}
EYES = CLAIMS["c002-deeper-eyes-better"]  # deeper's eye_mismatch lower than original's by at least 0.02
PROPORTIONS = CLAIMS["c001-poor-proportions"]  # dcgan's proportion_error over the real faces' own above 1.05
HETEROCHROMIA = CLAIMS["c001-heterochromia"]  # dcgan's heterochromia_share above 0 (a measure with no direction)
REAL = {"real_face_detection_rate": 0.9, "real_eye_mismatch": 0.1, "real_heterochromia_share": 0.05,
        "real_proportion_error": 1.0}


def face_run(folder: Path, **metrics: float) -> Path:
    """A run folder on the anime faces whose metrics.json holds the given face metrics."""
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"data": "2,000 images from faces/"}), encoding="utf-8")
    (folder / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
    return folder


def faceless(folder: Path) -> Path:
    """What impl.evaluate writes for a generator without a single detected face (faces.face_metrics)."""
    return face_run(folder, face_detection_rate=0.0, **REAL)


def test_a_generator_without_faces_writes_only_its_detection_rate() -> None:
    real = [faces.Face(1.0, (30, 20, 50, 60), (40, 40, 10, 8), (60, 40, 10, 8), (30.0, 60.0, 200.0),
                       (32.0, 61.0, 198.0), (55, 55), (48, 62, 14, 6), (55, 78))] * 8
    got = faces.face_metrics([None] * 10, faces.RealFaces.of(real))
    assert got["face_detection_rate"] == 0.0
    assert not {"heterochromia_share", "eye_mismatch", "proportion_error"} & set(got)


@pytest.mark.parametrize("claim", [EYES, PROPORTIONS, HETEROCHROMIA], ids=lambda c: c.id)
def test_a_run_without_faces_reads_as_the_worst_outcome(claim: spec.ClaimSpec, tmp_path: Path) -> None:
    """Zero faces beside real faces that were found: the NO_FACE outcome, not a missing value. Without the detector
    (no face keys) or without a real face, it stays a missing value: nothing says the generator is at fault."""
    reading = R.read_measure(claim.measure, faceless(tmp_path / "none"), claim.face_specific)
    assert reading.value is None and reading.outcome == R.NO_FACE and "no face" in reading.reason
    for name, metrics in [("no detector", {}), ("no real face", {"face_detection_rate": 0.0,
                                                                 "real_face_detection_rate": 0.0})]:
        other = R.read_measure(claim.measure, face_run(tmp_path / name, **metrics), claim.face_specific)
        assert other.value is None and other.outcome == "", name


def _runs(tmp_path: Path, deeper: list[float | None], original: list[float | None]) -> dict[str, list[Path]]:
    def run(arm: str, i: int, value: float | None) -> Path:
        where = tmp_path / f"{arm}-{i}"
        return faceless(where) if value is None else face_run(where, face_detection_rate=0.8, eye_mismatch=value,
                                                              **REAL)
    return {"deeper": [run("deeper", i, v) for i, v in enumerate(deeper)],
            "original": [run("original", i, v) for i, v in enumerate(original)]}


DEEPER = [0.10, 0.12, 0.11, 0.13, 0.10, 0.12]
ORIGINAL = [0.18, 0.17, None, None, None, None]  # None: the detector found no face in that seed's images


def test_a_faceless_run_ranks_last_as_a_diverged_one_does(tmp_path: Path) -> None:
    """From run folders: the faceless seeds of the arm the claim calls worse enter the rank test as that arm's worst
    value, exactly as diverged runs would, and the claim holds; the verdict names them."""
    got = V.decide(EYES, _runs(tmp_path, DEEPER, ORIGINAL))
    assert got.faceless == {"original": 4} and not got.diverged
    assert got.verdict == V.HOLDS and "no face found: original 4 seeds" in got.reason
    values = {"deeper": list(DEEPER), "original": list(ORIGINAL)}
    as_diverged = V.judge(EYES, values, diverged={"original": [v is None for v in ORIGINAL]})
    assert (as_diverged.verdict, as_diverged.p_value) == (got.verdict, got.p_value)


def test_a_faceless_loser_strengthens_a_claim_and_a_faceless_winner_weakens_it() -> None:
    """Dropped (as before), the four faceless seeds left two paired seeds and an inconclusive verdict; as the
    worst outcome they make the claim that the faceless arm is worse hold. The same seeds faceless in the arm the
    claim calls better make it fail."""
    values = {"deeper": list(DEEPER), "original": list(ORIGINAL)}
    dropped = V.judge(EYES, values, [f"original run {i}: no eye_mismatch" for i in range(2, 6)])
    worst = V.judge(EYES, values, faceless={"original": [v is None for v in ORIGINAL]})
    assert dropped.verdict == V.INCONCLUSIVE and worst.verdict == V.HOLDS
    swapped = {"deeper": list(ORIGINAL), "original": list(DEEPER)}
    weakened = V.judge(EYES, swapped, faceless={"deeper": [v is None for v in ORIGINAL]})
    assert weakened.verdict == V.FAILS


def test_a_faceless_seed_counts_as_the_poorest_proportions(tmp_path: Path) -> None:
    """c001-poor-proportions says the generated faces' proportions are poorer than the real faces': six seeds of
    which one shows no face hold it, the faceless seed ranking as the poorest proportions there are (an exact
    signed-rank test over all six), not dropped."""
    runs = [face_run(tmp_path / str(i), face_detection_rate=0.7, proportion_error=2.0 + 0.1 * i, **REAL)
            for i in range(5)] + [faceless(tmp_path / "none")]
    got = V.decide(PROPORTIONS, {"dcgan": runs})
    assert got.faceless == {"dcgan": 1} and got.n == 6 and got.verdict == V.HOLDS
