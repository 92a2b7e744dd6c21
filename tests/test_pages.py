"""The scorecard's pages and scorecards compared: the site's summary (banner, filters, contents) and its report pages
with images as files, impl.report on two scorecards (each claim's verdict change), --csv that reads back to every
claim's numbers, runs and scorecards never mixed, and (slow) the all-reports --quick scorecard opened in headless
Chromium."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from impl import report, reproduce
from impl.core.files import Root
from impl.pages import html, site
from tests.helpers import fake_fashion_split, make_run

# ---------------------------------------------------------------- the site


def test_the_site_has_a_summary_and_a_page_per_report_with_images_as_files(tmp_path: Path) -> None:
    """Two reports' parts: the summary links each claim to its report's page, filters by verdict without a script,
    says smoke in its banner; the report pages show their images from files (one file for two equal images)."""
    def body() -> str:
        grid = Image.new("RGB", (40, 20), (0, 200, 0))
        return html.figure(grid, "a grid") + html.figure(grid, "the same grid")

    parts = [site.ReportPart(r, f"Report {r}", [site.Row(f"c{r}-x", site.slug(v), ["says", v])], body)
             for r, v in (("003", "holds"), ("004", "does not hold"))]
    written = site.write(Root(tmp_path), "t", site.banner([("seeds ", "3")], smoke=True), parts, ["claim", "says", "v"],
                         {"holds": 1, "does not hold": 1}, {}, warning=site.collapsed_warning("differ", ["a: 1"]))
    assert [p.relative_to(tmp_path).as_posix() for p in written] == ["report.html", "pages/report-003.html",
                                                                     "pages/report-004.html"]
    summary = (tmp_path / "report.html").read_text()
    assert '<a href="pages/report-004.html#c004-x">' in summary and "<script" not in summary
    assert "body:has(#show-v-does-not-hold:checked) tr.claim-row:not(.v-does-not-hold){display:none}" in summary
    assert "<b>smoke run</b>" in summary and "<details class=warning" in summary  # one line until opened
    page = (tmp_path / "pages" / "report-003.html").read_text()
    sources = [s.split('"')[0] for s in page.split(' src="')[1:]]
    assert len(sources) == 2 and len(set(sources)) == 1 and "data:image" not in page
    assert Image.open(tmp_path / "pages" / sources[0]).size == (40, 20)
    assert html.IMAGE_FILES.get() is None  # impl.report's pages stay self-contained


# ---------------------------------------------------------------- scorecards compared and exported

def claim(name: str, verdict: str, effect: float | None, ci: list | None = None, n: int = 3,
          events: list | None = None, p: float | None = 0.01) -> dict:
    return {"claim": name, "report": "004", "verdict": verdict, "shown": verdict, "holm": verdict,
            "shown_holm": verdict, "effect": effect, "ci": ci, "n": n, "p_value": p, "events": events,
            "seeds_needed": None, "data_label": "FashionMNIST"}


def scorecard(folder: Path, claims: list[dict], **meta: object) -> Path:
    folder.mkdir(parents=True)
    (folder / "scorecard.json").write_text(json.dumps({"seeds": 3, "device": "cpu", **meta, "claims": claims}))
    return folder


def test_two_scorecards_show_each_claims_verdict_change(tmp_path: Path, capsys) -> None:
    a = scorecard(tmp_path / "term1" / "sc", [claim("c-a", "inconclusive", 0.5, [-0.1, 1.1]),
                                              claim("c-b", "holds", 2.0, [1.0, 3.0])], seeds=3)
    b = scorecard(tmp_path / "term2" / "sc", [claim("c-a", "holds", 0.7, [0.3, 1.1], n=5),
                                              claim("c-b", "holds", 2.1, [1.2, 3.0], n=5)], seeds=5)
    out = tmp_path / "moved.html"
    assert report.main([str(a), str(b), "--out", str(out)]) == 0
    page = out.read_text()
    rows = {r.split("<td>")[1].split("</td>")[0]: r for r in page.split("<tr")[2:]}
    assert rows["c-a"].startswith(" class=moved") and not rows["c-b"].startswith(" class=moved")
    assert rows["c-a"].index(">inconclusive<") < rows["c-a"].index(">holds<")  # from the first to the second
    assert "0.5 [-0.1, 1.1]" in rows["c-a"] and "0.7 [0.3, 1.1]" in rows["c-a"]
    assert "<b>1</b> of 2 claims changed verdict" in page
    assert "<th>term1/sc: verdict</th>" in page and "<th>term2/sc: verdict</th>" in page  # named by their folder
    assert "2 scorecards" in capsys.readouterr().out


finite = st.floats(allow_nan=False, allow_infinity=False, width=64)


@settings(max_examples=25, deadline=None)
@given(effect=finite, low=finite, p=st.floats(0, 1), n=st.integers(1, 99))
def test_csv_round_trips_every_claims_numbers(tmp_path_factory: pytest.TempPathFactory, effect: float, low: float,
                                              p: float, n: int) -> None:
    root = tmp_path_factory.mktemp("csv")
    claims = [claim("c-t", "holds", effect, [low, effect], n=n, p=p), claim("c-e", "does not hold", 0.0,
                                                                             [0.0, 0.7], events=[0, n], p=None),
              claim("c-u", "not measurable here", None, n=0, p=None)]
    a = scorecard(root / "a", claims)
    assert report.main([str(a), "--out", str(root / "a.html"), "--csv", str(root / "a.csv")]) == 0
    rows = list(csv.DictReader((root / "a.csv").open(encoding="utf-8")))
    assert [r["claim"] for r in rows] == ["c-t", "c-e", "c-u"]
    for r, c in zip(rows, claims):
        assert r["verdict"] == c["verdict"] and r["holm"] == c["shown_holm"] and int(r["n"]) == c["n"]
        back = [float(r[k]) if r[k] else None for k in ("effect", "ci_low", "ci_high", "p_value")]
        assert back == [c["effect"], *(c["ci"] or [None, None]), c["p_value"]]
        assert [int(r["events"]), int(r["events_of"])] == c["events"] if c["events"] else r["events"] == ""


@pytest.mark.parametrize("args", [["RUN", "SC"], ["RUN", "--csv", "x.csv"]])
def test_runs_and_scorecards_are_not_mixed(tmp_path: Path, capsys, args: list[str]) -> None:
    run = make_run(tmp_path / "run")
    sc = scorecard(tmp_path / "sc", [claim("c", "holds", 1.0)])
    argv = [{"RUN": str(run), "SC": str(sc)}.get(a, a) for a in args]
    assert report.main([*argv, "--out", str(tmp_path / "r.html")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and ("among scorecard folders" in err or "drop --csv" in err)
    assert not (tmp_path / "r.html").exists()


def test_a_scorecard_json_that_is_not_one_is_one_line(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "sc"
    bad.mkdir()
    (bad / "scorecard.json").write_text('{"claims": 3}')
    assert report.main([str(bad), "--out", str(tmp_path / "r.html")]) == 2
    assert "no list of claims; pass the folder impl.reproduce wrote" in capsys.readouterr().err


# ---------------------------------------------------------------- in a browser

def chromium() -> str | None:
    return next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)


def dom(browser: str, page: Path) -> str:
    """The page as headless Chromium loaded it (its DOM after load)."""
    done = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", page.as_uri()],
                          capture_output=True, text=True, timeout=120, check=True)
    return done.stdout


@pytest.mark.slow
def test_the_all_reports_quick_scorecard_opens_in_chromium(tmp_path: Path, monkeypatch) -> None:
    """Every report's claims over one seed of --quick (about a minute): the summary loads in Chromium, its links
    reach every report's page, each of which loads too, and no page is over 3 MB."""
    browser = chromium()
    if browser is None:
        pytest.skip("no chromium on PATH (apt-get install -y chromium): the pages cannot be opened in a browser")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    out = tmp_path / "sc"
    argv = ["--quick", "--seeds", "1", "--fashion", str(fake_fashion_split(tmp_path / "fm")), "--out", str(out)]
    assert reproduce.main([*argv, "--quiet"]) == 0
    summary = dom(browser, out / "report.html")
    assert "<h1>gan-spec scorecard: reports 000, 001, 002, 003, 004 (smoke run)</h1>" in summary
    pages = sorted({a.split('"')[0].split("#")[0] for a in summary.split('href="')[1:] if a.startswith("pages/")})
    assert pages == [f"pages/report-{r}.html" for r in ("000", "001", "002", "003", "004")]
    for page in pages:
        loaded = dom(browser, out / page)
        assert "<h2>Claims</h2>" in loaded and "../report.html" in loaded
    sizes = {p.name: p.stat().st_size for p in [out / "report.html", *(out / "pages").glob("*.html")]}
    assert max(sizes.values()) < 3_000_000, sizes
    assert len(sizes) == 6


