"""Where each part of the real cascade lives on a GPU, and what that costs: one plan shared by the loader, the
memory table (``benchmarks/t4_memory.py``) and the tests.

A *part* is one thing loaded with ``from_pretrained``: ``encoder`` (T5 v1.1 XXL), ``stage1``, ``stage2``, ``stage3``
(the x4 upscaler) and ``safety`` (IF's safety checker + watermarker, shared by every stage). Weight sizes come from
published parameter counts (:data:`PART_PARAMS`) and the recipe's bytes per parameter; activations come on top and
are not estimated here.

Policy: parts stay loaded on the GPU while they fit the recipe's budget (GPU memory minus :data:`HEADROOM_GB`); a
part that would not fit first unloads the least recently used ones. On a 15 GB T4 with IF-I-M and IF-II-M every
part fits at once (about 9 GB), so a notebook loads each part once; with IF-I-XL the parts take turns.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "PARTS",
    "PART_PARAMS",
    "HEADROOM_GB",
    "T5_EMBEDDING_PARAMS",
    "PartCost",
    "part_key",
    "part_cost",
    "Residency",
]

PARTS = ("encoder", "safety", "stage1", "stage2", "stage3")

#: Parameters per part. IF's UNets and T5: deep-floyd/IF README's model zoo and T5 v1.1 XXL's published shapes
#: (4.76 B, counted from ``benchmarks/configs/t5_v1_1_xxl.json``; the IF blog rounds it to 4.5 B). The x4 upscaler:
#: UNet 0.473 B + VAE 0.055 B + OpenCLIP-H text encoder 0.340 B, counted from Stability AI's config
#: (``benchmarks/configs/sd_x4_upscaler_*.json``). Safety checker: CLIP ViT-L/14's vision tower (0.304 B) + heads.
PART_PARAMS: dict[str, float] = {
    "T5-v1.1-XXL encoder": 4.762e9,
    "IF-I-XL": 4.3e9,
    "IF-I-L": 0.9e9,
    "IF-I-M": 0.4e9,
    "IF-II-L": 1.2e9,
    "IF-II-M": 0.45e9,
    "SD x4 upscaler": 0.473e9 + 0.055e9 + 0.340e9,
    "IF safety checker": 0.304e9,
}
#: T5's token embedding table (32,128 × 4,096): kept in 16 bit when the rest of T5 is quantised to 8 bit.
T5_EMBEDDING_PARAMS = 32128 * 4096
#: GPU memory kept free for activations, CUDA's context and the allocator's slack (an assumption until measured).
HEADROOM_GB = 3.0


def part_key(part: str, stage1_size: str, stage2_size: str) -> str:
    """The :data:`PART_PARAMS` key of a part for a cascade of the given sizes."""
    return {
        "encoder": "T5-v1.1-XXL encoder",
        "safety": "IF safety checker",
        "stage1": f"IF-I-{stage1_size}",
        "stage2": f"IF-II-{stage2_size}",
        "stage3": "SD x4 upscaler",
    }[part]


@dataclass(frozen=True)
class PartCost:
    """One part's weights in memory (bytes) under a recipe."""

    part: str
    model: str
    params: float
    dtype: str
    weight_bytes: int


def part_cost(part: str, stage1_size: str, stage2_size: str, half: bool, t5_8bit: bool) -> PartCost:
    """Weights of ``part`` in bytes: 2 per parameter in fp16, 4 in fp32, T5 in 8 bit with a 16-bit embedding table.

    Example: ``part_cost("stage1", "XL", "L", half=True, t5_8bit=True).weight_bytes == 8.6e9``.
    """
    model = part_key(part, stage1_size, stage2_size)
    params = PART_PARAMS[model]
    if part == "encoder" and t5_8bit:
        weight_bytes, dtype = (params - T5_EMBEDDING_PARAMS) * 1 + T5_EMBEDDING_PARAMS * 2, "int8"
    else:
        weight_bytes, dtype = params * (2 if half else 4), "fp16" if half else "fp32"
    return PartCost(part, model, params, dtype, int(weight_bytes))


class Residency:
    """The parts loaded on a GPU, least recently used first, within a byte budget.

    Example::

        gpu = Residency(budget_bytes=12e9)
        gpu.admit("encoder", 4.9e9)        # [] : nothing had to go
        gpu.admit("stage1", 8.6e9)         # ["encoder"] : T5 unloads so that IF-I-XL fits
    """

    def __init__(self, budget_bytes: float | None) -> None:
        self.budget_bytes = budget_bytes
        self._loaded: dict[str, float] = {}

    @property
    def loaded(self) -> list[str]:
        """Loaded parts, least recently used first."""
        return list(self._loaded)

    @property
    def used_bytes(self) -> float:
        return sum(self._loaded.values())

    def touch(self, part: str) -> None:
        """Mark ``part`` as just used."""
        if part in self._loaded:
            self._loaded[part] = self._loaded.pop(part)

    def admit(self, part: str, size_bytes: float) -> list[str]:
        """Make room for ``part`` and record it as loaded; returns the parts that must be unloaded first."""
        self._loaded.pop(part, None)
        evict: list[str] = []
        if self.budget_bytes is not None:
            while self._loaded and self.used_bytes + size_bytes > self.budget_bytes:
                oldest = next(iter(self._loaded))
                evict.append(oldest)
                del self._loaded[oldest]
        self._loaded[part] = size_bytes
        return evict

    def forget(self, part: str) -> None:
        self._loaded.pop(part, None)
