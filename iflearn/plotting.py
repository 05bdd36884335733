"""Pictures for learners: grids, filmstrips and conversions between tensors and PIL images.

Importing this module lets matplotlib draw Hangul (:func:`iflearn.fonts.use_hangul_fallback`), so figures of
the Korean edition render without the learner installing a font.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image, ImageDraw

from iflearn.fonts import pil_font, use_hangul_fallback

__all__ = ["to_pil", "image_grid", "upscale_nearest", "true_size_row", "animation_gif", "cascade_map", "show_grid"]

use_hangul_fallback()


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
    font = pil_font(text="".join(captions or []))
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


def true_size_row(images: Sequence[torch.Tensor | Image.Image], labels: Sequence[str]) -> Image.Image:
    """Pictures side by side at their true pixel size (no enlarging), bottom-aligned, labels beneath."""
    pictures = [to_pil(im) for im in images]
    font = pil_font(text="".join(labels))
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    slots = [max(p.width, int(measure.textlength(label, font=font)) + 4) for p, label in zip(pictures, labels)]
    height = max(p.height for p in pictures)
    canvas = Image.new("RGB", (sum(slots) + 12 * (len(pictures) + 1), height + 30), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    x = 12
    for picture, label, slot in zip(pictures, labels, slots):
        canvas.paste(picture, (x, height - picture.height + 4))
        draw.text((x, height + 10), label, fill=(0, 0, 0), font=font)
        x += slot + 12
    return canvas


def animation_gif(frames: Sequence[torch.Tensor | Image.Image], side: int = 96, ms_per_frame: int = 120) -> bytes:
    """An animated GIF (as bytes, for ``IPython.display.Image(data=..., format="gif")``) of the frames."""
    import io

    pictures = [upscale_nearest(to_pil(f), side) for f in frames]
    buffer = io.BytesIO()
    pictures[0].save(buffer, format="GIF", save_all=True, append_images=pictures[1:], duration=ms_per_frame, loop=0)
    return buffer.getvalue()


def cascade_map(sizes: Sequence[int] = (64, 256, 1024), encoder: str = "T5 v1.1 XXL\n(frozen, 4.5 B)"):
    """A picture of IF: prompt → text encoder → stage I → stage II → stage III, with each stage's picture size.

    Returns:
        A matplotlib ``Figure``.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    fig, ax = plt.subplots(figsize=(10, 2.6))
    boxes = [("prompt\n\"a photo of ...\"", "#eeeeee"), (encoder, "#cfe2ff")]
    names = ["stage I\nbase model", "stage II\nsuper-resolution", "stage III\nx4 upscaler"]
    colours = ["#d1e7dd", "#fff3cd", "#f8d7da"]
    for i, side in enumerate(sizes):
        boxes.append((f"{names[i]}\n{side}×{side} px", colours[i]))
    for i, (label, colour) in enumerate(boxes):
        x = i * 2.1
        ax.add_patch(FancyBboxPatch((x, 0), 1.7, 1.2, boxstyle="round,pad=0.05", fc=colour, ec="black"))
        ax.text(x + 0.85, 0.6, label, ha="center", va="center", fontsize=9)
        if i:
            ax.add_patch(FancyArrowPatch((x - 0.38, 0.6), (x - 0.02, 0.6), arrowstyle="->", mutation_scale=15))
    ax.annotate("prompt embeddings condition stages I and II", xy=(3.15, 1.25), xytext=(3.15, 1.65), ha="center",
                fontsize=8, arrowprops=dict(arrowstyle="-"))
    ax.set_xlim(-0.2, len(boxes) * 2.1)
    ax.set_ylim(-0.3, 1.9)
    ax.axis("off")
    ax.set_title("The DeepFloyd IF cascade: text → 64 px → 256 px → 1024 px (pixel space until stage III)")
    fig.tight_layout()
    return fig


def show_grid(
    pictures: Sequence[torch.Tensor | Image.Image],
    titles: Sequence[str],
    suptitle: str,
    columns: int | None = None,
    size: float = 2.0,
) -> None:
    """Show pictures in a matplotlib grid, each titled and labelled with its true size in pixels.

    Pixels are drawn without smoothing (nearest neighbour), so a 32-pixel picture shows its 32 pixels.

    Args:
        pictures: ``(1, 3, H, W)`` or ``(3, H, W)`` float tensors in ``[-1, 1]``, or PIL images; sizes may differ.
        titles: one title per picture.
        suptitle: the figure's title.
        columns: pictures per row (default: all in one row).
        size: the side of each picture in inches.

    Nothing is returned (so a notebook cell does not show the figure twice); the figure is shown and closed.
    """
    import matplotlib.pyplot as plt

    if len(pictures) != len(titles):
        raise ValueError(f"show_grid: got {len(pictures)} pictures but {len(titles)} titles; give one title each.")
    if not pictures:
        raise ValueError("show_grid: got no pictures to show.")
    columns = max(1, min(columns or len(pictures), len(pictures)))
    rows = (len(pictures) + columns - 1) // columns
    fig, axes = plt.subplots(rows, columns, figsize=(size * columns, (size + 0.5) * rows + 0.4), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, picture, title in zip(axes.flat, pictures, titles):
        image = to_pil(picture)
        ax.axis("on")
        ax.imshow(image, interpolation="nearest")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel(f"{image.width} x {image.height} px", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(suptitle)
    fig.tight_layout()
    plt.show()
    plt.close(fig)
