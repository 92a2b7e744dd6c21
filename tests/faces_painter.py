"""Anime-style faces painted with PIL at 64x64, for testing the anime-face detector and the face measures on images
whose answer is known (the anime-face data set is not shipped): a skin-coloured face under a frame of hair, two
large eyes of a given colour (white, iris, dark pupil, a black upper lash, a highlight), a nose dot and a mouth.

Every proportion is a parameter (`Face`), so a test can paint a typical face, one with eyes of two colours or
sizes, or a deformed one, and a population of faces that vary as real ones do (`population`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

import numpy as np
import torch
from PIL import Image, ImageDraw

RGB = tuple[int, int, int]
SIZE, SUPERSAMPLE = 64, 4  # painted at 256x256, then shrunk (antialiased) to 64x64
SKIN: RGB = (255, 226, 205)
EYE_COLOURS: dict[str, RGB] = {"blue": (40, 90, 220), "red": (210, 30, 30), "green": (40, 170, 60),
                               "purple": (140, 50, 190)}
HAIR_COLOURS: tuple[RGB, ...] = ((90, 50, 30), (30, 30, 40), (200, 160, 90), (150, 60, 140), (70, 90, 160))


@dataclass(frozen=True)
class Face:
    """One painted face; lengths in pixels of the 64x64 image, the face centred horizontally at x = 32."""

    left_colour: RGB = EYE_COLOURS["blue"]  # the eye on the image's left
    right_colour: RGB = EYE_COLOURS["blue"]
    gap: float = 10.0  # half the distance between the eyes' centres
    eye_width: float = 6.0  # half widths and heights of each eye
    eye_height: float = 9.0
    right_eye_scale: float = 1.0  # the right eye's size against the left's (eyes of two sizes)
    eye_y: float = 37.0  # the eyes' centre height
    right_eye_shift: float = 0.0  # the right eye's height against the left's (a crooked face)
    head: float = 22.0  # half the face's width
    chin: float = 60.0  # the chin's height
    mouth_y: float = 52.0
    hair: RGB = HAIR_COLOURS[0]
    eyes: bool = True  # False: a face without eyes (not a face to the detector)


def _eye(draw: ImageDraw.ImageDraw, x: float, y: float, w: float, h: float, colour: RGB) -> None:
    s = SUPERSAMPLE
    draw.ellipse([s * (x - w), s * (y - h), s * (x + w), s * (y + h)], fill=(255, 255, 255))
    draw.ellipse([s * (x - w + 1), s * (y - h + 2), s * (x + w - 1), s * (y + h)], fill=colour)
    dark = tuple(int(c * 0.4) for c in colour)
    draw.ellipse([s * (x - w / 2), s * (y - h / 2 + 2), s * (x + w / 2), s * (y + h / 2)], fill=dark)
    draw.line([s * (x - w - 1), s * (y - h + 1), s * (x + w + 1), s * (y - h)], fill=(20, 10, 10), width=2 * s)
    draw.ellipse([s * (x - w + 1.5), s * (y - h + 3), s * (x - w + 4), s * (y - h + 5.5)], fill=(255, 255, 255))


def paint(face: Face = Face()) -> np.ndarray:
    """The face as a (64, 64, 3) uint8 RGB array."""
    s, cx = SUPERSAMPLE, SIZE / 2
    image = Image.new("RGB", (SIZE * s, SIZE * s), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    draw.rectangle([s * (cx - face.head - 8), 0, s * (cx + face.head + 8), SIZE * s], fill=face.hair)
    outline = [(cx - face.head, 20), (cx + face.head, 20), (cx + face.head, 44), (cx, face.chin), (cx - face.head, 44)]
    draw.polygon([(s * x, s * y) for x, y in outline], fill=SKIN)
    draw.pieslice([s * (cx - face.head - 8), -10 * s, s * (cx + face.head + 8), 56 * s], 180, 360, fill=face.hair)
    w, h, k = face.eye_width, face.eye_height, face.right_eye_scale
    if face.eyes:
        _eye(draw, cx - face.gap, face.eye_y, w, h, face.left_colour)
        _eye(draw, cx + face.gap, face.eye_y + face.right_eye_shift, w * k, h * k, face.right_colour)
    draw.point([(s * cx, s * 45)], fill=(200, 150, 140))
    draw.line([s * (cx - 2), s * face.mouth_y, s * (cx + 2), s * face.mouth_y], fill=(150, 60, 60), width=s)
    return np.asarray(image.resize((SIZE, SIZE), Image.Resampling.LANCZOS))


def as_batch(arrays: list[np.ndarray]) -> torch.Tensor:
    """(N, 3, 64, 64) in [-1, 1], as a generator's images are."""
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).float() / 127.5 - 1


def population(n: int, seed: int = 0, **change: object) -> list[Face]:
    """n faces that vary as a set of real faces does: each with one eye colour for both eyes and a hair colour from
    the palettes, and its proportions jittered by a pixel or so; `change` sets fields for all of them."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        colour = rng.choice(list(EYE_COLOURS.values()))
        face = Face(left_colour=colour, right_colour=colour, hair=rng.choice(HAIR_COLOURS),
                    gap=rng.uniform(9.0, 11.0), eye_width=rng.uniform(5.5, 6.5), eye_height=rng.uniform(8.0, 10.0),
                    eye_y=rng.uniform(35.5, 38.5), head=rng.uniform(20.0, 24.0), chin=rng.uniform(58.0, 62.0),
                    mouth_y=rng.uniform(51.0, 53.0))
        out.append(replace(face, **change))  # type: ignore[arg-type]  # field names checked by dataclasses
    return out
