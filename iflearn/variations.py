"""Variations on one picture: image-to-image, inpainting, and super-resolution of your own picture.

Each reuses the loaded stage I or stage II components (``IFImg2ImgPipeline(**stage1.components)``), so nothing
is loaded twice. Pictures go in and come out as ``(1, 3, H, W)`` tensors in ``[-1, 1]``.
"""

from __future__ import annotations

import torch

from iflearn import upscale
from iflearn.cascade import Cascade
from iflearn.errors import (BadArgumentError, check_guidance, check_noise_level, check_steps, check_strength,
                            check_timesteps)
from iflearn.i18n import tr

__all__ = ["img2img", "inpaint", "super_resolve", "box_mask", "shape_mask", "mask_iou"]


def _check_picture(image: torch.Tensor, side: int, name: str = "image") -> torch.Tensor:
    if not isinstance(image, torch.Tensor) or image.ndim != 4 or image.shape[:2] != (1, 3) or image.shape[-1] != side \
            or image.shape[-2] != side:
        got = tuple(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
        raise BadArgumentError(
            tr(f"{name}: expected a (1, 3, {side}, {side}) tensor in [-1, 1] for this stage, got {got}. "
               f"Resize it first, e.g. torch.nn.functional.interpolate(x, size={side}, mode='area').",
               f"{name}: 이 단계에는 [-1, 1] 범위의 (1, 3, {side}, {side}) 텐서가 필요한데 {got} 가 들어왔습니다. "
               f"먼저 크기를 바꾸세요. 예: torch.nn.functional.interpolate(x, size={side}, mode='area').")
        )
    return image.float()


def box_mask(side: int, top: int, left: int, height: int, width: int) -> torch.Tensor:
    """A ``(1, 1, side, side)`` mask: 1 inside the box (to redraw), 0 outside (to keep)."""
    mask = torch.zeros(1, 1, side, side)
    mask[..., top : top + height, left : left + width] = 1.0
    return mask


def shape_mask(image: torch.Tensor, background: torch.Tensor | None = None, threshold: float = 0.5) -> torch.Tensor:
    """Where a picture differs from its background: ``(1, 1, H, W)`` of 1 (shape) and 0 (background).

    Args:
        image: ``(1, 3, H, W)`` tensor in ``[-1, 1]``.
        background: ``(3,)`` colour in ``[-1, 1]``; default: the median colour of the picture's border.
        threshold: RGB distance (in units of ``[-1, 1]``) above which a pixel counts as shape.
    """
    if background is None:
        border = torch.cat([image[0, :, 0], image[0, :, -1], image[0, :, :, 0], image[0, :, :, -1]], dim=1)
        background = border.median(dim=1).values
    distance = (image - background.reshape(1, 3, 1, 1)).pow(2).sum(dim=1, keepdim=True).sqrt()
    return (distance > threshold).float()


def mask_iou(a: torch.Tensor, b: torch.Tensor) -> float:
    """Intersection over union of two 0/1 masks of the same shape (1 = the same pixels, 0 = none shared)."""
    a, b = a.bool(), b.bool()
    union = (a | b).sum().item()
    return (a & b).sum().item() / union if union else 1.0


def _embeds(cascade: Cascade, prompt: str):
    enc = cascade.encode(prompt)
    return enc.prompt_embeds, enc.negative_embeds


@torch.no_grad()
def img2img(cascade: Cascade, image: torch.Tensor, prompt: str, strength: float = 0.7, steps: int | None = None,
            guidance_scale: float | None = None, seed: int = 0) -> torch.Tensor:
    """Keep a picture's layout, change it towards the prompt (the source material's "style transfer").

    The picture is noised to step ``strength * T`` and denoised from there with the prompt: small ``strength``
    keeps most of it, ``1.0`` redraws it from pure noise.
    """
    from diffusers import IFImg2ImgPipeline

    check_strength(strength)
    side = cascade.backend.sizes[0]
    image = _check_picture(image, side)
    defaults = cascade.backend.defaults[0]
    steps = check_steps(steps if steps is not None else defaults.steps * 2)
    guidance_scale = check_guidance(guidance_scale if guidance_scale is not None else defaults.guidance_scale)
    prompt_embeds, negative = _embeds(cascade, prompt)  # first, so a recipe that frees T5 never holds both
    pipe = IFImg2ImgPipeline(**cascade.pipe("stage1").components, requires_safety_checker=cascade.backend.name == "real")
    pipe.set_progress_bar_config(disable=True)
    out = pipe(image=image, prompt_embeds=prompt_embeds, negative_prompt_embeds=negative, strength=strength,
               num_inference_steps=steps, guidance_scale=guidance_scale,
               generator=torch.Generator().manual_seed(seed), output_type="pt")
    return out.images.float().cpu().clamp(-1, 1)


@torch.no_grad()
def inpaint(cascade: Cascade, image: torch.Tensor, mask: torch.Tensor, prompt: str, strength: float = 1.0,
            steps: int | None = None, guidance_scale: float | None = None, seed: int = 0) -> torch.Tensor:
    """Redraw only where ``mask`` is 1, following the prompt; keep the rest of the picture."""
    from diffusers import IFInpaintingPipeline

    check_strength(strength)
    side = cascade.backend.sizes[0]
    image = _check_picture(image, side)
    if not isinstance(mask, torch.Tensor) or tuple(mask.shape) != (1, 1, side, side):
        raise BadArgumentError(
            tr(f"mask: expected a (1, 1, {side}, {side}) tensor of 0 (keep) and 1 (redraw); "
               f"got {tuple(mask.shape) if isinstance(mask, torch.Tensor) else type(mask).__name__}. Try box_mask().",
               f"mask: 0(유지)과 1(다시 그림)로 된 (1, 1, {side}, {side}) 텐서가 필요합니다. box_mask()를 써 보세요.")
        )
    defaults = cascade.backend.defaults[0]
    steps = check_steps(steps if steps is not None else defaults.steps)
    guidance_scale = check_guidance(guidance_scale if guidance_scale is not None else defaults.guidance_scale)
    prompt_embeds, negative = _embeds(cascade, prompt)  # first, so a recipe that frees T5 never holds both
    pipe = IFInpaintingPipeline(**cascade.pipe("stage1").components, requires_safety_checker=cascade.backend.name == "real")
    pipe.set_progress_bar_config(disable=True)
    out = pipe(image=image, mask_image=mask, prompt_embeds=prompt_embeds, negative_prompt_embeds=negative,
               strength=strength, num_inference_steps=steps, guidance_scale=guidance_scale,
               generator=torch.Generator().manual_seed(seed), output_type="pt")
    return out.images.float().cpu().clamp(-1, 1)


@torch.no_grad()
def super_resolve(cascade: Cascade, image: torch.Tensor, prompt: str = "", noise_level: int | None = None,
                  steps: int | None = None, guidance_scale: float | None = None, seed: int = 0,
                  timesteps: list[int] | None = None) -> torch.Tensor:
    """Stage II on any small picture of stage I's size (yours, not only generated ones): x4 larger.

    Args:
        image: ``(1, 3, s, s)`` in ``[-1, 1]``, ``s`` stage I's side.
        steps: a step count instead of the backend's default schedule; where stage II enlarges img2img-style
            (mini-IF) the last ``strength`` of them run.
        timesteps: denoise at exactly these timesteps, e.g. ``[55, 10, 0]``; where stage II enlarges img2img-style
            (mini-IF) it starts from the bicubic enlargement at the first of them (unnoised on mini-IF,
            ``defaults.deterministic``).

    Returns:
        ``(1, 3, 4 s, 4 s)`` in ``[-1, 1]``.
    """
    side = cascade.backend.sizes[0]
    image = _check_picture(image, side)
    defaults = cascade.backend.defaults[1]
    level = check_noise_level(noise_level if noise_level is not None else defaults.noise_level)
    if steps is not None:
        steps = check_steps(steps, "stage II")
    guidance_scale = check_guidance(guidance_scale if guidance_scale is not None else defaults.guidance_scale, "stage II")
    if timesteps is not None:
        timesteps = check_timesteps(timesteps)
    extra = upscale.sampling_arguments(image, cascade.backend.sizes[1], defaults, steps, timesteps)
    prompt_embeds, negative = _embeds(cascade, prompt)
    pipe = upscale.pipeline_for(cascade.pipe("stage2"), defaults.strength, defaults.deterministic)
    pipe.set_progress_bar_config(disable=True)
    out = pipe(image=image, prompt_embeds=prompt_embeds, negative_prompt_embeds=negative, noise_level=level,
               guidance_scale=guidance_scale, **extra, generator=torch.Generator().manual_seed(seed), output_type="pt")
    return out.images.float().cpu().clamp(-1, 1)
