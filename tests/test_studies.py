"""The mode-collapse study and the HTML report, end to end on tiny synthetic runs."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from PIL import Image

from impl import collapse, report, rundir


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("collapse") / "study"
    assert collapse.main(["--data", "synthetic", "--steps", "5", "--n", "20", "--out", str(out), "--quiet"]) == 0
    return out


def test_collapse_study_writes_both_arms(study: Path) -> None:
    text = (study / "collapse.md").read_text()
    assert re.search(r"^\| 0\.01 \| n/a \| n/a \| 0\.\d+ \| n/a \|$", text, re.M)
    assert re.search(r"^\| 0\.1 \| n/a \| n/a \| 0\.\d+ \| n/a \|$", text, re.M)
    assert "5 steps each" in text
    grids = [sorted((study / arm / "samples").glob("*.png"))[-1] for arm in ("clip-0.01", "clip-0.1")]
    with Image.open(study / "collapse.png") as both, Image.open(grids[0]) as a, Image.open(grids[1]) as b:
        assert both.width == a.width + b.width + 20


def test_collapse_refuses_an_existing_folder(study: Path, capsys: pytest.CaptureFixture) -> None:
    assert collapse.main(["--data", "synthetic", "--steps", "1", "--out", str(study), "--quiet"]) == 2
    assert "already holds files; continue that study with --resume" in capsys.readouterr().err


def test_an_interrupted_study_resumes(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """As a killed study leaves it: the first arm trained and evaluated, the second with a checkpoint at step 3
    of 5. --resume keeps the first as it is and continues the second from its checkpoint."""
    from impl import train

    out = tmp_path / "study"
    args = ["--data", "synthetic", "--steps", "5", "--n", "20", "--out", str(out)]
    assert collapse.main([*args, "--quiet"]) == 0
    kept = (out / "clip-0.01" / "metrics.json").read_text()
    shutil.rmtree(out / "clip-0.1")
    assert train.main(["r003-collapse", "--data", "synthetic", "--steps", "3", "--out", str(out / "clip-0.1"),
                       "--quiet"]) == 0
    capsys.readouterr()
    assert collapse.main(args + ["--resume"]) == 0
    err = capsys.readouterr().err
    assert "clip-0.01: kept" in err and "resuming r003-collapse at step 3 of 5" in err
    assert (out / "clip-0.01" / "metrics.json").read_text() == kept
    assert json.loads((out / "clip-0.1" / "metrics.json").read_text())["samples"] == 20
    assert [r["step"] for r in rundir.read_metrics(out / "clip-0.1")][-1] == 5
    assert "5 steps each" in (out / "collapse.md").read_text()


def test_report_page_is_self_contained(study: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    assert report.main([str(study / "clip-0.01"), str(study / "clip-0.1"), "--out", str(out)]) == 0
    page = out.read_text()
    assert page.count("<section>") == 2 and "r003-collapse" in page and "r003-wgan" in page
    assert page.count("data:image/png;base64,") >= 4  # loss curves and samples of both runs
    assert "<td class=documented>documented</td>" in page and "<td class=inferred" in page
    assert "src=\"http" not in page and "href=\"http" not in page


def test_report_of_a_missing_run(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert report.main([str(tmp_path / "nope")]) == 2
    assert "config.json: missing" in capsys.readouterr().err


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
