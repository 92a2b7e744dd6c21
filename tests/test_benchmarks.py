"""The benchmark machinery on the CPU: FLOP counts, the report table, the generated face folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import report
from benchmarks.measure import flops_per_step
from impl.data.load import image_folder


@pytest.mark.slow
def test_course_dcgan_step_flops_match_the_design_measurement() -> None:
    """docs/design.md: one course-DCGAN step at batch 64 is 248 GFLOP (269 measured on an H100 with torch 2.11 while
    the generator's update still computed D's weight gradients)."""
    assert flops_per_step("r000-dcgan", 64, "cpu") == pytest.approx(248.2e9, rel=5e-3)


def test_flops_scale_with_batch_and_average_over_n_critic() -> None:
    one, two = flops_per_step("r004-mlp", 8, "cpu"), flops_per_step("r004-mlp", 16, "cpu")
    assert two == pytest.approx(2 * one, rel=1e-6) and one > 0


def test_report_prints_both_modes_and_the_speed_up(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "rows.json"
    assert report.main(["--experiments", "r004-mlp", "--batches", "documented", "16", "--steps", "3",
                        "--device", "cpu", "--json", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = [line.split() for line in lines if line.startswith("r004-mlp")]
    assert [(r[1], r[2]) for r in rows] == [("64", "fast"), ("64", "eager"), ("16", "fast"), ("16", "eager")]
    assert all(float(r[-1]) > 0 for r in rows if r[2] == "fast") and all(r[-1] == "-" for r in rows if r[2] == "eager")
    saved = json.loads(out.read_text())
    assert len(saved["rows"]) == 4 and all(r["images_per_s"] > 0 for r in saved["rows"])


def test_unknown_experiment_is_refused(capsys: pytest.CaptureFixture) -> None:
    assert report.main(["--experiments", "r004-mpl", "--device", "cpu"]) == 2
    assert "did you mean 'r004-mlp'" in capsys.readouterr().err


def test_generated_faces_are_a_readable_folder(tmp_path: Path) -> None:
    report.write_faces(tmp_path / "faces", 1200)
    assert len(list((tmp_path / "faces").glob("*.jpg"))) == 1200
    data = image_folder(tmp_path / "faces", 64, 3, progress=False)
    assert tuple(data.images.shape) == (1200, 3, 64, 64) and not data.skipped and data.images.float().std() > 10


def test_profile_writes_a_trace_and_names_the_top_ops(tmp_path: Path) -> None:
    from benchmarks.measure import profile

    text = profile("r004-mlp", 16, "fast", "cpu", tmp_path, units=2)
    trace = json.loads((tmp_path / "r004-mlp-16-fast.json").read_text())
    assert trace["traceEvents"] and "aten::addmm" in text  # the MLP's linear layers lead a CPU profile


def test_every_timed_fast_unit_is_a_whole_block() -> None:
    """The benchmark's data holds a whole number of blocks per epoch: no timed unit falls back to single steps."""
    from benchmarks.measure import make_trainer, unit

    t = make_trainer("r004-wgan", 8, "fast", "cpu", images=100)
    assert t.n_critic == 5 and t.steps_per_epoch % 5 == 0
    assert {unit(t, "fast") for _ in range(2 * t.steps_per_epoch // 5)} == {5}


def test_a_row_whose_capture_failed_is_refused_not_timed(monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture) -> None:
    from benchmarks.measure import NotFastPath

    real = report.measure

    def no_graph(name: str, batch: int, mode: str, *args: object, **kwargs: object):
        if mode == "fast":
            raise NotFastPath(f"{name} batch {batch}: no CUDA graph was captured")
        return real(name, batch, mode, *args, **kwargs)

    monkeypatch.setattr(report, "measure", no_graph)
    assert report.main(["--experiments", "r004-mlp", "--batches", "16", "--steps", "2", "--device", "cpu"]) == 0
    out, err = capsys.readouterr()
    assert "refused r004-mlp batch 16 fast: r004-mlp batch 16: no CUDA graph was captured" in err
    assert [line.split()[2] for line in out.splitlines() if line.startswith("r004-mlp")] == ["eager"]


def test_memory_reads_each_commands_own_peak(tmp_path: Path) -> None:
    """Each command's peak is its own (wait4), not the largest of all children so far (RUSAGE_CHILDREN)."""
    from benchmarks import memory

    big = memory.Command("big", ("-c", "import numpy; a = numpy.ones(40_000_000); print(a.sum())"))  # 320 MB
    small = memory.Command("small", ("-c", "pass"))
    peaks = [memory.measure(c, tmp_path, tmp_path / "log") for c in (big, small)]
    assert peaks[0].max_rss_mb > 300 and peaks[1].max_rss_mb < 100 and peaks[0].exit_code == 0
    assert peaks[0].command == "python -c import numpy; a = numpy.ones(40_000_000); print(a.sum())"
    assert [c.name for c in memory.chosen(["evaluate-mlp"])] == ["mlp-train", "evaluate-mlp"]  # its run first
