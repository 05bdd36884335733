"""Make stage II's training inputs look like stage I's real outputs.

Stage II is trained on rendered pictures, whose colours are exactly the dataset's palette. Stage I's samples
are not: their colours drift a little, their edges are soft. A super-resolution model that has only seen
palette colours "snaps" a drifted colour to the nearest palette colour, in blotches. Two augmentations fix it:

1. :func:`colour_jitter` moves the colours of a scene, **the same way at both resolutions** (target and input),
   so the model learns to keep whatever colour its input has rather than to snap it to a palette.
2. :func:`soften` blurs the low-resolution input only, so the model learns to restore crisp edges from soft ones.
"""

from __future__ import annotations

import random

import torch
import torch.nn.functional as F

__all__ = ["colour_jitter", "soften"]


def colour_jitter(pictures: list[torch.Tensor], rng: random.Random, strength: float = 1.0) -> list[torch.Tensor]:
    """Apply one random colour change (saturation, per-channel gain and offset) to every picture in the list.

    Args:
        pictures: ``(3, H, W)`` tensors in ``[-1, 1]``, the same scene at different resolutions.
        rng: the random source (the change is drawn once, then applied to all pictures).
        strength: 0 leaves the colours alone; 1 is the training default.

    Returns:
        The changed pictures, each ``(3, H, W)`` in ``[-1, 1]``.
    """
    saturation = 1.0 - strength * rng.uniform(0.0, 0.45)
    gain = torch.tensor([1.0 + strength * rng.uniform(-0.15, 0.15) for _ in range(3)]).view(3, 1, 1)
    offset = torch.tensor([strength * rng.uniform(-0.2, 0.2) for _ in range(3)]).view(3, 1, 1)
    out = []
    for picture in pictures:
        grey = picture.mean(dim=0, keepdim=True)
        mixed = grey + saturation * (picture - grey)
        out.append((mixed * gain + offset).clamp(-1.0, 1.0))
    return out


def soften(picture: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian blur of a ``(3, H, W)`` picture with standard deviation ``sigma`` pixels (0: unchanged)."""
    if sigma <= 0:
        return picture
    radius = max(1, int(round(2.5 * sigma)))
    x = torch.arange(-radius, radius + 1, dtype=torch.float32)
    kernel = torch.exp(-(x**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    padded = F.pad(picture[None], (radius, radius, radius, radius), mode="replicate")
    blurred = F.conv2d(padded, kernel.view(1, 1, 1, -1).expand(3, 1, 1, -1), groups=3)
    blurred = F.conv2d(blurred, kernel.view(1, 1, -1, 1).expand(3, 1, -1, 1), groups=3)
    return blurred[0]
