"""Stage II's two ways of enlarging a picture x4, both with IF's own pipeline classes.

* **From pure noise** (IF's way, ``IFSuperResolutionPipeline``): every step of the schedule runs; the small picture
  enters only as the condition (bilinearly upsampled, noise-augmented, concatenated to the UNet's input).
* **img2img-style** (``IFImg2ImgSuperResolutionPipeline``, the class IF uses to vary a picture at stage II): start
  from the *bicubic enlargement* noised to ``strength`` of the schedule and run only the remaining steps, with the
  same condition. mini-IF's stage II enlarges this way (``mini_backend().defaults[1].strength``): its small UNet
  corrects a good first guess more reliably than it paints the whole picture, and two steps are fast.

Pictures are ``(B, 3, H, W)`` tensors in ``[-1, 1]``.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

__all__ = ["start_picture", "pipeline_for", "img2img_arguments"]


def start_picture(image: torch.Tensor, side: int) -> torch.Tensor:
    """The bicubic enlargement img2img-style super-resolution starts from.

    Args:
        image: ``(B, 3, h, h)`` in ``[-1, 1]``, stage I's picture.
        side: the enlarged side (stage II's picture size).

    Returns:
        ``(B, 3, side, side)`` in ``[-1, 1]`` (bicubic overshoot clamped).
    """
    big = F.interpolate(image.float(), size=(side, side), mode="bicubic", align_corners=False)
    return big.clamp(-1, 1).to(image.dtype)


def pipeline_for(pipe, strength: float | None):
    """``pipe`` itself for IF's way (``strength`` is ``None``), else an ``IFImg2ImgSuperResolutionPipeline`` that shares
    ``pipe``'s components (nothing is loaded or copied)."""
    if strength is None:
        return pipe
    from diffusers import IFImg2ImgSuperResolutionPipeline

    components = dict(pipe.components)
    wrapped = IFImg2ImgSuperResolutionPipeline(
        **components, requires_safety_checker=components.get("safety_checker") is not None
    )
    wrapped.set_progress_bar_config(disable=True)
    return wrapped


def img2img_arguments(image: torch.Tensor, side: int, strength: float | None, steps: int) -> dict[str, Any]:
    """The extra arguments of the img2img-style call (none for IF's way): ``original_image`` and ``strength``.

    The pipeline runs the last ``int(steps * strength)`` of ``steps`` steps; when that is 0 (few steps, e.g.
    ``steps=2`` at strength 0.1) it would return no picture at all, so the strength is raised to run one step.

    >>> small = torch.zeros(1, 3, 8, 8)
    >>> img2img_arguments(small, 32, 0.1, 20)["strength"], img2img_arguments(small, 32, 0.1, 2)["strength"]
    (0.1, 0.5000000005)
    """
    if strength is None:
        return {}
    return {"original_image": start_picture(image, side), "strength": min(1.0, max(strength, (1 + 1e-9) / steps))}
