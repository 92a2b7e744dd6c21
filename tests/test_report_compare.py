"""What the HTML report compares: the overlaid losses, direction and best marks, the warning when runs differ, the
sample strip over the epochs, labelled latent grids, and one run's overrides and notes as text."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from impl.core.files import Root
from impl.pages import charts, html
from impl.runs import grids
from tests.helpers import Node, decoded, grid_png, ink, make_run, page_of, tile_layout

# ---------------------------------------------------------------- comparing runs

def test_losses_of_all_runs_are_overlaid(tmp_path: Path) -> None:
    a = make_run(tmp_path / "a", losses=[(1.0, 0.5), (0.8, 0.7), (0.6, 0.9)])
    b = make_run(tmp_path / "b", losses=[(3.0, 2.0), (2.5, 2.2)])
    fig = charts.loss_overlay([("a", html.load(a, "a").metrics), ("b", html.load(b, "b").metrics)])
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


def test_a_best_metric_is_marked_only_among_runs_measured_alike(tmp_path: Path) -> None:
    """FID at 10,000 images against 2,000, or of 28 px against 64 px runs, is not a ranking: ★ only within runs of
    the same samples, image size, real set and data, and a warning names what differs."""
    made = {"x": ("r004-mlp", 10000, 30.0), "y": ("r004-mlp", 2000, 10.0), "z": ("r004-mlp", 10000, 20.0),
            "w": ("r000-dcgan", 10000, 5.0)}
    runs = [make_run(tmp_path / n, experiment=e, evaluation={"samples": k, "domain_fid": f, "real_set": "test"})
            for n, (e, k, f) in made.items()]
    _, root = page_of(runs, tmp_path)
    heads, cells = comparison(root)
    assert sorted(run for run in cells if cells[run]["domain FID ↓"][1]) == ["z"]  # y and w stand alone
    warned = root.all("p", id="measured")[0].text
    assert "samples (x: 10000, y: 2000, z: 10000, w: 10000)" in warned
    assert "image size (x: 28x28, y: 28x28, z: 28x28, w: 64x64)" in warned and "real set" not in warned
    _, root = page_of(runs[::2], tmp_path)  # x and z: measured alike, no warning
    assert not root.all("p", id="measured")


def test_many_runs_get_one_panel_each_and_short_series_markers(tmp_path: Path) -> None:
    runs = [(f"run{i}", html.load(make_run(tmp_path / f"r{i}", losses=[(1.0 + i, 0.5)] if i % 2 else None),
                                  f"run{i}").metrics) for i in range(12)]
    fig = charts.loss_overlay(runs)
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert len(panels) == 12 and [ax.get_title() for ax in panels] == [f"run{i}" for i in range(12)]
    assert all(line.get_marker() == "o" for ax in panels for line in ax.get_lines())  # 1-2 points each
    assert len(fig.legends[0].get_texts()) == 2
    few = charts.loss_overlay(runs[:10])
    assert len(few.axes) == 1 and len({line.get_color() for line in few.axes[0].get_lines()}) == 10


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


def test_what_differs_comes_first_and_is_named(tmp_path: Path) -> None:
    """Two runs alike but for one --set value: that value is the comparison's first column after the run's name and
    experiment, each run's value in it, and the warning names it; settings that are alike get no column."""
    def lr(value: float) -> dict:
        return {"optimizer.lr": {"value": value, "origin": "--set"}, "seed": {"value": 0, "origin": "--seed"}}

    a = make_run(tmp_path / "a", overrides=lr(1e-4), settings={"seed": 0, "device": "cpu", "precision": "fp32"})
    b = make_run(tmp_path / "b", overrides=lr(2e-4), settings={"seed": 0, "device": "cpu", "precision": "fp32"})
    _, root = page_of([a, b], tmp_path)
    heads, cells = comparison(root)
    assert heads[:3] == ["run", "experiment", "set optimizer.lr"] and "seed" not in heads
    assert (cells["a"]["set optimizer.lr"][0], cells["b"]["set optimizer.lr"][0]) == ("0.0001", "0.0002")
    assert root.all("p", id="differences")[0].text.count("set optimizer.lr (a: 0.0001, b: 0.0002)") == 1


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
    path = grids.labelled_grid(torch.ones(40, 1, 28, 28), rows, columns, Root(tmp_path), "g.png")
    with Image.open(path) as img:
        heights, widths, left, top = tile_layout(img)
        a = np.asarray(img.convert("L")).astype(int)
    assert heights == [84] * 5 and widths == [84] * 8 and left > 0 and top > 0
    bands = [a[top + 4 + r * 88: top + 4 + r * 88 + 84, :left] for r in range(5)]
    assert all(ink(b) for b in bands) and not np.array_equal(bands[0], bands[1])
    heads = [a[:top, left + 4 + c * 88: left + 4 + c * 88 + 84] for c in range(8)]
    assert all(ink(h) for h in heads) and not np.array_equal(heads[0], heads[1])
    with Image.open(grids.labelled_grid(torch.ones(2, 3, 64, 64), ["r"], ["a", "b"], Root(tmp_path), "d.png",
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
