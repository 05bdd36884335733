"""Stage II's ways of enlarging a picture x4, all with IF's own pipeline classes and diffusers' schedulers.

* **From pure noise** (IF's way, ``IFSuperResolutionPipeline``): every step of the schedule runs; the small picture
  enters only as the condition (bilinearly upsampled, noise-augmented, concatenated to the UNet's input).
* **img2img-style** (``IFImg2ImgSuperResolutionPipeline``, the class IF uses to vary a picture at stage II): start
  from the *bicubic enlargement* noised to ``strength`` of the schedule and run only the remaining steps, with the
  same condition.
* **Deterministic img2img-style** (mini-IF's default, ``mini_backend().defaults[1]``): the same start, but the
  bicubic enlargement is *not* noised (only scaled by ``sqrt(abar_t)``, as ``add_noise`` with zero noise does),
  and DPM-Solver++ of first order (DDIM's update, which adds no noise) takes the steps. The UNet then reads
  the blur itself as what to remove. Random noise left after two or three steps is what made flat areas grainy:
  without it they come out flatter, and edges sharper (``benchmarks/results/mini_if_stage2_frontier.json``).
  The condition is still noise-augmented, so the seed changes the picture a little.

Pictures are ``(B, 3, H, W)`` tensors in ``[-1, 1]``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from diffusers import DPMSolverMultistepScheduler, IFImg2ImgSuperResolutionPipeline

if TYPE_CHECKING:
    from iflearn.backend import StageDefaults

__all__ = ["start_picture", "UnnoisedStartSuperResolutionPipeline", "deterministic_scheduler", "pipeline_for",
           "img2img_arguments", "sampling_arguments"]


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


class UnnoisedStartSuperResolutionPipeline(IFImg2ImgSuperResolutionPipeline):
    """``IFImg2ImgSuperResolutionPipeline`` whose start picture is the original scaled to the first timestep, with
    no noise added: ``scheduler.add_noise(image, 0, t) = sqrt(abar_t) * image``. Everything else is IF's."""

    def prepare_intermediate_images(self, image, timestep, batch_size, num_images_per_prompt, dtype, device,
                                    generator=None):
        image = image.repeat_interleave(num_images_per_prompt, dim=0).to(device=device, dtype=dtype)
        return self.scheduler.add_noise(image, torch.zeros_like(image), timestep)


def deterministic_scheduler(config):
    """DPM-Solver++ of first order on ``config`` (a DDPM scheduler's): DDIM's update, which adds no noise, on
    the same noise schedule, prediction type and thresholding; it accepts explicit ``timesteps`` like DDPM."""
    return DPMSolverMultistepScheduler.from_config(config, algorithm_type="dpmsolver++", solver_order=1)


def pipeline_for(pipe, strength: float | None, deterministic: bool = False):
    """``pipe`` itself for IF's way (``strength`` is ``None``), else an img2img-style pipeline that shares
    ``pipe``'s components (nothing is loaded or copied): ``IFImg2ImgSuperResolutionPipeline``, or with
    ``deterministic`` its subclass that does not noise the start picture, with :func:`deterministic_scheduler`."""
    if strength is None:
        return pipe
    components = dict(pipe.components)
    cls = IFImg2ImgSuperResolutionPipeline
    if deterministic:
        cls = UnnoisedStartSuperResolutionPipeline
        components["scheduler"] = deterministic_scheduler(pipe.scheduler.config)
    wrapped = cls(**components, requires_safety_checker=components.get("safety_checker") is not None)
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


def sampling_arguments(image: torch.Tensor, side: int, defaults: StageDefaults, steps: int | None = None,
                       timesteps: list[int] | None = None) -> dict[str, Any]:
    """Stage II's step arguments for one call: ``num_inference_steps`` or ``timesteps``, and for img2img-style
    enlargement ``original_image`` and ``strength``.

    Explicit ``timesteps`` win, then explicit ``steps`` (img2img-style: the last ``steps * strength`` of them),
    then the backend's default timesteps (``defaults.timesteps``), then its default step count. Given timesteps
    all run, from the first: img2img-style starts there (``strength`` 1 of them).

    Args:
        image: ``(B, 3, h, h)`` in ``[-1, 1]``, stage I's picture.
        side: stage II's picture side.
        defaults: the backend's :class:`iflearn.backend.StageDefaults` for stage II.
    """
    if timesteps is None and steps is None and defaults.timesteps is not None:
        timesteps = list(defaults.timesteps)
    if timesteps is not None:
        extra: dict[str, Any] = {"timesteps": list(timesteps), "num_inference_steps": len(timesteps)}
        if defaults.strength is not None:
            extra.update(original_image=start_picture(image, side), strength=1.0)
        return extra
    steps = defaults.steps if steps is None else steps
    return {"num_inference_steps": steps, **img2img_arguments(image, side, defaults.strength, steps)}
