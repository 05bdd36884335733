"""Errors that teach: each says what was given, what was expected, and what to do next.

Every error iflearn raises on purpose derives from :class:`IFLearnError`, so a notebook can catch them all,
and also from the built-in class a Python programmer would expect (``ValueError``, ``TypeError``,
``RuntimeError``), so ordinary ``except`` clauses keep working.
"""

from __future__ import annotations

import warnings

from iflearn.i18n import tr

__all__ = [
    "IFLearnError",
    "BadArgumentError",
    "BadPromptError",
    "NoCudaError",
    "HubUnreachableError",
    "GatedModelError",
    "OutOfGPUMemoryError",
    "StageNotAvailableError",
    "MiniWeightsMissingError",
    "PromptTruncatedWarning",
    "check_guidance",
    "check_steps",
    "check_prompt",
    "check_size",
    "check_noise_level",
    "check_strength",
    "check_timesteps",
]

LICENCE_PAGE = "https://huggingface.co/DeepFloyd/IF-I-XL-v1.0"


class IFLearnError(Exception):
    """Base class of iflearn's teaching errors."""


class BadArgumentError(IFLearnError, ValueError):
    """An argument outside the range a stage accepts."""


class BadPromptError(IFLearnError, TypeError):
    """A prompt that is not text."""


class NoCudaError(IFLearnError, RuntimeError):
    """The real backend was asked for on a machine without a CUDA GPU."""


class HubUnreachableError(IFLearnError, RuntimeError):
    """The Hugging Face Hub could not be reached, so the real checkpoints cannot be downloaded."""


class GatedModelError(IFLearnError, PermissionError):
    """A gated DeepFloyd repository refused access (HTTP 401/403)."""


class OutOfGPUMemoryError(IFLearnError, RuntimeError):
    """The GPU ran out of memory; the message names the recipe that fits."""


class StageNotAvailableError(IFLearnError, ValueError):
    """A stage the chosen backend does not have (mini-IF has stages I and II)."""


class MiniWeightsMissingError(IFLearnError, FileNotFoundError):
    """The mini-IF weight folders are not where the package expects them."""


class PromptTruncatedWarning(UserWarning):
    """A prompt longer than 77 tokens was cut, as IF's pipelines do; the message shows what was cut."""


def _fail(message: str) -> None:
    raise BadArgumentError(message)


def check_guidance(guidance_scale: float, stage: str = "stage I") -> float:
    """Classifier-free guidance must be a number >= 1 (1 turns guidance off)."""
    if isinstance(guidance_scale, bool) or not isinstance(guidance_scale, (int, float)) or guidance_scale < 1:
        _fail(
            tr(
                f"guidance_scale={guidance_scale!r} for {stage}: expected a number >= 1. "
                "1 means no guidance; IF uses 7 for stage I and 4 for stage II. Try guidance_scale=7.",
                f"{stage}의 guidance_scale={guidance_scale!r}: 1 이상의 숫자가 필요합니다. "
                "1은 가이던스를 끈다는 뜻이고, IF는 stage I에 7, stage II에 4를 씁니다. guidance_scale=7 을 써 보세요.",
            )
        )
    return float(guidance_scale)


def check_steps(steps: int, stage: str = "stage I") -> int:
    """The number of denoising steps must be a whole number >= 1."""
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        _fail(
            tr(
                f"num_inference_steps={steps!r} for {stage}: expected a whole number >= 1 "
                "(IF's defaults are 100 for stage I and 50 for stage II; mini-IF uses about 20). Try 20.",
                f"{stage}의 num_inference_steps={steps!r}: 1 이상의 정수가 필요합니다 "
                "(IF 기본값은 stage I 100, stage II 50; mini-IF는 약 20). 20을 써 보세요.",
            )
        )
    return steps


def check_noise_level(noise_level: int, stage: str = "stage II") -> int:
    """Stage II's augmentation noise level: a whole number in ``[0, 1000)``."""
    if isinstance(noise_level, bool) or not isinstance(noise_level, int) or not 0 <= noise_level < 1000:
        _fail(
            tr(
                f"noise_level={noise_level!r} for {stage}: expected a whole number from 0 to 999 "
                "(how much noise is added to the low-resolution picture; IF uses 250).",
                f"{stage}의 noise_level={noise_level!r}: 0~999 사이의 정수가 필요합니다 "
                "(저해상도 그림에 더하는 노이즈의 양; IF는 250을 씁니다).",
            )
        )
    return noise_level


