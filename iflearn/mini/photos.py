"""Photographs for stage II's training: random crops of the pictures bundled with scikit-image (no download).

Stage II learns from rendered scenes, which are flat colours with sharp edges; on a photograph such a model paints
flat patches and loses texture. Mixing in crops of real photographs teaches it natural detail. The photographs
the evaluation and notebook 6 use (:data:`HELD_OUT`) are never cropped for training; ``cat`` is the same picture
as ``chelsea``, so it is held out too.

Crops are ``(3, 128, 128)`` float tensors in ``[-1, 1]``, like :func:`iflearn.mini.dataset.render`'s pictures.
"""

from __future__ import annotations

import random
from functools import lru_cache

import numpy as np
import torch
from PIL import Image

__all__ = ["HELD_OUT", "TRAINING_PHOTOS", "training_photos", "random_crop"]

#: Photographs kept out of training: the evaluation's (``iflearn.mini.quality.photo_report``) and notebook 6's.
HELD_OUT: tuple[str, ...] = ("astronaut", "chelsea", "cat", "coffee", "rocket")
#: scikit-image pictures that load offline and are cropped for training (grey ones become grey RGB).
TRAINING_PHOTOS: tuple[str, ...] = (
    "hubble_deep_field", "immunohistochemistry", "retina", "colorwheel", "stereo_motorcycle",
    "camera", "moon", "brick", "grass", "gravel", "coins", "clock", "page", "text", "cell",
)


def _as_rgb(array: np.ndarray) -> np.ndarray:
    if array.dtype == bool:
        array = array.astype(np.uint8) * 255
    if array.ndim == 2:
        array = np.stack([array] * 3, axis=-1)
    return np.ascontiguousarray(array[..., :3].astype(np.uint8))


@lru_cache(maxsize=1)
def training_photos() -> tuple[Image.Image, ...]:
    """The training photographs as RGB PIL images (both views of the stereo motorcycle), loaded once."""
    from skimage import data

    pictures = []
    for name in TRAINING_PHOTOS:
        loaded = getattr(data, name)()
        arrays = loaded[:2] if isinstance(loaded, tuple) else (loaded,)
        pictures += [Image.fromarray(_as_rgb(a)) for a in arrays]
    return tuple(pictures)


def random_crop(rng: random.Random, size: int = 128) -> torch.Tensor:
    """A random square crop of a random training photograph, resized to ``size`` x ``size`` (area filter).

    The crop's side is drawn between ``size`` and the photograph's shorter side, so the detail seen ranges from
    the photograph's own pixels to a whole-picture view (as :func:`iflearn.noise.load_photo` shows one); it is
    flipped left-right half of the time.

    Returns:
        ``(3, size, size)`` float32 tensor in ``[-1, 1]``.
    """
    photo = rng.choice(training_photos())
    w, h = photo.size
    side = rng.randint(min(size, w, h), min(w, h))
    left, top = rng.randint(0, w - side), rng.randint(0, h - side)
    crop = photo.crop((left, top, left + side, top + side)).resize((size, size), Image.Resampling.BOX)
    if rng.random() < 0.5:
        crop = crop.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    array = np.asarray(crop, dtype=np.float32) / 127.5 - 1.0
    return torch.from_numpy(array).permute(2, 0, 1).contiguous()
