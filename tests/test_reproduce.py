"""impl.reproduce end to end on a tiny FashionMNIST look-alike: every claim of reports 002, 003 and 004 decided with
--quick over two seeds, an arm shared by claims trained once, face claims labelled with their stand-in, the
scorecard's three outputs, --resume that retrains nothing, an interruption that loses no finished run, and
arguments refused before a folder is made."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import spec
from impl import reproduce
from impl.arms import engine
from impl.core.errors import Diverged, Interrupted
from impl.verdicts import plan
from impl.verdicts.plan import QUICK_BATCH, QUICK_SAMPLES, QUICK_STEPS
from impl.verdicts.readings import arms_needed
from tests.helpers import fake_fashion_split

REPORTS = ["002", "003", "004"]  # loss curves, final metrics and the latent probe; faces and FashionMNIST


def argv(fashion: Path, out: Path, *more: str) -> list[str]:
    return [*REPORTS, "--quick", "--seeds", "2", "--fashion", str(fashion), "--out", str(out), "--quiet", *more]


def trained_at(out: Path) -> dict[str, float]:
    """Each run's training log and the time it was written: a retrained run changes it (a smoke run keeps no
    checkpoint)."""
    return {str(p.relative_to(out)): p.stat().st_mtime_ns for p in sorted(out.glob("*/seed-*/metrics.jsonl"))}


@pytest.fixture(scope="module")
def scorecard(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("reproduce")
    mp = pytest.MonkeyPatch()
    mp.setenv("XDG_CACHE_HOME", str(root / "cache"))
    fashion = fake_fashion_split(root / "fm")
    try:
        assert reproduce.main(argv(fashion, root / "sc")) == 0
    finally:
        mp.undo()
    return {"out": root / "sc", "fashion": fashion, "root": root}


@pytest.mark.slow
def test_every_claim_gets_a_verdict_with_its_data(scorecard: dict[str, Path]) -> None:
    saved = json.loads((scorecard["out"] / "scorecard.json").read_text())
    wanted = [c for c in spec.claims() if c.report in REPORTS]
    verdicts = {v["claim"]: v for v in saved["claims"]}
    assert list(verdicts) == [c.id for c in wanted]
    allowed = {"holds", "does not hold", "inconclusive", "not measurable here"}
    for claim in wanted:
        v = verdicts[claim.id]
        assert v["verdict"] in allowed, v
        if not claim.measurable or claim.face_specific:  # a face claim on the stand-in: never re-meant
            assert v["verdict"] == "not measurable here" and v["reason"], v
            assert v["shown"] == "not measurable here"
            continue
        assert v["shown"] == "smoke: means nothing" and v["smoke"] and v["shown_holm"] == ""  # --quick says so
        dataset = spec.registry().experiments[next(iter(claim.arms.values())).experiment].dataset.value
        # the anime-face claims ran on the offline stand-in, and every verdict of them must say so
        assert ("FashionMNIST-64" in v["data_label"]) == (dataset == "anime-faces"), v
    text = (scorecard["out"] / "scorecard.md").read_text()
    assert all(f"`{c.id}`" in text for c in wanted)
    assert "2 seeds per arm" in text and "of the recipe's" in text  # cut runs say they were cut
    # a verdict is traced to its run folders; a smoke arm is two whole epochs
    assert f"- `r004-mlp` in `r004-mlp/seed-*/`: {QUICK_STEPS} steps (2 epochs)" in text
    rows = [line for line in text.splitlines() if line.startswith("| `c0")]
    assert rows and all("**smoke: means nothing**" in r or "**not measurable here**" in r for r in rows)
    assert not any("**holds**" in r or "**does not hold**" in r for r in rows)
    assert "(smoke run: its verdicts mean nothing)" in text.splitlines()[0]


@pytest.mark.slow
def test_an_arm_shared_by_claims_is_trained_once(scorecard: dict[str, Path]) -> None:
    arms = arms_needed(c for c in spec.claims() if c.report in REPORTS)
    assert len({a.experiment for a in arms.values()}) == len(arms)  # no two arms differ only by a spelling
    runs = sorted(str(p.parent.relative_to(scorecard["out"])) for p in scorecard["out"].glob("*/seed-*/config.json"))
    assert runs == sorted(f"{arm.folder()}/seed-{s}" for arm in arms.values() for s in (0, 1))
    # c003-collapse-modes reads r003-wgan's runs, the same ones c003-collapse-alike compares against
    saved = {v["claim"]: v for v in json.loads((scorecard["out"] / "scorecard.json").read_text())["claims"]}
    shared = [set(map(str, paths)) for paths in saved["c003-collapse-modes"]["runs"].values()]
    assert set(map(str, saved["c003-collapse-alike"]["runs"]["wgan"])) in shared


@pytest.mark.slow
def test_a_smoke_run_is_small(scorecard: dict[str, Path]) -> None:
    """--quick keeps no checkpoint and draws a 16-image grid, except where the grid is report 004's latent study."""
    assert not list(scorecard["out"].glob("*/seed-*/checkpoints/*.pt"))
    for config in scorecard["out"].glob("*/seed-*/config.json"):
        saved = json.loads(config.read_text())
        grid = saved["overrides"].get("samples", {}).get("value")
        assert grid == (None if spec.load(saved["experiment"]).latent else QUICK_SAMPLES), config
        assert saved["overrides"]["batch_size"]["value"] == QUICK_BATCH


