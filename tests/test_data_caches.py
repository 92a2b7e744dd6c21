"""Caches of decoded image folders, and gan-spec's own runs written into a data folder: never data, never piling up."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
from PIL import Image

from impl.data.load import DataError, image_folder
from tests.helpers import hostile_folder


def test_decoded_folder_is_cached_and_invalidated(tmp_path: Path) -> None:
    folder = hostile_folder(tmp_path / "f")
    first = image_folder(folder, 64, progress=False)
    second = image_folder(folder, 64, progress=False)
    assert "(cached)" in second.description and torch.equal(first.images, second.images)
    Image.new("RGB", (64, 64), "red").save(folder / "new.png")
    third = image_folder(folder, 64, progress=False)
    assert "(cached)" not in third.description and len(third.images) == len(first.images) + 1
    cache = next(folder.glob(".gan-spec-*.pt"))
    cache.write_bytes(b"garbage")  # a damaged cache is rebuilt, not trusted
    assert len(image_folder(folder, 64, progress=False).images) == len(third.images)


def test_read_only_folder_caches_elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = hostile_folder(tmp_path / "f")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    image_folder(folder, 64, progress=False)
    assert list((tmp_path / "cache" / "gan-spec").glob("*.pt")) and not list(folder.glob(".gan-spec-*"))


def fake_run(folder: Path, config: dict | None = None) -> Path:
    (folder / "samples").mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(config or {"experiment": "r004-mlp", "recipe": {}}))
    Image.new("RGB", (8, 8), "green").save(folder / "samples" / "epoch_001.png")
    Image.new("RGB", (8, 8), "green").save(folder / "loss.png")
    return folder


def test_run_folders_inside_the_data_are_not_data(tmp_path: Path) -> None:
    """A run written into the data folder (--out inside it), runs/ and a study folder are left out and counted;
    a foreign folder that merely holds a config.json is data."""
    folder = tmp_path / "faces"
    folder.mkdir()
    for i in range(3):
        Image.new("RGB", (8, 8), (i, 0, 0)).save(folder / f"{i}.png")
    fake_run(folder / "my-run", {"written by": "another version"})  # config.json beside samples/ is enough
    fake_run(folder / "runs" / "r004-mlp-20261123-101500")
    Image.new("RGB", (8, 8)).save(folder / "runs" / "report-figure.png")
    study = folder / "study"
    fake_run(study / "clip-0.01")
    (study / "collapse-args.json").write_text("{}")
    Image.new("RGB", (8, 8)).save(study / "collapse.png")
    foreign = folder / "other"
    foreign.mkdir()
    (foreign / "config.json").write_text('{"camera": "x"}')
    Image.new("RGB", (8, 8)).save(foreign / "kept.png")
    ds = image_folder(folder, 8, progress=False)
    assert len(ds.images) == 4  # 0.png, 1.png, 2.png, other/kept.png
    assert ds.skipped == {"inside a gan-spec run or study folder": 8}


def test_caches_of_a_folder_do_not_pile_up(tmp_path: Path) -> None:
    """A new cache of a folder at a size replaces the older ones of that folder and size; other sizes stay."""
    folder = tmp_path / "f"
    folder.mkdir()
    for i in range(3):
        Image.new("RGB", (8, 8), (i, 0, 0)).save(folder / f"{i}.png")
        image_folder(folder, 8, progress=False)
    image_folder(folder, 16, progress=False)
    assert sorted(p.name.split("-")[2] for p in folder.glob(".gan-spec-*")) == ["16px", "8px"]
    assert "(cached)" in image_folder(folder, 8, progress=False).description


def test_user_cache_caches_do_not_pile_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """In the user cache, folders with the same name do not share (or delete) each other's caches."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    for parent in ("a", "b"):
        folder = tmp_path / parent / "faces"
        folder.mkdir(parents=True)
        for i in range(2):
            Image.new("RGB", (8, 8), (i, 0, 0)).save(folder / f"{i}.png")
            image_folder(folder, 8, progress=False)
    assert len(list((tmp_path / "cache" / "gan-spec").glob("*.pt"))) == 2


def test_a_folder_holding_only_runs_is_refused(tmp_path: Path) -> None:
    fake_run(tmp_path / "runs" / "r004-mlp-1")
    with pytest.raises(DataError, match=r"no image files .* \(only 2 inside gan-spec run folders, which are not data"):
        image_folder(tmp_path, 8, progress=False)