# ---------------------------------------------------------------- TensorBoard

def test_tensorboard_gets_the_config_the_set_values_and_the_evaluation(tmp_path: Path) -> None:
    """--tensorboard: the HPARAMS table holds each --set value and names every evaluation metric as a curve to show,
    config.json is the text `config`, and impl.evaluate's numbers arrive as those curves."""
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    from impl import train
    from impl.runs.folder import RunFolder
    from impl.training import tensorboard

    out = tmp_path / "run"
    assert train.main(["r004-mlp", "--data", "synthetic", "--quiet", "--steps", "4", "--batch-size", "8",
                       "--tensorboard", "--set", "optimizer.lr=0.0001", "--out", str(out)]) == 0
    tensorboard.write_evaluation(RunFolder(out), 4, {"domain_fid": 12.5, "samples": 10})
    events = EventAccumulator(str(out / "tensorboard")).Reload()
    content = events.PluginTagToContent("hparams")
    data = {tag: plugin_data_pb2.HParamsPluginData.FromString(raw) for tag, raw in content.items()}
    session = next(d.session_start_info for d in data.values() if d.HasField("session_start_info"))
    assert session.hparams["set/optimizer.lr"].number_value == pytest.approx(1e-4)
    shown = {m.name.tag for d in data.values() if d.HasField("experiment") for m in d.experiment.metric_infos}
    assert {"train/d_loss", "evaluation/domain_fid", "evaluation/diversity_ms_ssim"} <= shown
    assert [e.value for e in events.Scalars("evaluation/domain_fid")] == [12.5]
    text = events.Tensors("config/text_summary")[0].tensor_proto.string_val[0].decode()
    assert '"optimizer.lr"' in text and text.startswith("    {")


