"""Procedural captioned scenes: the data mini-IF is trained on.

Each scene is one anti-aliased shape (circle, square or triangle) of one colour and size, at one position,
on a plain background of another colour. Its caption follows one grammar::

    a [small|big] <colour> <shape> [<position phrase>] [on a <colour> background]

Optional parts are sometimes dropped; the picture then varies freely in what the caption leaves out, which is
how the model learns that an unmentioned attribute may be anything. Every scene is drawn from a seed, so the
dataset is infinite and reproducible.

Pictures are returned as ``(3, H, W)`` float tensors in ``[-1, 1]`` (IF's pixel range) at every resolution the
stages need; all resolutions of one scene show the same geometry, because each is rendered from the same
continuous description at 4x supersampling and box-filtered down.
"""

from __future__ import annotations

import hashlib
import itertools
import random
from dataclasses import dataclass, replace

import numpy as np
import torch
from PIL import Image, ImageDraw

__all__ = [
    "COLOURS",
    "BACKGROUND_COLOURS",
    "SHAPES",
    "SIZES",
    "POSITIONS",
    "Scene",
    "caption",
    "render",
    "random_scene",
    "all_captions",
    "short_captions",
    "is_held_out",
    "held_out_scenes",
]

#: Named colours (RGB 0-255). Shapes use the first seven; backgrounds may also be black.
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "green": (30, 170, 50),
    "blue": (30, 70, 220),
    "yellow": (240, 220, 30),
    "purple": (140, 40, 180),
    "white": (245, 245, 245),
    "orange": (250, 140, 20),
}
BACKGROUND_COLOURS: dict[str, tuple[int, int, int]] = {**COLOURS, "black": (10, 10, 10)}
SHAPES: tuple[str, ...] = ("circle", "square", "triangle")
#: Side length (or diameter) as a fraction of the picture's side.
SIZES: dict[str, float] = {"small": 0.34, "big": 0.58}
#: Centre of the shape as (x, y) fractions of the picture; y grows downwards.
POSITIONS: dict[str, tuple[float, float]] = {
    "in the center": (0.5, 0.5),
    "on the left": (0.28, 0.5),
    "on the right": (0.72, 0.5),
    "at the top": (0.5, 0.28),
    "at the bottom": (0.5, 0.72),
}


@dataclass(frozen=True)
class Scene:
    """One picture's description, and which parts of it the caption mentions.

    ``jitter`` is a small random offset (fractions of the side) and scale factor that make pictures of one
    caption differ slightly, as photographs of "the same" thing do.
    """

    colour: str
    shape: str
    size: str
    position: str
    background: str
    say_size: bool = True
    say_position: bool = True
    say_background: bool = True
    jitter: tuple[float, float, float] = (0.0, 0.0, 1.0)


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def caption(scene: Scene) -> str:
    """The scene's caption, e.g. ``"a big red circle on the left on a blue background"``."""
    words = [scene.size] if scene.say_size else []
    words += [scene.colour, scene.shape]
    text = f"{_article(words[0])} {' '.join(words)}"
    if scene.say_position:
        text += f" {scene.position}"
    if scene.say_background:
        text += f" on {_article(scene.background)} {scene.background} background"
    return text


def _polygon(scene: Scene, side: float) -> list[tuple[float, float]] | tuple[float, float, float, float]:
    """Shape outline in pixel coordinates of a ``side``-pixel canvas (bounding box for a circle)."""
    cx, cy = POSITIONS[scene.position]
    dx, dy, scale = scene.jitter
    cx, cy = (cx + dx) * side, (cy + dy) * side
    half = SIZES[scene.size] * scale * side / 2
    if scene.shape == "circle":
        return (cx - half, cy - half, cx + half, cy + half)
    if scene.shape == "square":
        return [(cx - half, cy - half), (cx + half, cy - half), (cx + half, cy + half), (cx - half, cy + half)]
    # Isosceles triangle, point up, filling its square bounding box.
    return [(cx, cy - half), (cx + half, cy + half), (cx - half, cy + half)]


