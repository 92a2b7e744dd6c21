"""tools.calibrate: claims' own rules on disjoint replicate sets of known values (A/A, planted effects, a diverged
loser through impl's own record), the planted harms on images and training logs, and the whole tool on tiny runs."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest
import torch

import spec
from impl.runs.folder import RunFolder
from impl.verdicts.readings import Reading, read_measure
from impl.verdicts.verdict import FAILS, HOLDS, INCONCLUSIVE
from spec.claim import ClaimSpec
from tests.helpers import fake_fashion_split
from tools import calibrate, calibration_cases, calibration_harms

PRECISION = "c003-wgan-fewer-deformed"  # compare: wgan higher precision than dcgan by 0.05 (absolute)
THRESHOLD = "c003-dcgan-mostly-good"  # threshold: precision above its bound by 0.02


def pool_claim(claim_id: str) -> ClaimSpec:
    return next(c for c in calibrate.claims() if c.id == claim_id)


def known_runs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, values: list[float]) -> list[Path]:
    """Run folders (a config.json each, so one can be marked diverged) whose measured value is given."""
    runs = []
    for i, v in enumerate(values):
        run = tmp_path / "pool" / f"seed-{i}"
        run.mkdir(parents=True)
        (run / RunFolder.CONFIG).write_text(json.dumps({"value": v}))
        runs.append(run)
    known = dict(zip(runs, values, strict=True))

    def reading(claim: ClaimSpec, run: Path) -> Reading:
        if RunFolder(run).outcome():
            return read_measure(claim.measure, run)  # type: ignore[arg-type]  # impl's own divergence record
        return Reading(known[run])

    monkeypatch.setattr(calibration_cases, "reading", reading)
    return runs


def test_a_compare_rule_holds_only_beyond_its_margin_on_disjoint_sets(monkeypatch: pytest.MonkeyPatch,
                                                                       tmp_path: Path) -> None:
    """Twelve runs with a small spread (0.5 to 0.508, paired at random): two disjoint sets of 3 against 3. A/A must
    not hold, an effect at the margin must not hold, 2x must hold in every set; a diverged loser at 3 seeds leaves the
    exact rank test short of the level (inconclusive, never 'does not hold')."""
    runs = known_runs(monkeypatch, tmp_path, [0.5 + 0.002 * (i * 7 % 5) for i in range(12)])
    claim = pool_claim(PRECISION)
    row = calibration_cases.rule_rows([claim], runs, tmp_path / "diverged")[0]
    assert row["sets"] == 2
    assert row["A/A"].get(HOLDS, 0) == 0 and row["at margin"].get(HOLDS, 0) == 0
    assert row["2x"] == {HOLDS: 2}
    assert row["2x, a diverged loser"] == {INCONCLUSIVE: 2}
    assert (tmp_path / "diverged" / "seed-3" / RunFolder.OUTCOME).is_file()  # arm b's first run of set 1


def test_a_threshold_arm_is_centred_on_its_bound_by_the_other_runs(monkeypatch: pytest.MonkeyPatch,
                                                                   tmp_path: Path) -> None:
    runs = known_runs(monkeypatch, tmp_path, [0.3 + 0.001 * (i % 3) for i in range(9)])
    claim = pool_claim(THRESHOLD)
    row = calibration_cases.rule_rows([claim], runs, tmp_path / "diverged")[0]
    assert row["sets"] == 3
    assert row["A/A"].get(HOLDS, 0) == 0  # at the bound: never 'holds'
    assert row["2x"] == {HOLDS: 3}
    moved = calibration_cases.centred(claim, [0.3, 0.301, 0.302], 0.301, 1.0)
    assert moved[1] == pytest.approx((claim.rule.bound or 0.0) + (claim.rule.min_effect or 0.0))


def test_an_effect_at_the_margin_is_placed_by_the_rules_own_line() -> None:
    claim = pool_claim("c001-dcgan-better")  # a better (lower FID) than b by 10 % of b
    a = calibration_cases.planted(claim, [100.0, 100.0], [100.0, 100.0], 1.0)
    assert a == [pytest.approx(90.0), pytest.approx(90.0)]
    similar = pool_claim("c002-gap-not-obvious")
    assert calibration_cases.planted(similar, [100.0], [100.0], 2.0) == [pytest.approx(120.0)]


def test_every_measurable_claim_gets_a_row_and_face_claims_say_why(monkeypatch: pytest.MonkeyPatch,
                                                                   tmp_path: Path) -> None:
    runs = known_runs(monkeypatch, tmp_path, [0.5] * 6)
    monkeypatch.setattr(calibration_cases, "reading", lambda c, r: Reading(None, "a face measure", outcome="stand-in")
                        if c.face_specific else Reading(0.5))
    claims = calibrate.claims()
    rows = calibration_cases.rule_rows(claims, runs, tmp_path / "d")
    assert [r["claim"] for r in rows] == [c.id for c in spec.claims() if c.measurable]
    faces = [r for r in rows if "not_measured" in r]
    assert faces and all(r["not_measured"] == "a face measure" for r in faces)
    assert all("| not measured on the pool: a face measure |" in line
               for line in calibration_cases.rule_table(rows) if "face measure" in line)


def test_blur_and_deformation_change_images_and_keep_their_range() -> None:
    images = torch.rand(4, 1, 28, 28) * 2 - 1
    warped = calibration_harms.deform(images)
    assert warped.shape == images.shape and warped.min() >= -1 and warped.max() <= 1
    assert (warped - images).abs().mean() > 0.05
    assert torch.allclose(calibration_harms.deform(images, spread=0.0), images, atol=1e-5)


def test_mode_dropping_keeps_only_the_classes_it_does_not_drop(monkeypatch: pytest.MonkeyPatch) -> None:
    images = torch.arange(40, dtype=torch.float32).view(40, 1, 1, 1).expand(40, 1, 28, 28).contiguous()

    class ByValue(torch.nn.Module):  # class = the image's value modulo 10
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.nn.functional.one_hot(x[:, 0, 0, 0].long() % 10, 10).float()

    monkeypatch.setattr(calibration_harms, "load_classifier", lambda: (ByValue(), 1.0))
    monkeypatch.setattr(calibration_harms, "run_images", lambda run, n: (images[:n], {}))
    kept = calibration_harms.drop_modes(Path("run"), 10)
    assert len(kept) == 10 and all(int(v) % 10 < 5 for v in kept[:, 0, 0, 0])
    with pytest.raises(Exception, match="outside the dropped classes"):
        calibration_harms.drop_modes(Path("run"), 30)


def test_an_early_loss_peak_is_planted_in_the_first_tenth_only(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / RunFolder.CONFIG).write_text("{}")
    (run / RunFolder.EVALUATION).write_text("{}")
    rows = [{"step": s, "d_loss": 1.0, "g_loss": 1.0} for s in range(1, 201)]
    (run / RunFolder.LOG).write_text("".join(json.dumps(r) + "\n" for r in rows))
    dst = calibration_harms.plant("early loss peak", run, tmp_path / "peak", None)  # type: ignore[arg-type]
    got = [json.loads(line) for line in (dst / RunFolder.LOG).read_text().splitlines()]
    assert [r["step"] for r in got if r["d_loss"] == calibration_harms.PEAK] == [10]
    assert all(r["g_loss"] == 1.0 for r in got)


@pytest.mark.slow
def test_quick_calibration_writes_every_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    fashion = fake_fashion_split(tmp_path / "fm")
    out = tmp_path / "cal"
    args = ["--quick", "--pool", "6", "--harm-sets", "1", "--n", "40", "--fashion", str(fashion), "--out", str(out),
            "--quiet"]
    assert calibrate.main(args) == 0
    saved = calibrate.saved(out)
    assert [r["claim"] for r in saved["rules"]] == [c.id for c in spec.claims() if c.measurable]  # type: ignore
    assert [r["harm"] for r in saved["harms"]] == list(calibration_harms.HARMS)  # type: ignore[index]
    text = (out / "calibration.md").read_text()
    assert "| early loss peak | 1 |" in text and "Per-run false events" in text and "| blur |" in text
    assert calibrate.main(args) == 2  # a finished folder is not overwritten without --resume
    shutil.rmtree(out / "harms")
    assert calibrate.main([*args, "--resume"]) == 0  # the harms planted again, the pool kept


def test_too_many_harm_sets_for_the_pool_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        calibrate.main(["--pool", "6", "--harm-sets", "2", "--out", "/nonexistent/x"])
    assert stop.value.code == 2 and "--harm-sets 2 needs 12 pool runs" in capsys.readouterr().err


def test_a_claim_on_the_pool_keeps_its_rule() -> None:
    original = next(c for c in spec.claims() if c.id == PRECISION)
    moved = pool_claim(PRECISION)
    assert moved.rule == original.rule and moved.measure == original.measure
    assert {a.experiment for a in moved.arms.values()} == {calibrate.EXPERIMENT}
    assert dataclasses.replace(moved, arms=original.arms, data=original.data) == original
    assert FAILS  # the verdict names the tables count


def test_the_harm_means_average_the_harmed_copies_and_their_clean_partners(tmp_path: Path) -> None:
    def run(name: str, fid: float) -> Path:
        path = tmp_path / name
        path.mkdir()
        (path / RunFolder.EVALUATION).write_text(json.dumps({"domain_fid": fid}))
        return path

    planted = {kind: [([run(f"{kind}-h", 300.0)], [run(f"{kind}-c", 100.0 + i)])]
               for i, kind in enumerate(calibration_harms.IMAGE_HARMS)}
    rows = calibration_harms.harm_means(planted)
    assert [r["harm"] for r in rows][1:] == list(calibration_harms.IMAGE_HARMS)
    assert rows[0]["domain_fid"] == 100.0 and rows[1]["domain_fid"] == 300.0 and "precision" not in rows[1]
    assert "| blur | 300 | - |" in "\n".join(calibration_harms.means_table(rows))


def test_a_measure_with_bars_stays_in_its_table_cell() -> None:
    row = {"claim": "c", "rule": "compare", "measure": "|log(final.sharpness / reference)|", "null_rule": False,
           "not_measured": "why"}
    table = calibration_cases.rule_table([row])
    assert "`\\|log(final.sharpness / reference)\\|`" in table[-1]
    assert table[-1].replace("\\|", "").count("|") == table[2].count("|")  # as many cells as the header
