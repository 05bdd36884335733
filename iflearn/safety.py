"""IF's safety checker and watermarker, run on every picture the real backend shows, as the published pipelines do
for PIL output (``output_type="pt"``, which the cascade uses between stages, skips both).

``IFSafetyChecker`` is a CLIP ViT-L/14 vision tower with two linear heads: NSFW (``p_head``) and watermark
(``w_head``); a flagged picture is replaced by black. ``IFWatermarker`` pastes a small mark in the bottom-right
corner (62 px at 1024 px, scaled with the picture). Both load from stage I's repository, once, and serve every stage.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image

__all__ = ["SafetyParts", "CompatIFSafetyChecker", "SafetyReport", "check_pictures", "watermark_pictures"]


@functools.cache
def _compat_class() -> type:
    from diffusers.pipelines.deepfloyd_if.safety_checker import IFSafetyChecker

    class CompatIFSafetyChecker(IFSafetyChecker):
        """``IFSafetyChecker`` that finishes its construction the way transformers 5 requires.

        transformers 5's ``from_pretrained`` reads attributes that ``PreTrainedModel.post_init()`` sets (such as
        ``all_tied_weights_keys``); diffusers 0.42.1's ``IFSafetyChecker.__init__`` never calls it, so loading the
        published checker fails with ``AttributeError``. Same weights, same forward pass.
        """

        def __init__(self, config: Any) -> None:
            super().__init__(config)
            self.post_init()

    return CompatIFSafetyChecker


def __getattr__(name: str) -> Any:
    if name == "CompatIFSafetyChecker":  # built lazily: importing diffusers' IF module costs a second
        return _compat_class()
    raise AttributeError(f"module 'iflearn.safety' has no attribute {name!r}")


@dataclass
class SafetyParts:
    """What IF's pipelines hold for safety: checker, its image processor, and the watermarker."""

    safety_checker: Any
    feature_extractor: Any
    watermarker: Any

    def as_components(self) -> dict[str, Any]:
        """Keyword arguments for ``IFPipeline.from_pretrained`` so it reuses these instead of loading its own."""
        return dict(safety_checker=self.safety_checker, feature_extractor=self.feature_extractor,
                    watermarker=self.watermarker, requires_safety_checker=True)


@dataclass
class SafetyReport:
    """Per picture: flagged as NSFW, flagged as watermarked (both are then black)."""

    nsfw_detected: list[bool]
    watermark_detected: list[bool]


def _to_numpy(images: torch.Tensor) -> np.ndarray:
    """``(B, 3, H, W)`` in ``[-1, 1]`` → ``(B, H, W, 3)`` float32 in ``[0, 1]``, as IF's pipelines hand it on."""
    return (images.detach().float().cpu() / 2 + 0.5).clamp(0, 1).permute(0, 2, 3, 1).numpy()


def check_pictures(parts: SafetyParts, images: torch.Tensor) -> tuple[torch.Tensor, SafetyReport]:
    """Run IF's safety checker on ``(B, 3, H, W)`` pictures in ``[-1, 1]``; flagged ones come back black (-1).

    Mirrors ``IFPipeline.run_safety_checker``: the feature extractor resizes each picture for CLIP, the checker
    scores it, and a score above 0.5 on either head blacks the picture out.
    """
    checker = parts.safety_checker
    array = _to_numpy(images)
    pil = [Image.fromarray((a * 255).round().astype("uint8")) for a in array]
    device = next(checker.parameters()).device
    dtype = next(checker.parameters()).dtype
    clip_input = parts.feature_extractor(pil, return_tensors="pt").pixel_values.to(device, dtype)
    checked, nsfw, watermark = checker(images=array.copy(), clip_input=clip_input)
    out = torch.from_numpy(np.asarray(checked, dtype=np.float32)).permute(0, 3, 1, 2) * 2 - 1
    return out.clamp(-1, 1), SafetyReport([bool(x) for x in nsfw], [bool(x) for x in watermark])


def watermark_pictures(parts: SafetyParts, images: torch.Tensor) -> torch.Tensor:
    """Paste IF's watermark into ``(B, 3, H, W)`` pictures in ``[-1, 1]`` (``IFWatermarker.apply_watermark``)."""
    array = _to_numpy(images)
    pil = [Image.fromarray((a * 255).round().astype("uint8")) for a in array]
    marked = parts.watermarker.apply_watermark(pil, images.shape[-1])
    stacked = np.stack([np.asarray(p.convert("RGB"), dtype=np.float32) / 127.5 - 1 for p in marked])
    return torch.from_numpy(stacked).permute(0, 3, 1, 2).contiguous()