@pytest.mark.slow
def test_a_diverged_smoke_run_keeps_no_checkpoint_either(scorecard: dict[str, Path], tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    def diverge(run: Path, score: object, latent_probe: bool = False) -> None:
        raise Diverged("non-finite loss at step 3; last good checkpoint at step 2")

    monkeypatch.setattr(plan, "evaluate_run", diverge)
    out = tmp_path / "sc"
    assert reproduce.main(["004", "--quick", "--seeds", "1", "--fashion", str(scorecard["fashion"]), "--out", str(out),
                           "--quiet"]) == 0
    assert list(out.glob("*/seed-0/outcome.json")) and not list(out.glob("*/seed-*/checkpoints/*.pt"))


@pytest.mark.slow
def test_the_pages_put_the_evidence_beside_each_verdict(scorecard: dict[str, Path]) -> None:
    """A summary page (banner, one linked row per claim grouped by report) and one page per report holding its claims'
    evidence, the images as files beside the pages; no page over 3 MB."""
    out = scorecard["out"]
    page = (out / "report.html").read_text()
    assert "<h1>gan-spec scorecard: reports 002, 003, 004 (smoke run)</h1>" in page and "<b>smoke run</b>" in page
    assert 'id="differences"' not in page  # a scorecard's runs differ in seed and arm by design: no warning box
    claims = [c for c in spec.claims() if c.report in REPORTS]
    links = [a.split('"')[0] for a in page.split('<td><a href="')[1:]]
    assert links == [f"pages/report-{c.report}.html#{c.id}" for c in claims]  # grouped by report, in spec order
    rows = page.split("<tr class=")[1:]
    verdicts = [b.split("</span>")[0].rsplit(">", 1)[1] for row in rows for b in row.split("<span class=verdict")[1:]]
    assert verdicts and set(verdicts) <= {"smoke: means nothing", "not measurable here", "-"}
    for report in REPORTS:
        text = (out / "pages" / f"report-{report}.html").read_text()
        assert len(text.encode()) < 3_000_000 and "data:image" not in text
        sources = [s.split('"')[0] for s in text.split(' src="')[1:]]
        assert sources and all((out / "pages" / s).is_file() for s in sources)
        blocks = {b.split('"', 1)[0]: b.split("<h2>Runs</h2>")[0] for b in text.split('<div class=claim id="')[1:]}
        mine = [c for c in claims if c.report == report]
        assert list(blocks) == [c.id for c in mine]
        for c in mine:
            block = blocks[c.id]
            grids = block.count("<figure><a href=")
            charts = block.count("is read from</figcaption>")
            assert charts == (1 if c.measure is not None and c.measure.kind == "loss_curve" else 0), c.id
            latent = c.measure is not None and c.measure.kind == "latent"  # its base row beside its changed one
            assert grids - charts == len(c.arms) * (2 if latent else 1), c.id
            if latent:
                assert "unchanged latent vectors (the reference)" in block
                assert "seed 0: latent positions set to" in block


@pytest.mark.slow
def test_resume_retrains_nothing_and_refuses_other_arguments(scorecard: dict[str, Path], capsys) -> None:
    out, before = scorecard["out"], trained_at(scorecard["out"])
    decided = (out / "scorecard.json").read_text()
    assert reproduce.main(argv(scorecard["fashion"], out, "--resume")) == 0
    assert trained_at(out) == before
    strip = ("finished", "wall_s", "this_call_s")
    first, again = json.loads(decided), json.loads((out / "scorecard.json").read_text())
    assert {k: v for k, v in first.items() if k not in strip} == {k: v for k, v in again.items() if k not in strip}
    assert again["wall_s"] >= first["wall_s"] + again["this_call_s"] - 0.2  # the time of every call adds up
    capsys.readouterr()
    assert reproduce.main([*argv(scorecard["fashion"], out, "--resume"), "--seeds", "3"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "seeds 2 (now 3)" in err[0], err
    assert reproduce.main(argv(scorecard["fashion"], out)) == 2  # without --resume a full folder is refused


@pytest.mark.slow
def test_an_interruption_keeps_finished_runs_and_names_the_resume(scorecard: dict[str, Path], monkeypatch,
                                                                 capsys) -> None:
    out = scorecard["root"] / "interrupted"
    monkeypatch.setenv("XDG_CACHE_HOME", str(scorecard["root"] / "cache"))
    calls = []
    real = engine.run_experiment

    def stop_on_second(request):
        calls.append(request)
        if len(calls) == 2:
            raise Interrupted("interrupted (SIGINT) at step 3; continue with: python -m impl.train --resume x", 2)
        return real(request)

    monkeypatch.setattr(engine, "run_experiment", stop_on_second)
    # report 004 has one arm: its second seed is the second run
    args = ["004", "--quick", "--seeds", "2", "--fashion", str(scorecard["fashion"]), "--out", str(out), "--quiet"]
    assert reproduce.main(args) == 130
    err = capsys.readouterr().err
    assert f"python -m impl.reproduce 004 --quick --seeds 2 --fashion {scorecard['fashion']} --quiet --out {out} " \
        "--resume" in err and "Traceback" not in err, err
    first = trained_at(out)
    assert len(first) == 1  # the first arm's run is finished and kept
    assert json.loads((out / "reproduce-time.json").read_text())["seconds"] > 0  # the interrupted call's time counts
    monkeypatch.setattr(engine, "run_experiment", real)
    assert reproduce.main([*args, "--resume"]) == 0
    after = trained_at(out)
    assert len(after) == 2 and all(after[k] == v for k, v in first.items())


@pytest.mark.parametrize("bad, words", [
    (["007"], "report 007"),
    (["004", "--n", "5"], "--n 5"),
    (["004", "--resume"], "--resume needs --out"),
    (["004", "--fashion", "/nowhere/fm"], "--fashion"),
    (["004", "--data", "/nowhere/faces"], "--data"),
    (["003", "--data", __file__], "no such folder"),  # a file is not a folder of faces
    (["004", "--seeds", "0"], "--seeds"),
])
def test_bad_arguments_are_one_line_before_any_folder(tmp_path: Path, monkeypatch, capsys, bad: list[str],
                                                      words: str) -> None:
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "sc"
    extra = [] if "--resume" in bad else ["--out", str(out)]
    try:
        code = reproduce.main([*bad, *extra])
    except SystemExit as exc:  # argparse's own refusals (a type check) exit through the parser
        code = exc.code
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and words in err[0], (code, err)
    assert not out.exists() and not (tmp_path / "runs").exists()


@pytest.mark.parametrize("where", ["FILE", "FILE/sub"])
def test_out_that_is_or_lies_under_a_file_is_one_line(tmp_path: Path, capsys, where: str) -> None:
    file = tmp_path / "a-file"
    file.write_text("x")
    out = tmp_path / where.replace("FILE", "a-file")
    code = reproduce.main(["004", "--out", str(out), "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and f"{file} is a file, not a folder" in err[0], (code, err)
    assert file.read_text() == "x"


@pytest.mark.slow
def test_a_signal_between_trainings_names_the_resume_and_keeps_the_time(scorecard: dict[str, Path], monkeypatch,
                                                                        capsys) -> None:
    import os
    import signal

    out = scorecard["root"] / "signalled"
    monkeypatch.setenv("XDG_CACHE_HOME", str(scorecard["root"] / "cache"))
    monkeypatch.setattr(plan, "evaluate_run", lambda *a, **k: os.kill(os.getpid(), signal.SIGTERM))
    before = signal.getsignal(signal.SIGTERM)
    code = reproduce.main(["004", "--quick", "--seeds", "1", "--fashion", str(scorecard["fashion"]), "--out", str(out),
                           "--quiet"])
    err = capsys.readouterr().err
    assert code == 128 + signal.SIGTERM and "SIGTERM" in err and f"--out {out} --resume" in err, (code, err)
    assert json.loads((out / "reproduce-time.json").read_text())["seconds"] > 0
    assert signal.getsignal(signal.SIGTERM) == before  # the handlers are the caller's again


@pytest.mark.slow
def test_on_a_folder_of_faces_the_face_claims_are_read_not_stood_in(tmp_path: Path, monkeypatch) -> None:
    """With --data (a folder of face images) and Inception weights, report 003's quality claims are read from the
    Inception scores of the faces (not the FashionMNIST stand-in) and its face-only claims are not labelled as
    stood in. An Inception stand-in keeps it fast; the anime-face detector runs when it is installed."""
    from impl.measure import features
    from tests.helpers import SmallInception

    faces = tmp_path / "faces"
    faces.mkdir()
    rng = np.random.default_rng(0)
    for i in range(48):
        Image.fromarray(rng.integers(0, 255, (72, 64, 3), dtype=np.uint8)).save(faces / f"{i:02d}.png")
    weights = tmp_path / features.INCEPTION_FILE
    weights.write_bytes(b"stand-in")
    monkeypatch.setattr(features, "load_inception", lambda path: (SmallInception(), "e" * 64))
    monkeypatch.setattr(features, "check_inception_file", lambda path: None)  # the stand-in file holds no tensors
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    out = tmp_path / "sc"
    assert reproduce.main(["003", "--quick", "--seeds", "1", "--data", str(faces), "--inception-weights",
                           str(weights), "--out", str(out), "--quiet"]) == 0
    verdicts = {v["claim"]: v for v in json.loads((out / "scorecard.json").read_text())["claims"]}
    for claim in (c for c in spec.claims() if c.report == "003" and c.measurable):
        v = verdicts[claim.id]
        assert v["shown"] == "smoke: means nothing", v  # read from the faces' own scores: decided, not stood in
        assert "FashionMNIST" not in v["data_label"], v
    fid = json.loads(next(out.glob("r003-wgan/seed-0/metrics.json")).read_text())
    assert fid["real_set"].startswith(str(faces)) and "inception_fid" in fid and "domain_fid" not in fid