def check_timesteps(timesteps: list[int], stage: str = "stage II") -> list[int]:
    """Custom timesteps: a non-empty list of whole numbers in ``[0, 1000)``, each smaller than the one before."""
    ok = (isinstance(timesteps, (list, tuple)) and len(timesteps) > 0
          and all(isinstance(t, int) and not isinstance(t, bool) and 0 <= t < 1000 for t in timesteps)
          and all(a > b for a, b in zip(timesteps, timesteps[1:])))
    if not ok:
        _fail(
            tr(
                f"timesteps={timesteps!r} for {stage}: expected a list of whole numbers from 999 down to 0, each "
                "smaller than the one before (the noise levels to denoise at, out of 1000), e.g. [50, 0].",
                f"{stage}의 timesteps={timesteps!r}: 999에서 0 사이의 정수를 앞의 값보다 작게 나열한 리스트가 "
                "필요합니다 (1000단계 중 노이즈를 걷어 낼 단계), 예: [50, 0].",
            )
        )
    return list(timesteps)


def check_strength(strength: float) -> float:
    """img2img / inpainting strength: a number in ``(0, 1]``."""
    if isinstance(strength, bool) or not isinstance(strength, (int, float)) or not 0 < strength <= 1:
        _fail(
            tr(
                f"strength={strength!r}: expected a number greater than 0 and at most 1 "
                "(0.3 keeps most of the picture, 1.0 redraws it from noise).",
                f"strength={strength!r}: 0보다 크고 1 이하인 숫자가 필요합니다 "
                "(0.3은 그림을 대부분 유지하고 1.0은 노이즈부터 다시 그립니다).",
            )
        )
    return float(strength)


def check_size(size: int, accepted: tuple[int, ...], stage: str = "stage I") -> int:
    """A picture side the stage was built for."""
    if isinstance(size, bool) or not isinstance(size, int) or size not in accepted:
        _fail(
            tr(
                f"size={size!r} for {stage}: this backend's {stage} draws pictures of side {accepted} pixels. "
                f"Use size={accepted[0]}, or leave size out.",
                f"{stage}의 size={size!r}: 이 백엔드의 {stage}는 한 변이 {accepted} 픽셀인 그림을 그립니다. "
                f"size={accepted[0]} 을 쓰거나 size를 생략하세요.",
            )
        )
    return size


def check_prompt(prompt: object, name: str = "prompt") -> str:
    """A prompt must be a ``str`` (one picture per call in iflearn's helpers)."""
    if not isinstance(prompt, str):
        raise BadPromptError(
            tr(
                f"{name}={prompt!r} ({type(prompt).__name__}): expected text, e.g. {name}=\"a red circle\". "
                "To draw several prompts, call the helper once per prompt.",
                f"{name}={prompt!r} ({type(prompt).__name__}): 텍스트가 필요합니다. 예: {name}=\"a red circle\". "
                "여러 프롬프트는 프롬프트마다 한 번씩 호출하세요.",
            )
        )
    return prompt


def warn_truncated(kept: str, cut: str, max_tokens: int = 77) -> None:
    """Warn that a prompt was cut at ``max_tokens`` tokens, quoting the part that was dropped."""
    warnings.warn(
        tr(
            f"The prompt is longer than {max_tokens} tokens, IF's limit; everything after \"{kept[-40:]}\" was cut "
            f"and not seen by the model: \"{cut}\". Shorten the prompt to keep those words.",
            f"프롬프트가 IF의 한도인 {max_tokens} 토큰보다 깁니다. \"{kept[-40:]}\" 뒤의 내용은 잘려서 모델이 보지 "
            f"못합니다: \"{cut}\". 그 단어들을 살리려면 프롬프트를 줄이세요.",
        ),
        PromptTruncatedWarning,
        stacklevel=3,
    )
