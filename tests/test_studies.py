"""The mode-collapse study and the HTML report, end to end on tiny synthetic runs."""

from __future__ import annotations

import json
import re
import signal
from pathlib import Path

import pytest
from PIL import Image

from impl import collapse, report
from impl.measure import evaluation
from impl.runs.folder import RunFolder


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("collapse") / "study"
    assert collapse.main(["--data", "synthetic", "--steps", "5", "--n", "20", "--out", str(out), "--quiet"]) == 0
    return out


@pytest.mark.slow
def test_collapse_study_writes_both_arms(study: Path) -> None:
    text = (study / "collapse.md").read_text()
    assert re.search(r"^\| 0\.01 \| n/a \| n/a \| 0\.\d+ \| n/a \|$", text, re.M)
    assert re.search(r"^\| 0\.1 \| n/a \| n/a \| 0\.\d+ \| n/a \|$", text, re.M)
    assert "5 steps each" in text
    grids = [sorted((study / arm / "samples").glob("*.png"))[-1] for arm in ("clip-0.01", "clip-0.1")]
    with Image.open(study / "collapse.png") as both, Image.open(grids[0]) as a, Image.open(grids[1]) as b:
        assert both.width == a.width + b.width + 20


@pytest.mark.slow
def test_collapse_refuses_an_existing_folder(study: Path, capsys: pytest.CaptureFixture) -> None:
    assert collapse.main(["--data", "synthetic", "--steps", "1", "--out", str(study), "--quiet"]) == 2
    assert "already holds files; continue that collapse study with --resume" in capsys.readouterr().err


@pytest.mark.slow
def test_an_interrupted_study_resumes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture) -> None:
    """Ctrl-C at step 3 of the second arm, as a user would press it: the first arm is trained and evaluated, the
    second has a checkpoint at step 3 of 5. --resume keeps the first as it is and continues the second."""
    from impl.training.trainer import Trainer

    real = Trainer.train_step

    def interrupted(self: Trainer) -> dict:
        stats = real(self)
        if self.exp.name == "r003-collapse" and self.step == 3:
            signal.raise_signal(signal.SIGINT)
        return stats

    out = tmp_path / "study"
    # --device cpu: one step per train_step call (a GPU would replay whole blocks, past the patched method)
    args = ["--data", "synthetic", "--steps", "5", "--n", "20", "--device", "cpu", "--out", str(out)]
    with monkeypatch.context() as m:
        m.setattr(Trainer, "train_step", interrupted)
        assert collapse.main(args) == 128 + signal.SIGINT
    kept = (out / "clip-0.01" / "metrics.json").read_text()
    assert not (out / "clip-0.1" / "metrics.json").exists()
    evaluation.evaluate(out / "clip-0.1", 20, progress=False)  # a look at the half-trained arm: not a finished arm
    capsys.readouterr()
    assert collapse.main(args + ["--resume"]) == 0
    err = capsys.readouterr().err
    assert "clip-0.01: kept" in err and "resuming r003-collapse at step 3 of 5" in err
    assert (out / "clip-0.01" / "metrics.json").read_text() == kept
    arms = json.loads((out / "collapse.json").read_text())["arms"]
    assert (arms["clip-0.01"]["steps"], arms["clip-0.1"]["steps"], arms["clip-0.1"]["generator_steps"]) == (5, 5, 1)
    assert arms["clip-0.1"]["samples"] == 20
    assert [r["step"] for r in RunFolder(out / "clip-0.1").log()][-1] == 5
    assert RunFolder(out / "clip-0.1").config()["resumed"][0]["at_step"] == 3
    capsys.readouterr()
    assert collapse.main(args + ["--resume"]) == 0  # nothing left to do: both arms kept, nothing retrained
    err = capsys.readouterr().err
    assert "clip-0.01: kept" in err and "clip-0.1: kept" in err and "resuming" not in err


def test_a_study_resumes_only_as_it_started(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "study"
    (out / "clip-0.01").mkdir(parents=True)
    (out / "collapse-args.json").write_text(json.dumps({"data": "synthetic", "steps": 5, "seed": 0, "n": 20,
                                                         "device": "cpu"}))
    base = ["--data", "synthetic", "--n", "20", "--resume", "--quiet"]
    assert collapse.main([*base, "--steps", "6", "--out", str(out)]) == 2
    assert "started with --steps 5 (now 6)" in capsys.readouterr().err
    (out / "collapse-args.json").write_text(json.dumps({"data": "synthetic", "steps": 5, "seed": 0, "n": 20,
                                                         "device": "cuda"}))  # bf16 graphs: not comparable
    assert collapse.main([*base, "--steps", "5", "--device", "cpu", "--out", str(out)]) == 2
    assert "started with --device cuda (now cpu)" in capsys.readouterr().err
    assert collapse.main([*base, "--steps", "5"]) == 2
    assert "--resume needs --out" in capsys.readouterr().err
    assert collapse.main([*base, "--steps", "5", "--out", str(tmp_path / "none")]) == 2
    assert "no collapse study to continue" in capsys.readouterr().err


@pytest.mark.slow
def test_report_page_is_self_contained(study: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    assert report.main([str(study / "clip-0.01"), str(study / "clip-0.1"), "--out", str(out)]) == 0
    page = out.read_text()
    assert page.count("<section>") == 2 and "r003-collapse" in page and "r003-wgan" in page
    assert page.count("data:image/png;base64,") >= 5  # the overlay, loss curves and samples of both runs
    assert '<td class="documented">documented</td>' in page and '<td class="inferred">' in page
    assert "src=\"http" not in page and "href=\"http" not in page


def test_sample_grid_of_twenty(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from impl import sample, train

    run = tmp_path / "run"
    assert train.main(["r004-mlp", "--data", "synthetic", "--steps", "2", "--out", str(run), "--quiet"]) == 0
    out = tmp_path / "twenty.png"
    assert sample.main([str(run), "--n", "20", "--seed", "3", "--out", str(out)]) == 0
    side = 28 * 3 + 2
    with Image.open(out) as grid:  # report 003 shows 20 images: two rows of ten
        assert grid.size == (10 * side + 2, 2 * side + 2)
    assert sample.main([str(tmp_path / "missing")]) == 2
    assert "no usable checkpoint" in capsys.readouterr().err


@pytest.mark.slow
def test_compare_trains_every_family_alike(tmp_path: Path) -> None:
    from impl import compare

    out = tmp_path / "cmp"
    assert compare.main(["--data", "synthetic", "--steps", "10", "--n", "20", "--out", str(out), "--quiet"]) == 0
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]]
            for line in (out / "compare.md").read_text().splitlines() if line.startswith("| ") and "---" not in line}
    assert list(rows) == ["family", "bce", "wgan-clip", "wgan-gp", "lsgan", "sngan"]
    for family, experiment in compare.FAMILIES["r004"]:
        cells = dict(zip(rows["family"], rows[family]))
        assert cells["experiment"] == experiment and cells["steps"] == "10"
        assert cells["generator_steps"] == ("2" if family.startswith("wgan") else "10")
        assert float(cells["images_per_s"].replace(",", "")) > 0 and 0 < float(cells["diversity_ms_ssim"]) <= 1
        assert (out / family / "checkpoints/last.pt").is_file()
    assert (out / "report.html").read_text().count("<section>") == 5
    widths = []
    for family, _ in compare.FAMILIES["r004"]:
        with Image.open(sorted((out / family / "samples").glob("*.png"))[-1]) as grid:
            widths.append(grid.width)
    with Image.open(out / "compare.png") as both:
        assert both.width == sum(widths) + 4 * 20
