"""What several test modules share: tiny FashionMNIST look-alikes and IDX files, hostile PNG headers, run folders
made for the report's tests, and readers of the pages and pixels the report writes."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import struct
import zlib
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import torch
from hypothesis import HealthCheck, settings
from PIL import Image

from impl import report

TAGS = {"html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "p", "strong", "table", "tr", "th", "td",
        "div", "figure", "figcaption", "img", "section", "ul", "li", "code"}
ATTRIBUTES = {"lang", "charset", "class", "id", "role", "title", "alt", "src", "colspan"}
CLASSES = {"documented", "inferred", "undocumented", "addition", "changed", "note", "best", "warning", "notice",
           "overrides", "progression", "differs"}
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


def write_idx(path: Path, array: np.ndarray, magic: int, gz: bool = False) -> Path:
    header = struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in array.shape)
    raw = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(raw) if gz else raw)
    return path


def fake_fashion(folder: Path, n: int = 20, gz: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    suffix = ".gz" if gz else ""
    write_idx(folder / f"train-images-idx3-ubyte{suffix}", rng.integers(0, 256, (n, 28, 28)), 2051, gz)
    write_idx(folder / f"train-labels-idx1-ubyte{suffix}", rng.integers(0, 10, (n,)), 2049, gz)
    return folder


def png_header(width: int, height: int) -> bytes:
    """A PNG that claims width x height grey pixels in its header and holds almost nothing: what a decompression
    bomb looks like to a loader that reads the header first."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))


def fake_fashion_split(folder: Path, n: int = 256) -> Path:
    """A tiny FashionMNIST look-alike whose class decides the image."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for prefix in ("train", "t10k"):
        labels = rng.integers(0, 10, n)
        images = np.zeros((n, 28, 28), dtype=np.uint8)
        for i, c in enumerate(labels):
            images[i, 2 * c:2 * c + 8, 4:24] = 200 + rng.integers(0, 50)
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", images, 2051, gz=True)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", labels, 2049, gz=True)
    return folder


class SmallInception(torch.nn.Module):
    """A stand-in with the Inception interface (uint8 RGB -> pool features, 1008 logits), fast on a CPU: 64-d
    features, since FID's matrix square root of 2048 x 2048 covariances takes seconds."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.pool, self.fc = torch.nn.Linear(3 * 16, 64), torch.nn.Linear(64, 1008)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        small = torch.nn.functional.adaptive_avg_pool2d(x.float() / 255, 4).flatten(1)
        pool = self.pool(small).relu()
        return pool, self.fc(pool)


# hypothesis settings of the hostile-input tests: enough cases to reach every path, no per-example deadline
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def digest(path: Path) -> dict[str, str]:
    """sha256 of a file, or of every file under a folder (links themselves are not read): what a test compares
    before and after a command to prove nothing outside its folder (or inside a kept run) changed."""
    paths = sorted(path.rglob("*")) if path.is_dir() else [path]
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in paths if p.is_file() and not p.is_symlink()}


def victims(base: Path) -> tuple[Path, Path]:
    """A file and a folder beside the prepared folder: what a planted link points to."""
    base.mkdir(parents=True, exist_ok=True)
    file, folder = base / "victim.txt", base / "victimdir"
    file.write_text("someone else's data\n" * 50)
    folder.mkdir(exist_ok=True)
    (folder / "keep.txt").write_text("keep me\n")
    (folder / "last.pt").write_text("someone else's file named like ours\n")
    return file, folder


def hostile_folder(folder: Path) -> Path:
    """Every kind of file a user's image folder may hold."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    Image.fromarray(rng.integers(0, 256, (96, 96, 3), dtype=np.uint8)).save(folder / "rgb.jpg")
    Image.fromarray(rng.integers(0, 256, (40, 50), dtype=np.uint8)).save(folder / "grey.png")
    Image.fromarray(rng.integers(0, 256, (64, 64, 4), dtype=np.uint8), "RGBA").save(folder / "rgba.png")
    Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).convert("P").save(folder / "palette.png")
    Image.fromarray(rng.integers(0, 65535, (64, 64), dtype=np.uint16)).save(folder / "sixteen.png")
    (folder / "sub").mkdir(exist_ok=True)
    Image.fromarray(rng.integers(0, 256, (70, 70, 3), dtype=np.uint8)).save(folder / "sub" / "nested.jpeg")
    good = (folder / "rgb.jpg").read_bytes()
    (folder / "truncated.jpg").write_bytes(good[: len(good) // 3])
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "notes.txt").write_text("not an image")
    (folder / "fake.png").write_text("not a png either")
    return folder
