"""Image grids: a run's sample grid (save_grid), grids that say what they show (tiles separated by a grey gap, so
saturated white tiles stay apart, rows and columns labelled in the margins), strips of whole images (a run's
sample grids over its epochs) and grids side by side (a study's arms).

    labelled_grid(images, ["z[0] = 10", "z[20] = 10"], ["vector 1", ..., "vector 8"], path)   # a latent grid
    strip([grid_epoch_1, grid_epoch_5], ["epoch 1", "epoch 5"])                               # a PIL image
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import torch
from PIL import Image, ImageDraw, ImageFont

from impl.core.files import Root

GAP = 4  # pixels of grey between tiles and around the block of tiles
GREY = 0.5  # the gap's brightness in [0, 1]: apart from both black and white tiles
PAD = 6  # pixels between a label and the tiles


def font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    """Pillow's own font at `size` pixels (its fixed bitmap font where Pillow was built without FreeType)."""
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, ValueError, OSError):
        return ImageFont.load_default()


def tiles_of(images: torch.Tensor) -> list[Image.Image]:
    """Images in [-1, 1], [N, C, H, W], as RGB PIL tiles; images under 64 pixels are enlarged by a whole factor
    with nearest neighbours (28x28 garments become 84x84 with sharp pixels), as the sample grids are."""
    images = images.detach().float().cpu()
    if images.shape[-1] < 64:
        images = torch.nn.functional.interpolate(images, scale_factor=math.ceil(64 / images.shape[-1]), mode="nearest")
    if images.shape[1] == 1:
        images = images.expand(-1, 3, -1, -1)
    pixels = (images[:, :3] * 0.5 + 0.5).mul(255).add(0.5).clamp(0, 255).to(torch.uint8)
    return [Image.fromarray(tile.permute(1, 2, 0).numpy(), "RGB") for tile in pixels]


def compose(tiles: Sequence[Image.Image], rows: int, columns: int, row_labels: Sequence[str] = (),
            column_labels: Sequence[str] = (), gap: int = GAP, gap_value: float = GREY) -> Image.Image:
    """`tiles` (row by row) on a grey block with `gap` pixels between and around them, on a white page with the
    row labels left of their rows and the column labels above their columns (either may be empty)."""
    if len(tiles) != rows * columns:
        raise ValueError(f"{len(tiles)} tiles for a {rows}x{columns} grid")
    cell_w, cell_h = max(t.width for t in tiles), max(t.height for t in tiles)
    text = font(max(11, min(16, cell_h // 6)))
    text_h = int(max((text.getbbox(str(label))[3] for label in column_labels), default=0))  # whole pixels already
    left = int(max((text.getbbox(str(label))[2] for label in row_labels), default=0)) + 2 * PAD if row_labels else 0
    top = text_h + 2 * PAD if column_labels else 0
    block_w, block_h = columns * cell_w + (columns + 1) * gap, rows * cell_h + (rows + 1) * gap
    page = Image.new("RGB", (left + block_w, top + block_h), "white")
    grey = round(min(max(gap_value, 0.0), 1.0) * 255)
    page.paste((grey, grey, grey), (left, top, left + block_w, top + block_h))
    draw = ImageDraw.Draw(page)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, columns)
        page.paste(tile.convert("RGB"), (left + gap + c * (cell_w + gap), top + gap + r * (cell_h + gap)))
    for r, label in enumerate(row_labels[:rows]):  # right-aligned, centred on the row
        x0, y0, x1, y1 = text.getbbox(str(label))
        middle = top + gap + r * (cell_h + gap) + cell_h // 2
        draw.text((left - PAD - x1, middle - (y0 + y1) // 2), str(label), fill="black", font=text)
    for c, label in enumerate(column_labels[:columns]):  # centred above the column
        x0, y0, x1, y1 = text.getbbox(str(label))
        centre = left + gap + c * (cell_w + gap) + cell_w // 2
        draw.text((centre - (x0 + x1) // 2, top - PAD - y1), str(label), fill="black", font=text)
    return page


def labelled_grid(images: torch.Tensor, row_labels: Sequence[str], col_labels: Sequence[str], root: Root,
                  relative: str, gap_value: float = GREY) -> Path:
    """Images in [-1, 1] as a PNG grid of len(row_labels) rows and len(col_labels) columns, labelled, with grey
    gaps between the tiles."""
    page = compose(tiles_of(images), len(row_labels), len(col_labels), row_labels, col_labels, gap_value=gap_value)
    return root.write_with(relative, lambda fh: page.save(fh, format="PNG"))


def strip(images: Sequence[Image.Image], labels: Sequence[str], vertical: bool | None = None,
          gap_value: float = GREY, max_width: int | None = None) -> Image.Image:
    """Whole images in one row, each labelled above, or in one column, labelled left. By default images at least
    twice as wide as high (a one-row sample grid) are stacked in a column, others placed side by side. With
    `max_width`, images are shrunk so that the tiles fit in that many pixels (labels keep their size)."""
    if vertical is None:
        vertical = all(img.width >= 2 * img.height for img in images)
    tiles_width = max(img.width for img in images) if vertical else sum(img.width for img in images)
    if max_width and tiles_width > max_width:
        scale = max_width / tiles_width
        images = [img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))),
                             Image.Resampling.LANCZOS) for img in images]
    if vertical:
        return compose(images, len(images), 1, row_labels=labels, gap_value=gap_value)
    return compose(images, 1, len(images), column_labels=labels, gap_value=gap_value)


def grid_columns(n: int) -> int:
    """Columns of a sample grid: one row up to 10 images (report 004's 8), rows of 10 for 20, else square."""
    if n <= 10:
        return n
    return 10 if n % 10 == 0 and n <= 40 else math.ceil(math.sqrt(n))


def save_grid(images: torch.Tensor, root: Root, relative: str, columns: int | None = None) -> Path:
    """Images in [-1, 1] as one PNG grid."""
    from torchvision.utils import save_image

    images = images.detach().float().cpu()
    if images.shape[-1] < 64:  # 28x28 garments are too small to look at: enlarge, keeping the pixels sharp
        images = torch.nn.functional.interpolate(images, scale_factor=math.ceil(64 / images.shape[-1]), mode="nearest")
    nrow = columns or grid_columns(len(images))
    return root.write_with(relative, lambda fh: save_image(images * 0.5 + 0.5, fh, format="png", nrow=nrow,
                                                           padding=2, pad_value=1.0))


def side_by_side(grids: list[Path], root: Root, relative: str, gap: int = 20) -> Path:
    from PIL import Image

    images = [Image.open(g).convert("RGB") for g in grids]
    canvas = Image.new("RGB", (sum(i.width for i in images) + gap * (len(images) - 1), max(i.height for i in images)),
                       "white")
    x = 0
    for img in images:
        canvas.paste(img, (x, 0))
        x += img.width + gap
        img.close()
    return root.write_with(relative, lambda fh: canvas.save(fh, format="PNG"))
