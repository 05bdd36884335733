"""Training losses for IF-style UNets with learned variance (Improved DDPM's hybrid loss).

IF's UNets output 6 channels: 3 for the prediction (noise epsilon, or v) and 3 for ``v_var`` in ``[-1, 1]``,
which places the step's log-variance between the posterior's (``beta_tilde``) and ``beta``:
``log sigma^2 = f log beta + (1 - f) log beta_tilde`` with ``f = (v_var + 1) / 2``, exactly as
``DDPMScheduler(variance_type="learned_range")`` reads it at sampling time.

The loss is ``L_simple + lambda * L_vlb``: mean squared error of the prediction, plus the KL divergence between
the true posterior q(x_{t-1} | x_t, x_0) and the model's Gaussian, in bits per dimension, with the mean's
gradient stopped so that the KL term trains only the variance (Nichol & Dhariwal 2021, arXiv:2102.09672).
"""

from __future__ import annotations

import math

import torch
from diffusers import DDPMScheduler

__all__ = ["hybrid_loss", "target_for", "noised_from"]


def _gather(values: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    return values.to(t.device)[t].float().view(-1, 1, 1, 1)


def target_for(scheduler: DDPMScheduler, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """What the UNet must predict: epsilon, or ``v = sqrt(abar) eps - sqrt(1 - abar) x0`` for v-prediction."""
    if scheduler.config.prediction_type == "epsilon":
        return noise
    if scheduler.config.prediction_type == "v_prediction":
        return scheduler.get_velocity(x0, noise, t)
    raise ValueError(f"prediction_type {scheduler.config.prediction_type!r} is not supported; use epsilon or v_prediction.")


def noised_from(
    scheduler: DDPMScheduler, x0: torch.Tensor, start: torch.Tensor, noise: torch.Tensor, t: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """img2img-style training: noise ``start`` (e.g. the bicubic enlargement) to step ``t``, and still ask for ``x0``.

    Returns ``(x_t, eps_star)``: ``x_t = sqrt(abar_t) start + sqrt(1 - abar_t) noise``, and the noise that makes
    ``x_t`` out of ``x0``, ``eps_star = (x_t - sqrt(abar_t) x0) / sqrt(1 - abar_t)``. Passed to :func:`hybrid_loss`
    in place of ``noise``, it makes every target consistent: epsilon is ``eps_star``, v is
    ``sqrt(abar) eps_star - sqrt(1 - abar) x0``, and the clean picture they imply is exactly ``x0``. All tensors
    ``(B, 3, H, W)`` in ``[-1, 1]`` (``noise`` standard normal); ``t`` is ``(B,)``, best kept above ~50, where
    ``1 - abar_t`` is not tiny.
    """
    xt = scheduler.add_noise(start, noise, t)
    abar = _gather(scheduler.alphas_cumprod, t)
    return xt, (xt - abar.sqrt() * x0) / (1 - abar).sqrt()


def _loss_weight(
    scheduler: DDPMScheduler, t: torch.Tensor, snr_gamma: float | None, v_weight_max: float | None
) -> torch.Tensor | None:
    """``(B,)`` per-picture weights of the squared error (see :func:`hybrid_loss`), or ``None`` for plain MSE."""
    if snr_gamma is not None and v_weight_max is not None:
        raise ValueError("hybrid_loss: give snr_gamma or v_weight_max, not both; each is a whole weighting scheme.")
    if snr_gamma is not None:
        from diffusers.training_utils import compute_snr  # ~0.4 s to import; only this option needs it

        snr = compute_snr(scheduler, t).float()
        if scheduler.config.prediction_type == "epsilon":  # min(SNR, gamma) / SNR, written so SNR = 0 is safe
            return torch.clamp(snr_gamma / snr.clamp(min=1e-12), max=1.0)
        return torch.clamp(snr, max=snr_gamma) / (snr + 1)
    if v_weight_max is not None:
        if scheduler.config.prediction_type != "epsilon":
            raise ValueError("v_weight_max re-weights an epsilon loss; this scheduler predicts "
                             f"{scheduler.config.prediction_type!r}, whose loss needs no such weight.")
        return torch.clamp(1.0 / _gather(scheduler.alphas_cumprod, t).view(-1), max=v_weight_max)
    return None


def hybrid_loss(
    scheduler: DDPMScheduler,
    model_output: torch.Tensor,
    x0: torch.Tensor,
    xt: torch.Tensor,
    noise: torch.Tensor,
    t: torch.Tensor,
    vlb_weight: float = 1e-3,
    snr_gamma: float | None = None,
    v_weight_max: float | None = None,
    pixel_weight: torch.Tensor | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Improved DDPM's hybrid loss for a 6-channel IF UNet output.

    Args:
        model_output: ``(B, 6, H, W)``; first 3 channels the prediction, last 3 ``v_var`` in ``[-1, 1]``.
        x0: ``(B, 3, H, W)`` clean pictures in ``[-1, 1]``.
        xt: ``(B, 3, H, W)`` ``scheduler.add_noise(x0, noise, t)``.
        noise: ``(B, 3, H, W)`` standard normal.
        t: ``(B,)`` integer timesteps in ``[0, 1000)``.
        snr_gamma: (at most one of this and ``v_weight_max``) if given, weight each picture's squared error by
            Min-SNR-gamma (Hang et al. 2023, arXiv:2303.09556): ``min(SNR, gamma) / SNR`` for epsilon,
            ``min(SNR, gamma) / (SNR + 1)`` for v. Nearly noise-free steps, which a UNet learns easily, then stop
            dominating the gradient, and the noisy steps that decide a picture's layout and colours get their
            share. ``parts["mse"]`` stays unweighted.
        v_weight_max: if given (epsilon prediction only), weight each picture's squared error by
            ``min(1 / abar_t, v_weight_max)``. That is exactly the loss of v-prediction, ``|v - v_hat|^2 =
            |eps - eps_hat|^2 / abar_t``, while the UNet still predicts epsilon for IF's scheduler. Plain epsilon
            loss barely sees the clean picture at high noise (an error ``d`` in the predicted x0 costs only
            ``SNR * d^2``, with SNR ~ 0.02 at t = 900), yet that is where the layout and the background are
            decided. The cap keeps the last, almost pure-noise steps from dominating (20 means abar_t >= 0.05).
        pixel_weight: if given, ``(B, 1, H, W)`` non-negative weights of each pixel's squared error inside its
            picture (each picture's error is the weighted mean, so a picture's share of the loss does not change).

    Returns:
        ``(loss, parts)`` where ``parts`` holds the float values of ``mse`` and ``vlb`` (bits/dim).
    """
    pred, v_var = model_output.split(3, dim=1)
    error = (pred.float() - target_for(scheduler, x0, noise, t).float()) ** 2
    mse = error.mean()
    if pixel_weight is None:
        squared = error.mean(dim=(1, 2, 3))
    else:
        w = pixel_weight.float().expand_as(error)
        squared = (error * w).sum(dim=(1, 2, 3)) / w.sum(dim=(1, 2, 3)).clamp(min=1e-12)
    weight = _loss_weight(scheduler, t, snr_gamma, v_weight_max)
    weighted = squared.mean() if weight is None else (squared * weight).mean()

    abar = scheduler.alphas_cumprod
    abar_t = _gather(abar, t)
    abar_prev = _gather(torch.cat([torch.ones(1, device=abar.device), abar[:-1]]), t)
    beta_t = 1 - abar_t / abar_prev
    post_var = (1 - abar_prev) / (1 - abar_t) * beta_t
    min_log = torch.log(post_var.clamp(min=1e-20))
    max_log = torch.log(beta_t)

    # The model's estimate of x0, with the mean's gradient stopped (the KL term only trains the variance).
    pred_d = pred.detach().float()
    if scheduler.config.prediction_type == "epsilon":
        x0_hat = (xt - (1 - abar_t).sqrt() * pred_d) / abar_t.sqrt()
    else:
        x0_hat = abar_t.sqrt() * xt - (1 - abar_t).sqrt() * pred_d
    c0 = abar_prev.sqrt() * beta_t / (1 - abar_t)
    ct = (1 - beta_t).sqrt() * (1 - abar_prev) / (1 - abar_t)
    mean_true = c0 * x0 + ct * xt
    mean_model = c0 * x0_hat + ct * xt

    frac = (v_var.float() + 1) / 2
    log_var_model = frac * max_log + (1 - frac) * min_log
    kl = 0.5 * (
        -1.0
        + log_var_model
        - min_log
        + torch.exp(min_log - log_var_model)
        + (mean_true - mean_model) ** 2 * torch.exp(-log_var_model)
    )
    kl = kl.mean(dim=(1, 2, 3)) / math.log(2.0)
    # At t = 0 no noise is added when sampling, so the variance there does not matter.
    vlb = torch.where(t > 0, kl, torch.zeros_like(kl)).mean()
    return weighted + vlb_weight * vlb, {"mse": float(mse.detach()), "vlb": float(vlb.detach())}

