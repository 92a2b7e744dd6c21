"""Values and images read from a folder that someone else may have written, made safe to show.

Every image must be a real PNG lying inside the run folder (a symlink to a private file is refused, never
embedded), text is made printable (names that are not UTF-8, lone surrogates from JSON), numbers are finite or
None, and `esc` is the one way values reach HTML. The folder's JSON files are read by impl.runs.folder.RunFolder
(trusted=False).
"""

from __future__ import annotations

import html
import io
import math
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

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
