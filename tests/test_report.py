"""The HTML report on run folders written by hand: hostile content, symlinks, wrong shapes, and what it compares
(the overlaid losses, direction and best marks, the warning, the sample strip, labelled latent grids).

Pages are checked through their parsed structure and their decoded images' pixels."""

from __future__ import annotations

import base64
import io
import json
import os
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from impl import charts, grids, report
from tests.test_data import png_header

TAGS = {"html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "p", "strong", "table", "tr", "th", "td",
        "div", "figure", "figcaption", "img", "section", "ul", "li", "code"}
ATTRIBUTES = {"lang", "charset", "class", "id", "role", "title", "alt", "src", "colspan"}
CLASSES = {"documented", "inferred", "undocumented", "addition", "changed", "note", "best", "warning", "notice",
           "overrides", "progression"}
HOSTILE = ['<script>alert(1)</script>', '"><img src=x onerror=alert(1)>', "' onmouseover='alert(1)", "&amp;<b>",
           "documented onclick=alert(1)", "</table><script>x</script>", "\ud800", "$\\frac{$", "a\x00b", "\u202e"]


# ---------------------------------------------------------------- reading pages and images

class Node:
    def __init__(self, tag: str, attrs: dict[str, str | None]) -> None:
        self.tag, self.attrs, self.children, self.parts = tag, attrs, [], []

    @property
    def text(self) -> str:
        return "".join(p if isinstance(p, str) else p.text for p in self.parts)

    def all(self, tag: str, **attrs: str) -> list[Node]:
        found = [self] if self.tag == tag and all(self.attrs.get(k.rstrip("_")) == v for k, v in attrs.items()) else []
        return found + [n for c in self.children for n in c.all(tag, **attrs)]


class Parser(HTMLParser):
    VOID = {"meta", "img", "br"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list) -> None:
        node = Node(tag, dict(attrs))
        self.stack[-1].children.append(node)
        self.stack[-1].parts.append(node)
        if tag not in self.VOID:
            self.stack.append(node)

    def handle_endtag(self, tag: str) -> None:
        while len(self.stack) > 1:
            if self.stack.pop().tag == tag:
                break

    def handle_data(self, data: str) -> None:
        self.stack[-1].parts.append(data)


def parse(page: str) -> Node:
    parser = Parser()
    parser.feed(page)
    return parser.root


def decoded(img: Node) -> Image.Image:
    src = img.attrs["src"]
    assert src.startswith("data:image/png;base64,")
    return Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))).convert("RGB")


def tile_layout(img: Image.Image, grey: int = 128) -> tuple[list[int], list[int], int, int]:
    """The tiles of a grid with grey gaps, found from its pixels: (tile heights, tile widths, left, top) where the
    block of tiles reaches the right and bottom edges and left/top are the label margins."""
    a = np.asarray(img.convert("RGB")).astype(int)
    is_grey = (a == grey).all(-1)
    def margin(edge: np.ndarray) -> int:  # where the gap along an edge starts (it runs to the end)
        return 0 if edge.all() else len(edge) - int(np.argmin(edge[::-1]))

    left, top = margin(is_grey[-1]), margin(is_grey[:, -1])
    block = is_grey[top:, left:]

    def runs(gap: np.ndarray) -> list[int]:
        lengths, n = [], 0
        for g in gap:
            if not g:
                n += 1
            elif n:
                lengths.append(n)
                n = 0
        return lengths

    return runs(block.all(1)), runs(block.all(0)), left, top


def ink(region: np.ndarray) -> bool:
    """Whether a region of a label margin holds drawn text."""
    return bool((region < 100).any())


# ---------------------------------------------------------------- run folders written by hand

def grid_png(path: Path, colour: tuple[int, int, int], size: tuple[int, int] = (80, 20)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path)
    return path


def make_run(folder: Path, experiment: str = "r004-mlp", seed: int = 0, steps: int = 40, device: str = "cpu",
             losses: list[tuple[float, float]] | None = None, evaluation: dict | None = None, epochs: int = 2,
             **config: object) -> Path:
    folder.mkdir(parents=True)
    recipe = {"loss": {"value": "bce", "status": "inferred", "source": "004", "note": "no loss is stated"},
              "batch_size": {"value": 64, "status": "documented", "source": "004"},
              "optimizer.lr": {"value": 0.0002, "status": "inferred", "source": "004", "note": "the DCGAN paper's"}}
    base = {"experiment": experiment, "title": f"{experiment} title", "report": "004", "recipe": recipe,
            "overrides": {}, "settings": {"batch_size": 64, "seed": seed, "device": device}, "data": "synthetic",
            "total_steps": steps, "notes": ["a step is one batch"], "versions": {"torch": "2.x", "git_commit": "abc"}}
    (folder / "config.json").write_text(json.dumps(base | config))
    losses = losses or [(1.0, 0.5), (0.8, 0.7)]
    (folder / "metrics.jsonl").write_text("".join(
        json.dumps({"step": 10 * (i + 1), "d_loss": d, "g_loss": g, "images_per_s": 100.0}) + "\n"
        for i, (d, g) in enumerate(losses)))
    for epoch in range(1, epochs + 1):
        grid_png(folder / "samples" / f"epoch_{epoch:03d}.png", (0, 200, 0))
    grid_png(folder / "loss.png", (0, 200, 0), (60, 30))
    if evaluation is not None:
        (folder / "metrics.json").write_text(json.dumps(evaluation))
    return folder


