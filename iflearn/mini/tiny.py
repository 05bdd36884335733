"""Tiny seeded mini-IF folders, built offline from the local configs: for fast tests of the loading path.

They have the same layout and classes as the trained mini-IF (``model_index.json``, ``unet/``, ``scheduler/``)
but random weights, so they draw noise-like pictures; tests use them to check shapes, dtypes, determinism and
the ``from_pretrained`` round trip in a fraction of a second.
"""

from __future__ import annotations

from pathlib import Path

import torch

from iflearn.mini import configs

__all__ = ["build_tiny_folders"]


def build_tiny_folders(root: str | Path, seed: int = 0) -> Path:
    """Write ``IF-I-mini/`` and ``IF-II-mini/`` with tiny random UNets under ``root``; return ``root``."""
    from diffusers import IFPipeline, IFSuperResolutionPipeline

    root = Path(root)
    common = dict(text_encoder=None, tokenizer=None, safety_checker=None, feature_extractor=None, watermarker=None,
                  requires_safety_checker=False)
    torch.manual_seed(seed)
    unet1 = configs.build_unet(configs.stage1_unet_config((16, 32, 32)))
    IFPipeline(unet=unet1, scheduler=configs.stage1_scheduler(), **common).save_pretrained(root / "IF-I-mini")
    torch.manual_seed(seed + 1)
    unet2 = configs.build_unet(configs.stage2_unet_config((8, 16, 16, 32)))
    IFSuperResolutionPipeline(
        unet=unet2, scheduler=configs.stage2_scheduler(), image_noising_scheduler=configs.image_noising_scheduler(),
        **common,
    ).save_pretrained(root / "IF-II-mini")
    return root