# ---------------------------------------------------------------- a sweep

def test_a_sweep_trains_the_grid_into_one_folder_and_compares_it(tmp_path: Path, capsys) -> None:
    """Two learning rates at two seeds: four runs named by what varies, sweep.json, and a page whose first columns
    are the learning rate and the seed."""
    from impl import train

    out = tmp_path / "lr"
    assert train.main(["r004-mlp", "--data", "synthetic", "--quiet", "--steps", "2", "--batch-size", "8",
                       "--set", "optimizer.lr=1e-4,2e-4", "--seeds", "0,1", "--out", str(out)]) == 0
    names = sorted(p.name for p in out.iterdir() if p.is_dir())
    assert names == ["optimizer.lr=0.0001_seed-0", "optimizer.lr=0.0001_seed-1", "optimizer.lr=0.0002_seed-0",
                     "optimizer.lr=0.0002_seed-1"]
    assert [r["set"] for r in json.loads((out / "sweep.json").read_text())["runs"]][::2] == [
        {"optimizer.lr": 1e-4}, {"optimizer.lr": 2e-4}]
    page = (out / "report.html").read_text()
    heads = page.split('<table id="comparison">')[1].split("</tr>")[0]
    assert heads.index(">set optimizer.lr<") < heads.index(">seed<") < heads.index(">steps<")
    assert "sweep: 4 runs" in capsys.readouterr().out


@pytest.mark.parametrize(("argv", "says"), [
    (["--set", "optimizer.lr=1e-4,x"], "optimizer.lr"), (["--seeds", "0,0"], "distinct seeds"),
    (["--set", "optimizer.lr=1e-4,", "--seeds", "0"], "an empty value")])
