"""The denoising loop of ``IFPipeline.__call__``, unrolled so a learner can watch every step.

``denoise`` follows the pipeline's numbered steps exactly (same random draws in the same order), so its result
equals ``IFPipeline(...)``'s for the same seed; a test holds this. Each step: the UNet predicts the noise twice
(without and with the text), classifier-free guidance mixes the two, and the scheduler takes one step from
``x_t`` to ``x_{t-1}`` using the learned variance and dynamic thresholding.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from diffusers.utils.torch_utils import randn_tensor
from tqdm.auto import tqdm

from iflearn.errors import check_guidance, check_steps

__all__ = ["DenoiseStep", "Trajectory", "classifier_free_guidance", "denoise", "dynamic_threshold", "variance_range"]


@dataclass
class DenoiseStep:
    """One step of the loop. ``x_t`` is the input picture, ``pred_x0`` the model's current guess of the clean
    picture (after thresholding), ``x_prev`` the output; all ``(B, 3, H, W)``."""

    t: int
    x_t: torch.Tensor
    pred_x0: torch.Tensor
    x_prev: torch.Tensor


@dataclass
class Trajectory:
    """The loop's result: the final picture ``(B, 3, H, W)`` in ``[-1, 1]`` and, optionally, every step."""

    image: torch.Tensor
    steps: list[DenoiseStep] = field(default_factory=list)


def classifier_free_guidance(noise_uncond: torch.Tensor, noise_text: torch.Tensor, guidance_scale: float) -> torch.Tensor:
    """``eps_uncond + w * (eps_text - eps_uncond)``: w = 1 is the text-conditioned prediction, w > 1 exaggerates
    what the text changes (Ho & Salimans 2022; IF's default w = 7)."""
    return noise_uncond + guidance_scale * (noise_text - noise_uncond)


def dynamic_threshold(x0: torch.Tensor, ratio: float = 0.95, max_value: float = 1.5) -> torch.Tensor:
    """Imagen's dynamic thresholding of a predicted clean picture ``(B, C, H, W)``.

    s = the ``ratio`` quantile of |x0| per picture, clamped to ``[1, max_value]``; then x0 is clipped to
    ``[-s, s]`` and divided by s, so the result lies in ``[-1, 1]`` without flattening saturated areas.
    """
    flat = x0.reshape(x0.shape[0], -1).abs().float()
    s = torch.quantile(flat, ratio, dim=1).clamp(min=1, max=max_value).view(-1, 1, 1, 1)
    return (torch.clamp(x0, -s, s) / s).to(x0.dtype)


def variance_range(scheduler: Any, t: int, prev_t: int | None = None) -> tuple[float, float]:
    """The two ends IF's learned variance interpolates between at step t: (posterior beta_tilde, beta)."""
    prev_t = t - 1 if prev_t is None else prev_t
    abar_t = scheduler.alphas_cumprod[t]
    abar_prev = scheduler.alphas_cumprod[prev_t] if prev_t >= 0 else torch.tensor(1.0)
    beta = 1 - abar_t / abar_prev
    beta_tilde = (1 - abar_prev) / (1 - abar_t) * beta
    return float(beta_tilde), float(beta)


@torch.no_grad()
def denoise(
    pipe: Any,
    prompt_embeds: torch.Tensor,
    negative_embeds: torch.Tensor,
    num_inference_steps: int = 20,
    guidance_scale: float = 7.0,
    seed: int = 0,
    timesteps: list[int] | None = None,
    keep_steps: bool = True,
    progress: bool = True,
) -> Trajectory:
    """Run stage I's denoising loop by hand.

    Args:
        pipe: an ``IFPipeline`` (only its ``unet`` and ``scheduler`` are used).
        prompt_embeds, negative_embeds: ``(1, 77, D)`` from :func:`iflearn.text.encode_prompt`.
        timesteps: a preset such as ``fast27_timesteps`` (overrides ``num_inference_steps``).
        keep_steps: keep ``x_t`` and the predicted ``x_0`` of every step (for filmstrips).

    Returns:
        A :class:`Trajectory`; ``image`` equals ``pipe(..., output_type="pt").images`` for the same seed.
    """
    check_steps(num_inference_steps)
    check_guidance(guidance_scale)
    unet, scheduler = pipe.unet, pipe.scheduler
    device = pipe._execution_device
    generator = torch.Generator("cpu").manual_seed(seed)
    do_cfg = guidance_scale > 1.0
    # 3. The text conditioning: [negative, positive] when guiding.
    embeds = torch.cat([negative_embeds, prompt_embeds]) if do_cfg else prompt_embeds
    embeds = embeds.to(device, unet.dtype)
    # 4. Timesteps, e.g. 999, 949, ..., 0 for 20 steps.
    if timesteps is not None:
        scheduler.set_timesteps(timesteps=timesteps, device=device)
    else:
        scheduler.set_timesteps(num_inference_steps, device=device)
    if hasattr(scheduler, "set_begin_index"):
        scheduler.set_begin_index(0)
    # 5. Pure noise x_T: (B, 3, H, W).
    size = unet.config.sample_size
    x = randn_tensor((prompt_embeds.shape[0], unet.config.in_channels, size, size), generator=generator,
                     device=device, dtype=embeds.dtype) * scheduler.init_noise_sigma
    steps: list[DenoiseStep] = []
    # 7. The loop.
    for t in tqdm(scheduler.timesteps, desc="denoising", disable=not progress):
        model_input = torch.cat([x] * 2) if do_cfg else x
        model_input = scheduler.scale_model_input(model_input, t)
        output = unet(model_input, t, encoder_hidden_states=embeds, return_dict=False)[0]  # (2B, 6, H, W)
        if do_cfg:
            out_uncond, out_text = output.chunk(2)
            eps_uncond, _ = out_uncond.split(x.shape[1], dim=1)
            eps_text, predicted_variance = out_text.split(x.shape[1], dim=1)
            output = torch.cat([classifier_free_guidance(eps_uncond, eps_text, guidance_scale), predicted_variance], dim=1)
        if scheduler.config.variance_type not in ["learned", "learned_range"]:
            output, _ = output.split(x.shape[1], dim=1)
        result = scheduler.step(output, t, x, generator=generator, return_dict=True)
        if keep_steps:
            steps.append(DenoiseStep(int(t), x.detach().cpu(), result.pred_original_sample.detach().cpu(),
                                     result.prev_sample.detach().cpu()))
        x = result.prev_sample
    return Trajectory(x.detach().float().cpu(), steps)
