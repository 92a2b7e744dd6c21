"""Reading a run folder that someone else may have written: its JSON files, its metrics log and its PNGs, checked.

A run folder is something people send each other, so nothing read here is trusted: config.json must be a JSON
object (else one RunError line naming it), other files of the wrong shape are left out with a note, every
image must be a real PNG lying inside the run folder (a symlink to a private file is refused, never embedded),
and text is made printable (names that are not UTF-8, lone surrogates from JSON). `esc` is the one way values
reach HTML.
"""

from __future__ import annotations

import html
import io
import json
import math
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from impl.runs.folder import RunError

if TYPE_CHECKING:
    from PIL.Image import Image

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_PNG_BYTES = 32_000_000  # a grid or a plot is well under 1 MB
MAX_PNG_PIXELS = 25_000_000  # and under 2 megapixels


def text(value: object) -> str:
    """Any value as text that encodes as UTF-8 (surrogates from undecodable names or JSON escapes become U+FFFD)."""
    raw = str(value)
    try:  # a name's undecodable bytes come back as they were, then show as U+FFFD
        return raw.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:  # other lone surrogates (a JSON "\\ud800")
        return raw.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


def esc(value: object) -> str:
    """Text for HTML, in element content and in quoted attribute values alike."""
    return html.escape(text(value), quote=True)


def kind(value: object) -> str:
    """The JSON name of a value's type, for messages."""
    names = {dict: "object", list: "list", str: "string", bool: "boolean", int: "number", float: "number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


def num(value: object) -> float | None:
    """A finite JSON number as a float; anything else (strings, booleans, NaN, lists) is None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        out = float(value)
    except OverflowError:  # an integer beyond the float range
        return None
    return out if math.isfinite(out) else None


def get(tree: object, *keys: str) -> object:
    """tree[k1][k2]..., or None where a level is missing or is not an object."""
    for key in keys:
        if not isinstance(tree, dict):
            return None
        tree = tree.get(key)
    return tree


def read_json(path: Path) -> object:
    """A JSON file's value; RunError (one line naming the file) when it cannot be read or parsed."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise RunError(f"{text(path)}: missing; pass a run directory made by impl.train") from None
    except OSError as exc:
        raise RunError(f"{text(path)}: cannot be read ({exc.strerror or type(exc).__name__})") from None
    try:
        return json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):  # JSONDecodeError, UnicodeDecodeError, nesting too deep
        raise RunError(f"{text(path)}: not valid JSON; the run directory is damaged") from None


def read_config(run: Path) -> dict:
    """config.json as a dict, or RunError: a report cannot describe a run without it."""
    if not run.is_dir():
        raise RunError(f"{text(run)}: not a folder; pass run directories made by impl.train")
    config = read_json(run / "config.json")
    if not isinstance(config, dict):
        raise RunError(f"{text(run / 'config.json')}: a JSON {kind(config)}, not a gan-spec config (an object); "
                       "pass a run directory made by impl.train")
    return config


def read_optional(path: Path) -> tuple[dict | None, str]:
    """An optional JSON object (metrics.json, latent.json): (the object, "") or (None, why it is left out)."""
    if not path.exists() and not path.is_symlink():
        return None, ""
    try:
        value = read_json(path)
    except RunError as exc:
        return None, f"{exc}; left out"
    if not isinstance(value, dict):
        return None, f"{text(path.name)}: a JSON {kind(value)}, not an object; left out"
    return value, ""


def read_metrics(run: Path) -> list[dict]:
    """The objects of metrics.jsonl, one per line; lines that are not JSON objects (cut short, garbage) skipped."""
    try:
        raw = (run / "metrics.jsonl").read_bytes()
    except OSError:
        return []
    rows = []
    for line in raw.decode("utf-8", "replace").splitlines():
        try:
            row = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows


def png(run: Path, path: Path) -> bytes | str:
    """The bytes of a PNG file of the run, or why it is not embedded: it must resolve (symlinks followed) to a
    regular file inside the run folder, start with the PNG signature and be of a plausible size."""
    try:
        real, root = path.resolve(strict=True), run.resolve(strict=True)
    except (OSError, RuntimeError):  # missing, a dangling or looping symlink
        return "missing or a broken link"
    if not real.is_relative_to(root):
        return "points outside the run folder"
    if not real.is_file():
        return "not a regular file"
    try:
        if real.stat().st_size > MAX_PNG_BYTES:
            return "too large"
        data = real.read_bytes()
    except OSError as exc:
        return f"cannot be read ({exc.strerror or type(exc).__name__})"
    return data if data.startswith(PNG_SIGNATURE) else "not a PNG"


def image(run: Path, path: Path) -> Image | str:
    """A PNG of the run decoded (RGB), or why not: png()'s checks, then a size check before decoding."""
    from PIL import Image

    data = png(run, path)
    if isinstance(data, str):
        return data
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data), formats=["PNG"])
            if img.width * img.height > MAX_PNG_PIXELS:
                return "too large"
            return img.convert("RGB")
    except (Image.DecompressionBombError, OSError, ValueError, SyntaxError):
        return "not a readable PNG"
