"""Memory recipes: how the cascade is placed on the hardware, chosen from free GPU memory.

| recipe       | when                     | text encoder           | stages                                   |
|--------------|--------------------------|------------------------|------------------------------------------|
| ``cpu``      | no CUDA (mini backend)   | float32, kept          | float32 on the CPU                       |
| ``t4``       | 12–40 GB free (free Colab T4: ~15 GB) | T5 in 8-bit (bitsandbytes), kept | fp16 on the GPU, IF-I-M + IF-II-M by default, each kept loaded while they fit (``iflearn.placement``) |
| ``full_gpu`` | ≥ 40 GB free             | fp16 on the GPU        | fp16, all on the GPU                     |
| ``sequential`` | < 12 GB free           | T5 in 8-bit, freed     | fp16, ``enable_sequential_cpu_offload()`` (slow, smallest) |

``device_map="auto"`` is not used: diffusers pipelines reject it (FACTS.md §3).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from iflearn.errors import BadArgumentError
from iflearn.i18n import tr

__all__ = ["Recipe", "RecipeChoice", "RECIPES", "choose_recipe", "recipe_for_oom"]

RecipeName = Literal["cpu", "t4", "full_gpu", "sequential"]


@dataclass(frozen=True)
class Recipe:
    """One way to fit the cascade in memory.

    Attributes:
        dtype: weights' dtype for the UNets (and T5 unless 8-bit).
        text_encoder_8bit: load T5 with ``BitsAndBytesConfig(load_in_8bit=True)``.
        free_text_encoder: delete the text encoder after the prompts are encoded, then
            ``gc.collect(); torch.cuda.empty_cache()`` (embeddings are cached per prompt, so T5 reloads only for a
            new prompt).
        offload: ``"none"`` (move to ``device``), ``"model"`` (``enable_model_cpu_offload``) or
            ``"sequential"`` (``enable_sequential_cpu_offload``).
        one_stage_at_a_time: free each stage's pipeline before loading the next.
    """

    name: RecipeName
    dtype: torch.dtype
    text_encoder_8bit: bool
    free_text_encoder: bool
    offload: Literal["none", "model", "sequential"]
    one_stage_at_a_time: bool
    summary: str


RECIPES: dict[str, Recipe] = {
    "cpu": Recipe("cpu", torch.float32, False, False, "none", False, "float32 on the CPU (mini backend)"),
    "t4": Recipe(
        "t4", torch.float16, True, False, "none", False,
        "16 GB class (free Colab T4): 8-bit T5 and fp16 stages on the GPU (IF-I-M + IF-II-M by default: about 9 GB "
        "of weights, so each part loads once); parts that would not fit unload the least recently used",
    ),
    "full_gpu": Recipe("full_gpu", torch.float16, False, False, "none", False, "≥ 40 GB: everything in fp16 on the GPU"),
    "sequential": Recipe(
        "sequential", torch.float16, True, True, "sequential", True,
        "< 12 GB: 8-bit T5, then layer-by-layer sequential CPU offload (slowest, smallest)",
    ),
}


@dataclass(frozen=True)
class RecipeChoice:
    """The chosen recipe and the sentence that explains it."""

    recipe: Recipe
    reason: str


def choose_recipe(free_gb: float | None, requested: str | None = None) -> RecipeChoice:
    """Choose a recipe from the GPU's free memory in GB (``None``: no GPU); ``requested`` overrides.

    Example: ``choose_recipe(14.7).recipe.name == "t4"``.
    """
    if requested is not None:
        if requested not in RECIPES:
            raise BadArgumentError(
                tr(
                    f"recipe={requested!r}: expected one of {tuple(RECIPES)}. 't4' fits a 16 GB GPU, 'full_gpu' "
                    "needs about 40 GB, 'sequential' fits under 12 GB, 'cpu' is for the mini backend.",
                    f"recipe={requested!r}: {tuple(RECIPES)} 중 하나여야 합니다. 't4'는 16 GB GPU, 'full_gpu'는 약 "
                    "40 GB, 'sequential'은 12 GB 미만, 'cpu'는 mini 백엔드용입니다.",
                )
            )
        return RecipeChoice(RECIPES[requested], tr(f"recipe '{requested}', as requested.", f"요청대로 '{requested}' 레시피입니다."))
    if free_gb is None:
        return RecipeChoice(RECIPES["cpu"], tr("no CUDA GPU: float32 on the CPU.", "CUDA GPU 없음: CPU에서 float32."))
    if free_gb >= 40:
        name = "full_gpu"
    elif free_gb >= 12:
        name = "t4"
    else:
        name = "sequential"
    return RecipeChoice(
        RECIPES[name],
        tr(
            f"{free_gb:.1f} GB of GPU memory free → recipe '{name}': {RECIPES[name].summary}.",
            f"GPU 메모리 {free_gb:.1f} GB 여유 → '{name}' 레시피: {RECIPES[name].summary}.",
        ),
    )


def recipe_for_oom(current: str, total_gb: float | None) -> str:
    """The next, smaller recipe to suggest after an out-of-memory error."""
    order = ["full_gpu", "t4", "sequential"]
    if current in order and order.index(current) + 1 < len(order):
        return order[order.index(current) + 1]
    if total_gb is not None and total_gb < 12:
        return "sequential"
    return "sequential"