def test_a_sweep_refuses_bad_lists_before_any_run(tmp_path: Path, capsys, argv: list[str], says: str) -> None:
    from impl import train

    out = tmp_path / "sw"
    try:
        code = train.main(["r004-mlp", "--data", "synthetic", "--steps", "2", *argv, "--out", str(out)])
    except SystemExit as exc:  # an argument argparse refuses
        code = exc.code
    assert code == 2
    assert says in capsys.readouterr().err and not out.exists()


# ---------------------------------------------------------------- the numbers in the summary

def test_the_summary_says_which_way_an_inconclusive_claim_leans() -> None:
    """'About N seeds' says which side of the rule's line the effect sits on: a bound 'below 0.1' leans holds at
    0.05 and does not at 0.118; a comparison leans by the sign of the difference against its minimum effect; an
    event by its rate; the effect cell gives k of n seeds for an event and the interval with the rule's line."""
    import spec
    from impl.verdicts import evidence

    claims = {c.id: c for c in spec.claims()}
    below = claims["c004-value-1-invisible"]  # mlp below 0.1 by at least 0.01 (base)
    assert below.rule.kind == "threshold" and below.rule.expect == "below" and below.rule.bound == 0.1
    inconclusive = {"verdict": "inconclusive", "seeds_needed": 34, "n": 3}
    assert evidence.more_seeds(inconclusive | {"effect": 0.05}, below) == "about 34 seeds, leaning holds"
    assert evidence.more_seeds(inconclusive | {"effect": 0.118}, below) == "about 34 seeds, leaning does not hold"
    assert evidence.more_seeds({"verdict": "holds", "effect": 0.05}, below) == "-"
    compare = next(c for c in claims.values() if c.rule.kind == "compare" and c.rule.scale == "absolute"
                   and c.rule.expect in ("higher", "lower"))
    sign = 1 if compare.rule.expect == "higher" else -1
    past = sign * (compare.rule.min_effect or 0) * 2 + sign * 1e-9
    assert evidence.leaning(inconclusive | {"effect": past}, compare) == "holds"
    assert evidence.leaning(inconclusive | {"effect": -past}, compare) == "does not hold"
    event = claims["c000-dcgan-unstable"]
    assert evidence.leaning({"events": [1, 3]}, event) == "holds"
    assert evidence.leaning({"events": [0, 3]}, event) == "does not hold"
    events_cell = evidence.effect_html({"events": [0, 3], "effect": 0.0, "ci": [0.0, 0.7]}, event)
    assert events_cell.startswith("0 of 3 seeds<br>")
    cell = evidence.effect_html({"effect": 0.118, "ci": [0.1024, 0.1336]}, below)
    assert cell == "0.118 [0.1024, 0.1336]<br><span class=note>mlp below 0.1 by at least 0.01 (base)</span>"


@pytest.mark.slow
def test_quiet_prints_one_line(tmp_path: Path, monkeypatch, capfd) -> None:
    """impl.reproduce --quiet: the verdicts' counts and the summary page, one line, nothing on stderr."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    out = tmp_path / "sc"
    assert reproduce.main(["004", "--quick", "--seeds", "1", "--fashion", str(fake_fashion_split(tmp_path / "fm")),
                           "--out", str(out), "--quiet"]) == 0
    printed = capfd.readouterr()
    assert printed.out.splitlines() == [f"scorecard: 4 smoke: means nothing; {out / 'report.html'}"]
    assert printed.err == ""


def test_the_summary_leads_with_the_verdict_after_holm() -> None:
    """A claim that holds raw but not after Holm over its report shows 'inconclusive' first, the raw 'holds' as a
    detail beside it; its filter slug is the headline's."""
    import spec
    from impl.verdicts import evidence
    from impl.verdicts.verdict import Verdict

    claim = next(c for c in spec.claims() if c.report == "004" and c.measurable)
    v = Verdict(claim.id, "004", claim.quote, "fashion-mnist", "m", "r", "holds", "p 0.02", holm="inconclusive",
                n=3, p_value=0.02)
    row = evidence.summary_row(v, claim)
    verdicts = [c.split(">", 1)[1].split("<")[0] for c in row.cells if "class=verdict" in c]
    assert verdicts == ["inconclusive", "holds"] and row.slug == "v-inconclusive"