def page_of(runs: list[Path], tmp_path: Path) -> tuple[str, Node]:
    out = tmp_path / "report.html"
    assert report.main([*map(str, runs), "--out", str(out)]) == 0
    page = out.read_text(encoding="utf-8")
    return page, parse(page)


def assert_inert(page: str, root: Node) -> None:
    """No script, no event handler, no element or attribute the report does not write, images only inline."""
    assert "<script" not in page.lower()
    nodes = [n for n in root.all("#root")[0].children for n in _walk(n)]
    assert {n.tag for n in nodes} <= TAGS
    assert {a for n in nodes for a in n.attrs} <= ATTRIBUTES
    assert {c for n in nodes for c in (n.attrs.get("class") or "").split()} <= CLASSES
    assert all(n.attrs["src"].startswith("data:image/png;base64,") for n in nodes if n.tag == "img")


def _walk(node: Node) -> list[Node]:
    return [node] + [n for c in node.children for n in _walk(c)]


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
    assert [report.number(v) for v in (12_670.4, 914.2, 0.036293, -1234.5)] == ["12,670", "914.2", "0.03629", "-1,234"]
    assert [report.fmt(v) for v in (None, True, 12, 123456, 0.5, [1, "<"])] == \
        ["-", "true", "12", "123,456", "0.5", "[1, &quot;&lt;&quot;]"]


# ---------------------------------------------------------------- comparing runs

def test_losses_of_all_runs_are_overlaid(tmp_path: Path) -> None:
    a = make_run(tmp_path / "a", losses=[(1.0, 0.5), (0.8, 0.7), (0.6, 0.9)])
    b = make_run(tmp_path / "b", losses=[(3.0, 2.0), (2.5, 2.2)])
    fig = charts.loss_overlay([("a", report.load(a, "a").metrics), ("b", report.load(b, "b").metrics)])
    lines = {line.get_label(): list(line.get_ydata()) for line in fig.axes[0].get_lines()}
    assert len(fig.axes) == 1 and lines == {"a: D": [1.0, 0.8, 0.6], "a: G": [0.5, 0.7, 0.9],
                                            "b: D": [3.0, 2.5], "b: G": [2.0, 2.2]}
    _, root = page_of([a, b], tmp_path)
    chart = np.asarray(decoded(root.all("div", id="overlay")[0].all("img")[0])).astype(int)
    for colour in ((31, 119, 180), (255, 127, 14)):  # matplotlib's first two colours: one per run
        assert (np.abs(chart - colour).sum(-1) < 30).sum() > 200, colour


def comparison(root: Node) -> tuple[list[str], dict[str, dict[str, tuple[str, bool]]]]:
    """The comparison table: its headings, and per run each column's (text, marked best)."""
    table = root.all("table", id="comparison")[0]
    rows = table.all("tr")
    heads = [th.text for th in rows[0].all("th")]
    cells = {}
    for tr in rows[1:]:
        tds = tr.all("td")
        cells[tds[0].text] = {h: (td.text, "best" in (td.attrs.get("class") or "")) for h, td in zip(heads, tds)}
    return heads, cells


def test_directions_and_best_runs(tmp_path: Path) -> None:
    values = {"x": (30.0, 7, 0.30), "y": (10.0, 9, 0.25), "z": (20.0, 9, 0.10)}  # FID, classes, MS-SSIM
    runs = [make_run(tmp_path / n, evaluation={"domain_fid": f, "classes_covered": c, "diversity_ms_ssim": m})
            for n, (f, c, m) in values.items()]
    heads, cells = comparison(page_of(runs, tmp_path)[1])
    assert {"domain FID ↓", "classes covered ↑", "diversity MS-SSIM ↓", "images/s ↑", "d_loss"} <= set(heads)
    best = {h: sorted(run for run in cells if cells[run][h][1]) for h in heads}
    assert best["domain FID ↓"] == ["y"] and best["classes covered ↑"] == ["y", "z"]  # a tie marks both
    assert best["diversity MS-SSIM ↓"] == ["z"]
    assert best["d_loss"] == best["steps"] == best["images/s ↑"] == []  # no direction / all equal
    assert best["domain KID ↓"] == []  # not evaluated


def test_a_single_run_has_no_best_and_no_warning(tmp_path: Path) -> None:
    run = make_run(tmp_path / "a", evaluation={"domain_fid": 3.0})
    _, root = page_of([run], tmp_path)
    assert not root.all("td", class_="best") and not root.all("p", id="differences")


