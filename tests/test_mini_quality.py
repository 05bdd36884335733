"""The stage II and guidance measurements of ``python -m iflearn.mini.evaluate`` measure what they say."""

from __future__ import annotations

import torch

from iflearn.mini import quality
from iflearn.mini.dataset import random_scene, render


def test_psnr_is_infinite_like_for_equal_pictures_and_falls_with_error() -> None:
    x = torch.rand(3, 8, 8) * 2 - 1
    assert quality.psnr(x, x) > 100
    assert quality.psnr(x, x + 0.1) > quality.psnr(x, x + 0.2)


def test_flat_spread_is_zero_for_the_truth_and_grows_with_mottling() -> None:
    import random

    truth = render(random_scene(random.Random(3)), 128)
    mottled = truth + 0.1 * torch.randn(truth.shape, generator=torch.Generator().manual_seed(0))
    assert quality.flat_spread(truth, truth) < 1e-6
    assert 0.08 < quality.flat_spread(mottled, truth) < 0.12  # the noise's own standard deviation
    mask = quality.flat_mask(truth)
    assert 0.3 < float(mask.float().mean()) < 1.0  # the edges are not flat, the rest is


def test_drawing_is_notebook_6s_picture() -> None:
    picture = quality.drawing(64)
    assert picture.shape == (1, 3, 64, 64) and picture.min() >= -1 and picture.max() <= 1
    centre, corner = picture[0, :, 32, 32], picture[0, :, 0, 0]
    assert centre[0] > 0.8 and corner[2] > 0.3  # yellow inside, purple outside