def render(scene: Scene, size: int = 32) -> torch.Tensor:
    """Draw ``scene`` anti-aliased at ``size`` x ``size`` pixels.

    Returns:
        ``(3, size, size)`` float32 tensor in ``[-1, 1]``.
    """
    if size < 8:
        raise ValueError(f"render(size={size!r}): expected a picture side of at least 8 pixels.")
    ss = 4  # supersampling factor for anti-aliasing
    canvas = Image.new("RGB", (size * ss, size * ss), BACKGROUND_COLOURS[scene.background])
    draw = ImageDraw.Draw(canvas)
    outline = _polygon(scene, size * ss)
    if scene.shape == "circle":
        draw.ellipse(outline, fill=COLOURS[scene.colour])
    else:
        draw.polygon(outline, fill=COLOURS[scene.colour])
    small = canvas.resize((size, size), Image.Resampling.BOX)
    array = np.asarray(small, dtype=np.float32) / 127.5 - 1.0
    return torch.from_numpy(array).permute(2, 0, 1).contiguous()


def random_scene(rng: random.Random, p_drop: float = 0.3) -> Scene:
    """Draw a random scene; each optional caption part is dropped with probability ``p_drop``.

    Scenes whose full caption is held out for evaluation (:func:`is_held_out`) always drop at least one part,
    so the exact full caption never appears in training.
    """
    colour = rng.choice(list(COLOURS))
    background = rng.choice([c for c in BACKGROUND_COLOURS if c != colour])
    scene = Scene(
        colour=colour,
        shape=rng.choice(SHAPES),
        size=rng.choice(list(SIZES)),
        position=rng.choice(list(POSITIONS)),
        background=background,
        say_size=rng.random() >= p_drop,
        say_position=rng.random() >= p_drop,
        say_background=rng.random() >= p_drop,
        jitter=(rng.uniform(-0.04, 0.04), rng.uniform(-0.04, 0.04), rng.uniform(0.9, 1.1)),
    )
    if scene.say_size and scene.say_position and scene.say_background and is_held_out(scene):
        part = rng.choice(["say_size", "say_position", "say_background"])
        scene = replace(scene, **{part: False})
    return scene


def _full_scenes() -> list[Scene]:
    return [
        Scene(colour=c, shape=s, size=z, position=p, background=b)
        for c, s, z, p, b in itertools.product(COLOURS, SHAPES, SIZES, POSITIONS, BACKGROUND_COLOURS)
        if b != c
    ]


def is_held_out(scene: Scene) -> bool:
    """True for the ~12 % of full captions that training never shows (a fixed hash, not a random draw)."""
    key = f"{scene.colour}|{scene.shape}|{scene.size}|{scene.position}|{scene.background}"
    return hashlib.sha256(key.encode()).digest()[0] < 31


def held_out_scenes() -> list[Scene]:
    """Every scene whose full caption (all attributes given) is never seen in training."""
    return [s for s in _full_scenes() if is_held_out(s)]


def all_captions() -> list[str]:
    """Every caption training can produce, plus ``""`` (the empty caption used for guidance)."""
    texts = {""}
    for scene in _full_scenes():
        for flags in itertools.product([True, False], repeat=3):
            variant = replace(scene, say_size=flags[0], say_position=flags[1], say_background=flags[2])
            if all(flags) and is_held_out(scene):
                continue
            texts.add(caption(variant))
    return sorted(texts)


def short_captions() -> list[str]:
    """The captions that name only a colour and a shape (``"an orange square"``), plus ``""``: the whole caption
    set of a run with ``p_drop=1.0``, small enough to encode in a second."""
    texts = {""}
    for colour in COLOURS:
        for shape in SHAPES:
            texts.add(caption(Scene(colour, shape, "big", "in the center", "black", False, False, False)))
    return sorted(texts)
