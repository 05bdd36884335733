"""Forward diffusion (noising), with IF's own scheduler: cosine schedule, 1000 steps.

The closed form that lets training jump straight to any step t::

    x_t = sqrt(abar_t) * x_0 + sqrt(1 - abar_t) * eps,    eps ~ N(0, I)

where ``abar_t`` (alpha-bar, ``scheduler.alphas_cumprod[t]``) falls from ~1 at t = 0 to ~0 at t = 999.
"""

from __future__ import annotations

import numpy as np
import torch
from diffusers import DDPMScheduler

__all__ = ["if_scheduler", "alpha_bar", "signal_to_noise", "q_sample", "noise_at", "load_photo"]


def if_scheduler() -> DDPMScheduler:
    """IF stage I's scheduler, with the settings of the published pipeline (FACTS.md §1)."""
    return DDPMScheduler(
        num_train_timesteps=1000,
        beta_schedule="squaredcos_cap_v2",
        variance_type="learned_range",
        prediction_type="epsilon",
        thresholding=True,
        dynamic_thresholding_ratio=0.95,
        sample_max_value=1.5,
    )


def alpha_bar(scheduler: DDPMScheduler) -> torch.Tensor:
    """``(T,)`` float32: the fraction of the signal's variance left at each step t (``alphas_cumprod``)."""
    return scheduler.alphas_cumprod.float()


def signal_to_noise(scheduler: DDPMScheduler) -> torch.Tensor:
    """``(T,)`` float32: SNR(t) = abar_t / (1 - abar_t)."""
    abar = alpha_bar(scheduler)
    return abar / (1 - abar)


def q_sample(x0: torch.Tensor, t: int | torch.Tensor, noise: torch.Tensor, scheduler: DDPMScheduler) -> torch.Tensor:
    """Noise a clean picture to step ``t`` in one jump (the closed form above).

    Args:
        x0: ``(B, 3, H, W)`` in ``[-1, 1]``.
        t: a step in ``[0, T)`` or a ``(B,)`` tensor of steps.
        noise: standard normal, the shape of ``x0``.

    Returns:
        ``x_t``, the shape of ``x0``; its values are no longer bounded.
    """
    t = torch.as_tensor(t).long().reshape(-1)
    abar = alpha_bar(scheduler)[t].view(-1, 1, 1, 1)
    return abar.sqrt() * x0 + (1 - abar).sqrt() * noise


def noise_at(x0: torch.Tensor, timesteps: list[int], seed: int = 0,
             scheduler: DDPMScheduler | None = None) -> list[torch.Tensor]:
    """``x0`` noised to each step in ``timesteps`` with one fixed noise sample: a list of ``(B, 3, H, W)``."""
    scheduler = scheduler or if_scheduler()
    noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(seed))
    return [q_sample(x0, t, noise, scheduler) for t in timesteps]


def load_photo(name: str = "astronaut", size: int = 64) -> torch.Tensor:
    """A real photograph from scikit-image's data, centre-cropped and resized.

    Returns:
        ``(1, 3, size, size)`` float32 in ``[-1, 1]``.
    """
    from PIL import Image
    from skimage import data

    if not hasattr(data, name):
        raise ValueError(f"load_photo({name!r}): scikit-image has no such picture; try 'astronaut', 'coffee' or 'chelsea'.")
    array = getattr(data, name)()
    if array.ndim == 2:
        array = np.stack([array] * 3, axis=-1)
    h, w = array.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    image = Image.fromarray(array[top : top + side, left : left + side, :3]).resize((size, size), Image.Resampling.LANCZOS)
    tensor = torch.from_numpy(np.asarray(image, dtype=np.float32) / 127.5 - 1).permute(2, 0, 1)
    return tensor[None].contiguous()