@pytest.mark.parametrize(("changes", "named"), [
    ({}, []), ({"seed": 1}, ["seed"]), ({"device": "cuda", "steps": 80}, ["steps", "device"]),
    ({"data": "FashionMNIST train"}, ["data"])])
def test_warning_when_runs_differ(tmp_path: Path, changes: dict, named: list[str]) -> None:
    a = make_run(tmp_path / "a")
    b = make_run(tmp_path / "b", **changes)
    _, root = page_of([a, b], tmp_path)
    warnings = root.all("p", id="differences")
    if not named:
        assert not warnings
        return
    assert re.findall(r"(\w+) \(a: ", warnings[0].text) == named


def test_sample_strip_shows_evenly_spaced_epochs(tmp_path: Path) -> None:
    """Nine epoch grids, each its own grey level: the strip holds five, epochs 1, 3, 5, 7 and 9, in order, each
    with a label; one-row grids are stacked, square grids placed side by side."""
    shades = {e: 20 * e for e in range(1, 10)}  # never the gap's 128 (e = 6.4)
    run = make_run(tmp_path / "wide", epochs=0)
    square = make_run(tmp_path / "square", epochs=0)
    for e, v in shades.items():
        grid_png(run / "samples" / f"epoch_{e:03d}.png", (v, v, v), (200, 40))
        grid_png(square / "samples" / f"epoch_{e:03d}.png", (v, v, v), (100, 100))
    _, root = page_of([run, square], tmp_path)
    for section, vertical in zip(root.all("section"), (True, False)):
        img = decoded(section.all("div", class_="progression")[0].all("img")[0])
        heights, widths, left, top = tile_layout(img)
        assert (len(heights), len(widths)) == ((5, 1) if vertical else (1, 5))
        a = np.asarray(img.convert("L")).astype(int)
        centres = [(top + 4 + i * (heights[0] + 4) + heights[0] // 2, left + 4 + widths[0] // 2) if vertical else
                   (top + 4 + heights[0] // 2, left + 4 + i * (widths[0] + 4) + widths[0] // 2) for i in range(5)]
        assert [a[y, x] for y, x in centres] == [shades[e] for e in (1, 3, 5, 7, 9)]
        for y, x in centres:  # a label beside (left of) or above each grid
            assert ink(a[y - 10:y + 10, :left]) if vertical else ink(a[:top, x - 20:x + 20])


def test_latent_grid_labels_and_grey_gaps(tmp_path: Path) -> None:
    """Saturated white tiles stay apart: 5 x 8 tiles of 84 pixels (28 enlarged 3x) between grey gaps, each row
    and column labelled (different labels, different ink)."""
    rows, columns = [f"z[{p}] = 100" for p in (0, 20, 40, 60, 80)], [f"vector {i}" for i in range(1, 9)]
    path = grids.labelled_grid(torch.ones(40, 1, 28, 28), rows, columns, tmp_path / "g.png")
    with Image.open(path) as img:
        heights, widths, left, top = tile_layout(img)
        a = np.asarray(img.convert("L")).astype(int)
    assert heights == [84] * 5 and widths == [84] * 8 and left > 0 and top > 0
    bands = [a[top + 4 + r * 88: top + 4 + r * 88 + 84, :left] for r in range(5)]
    assert all(ink(b) for b in bands) and not np.array_equal(bands[0], bands[1])
    heads = [a[:top, left + 4 + c * 88: left + 4 + c * 88 + 84] for c in range(8)]
    assert all(ink(h) for h in heads) and not np.array_equal(heads[0], heads[1])
    with Image.open(grids.labelled_grid(torch.ones(2, 3, 64, 64), ["r"], ["a", "b"], tmp_path / "d.png",
                                        gap_value=0.25)) as img:
        assert tile_layout(img, grey=64)[:2] == ([64], [64, 64])


# ---------------------------------------------------------------- one run's recipe

def test_overrides_of_both_shapes_and_notes_as_text(tmp_path: Path) -> None:
    run = make_run(tmp_path / "a", overrides={"steps": 120, "optimizer.lr": {"value": 0.0001, "origin": "--set"}})
    _, root = page_of([run], tmp_path)
    assert [li.text for li in root.all("ul", class_="overrides")[0].all("li")] == \
        ["steps = 120", "optimizer.lr = 0.0001 (--set)"]
    table = root.all("section")[0].all("table")[0]
    heads = [th.text for th in table.all("th")]
    rows = {tr.all("td")[0].text: tr for tr in table.all("tr")[1:]}
    lr = dict(zip(heads, (td.text for td in rows["optimizer.lr"].all("td"))))
    assert lr["this run"] == "0.0001" and rows["optimizer.lr"].attrs.get("class") == "changed"
    assert lr["note"] == "the DCGAN paper's" and lr["status"] == "inferred"
    assert dict(zip(heads, (td.text for td in rows["loss"].all("td"))))["note"] == "no loss is stated"
    assert "class" not in rows["batch_size"].attrs  # 64 as documented
