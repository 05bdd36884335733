"""Pictures for learners: grids, filmstrips and conversions between tensors and PIL images."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

__all__ = ["to_pil", "image_grid", "upscale_nearest"]


def to_pil(image: torch.Tensor | Image.Image) -> Image.Image:
    """One picture as a PIL image.

    Args:
        image: ``(3, H, W)`` or ``(1, 3, H, W)`` float tensor in ``[-1, 1]`` (values outside are clipped), or a
            PIL image (returned unchanged).
    """
    if isinstance(image, Image.Image):
        return image
    if image.ndim == 4 and image.shape[0] == 1:
        image = image[0]
    if image.ndim != 3 or image.shape[0] != 3:
        raise ValueError(
            f"to_pil: expected a (3, H, W) tensor in [-1, 1], got shape {tuple(image.shape)}. "
            "Pass one picture at a time, e.g. images[0]."
        )
    array = ((image.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return Image.fromarray(array.permute(1, 2, 0).numpy())


def upscale_nearest(image: Image.Image, side: int) -> Image.Image:
    """Enlarge a small picture to ``side`` pixels without smoothing, so its true pixels stay visible."""
    return image.resize((side, side), Image.Resampling.NEAREST)


def image_grid(
    images: torch.Tensor | Sequence[torch.Tensor | Image.Image],
    captions: Sequence[str] | None = None,
    columns: int = 4,
    cell: int = 128,
) -> Image.Image:
    """Lay pictures out in a grid, each enlarged (nearest neighbour) to ``cell`` pixels, captions beneath.

    Args:
        images: ``(B, 3, H, W)`` tensor in ``[-1, 1]`` or a list of pictures.
        captions: one line of text per picture (wrapped to fit), or ``None``.
    """
    pictures = [upscale_nearest(to_pil(im), cell) for im in images]
    if not pictures:
        raise ValueError("image_grid: got no pictures to lay out.")
    columns = max(1, min(columns, len(pictures)))
    rows = (len(pictures) + columns - 1) // columns
    text_h = 40 if captions else 0
    grid = Image.new("RGB", (columns * (cell + 4) + 4, rows * (cell + text_h + 4) + 4), (255, 255, 255))
    draw = ImageDraw.Draw(grid)
    font = ImageFont.load_default()
    for i, picture in enumerate(pictures):
        x, y = 4 + (i % columns) * (cell + 4), 4 + (i // columns) * (cell + text_h + 4)
        grid.paste(picture, (x, y))
        if captions:
            _draw_wrapped(draw, captions[i], x, y + cell + 2, cell, font)
    return grid


def _draw_wrapped(draw: ImageDraw.ImageDraw, text: str, x: int, y: int, width: int, font) -> None:
    line, lines = "", []
    for word in text.split():
        trial = f"{line} {word}".strip()
        if draw.textlength(trial, font=font) > width and line:
            lines.append(line)
            line = word
        else:
            line = trial
    lines.append(line)
    for k, text_line in enumerate(lines[:3]):
        draw.text((x, y + 12 * k), text_line, fill=(0, 0, 0), font=font)


def _as_numpy(image: Image.Image) -> np.ndarray:
    return np.asarray(image)
