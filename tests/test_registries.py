"""Code picked by a name from spec/ is looked up in one table that holds exactly spec's names: a name the table
lacks is an error, never another computation; a claim file naming an unknown kind, reduction or metric is refused
when the spec loads (exit 2, naming the file and the known names); an evaluated run writes only keys spec/metrics.py
knows."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from impl.measure import evaluation
from impl.training.request import RunRequest
from impl.training.run import run_experiment
from impl.verdicts import readings, reductions
from spec import SPEC_DIR
from spec.metrics import METRICS, RECORDS, ROLES
from spec.rule import REDUCTIONS
from tests.helpers import fake_fashion_split

ROOT = Path(__file__).resolve().parents[1]


def test_every_measurement_kind_and_reduction_has_exactly_one_implementation() -> None:
    assert set(readings.READERS) == set(REDUCTIONS)
    assert set(readings.EPOCH_REDUCTIONS) == set(REDUCTIONS["epoch_series"])
    assert set(reductions.LOSS_REDUCTIONS) == set(REDUCTIONS["loss_curve"])
    assert set(reductions.LATENT_FIELDS) == set(REDUCTIONS["latent"])


def test_a_name_the_tables_lack_is_an_error_not_another_reduction() -> None:
    values = [float(i % 7) for i in range(40)]
    with pytest.raises(KeyError):
        reductions.loss_property(values, "volatility_rate", 0.1, values)
    with pytest.raises(KeyError):
        reductions.latent_property({"rows": []}, "pixel_change_avg", 1.0)
    measure = type("M", (), {"kind": "epoch_series", "reduce": "max_fall"})()
    with pytest.raises(KeyError):
        readings._read_epoch_series(measure, None, True)  # type: ignore[arg-type]
    with pytest.raises(KeyError):
        readings._read(type("M", (), {"kind": "latnet"})(), type("R", (), {"on_fashion": lambda self: True})())


@pytest.mark.parametrize(("report", "old", "new", "message"), [
    ("004", 'reduce = "pixel_change_max"', 'reduce = "pixel_change_avg"', "latent has no reduction 'pixel_change_avg'"),
    ("004", 'kind = "latent"', 'kind = "latnet"', "unknown measurement kind 'latnet'"),
    ("003", 'key = "precision"', 'key = "precison"', "has no key 'precison'"),
])
def test_a_claim_naming_what_the_code_lacks_is_refused_at_load(tmp_path: Path, report: str, old: str, new: str,
                                                               message: str) -> None:
    copy = tmp_path / "spec"
    shutil.copytree(SPEC_DIR, copy, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    claim = copy / "claims" / f"r{report}.toml"
    text = claim.read_text(encoding="utf-8")
    assert old in text, f"test set-up: {old!r} not in {claim.name}"
    claim.write_text(text.replace(old, new, 1), encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "impl.claims", report], cwd=ROOT, capture_output=True, text=True,
                          env={"GAN_SPEC_DIR": str(copy), "PATH": "/usr/bin:/bin"}, timeout=120)
    assert done.returncode == 2, done.stderr
    line = done.stderr.strip()
    assert "\n" not in line and claim.name in line and message in line and "known:" in line, line


@pytest.mark.slow
def test_an_evaluated_run_writes_only_keys_spec_knows_and_every_metric_of_its_data(tmp_path: Path,
                                                                                   monkeypatch: pytest.MonkeyPatch
                                                                                   ) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    fashion = fake_fashion_split(tmp_path / "fm")
    run_experiment(RunRequest("r004-mlp", data=str(fashion), steps=3, out=tmp_path / "run", quiet=True))
    written = set(evaluation.evaluate(tmp_path / "run", 20, progress=False, fashion_folder=fashion))
    known = set(METRICS) | {m.reference for m in METRICS.values()} | {k for pair in ROLES.values() for k in pair}
    assert written <= known | set(RECORDS), written - known - set(RECORDS)
    on_fashion = {k for k, m in METRICS.items() if not m.faces_only and not k.startswith("inception_")}
    assert on_fashion - written == set(), on_fashion - written
