"""The HTML report on hostile run folders: values that are text everywhere, files outside the run never
embedded, config.json of the wrong shape, generated run folders (hypothesis), and the command's arguments.
Pages are checked through their parsed structure (tests/report_pages.py)."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from impl import report
from impl.pages import html
from tests.helpers import HOSTILE, assert_inert, decoded, grid_png, make_run, page_of, parse, png_header

# ---------------------------------------------------------------- security

def test_hostile_values_are_text_everywhere(tmp_path: Path) -> None:
    """Script tags, quotes and handlers in every field of config.json, metrics and file names stay text."""
    evil = HOSTILE[0] + HOSTILE[1] + HOSTILE[2]
    recipe = {evil: {"value": evil, "status": HOSTILE[4], "source": evil, "note": evil},
              "loss": {"value": "bce", "status": "inferred", "source": "004", "note": evil}}
    run = make_run(tmp_path / f"run{HOSTILE[1]}", experiment=evil, title=evil, report=evil, recipe=recipe,
                   data=evil, notes=[evil], started=evil, versions={"torch": evil, "git_commit": evil},
                   settings={"seed": evil, "device": evil, "batch_size": evil},
                   overrides={evil: evil, "lr": {"value": evil, "origin": evil}},
                   evaluation={"domain_fid": evil, "classes_covered": evil})
    with (run / "metrics.jsonl").open("a") as fh:
        fh.write(json.dumps({"step": 30, "d_loss": evil, "g_loss": 1.0, "experiment": evil}) + "\n")
    grid_png(run / "samples" / f"epoch_009{HOSTILE[1]}.png", (0, 0, 200))
    (run / "latent").mkdir()
    (run / "latent" / "latent.json").write_text(json.dumps({"rows": [{"position": evil, "value": evil}]}))
    (run / "latent" / os.fsdecode(b"value_\xff.png")).write_text(evil)  # a name that is not UTF-8, not a PNG
    page, root = page_of([run, make_run(tmp_path / "plain$\\frac{$", seed=1)], tmp_path)  # mathtext in a legend
    assert_inert(page, root)
    section = root.all("section")[0]
    assert section.all("h2")[0].text.startswith(f"run{HOSTILE[1]}: {evil}")  # shown, as text
    status = [td for td in section.all("td") if td.text == HOSTILE[4]]
    assert status and all("class" not in td.attrs for td in status)  # an unknown status is no class name
    assert f"seed (run{HOSTILE[1]}: {evil}, plain$\\frac{{$: 1)" in root.all("p", id="differences")[0].text
    assert f"lr = {evil} ({evil})" in [li.text for li in section.all("li")]
    assert "latent/value_\ufffd.png: not a PNG; left out" in [p.text for p in section.all("p")]


def test_files_outside_the_run_are_never_embedded(tmp_path: Path) -> None:
    """samples/*.png, loss.png and latent grids that are symlinks to a private PNG (or a samples/ folder that is
    one) are refused with a notice; a fake PNG is refused; a link inside the run is fine."""
    private = grid_png(tmp_path / "private" / "secret.png", (255, 0, 255))
    run = make_run(tmp_path / "run", epochs=1)
    (run / "samples" / "epoch_002.png").symlink_to(private)
    (run / "loss.png").unlink()
    (run / "loss.png").symlink_to(private)
    (run / "latent").mkdir()
    (run / "latent" / "base.png").symlink_to(run / "samples" / "epoch_001.png")  # inside: shown
    (run / "latent" / "value_1.png").write_text("<script>not a png</script>")
    (run / "latent" / "value_10.png").write_bytes(png_header(10_000, 10_000))  # a decompression bomb's header
    (run / "latent" / "value_100.png").write_bytes(png_header(20_000, 20_000))
    other = make_run(tmp_path / "other", epochs=0)
    (other / "samples").symlink_to(private.parent)
    os.symlink(private, private.parent / "epoch_001.png")
    page, root = page_of([run, other], tmp_path)
    secret = base64.b64encode(private.read_bytes()).decode()
    assert secret not in page
    for img in root.all("img"):
        assert not (np.asarray(decoded(img)) == (255, 0, 255)).all(-1).any(), img.attrs["alt"]
    notices = [p.text for p in root.all("p", class_="notice")]
    assert "samples/epoch_002.png: points outside the run folder; left out" in notices
    assert "loss.png: points outside the run folder; left out" in notices
    assert "latent/value_1.png: not a PNG; left out" in notices
    assert {"latent/value_10.png: too large; left out", "latent/value_100.png: not a readable PNG; left out"} \
        <= set(notices)
    assert "samples/epoch_001.png: points outside the run folder; left out" in notices  # other's linked folder
    assert len(root.all("section")[0].all("img")) == 2  # the strip of epoch 1 and the linked base grid


WRONG = [  # config.json contents, and the error (None: the page is made)
    (b"[]", "a JSON list, not a gan-spec config"), (b'"text"', "a JSON string, not a gan-spec config"),
    (b"42", "a JSON number"), (b"null", "a JSON null"), (b"{", "not valid JSON"), (b"\xff\xfe{}", "not valid JSON"),
    (b"[" * 100_000 + b"]" * 100_000, "not valid JSON"), (b"{}", None),
    (b'{"recipe": [1, 2], "settings": "cpu", "overrides": [1], "total_steps": "many", "notes": "x", "versions": 3}',
     None),
    (b'{"recipe": {"a": 5, "b": {"value": {"x": [1]}, "status": 7}}, "overrides": {"x": {"value": 1}}}', None),
    (b'{"title": 1e999, "total_steps": 123456789012345678901234567890, "report": -0.0}', None),
]


@pytest.mark.parametrize(("content", "error"), WRONG, ids=[str(i) for i in range(len(WRONG))])
def test_config_of_the_wrong_shape(tmp_path: Path, capsys: pytest.CaptureFixture, content: bytes,
                                   error: str | None) -> None:
    run = make_run(tmp_path / "run")
    (run / "config.json").write_bytes(content)
    (run / "metrics.json").write_text("[1, 2]")
    (run / "metrics.jsonl").write_bytes(b'{"step": 1, "d_loss": "x"}\n[1]\n\xff\xfe\n{"step": 2\n')
    code = report.main([str(run), "--out", str(tmp_path / "r.html")])
    err = capsys.readouterr().err
    if error is None:
        assert code == 0 and err == ""
        root = parse((tmp_path / "r.html").read_text())
        assert "metrics.json: a JSON list, not an object; left out" in [p.text for p in root.all("p")]
    else:
        assert code == 2 and err.startswith(f"error: {run / 'config.json'}: {error}") and err.count("\n") == 1


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.sampled_from(HOSTILE)
                    | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
                    max_leaves=8)
FACT = st.fixed_dictionaries({}, optional={"value": JSON, "status": st.sampled_from(["documented", *HOSTILE]),
                                           "source": JSON, "note": JSON})
CONFIG = st.one_of(JSON, st.fixed_dictionaries({}, optional={
    "experiment": JSON, "title": JSON, "report": JSON, "data": JSON, "total_steps": JSON, "notes": JSON,
    "recipe": st.one_of(JSON, st.dictionaries(st.sampled_from(HOSTILE) | st.text(max_size=6), FACT, max_size=3)),
    "overrides": st.one_of(JSON, st.dictionaries(st.text(max_size=6), st.fixed_dictionaries(
        {"value": JSON}, optional={"origin": JSON}) | JSON, max_size=3)),
    "settings": st.one_of(JSON, st.fixed_dictionaries({}, optional={"seed": JSON, "device": JSON}))}))
ROW = st.fixed_dictionaries({}, optional={"step": JSON | st.integers(0, 100), "d_loss": JSON | st.floats(-5, 5),
                                          "g_loss": JSON | st.floats(-5, 5)})
LINES = st.lists(st.one_of(ROW.map(json.dumps), JSON.map(json.dumps), st.sampled_from(["{", "", "\x00"])),
                 max_size=4)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(config=CONFIG, lines=LINES, evaluation=JSON)
def test_generated_run_folders(tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture,
                               config: object, lines: list[str], evaluation: object) -> None:
    """Whatever config.json, metrics.jsonl and metrics.json hold: a page with nothing active in it, or one line."""
    folder = tmp_path_factory.mktemp("gen")
    run = folder / "run"
    (run / "samples").mkdir(parents=True)
    (run / "config.json").write_text(json.dumps(config))
    (run / "metrics.jsonl").write_text("\n".join(lines))
    (run / "metrics.json").write_text(json.dumps(evaluation))
    code = report.main([str(run), str(run), "--out", str(folder / "r.html")])
    out = capsys.readouterr()
    assert "Traceback" not in out.err
    if code == 2:
        assert out.err.startswith("error: ") and out.err.count("\n") == 1 and "config.json" in out.err
    else:
        assert code == 0
        page = (folder / "r.html").read_text(encoding="utf-8")
        assert_inert(page, parse(page))


def test_out_and_run_arguments(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    run = make_run(tmp_path / "run")
    before = (run / "config.json").read_bytes()
    assert report.main([str(run), "--out", str(run / "config.json")]) == 2  # would overwrite the run
    assert "exists and is not an HTML file; choose another --out" in capsys.readouterr().err
    assert (run / "config.json").read_bytes() == before
    assert report.main([str(run), "--out", str(tmp_path)]) == 2
    assert "cannot write" in capsys.readouterr().err
    assert report.main([str(run / "config.json")]) == 2
    assert "not a folder" in capsys.readouterr().err
    assert report.main([str(tmp_path / "nope")]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert report.main([str(run), "--out", str(tmp_path / "new" / "dir" / "r.html")]) == 0


def test_report_of_a_missing_run(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "nope").mkdir()
    assert report.main([str(tmp_path / "nope")]) == 2
    assert "config.json: missing" in capsys.readouterr().err


def test_report_numbers_are_plain() -> None:
    assert [html.number(v) for v in (12_670.4, 914.2, 0.036293, -1234.5)] == ["12,670", "914.2", "0.03629", "-1,234"]
    assert [html.fmt(v) for v in (None, True, 12, 123456, 0.5, [1, "<"])] == \
        ["-", "true", "12", "123,456", "0.5", "[1, &quot;&lt;&quot;]"]
