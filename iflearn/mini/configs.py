"""mini-IF's architecture and schedulers: IF's config keys at toy size.

Every key that makes a UNet an *IF* UNet is kept (block types, ``addition_embed_type="text"`` with attention
pooling, ``encoder_hid_dim`` projecting the text encoder's width, 6 output channels for the learned variance,
and for stage II ``in_channels=6`` with ``class_embed_type="timestep"`` for the noise level). Only the widths,
depths and picture sizes are small. See ``FACTS.md`` §5 for IF's own keys, as read from diffusers'
``scripts/convert_if.py``.
"""

from __future__ import annotations

from typing import Any

from diffusers import DDPMScheduler, UNet2DConditionModel

__all__ = [
    "TEXT_WIDTH",
    "STAGE1_SIZE",
    "STAGE2_SIZE",
    "stage1_unet_config",
    "stage2_unet_config",
    "stage1_scheduler",
    "stage2_scheduler",
    "image_noising_scheduler",
    "build_unet",
]

#: Width of MiniLM's hidden states (IF's T5: 4096).
TEXT_WIDTH = 384
#: Stage I picture side (IF: 64).
STAGE1_SIZE = 32
#: Stage II picture side, x4 (IF: 256).
STAGE2_SIZE = 128


def _blocks(attention: tuple[bool, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    down = tuple("SimpleCrossAttnDownBlock2D" if a else "ResnetDownsampleBlock2D" for a in attention)
    up = tuple("SimpleCrossAttnUpBlock2D" if a else "ResnetUpsampleBlock2D" for a in reversed(attention))
    return down, up


def stage1_unet_config(channels: tuple[int, ...] = (32, 64, 128), layers_per_block: int = 1) -> dict[str, Any]:
    """IF stage I's UNet keys at toy size: 32x32 pixels, cross-attention at 16x16 and 8x8.

    Input ``(B, 3, 32, 32)`` noisy picture; output ``(B, 6, 32, 32)``: predicted noise (3) and the
    learned-variance interpolation value in ``[-1, 1]`` (3).
    """
    down, up = _blocks((False,) + (True,) * (len(channels) - 1))
    return dict(
        sample_size=STAGE1_SIZE,
        in_channels=3,
        out_channels=6,
        down_block_types=down,
        up_block_types=up,
        mid_block_type="UNetMidBlock2DSimpleCrossAttn",
        block_out_channels=channels,
        layers_per_block=layers_per_block,
        cross_attention_dim=channels[-1],
        encoder_hid_dim=TEXT_WIDTH,
        attention_head_dim=32,
        addition_embed_type="text",
        addition_embed_type_num_heads=4,
        cross_attention_norm="group_norm",
        act_fn="gelu",
        resnet_time_scale_shift="scale_shift",
        norm_num_groups=8,
    )


def stage2_unet_config(channels: tuple[int, ...] = (16, 32, 64, 96), layers_per_block: int = 1) -> dict[str, Any]:
    """IF stage II's super-resolution UNet keys at toy size: 128x128, attention only at 16x16 and mid.

    Input ``(B, 6, 128, 128)``: the noisy high-resolution picture (3) concatenated with the bilinearly
    upsampled, noise-augmented stage I picture (3). ``class_labels`` carries that augmentation's noise level.
    """
    down, up = _blocks((False,) * (len(channels) - 1) + (True,))
    return dict(
        sample_size=STAGE2_SIZE,
        in_channels=6,
        out_channels=6,
        down_block_types=down,
        up_block_types=up,
        mid_block_type="UNetMidBlock2DSimpleCrossAttn",
        block_out_channels=channels,
        layers_per_block=layers_per_block,
        cross_attention_dim=channels[-1],
        encoder_hid_dim=TEXT_WIDTH,
        attention_head_dim=32,
        addition_embed_type="text",
        addition_embed_type_num_heads=4,
        class_embed_type="timestep",
        time_embedding_dim=channels[-1] * 2,
        time_embedding_act_fn="gelu",
        resnet_skip_time_act=True,
        resnet_out_scale_factor=1 / 0.7071,
        mid_block_scale_factor=1 / 0.7071,
        only_cross_attention=True,
        cross_attention_norm="group_norm",
        act_fn="gelu",
        resnet_time_scale_shift="scale_shift",
        norm_num_groups=8,
    )


def build_unet(config: dict[str, Any]) -> UNet2DConditionModel:
    """A freshly initialised ``UNet2DConditionModel`` from one of the configs above."""
    return UNet2DConditionModel(**config)


def stage1_scheduler() -> DDPMScheduler:
    """IF stage I's scheduler, unchanged (the one the course teaches with: :func:`iflearn.noise.if_scheduler`)."""
    from iflearn.noise import if_scheduler

    return if_scheduler()


def stage2_scheduler() -> DDPMScheduler:
    """Stage II's scheduler: IF's settings (``sample_max_value=1.0``) with two departures, both measured.

    1. It predicts **v**, not epsilon: a tiny super-resolution UNet that predicts epsilon drifts in colour,
       because its estimate of the clean picture at high noise is poor; v-prediction keeps colours.
    2. It samples with ``variance_type="fixed_small"``: the UNet is trained with IF's learned-variance loss and
       still outputs 6 channels, but at 10 steps its learned variance leaves visible grain (23.2 dB PSNR against
       the true 128 px picture, 25.0 dB with ``fixed_small``). Switch back with
       ``pipe.scheduler = DDPMScheduler.from_config(pipe.scheduler.config, variance_type="learned_range")``.
    """
    return DDPMScheduler(
        num_train_timesteps=1000,
        beta_schedule="squaredcos_cap_v2",
        variance_type="fixed_small",
        prediction_type="v_prediction",
        thresholding=True,
        dynamic_thresholding_ratio=0.95,
        sample_max_value=1.0,
    )


def image_noising_scheduler() -> DDPMScheduler:
    """Stage II's noise augmentation of the upsampled stage I picture, as in IF."""
    return DDPMScheduler(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2")
