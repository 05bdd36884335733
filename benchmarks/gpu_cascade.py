#!/usr/bin/env python
"""Measure the DeepFloyd IF cascade on a GPU: full-size architectures, random weights, iflearn's memory recipes.

The gated checkpoints cannot be downloaded everywhere, so this benchmark builds every part of the cascade at its
full size with **random weights** straight on the GPU, from the JSON configs in ``benchmarks/configs/``:

* T5 v1.1 XXL encoder (the published architecture),
* stage I UNet (IF-I-XL or IF-I-M) and stage II UNet (IF-II-L or IF-II-M): **proxy configs**, built from what is
  published about IF (block types, T5 width, conditioning) with widths scaled to the published parameter counts,
  because the official UNet configs are not public,
* stage III: the SD x4 upscaler's UNet, VAE and CLIP text encoder (published architectures).

The parts are assembled into the same diffusers pipelines the course uses (``IFPipeline``,
``IFSuperResolutionPipeline``, ``StableDiffusionUpscalePipeline``) and placed by iflearn's own recipe code
(``iflearn.recipes.RECIPES``, ``iflearn.loading.place`` / ``free``). The compute per step is the real one; the
pictures are noise. Two recipes are measured:

* ``t4``: a 15 GB cap on GPU memory (a free Colab T4), T5 in 8-bit (bitsandbytes), encode then free it, each
  stage in fp16 behind ``enable_model_cpu_offload()``, one stage at a time;
* ``fast`` (iflearn's ``full_gpu``): everything in fp16 on the GPU, PyTorch SDPA attention, eager and then with
  ``torch.compile`` of the UNets, with the default step counts (100 / 50 / 75) and with the timestep presets.

Run (about 8 minutes on one H100)::

    python benchmarks/gpu_cascade.py --out benchmarks/results/gpu_cascade_h100.json

On a CPU, ``--tiny`` runs the same code with tiny configs of the same families and a few steps, skipping (and
recording) what needs CUDA::

    python benchmarks/gpu_cascade.py --tiny --out /tmp/gpu_cascade_tiny.json
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import json
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

if __package__ in (None, ""):
    # Run as a script from a checkout: make the repository's iflearn importable even where it is not installed.
    sys.path.insert(1, str(Path(__file__).resolve().parents[1]))

from iflearn.backend import real_backend
from iflearn.device import MemoryMonitor
from iflearn.loading import free, hub_errors, place
from iflearn.recipes import RECIPES, Recipe

__all__ = [
    "CONFIG_DIR",
    "PUBLISHED_PARAMS",
    "STAGE1_CONFIGS",
    "STAGE2_CONFIGS",
    "Settings",
    "Timing",
    "read_config",
    "count_parameters",
    "build_t5",
    "build_unet",
    "build_vae",
    "build_clip",
    "main",
]

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
TINY_CONFIG_DIR = CONFIG_DIR / "tiny"
RESULTS_DIR = Path(__file__).resolve().parent / "results"

#: Published parameter counts (deep-floyd/IF README "Model Zoo"; T5: the HF blog on IF in a free Colab).
PUBLISHED_PARAMS: dict[str, float] = {
    "stage1_if_i_xl.json": 4.3e9,
    "stage1_if_i_m.json": 0.4e9,
    "stage2_if_ii_l.json": 1.2e9,
    "stage2_if_ii_m.json": 0.45e9,
    "t5_v1_1_xxl.json": 4.5e9,
}
STAGE1_CONFIGS = {"XL": "stage1_if_i_xl.json", "M": "stage1_if_i_m.json"}
STAGE2_CONFIGS = {"L": "stage2_if_ii_l.json", "M": "stage2_if_ii_m.json"}
T5_CONFIG = "t5_v1_1_xxl.json"
SD_UNET_CONFIG = "sd_x4_upscaler_unet.json"
SD_VAE_CONFIG = "sd_x4_upscaler_vae.json"
SD_TEXT_CONFIG = "sd_x4_upscaler_text_encoder.json"
SCHEDULER_CONFIG = "schedulers.json"

#: The free Colab T4 has 15 GB (FACTS.md §2); the t4 recipe is measured under this cap.
T4_CAP_BYTES = 15e9
#: IF and the SD x4 upscaler read 77 tokens.
MAX_TOKENS = 77
#: How many real tokens the fixed stand-in prompt has (the rest is padding, as after tokenization).
PROMPT_TOKENS = 12
#: Timestep presets per stage (diffusers.pipelines.deepfloyd_if.timesteps), as in deep-floyd/IF's examples.
PRESETS: dict[str, tuple[str, ...]] = {
    "stage_I": ("fast27",),
    "stage_II": ("smart27", "smart50"),
    "stage_III": ("super27", "super40"),
}
STAGES = ("stage_I", "stage_II", "stage_III")
NEEDS_CUDA = "needs CUDA"


# ---------------------------------------------------------------------------------------------------------------
# 1. Configs and parameter counts
# ---------------------------------------------------------------------------------------------------------------
def read_config(name: str, folder: Path = CONFIG_DIR) -> dict[str, Any]:
    """A config from ``folder`` without its ``_``-prefixed notes (``_sources``, ``_proxy``, ...)."""
    path = folder / name
    if not path.is_file():
        raise FileNotFoundError(
            f"config {path} not found: the benchmark reads its architectures from {folder}. Expected one of "
            f"{sorted(p.name for p in folder.glob('*.json'))}; restore the file from git."
        )
    return {k: v for k, v in json.loads(path.read_text()).items() if not k.startswith("_")}


@contextlib.contextmanager
def default_dtype(dtype: torch.dtype) -> Iterator[None]:
    """Create new floating-point tensors in ``dtype`` inside the block (so weights are born in fp16)."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(old)


def build_t5(config: dict[str, Any], device: torch.device | str, dtype: torch.dtype) -> Any:
    """``T5EncoderModel`` with random weights, created directly on ``device`` in ``dtype`` (no CPU init)."""
    from transformers import T5Config, T5EncoderModel

    with torch.device(device):
        model = T5EncoderModel._from_config(T5Config(**config), dtype=dtype)
    return model.eval().requires_grad_(False)


def build_unet(config: dict[str, Any], device: torch.device | str, dtype: torch.dtype) -> Any:
    """``UNet2DConditionModel`` with random weights, created directly on ``device`` in ``dtype``."""
    from diffusers import UNet2DConditionModel

    with torch.device(device), default_dtype(dtype):
        model = UNet2DConditionModel.from_config(config)
    return model.eval().requires_grad_(False)


def build_vae(config: dict[str, Any], device: torch.device | str, dtype: torch.dtype) -> Any:
    """The x4 upscaler's ``AutoencoderKL`` with random weights, on ``device`` in ``dtype``."""
    from diffusers import AutoencoderKL

    with torch.device(device), default_dtype(dtype):
        model = AutoencoderKL.from_config(config)
    return model.eval().requires_grad_(False)


def build_clip(config: dict[str, Any], device: torch.device | str, dtype: torch.dtype) -> Any:
    """The x4 upscaler's ``CLIPTextModel`` (OpenCLIP ViT-H size) with random weights, on ``device`` in ``dtype``."""
    from transformers import CLIPTextConfig, CLIPTextModel

    config = {k: v for k, v in config.items() if k != "model_type"}
    with torch.device(device):
        model = CLIPTextModel._from_config(CLIPTextConfig(**config), dtype=dtype)
    return model.eval().requires_grad_(False)


BUILDERS: dict[str, Callable[[dict[str, Any], Any, torch.dtype], Any]] = {
    "t5": build_t5,
    "unet": build_unet,
    "vae": build_vae,
    "clip": build_clip,
}


def config_kind(name: str) -> str:
    """Which builder a config file is for: ``"t5"``, ``"unet"``, ``"vae"`` or ``"clip"``."""
    if name.startswith("t5"):
        return "t5"
    if name.endswith("_vae.json"):
        return "vae"
    if name.endswith("_text_encoder.json"):
        return "clip"
    return "unet"


def count_parameters(name: str, folder: Path = CONFIG_DIR) -> int:
    """Parameters of the model a config describes, counted on the ``meta`` device (no memory, well under a second)."""
    model = BUILDERS[config_kind(name)](read_config(name, folder), "meta", torch.float32)
    return sum(p.numel() for p in model.parameters())


def parameter_table(folder: Path = CONFIG_DIR) -> dict[str, dict[str, Any]]:
    """Every model config in ``folder``: its parameter count and, where published, the ratio to the published one."""
    table: dict[str, dict[str, Any]] = {}
    for path in sorted(folder.glob("*.json")):
        if path.name == SCHEDULER_CONFIG:
            continue
        notes = json.loads(path.read_text())
        params = count_parameters(path.name, folder)
        row: dict[str, Any] = {"params": params, "proxy": bool(notes.get("_proxy", False))}
        published = PUBLISHED_PARAMS.get(path.name) if folder == CONFIG_DIR else None
        if published:
            row["published_params"] = published
            row["ratio_to_published"] = round(params / published, 4)
        table[path.name] = row
    return table


# ---------------------------------------------------------------------------------------------------------------
# 2. Settings, timing and the job runner
# ---------------------------------------------------------------------------------------------------------------
@dataclass
class Settings:
    """What one benchmark run measures and where.

    Attributes:
        config_dir: ``configs/`` (full size) or ``configs/tiny/``.
        steps, guidance: per stage (I, II, III); default iflearn's real-backend defaults, 100 / 50 / 75 and 7 / 4 / 9.
        noise_levels: stage II's and stage III's augmentation noise levels (250, 100).
        warmup_steps: steps of the warm-up call made before each measured call.
        budget_s: no part starts once fewer seconds than it needs are left of this budget.
    """

    device: torch.device
    tiny: bool
    config_dir: Path
    stage1_config: str
    stage2_config: str
    steps: tuple[int, int, int]
    guidance: tuple[float, float, float]
    noise_levels: tuple[int, int]
    warmup_steps: int
    recipes: tuple[str, ...]
    compile: bool
    compile_mode: str
    presets: bool
    tmp_dir: str | None
    budget_s: float
    seed: int = 0
    started: float = field(default_factory=time.perf_counter)

    @property
    def cuda(self) -> bool:
        return self.device.type == "cuda"

    def remaining_s(self) -> float:
        return self.budget_s - (time.perf_counter() - self.started)


@dataclass
class Timing:
    """One measured pipeline call.

    Attributes:
        seconds: wall time of the whole call (after a warm-up call), CUDA synchronised.
        it_per_s: denoising steps / ``seconds`` (includes everything else the call does: upsampling, the VAE
            decode of stage III, offload transfers).
        loop_it_per_s: steps per second inside the denoising loop only (from per-step timestamps).
        peak_allocated_bytes: ``torch.cuda.max_memory_allocated()`` after ``reset_peak_memory_stats()``
            (process RSS on a CPU, see ``memory_kind``).
    """

    steps: int
    seconds: float
    it_per_s: float
    loop_it_per_s: float | None
    peak_allocated_bytes: int
    memory_kind: str
    output_shape: list[int]
    output_finite: bool
    warmup_steps: int | None = None
    warmup_seconds: float | None = None


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


StageCall = Callable[[Callable[..., None]], torch.Tensor]


def timed_call(call: StageCall, steps: int, device: torch.device) -> tuple[Timing, torch.Tensor]:
    """Run ``call(step_callback)`` once, measuring wall time, per-step timestamps and peak memory."""
    stamps: list[float] = []

    def on_step(*_: Any) -> None:
        synchronize(device)
        stamps.append(time.perf_counter())

    with MemoryMonitor(device) as memory:
        start = time.perf_counter()
        with torch.no_grad():
            images = call(on_step)
        synchronize(device)
        seconds = time.perf_counter() - start
    loop = (len(stamps) - 1) / (stamps[-1] - stamps[0]) if len(stamps) >= 2 and stamps[-1] > stamps[0] else None
    timing = Timing(
        steps=steps,
        seconds=round(seconds, 4),
        it_per_s=round(steps / seconds, 3),
        loop_it_per_s=round(loop, 3) if loop else None,
        peak_allocated_bytes=int(memory.peak_bytes),
        memory_kind=memory.kind,
        output_shape=list(images.shape),
        output_finite=bool(torch.isfinite(images.float()).all()),
    )
    return timing, images


def error_record(err: BaseException) -> dict[str, Any]:
    """An exception as JSON: its type and message and the last lines of the traceback."""
    lines = traceback.format_exception(type(err), err, err.__traceback__)
    return {"error": f"{type(err).__name__}: {err}"[:2000], "traceback": "".join(lines)[-3000:]}


class Runner:
    """Runs named jobs: skips them when the time budget is spent, records errors and goes on, shows progress."""

    def __init__(self, settings: Settings, total_jobs: int, checkpoint: Callable[[], None] | None = None) -> None:
        self.settings = settings
        self.checkpoint = checkpoint  # called after every job: the JSON on disk keeps what is done so far
        self.bar = tqdm(total=total_jobs, desc="gpu cascade", unit="job")

    def job(self, name: str, fn: Callable[[], dict[str, Any]], needs_s: float = 0.0) -> dict[str, Any]:
        """``fn()``'s record, or ``{"skipped": why}`` / ``{"error": ...}``; never raises (except Ctrl-C)."""
        self.bar.set_postfix_str(name)
        remaining = self.settings.remaining_s()
        try:
            if remaining < needs_s:
                return {"skipped": f"time budget: {remaining:.0f} s left of --budget-s {self.settings.budget_s:.0f}, "
                                   f"this part needs about {needs_s:.0f} s"}
            return fn()
        except KeyboardInterrupt:
            raise
        except BaseException as err:  # one failing part must not lose the others' numbers
            tqdm.write(f"[{name}] failed: {type(err).__name__}: {str(err)[:300]}")
            return error_record(err)
        finally:
            free()
            self.bar.update()
            if self.checkpoint is not None:
                self.checkpoint()

    def close(self) -> None:
        self.bar.close()


# ---------------------------------------------------------------------------------------------------------------
# 3. Stand-in prompts: fixed token ids, encoded by the random encoders (the same compute as encoding a prompt)
# ---------------------------------------------------------------------------------------------------------------
def t5_token_ids(vocab_size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Prompt and empty negative prompt as T5 would see them: ``(1, 77)`` ids and masks (eos 1, pad 0)."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.zeros(1, MAX_TOKENS, dtype=torch.long)
    ids[0, :PROMPT_TOKENS] = torch.randint(2, vocab_size, (PROMPT_TOKENS,), generator=g)
    ids[0, PROMPT_TOKENS] = 1
    mask = (torch.arange(MAX_TOKENS) <= PROMPT_TOKENS).long()[None]
    neg = torch.zeros(1, MAX_TOKENS, dtype=torch.long)
    neg[0, 0] = 1
    neg_mask = (torch.arange(MAX_TOKENS) < 1).long()[None]
    return ids, mask, neg, neg_mask


def clip_token_ids(config: dict[str, Any], seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Prompt and empty negative prompt for the x4 upscaler's CLIP: ``(1, 77)`` ids (bos, tokens, eos, padding)."""
    bos, eos, vocab = config["bos_token_id"], config["eos_token_id"], config["vocab_size"]
    g = torch.Generator().manual_seed(seed + 1)
    ids = torch.full((1, MAX_TOKENS), eos, dtype=torch.long)
    ids[0, 0] = bos
    ids[0, 1 : PROMPT_TOKENS + 1] = torch.randint(2, min(bos, vocab) - 1, (PROMPT_TOKENS,), generator=g)
    neg = torch.full((1, MAX_TOKENS), eos, dtype=torch.long)
    neg[0, 0] = bos
    return ids, neg


def encode_t5(encoder: Any, tokens: tuple[torch.Tensor, ...], device: torch.device) -> tuple[torch.Tensor, ...]:
    """``(prompt_embeds, negative_embeds)``, each ``(1, 77, d_model)``: two calls, as ``encode_prompt`` makes."""
    ids, mask, neg, neg_mask = (t.to(device) for t in tokens)
    with torch.no_grad():
        embeds = encoder(ids, attention_mask=mask)[0]
        negative = encoder(neg, attention_mask=neg_mask)[0]
    return embeds, negative


# ---------------------------------------------------------------------------------------------------------------
# 4. Pipelines assembled from random parts
# ---------------------------------------------------------------------------------------------------------------
def schedulers(settings: Settings) -> dict[str, Any]:
    """The cascade's schedulers with IF's and the x4 upscaler's settings (``configs/schedulers.json``)."""
    from diffusers import DDIMScheduler, DDPMScheduler

    cfg = read_config(SCHEDULER_CONFIG, settings.config_dir)
    return {
        "stage_I": DDPMScheduler(**cfg["stage_I"]),
        "stage_II": DDPMScheduler(**cfg["stage_II"]),
        "stage_II_noising": DDPMScheduler(**cfg["stage_II_noising"]),
        "stage_III": DDIMScheduler(**cfg["stage_III"]),
        "stage_III_low_res": DDPMScheduler(**cfg["stage_III_low_res"]),
        "max_noise_level": cfg["stage_III_max_noise_level"],
    }


def quiet(pipe: Any) -> Any:
    """Hide the pipeline's own progress bar (the benchmark shows one bar for the whole run)."""
    pipe.set_progress_bar_config(disable=True)
    return pipe


def build_stage(stage: str, settings: Settings, dtype: torch.dtype) -> Any:
    """One stage's pipeline with random weights on ``settings.device`` (not yet placed by a recipe)."""
    from diffusers import IFPipeline, IFSuperResolutionPipeline, StableDiffusionUpscalePipeline

    sch = schedulers(settings)
    folder, device = settings.config_dir, settings.device
    no_safety = dict(safety_checker=None, feature_extractor=None, watermarker=None)
    if stage == "stage_I":
        unet = build_unet(read_config(settings.stage1_config, folder), device, dtype)
        return quiet(IFPipeline(tokenizer=None, text_encoder=None, unet=unet, scheduler=sch["stage_I"], **no_safety,
                                requires_safety_checker=False))
    if stage == "stage_II":
        unet = build_unet(read_config(settings.stage2_config, folder), device, dtype)
        return quiet(IFSuperResolutionPipeline(
            tokenizer=None, text_encoder=None, unet=unet, scheduler=sch["stage_II"],
            image_noising_scheduler=sch["stage_II_noising"], **no_safety, requires_safety_checker=False,
        ))
    if stage == "stage_III":
        return quiet(StableDiffusionUpscalePipeline(
            vae=build_vae(read_config(SD_VAE_CONFIG, folder), device, dtype),
            text_encoder=build_clip(read_config(SD_TEXT_CONFIG, folder), device, dtype),
            tokenizer=None,
            unet=build_unet(read_config(SD_UNET_CONFIG, folder), device, dtype),
            low_res_scheduler=sch["stage_III_low_res"], scheduler=sch["stage_III"],
            max_noise_level=sch["max_noise_level"],
            **no_safety,
        ))
    raise ValueError(f"stage={stage!r}: expected one of {STAGES}.")


def attention_processors(pipe: Any) -> list[str]:
    """The attention processor classes the UNet uses (``...2_0`` means PyTorch SDPA)."""
    unet = getattr(pipe.unet, "_orig_mod", pipe.unet)
    return sorted({type(p).__name__ for p in unet.attn_processors.values()})


def stage_call(
    stage: str, pipe: Any, settings: Settings, embeds: tuple[torch.Tensor, torch.Tensor] | None,
    image: torch.Tensor | None, steps: int | None = None, timesteps: list[int] | None = None,
) -> StageCall:
    """A function ``call(step_callback) -> images`` that runs one stage as iflearn's ``Cascade`` does."""
    index = STAGES.index(stage)
    generator = torch.Generator("cpu").manual_seed(settings.seed + index)
    kwargs: dict[str, Any] = dict(guidance_scale=settings.guidance[index], output_type="pt", generator=generator,
                                  callback_steps=1)
    if timesteps is not None:
        kwargs["timesteps"] = list(timesteps)
    else:
        kwargs["num_inference_steps"] = steps
    if stage in ("stage_I", "stage_II"):
        kwargs["prompt_embeds"], kwargs["negative_prompt_embeds"] = embeds
    if stage == "stage_II":
        kwargs["image"], kwargs["noise_level"] = image, settings.noise_levels[0]
    if stage == "stage_III":
        kwargs["image"], kwargs["noise_level"] = image, settings.noise_levels[1]

    def call(on_step: Callable[..., None]) -> torch.Tensor:
        args = dict(kwargs)
        if stage == "stage_III":
            # The upscaler has its own CLIP text encoder; without a tokenizer offline, fixed token ids are encoded
            # here, inside the timed call, which is the same compute as the pipeline's encode_prompt.
            clip_cfg = read_config(SD_TEXT_CONFIG, settings.config_dir)
            ids, neg = (t.to(pipe._execution_device) for t in clip_token_ids(clip_cfg, settings.seed))
            args["prompt_embeds"] = pipe.text_encoder(ids)[0]
            args["negative_prompt_embeds"] = pipe.text_encoder(neg)[0]
        return pipe(**args, callback=on_step).images

    return call


def stage_steps(stage: str, settings: Settings) -> int:
    return settings.steps[STAGES.index(stage)]


def to_pipeline_input(tensor: torch.Tensor, recipe: Recipe, settings: Settings, dtype: torch.dtype) -> torch.Tensor:
    """Embeddings and pictures go to the GPU, or stay on the CPU behind offload (as iflearn's ``Cascade`` does)."""
    where = settings.device if (recipe.offload == "none" or not settings.cuda) else torch.device("cpu")
    return tensor.to(where, dtype)


StageOutput = tuple[dict[str, Any], torch.Tensor]


def measure_stage(
    stage: str, pipe: Any, recipe: Recipe, settings: Settings, dtype: torch.dtype,
    embeds: tuple[torch.Tensor, torch.Tensor], image: torch.Tensor | None, steps: int | None = None,
    timesteps: list[int] | None = None, warmup: bool = True,
) -> StageOutput:
    """A warm-up call with a few steps, then the measured call; returns the record and the output pictures."""
    embeds = tuple(to_pipeline_input(e, recipe, settings, dtype) for e in embeds)
    if image is not None:
        image = to_pipeline_input(image, recipe, settings, dtype)
    n = len(timesteps) if timesteps is not None else int(steps or stage_steps(stage, settings))
    warm = None
    if warmup:
        warm, _ = timed_call(stage_call(stage, pipe, settings, embeds, image, steps=settings.warmup_steps),
                             settings.warmup_steps, settings.device)
    timing, images = timed_call(stage_call(stage, pipe, settings, embeds, image, steps=steps or n, timesteps=timesteps),
                                n, settings.device)
    if warm is not None:
        timing.warmup_steps, timing.warmup_seconds = settings.warmup_steps, warm.seconds
    record = asdict(timing)
    record["attention_processors"] = attention_processors(pipe)
    return record, images.float()


# ---------------------------------------------------------------------------------------------------------------
# 5. The t4 recipe: 15 GB cap, 8-bit T5 encoded then freed, each stage in fp16 behind model CPU offload
# ---------------------------------------------------------------------------------------------------------------
@contextlib.contextmanager
def memory_cap(settings: Settings, cap_bytes: float) -> Iterator[dict[str, Any]]:
    """Cap this process's CUDA memory at ``cap_bytes`` (``set_per_process_memory_fraction``) inside the block."""
    info: dict[str, Any] = {}
    if not settings.cuda:
        info["skipped"] = f"memory cap: {NEEDS_CUDA}"
        yield info
        return
    total = torch.cuda.get_device_properties(settings.device).total_memory
    fraction = min(1.0, cap_bytes / total)
    torch.cuda.set_per_process_memory_fraction(fraction, settings.device)
    info.update(cap_bytes=int(cap_bytes), fraction=round(fraction, 4), gpu_total_bytes=int(total))
    try:
        yield info
    finally:
        torch.cuda.set_per_process_memory_fraction(1.0, settings.device)


def save_t5_for_8bit(settings: Settings, folder: Path) -> dict[str, Any]:
    """Build the fp16 T5 on the device and ``save_pretrained`` it, so it can be reloaded in 8-bit.

    bitsandbytes quantizes while ``from_pretrained`` loads a checkpoint, so random weights go through a local
    checkpoint: the same call that loads the real T5 in iflearn's ``load_prompt_encoder``.
    """
    start = time.perf_counter()
    dtype = torch.float16 if settings.cuda else torch.float32
    encoder = build_t5(read_config(T5_CONFIG, settings.config_dir), settings.device, dtype)
    encoder.save_pretrained(folder)
    del encoder
    free()
    size = sum(p.stat().st_size for p in folder.glob("*.safetensors"))
    return {"seconds": round(time.perf_counter() - start, 2), "checkpoint_bytes": int(size)}


def load_t5(recipe: Recipe, settings: Settings, folder: Path) -> tuple[Any, dict[str, Any]]:
    """Reload the saved T5 as the recipe says: 8-bit via ``BitsAndBytesConfig`` on CUDA, else full precision."""
    from transformers import T5EncoderModel

    notes: dict[str, Any] = {}
    kwargs: dict[str, Any] = dict(dtype=torch.float16 if settings.cuda else torch.float32)
    if recipe.text_encoder_8bit and (settings.cuda or package_version("bitsandbytes")):
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(load_in_8bit=True)
        kwargs["device_map"] = {"": settings.device.index or 0} if settings.cuda else {"": "cpu"}
        notes["quantization"] = "8-bit (bitsandbytes LLM.int8) via from_pretrained(quantization_config=...)"
    elif recipe.text_encoder_8bit:
        notes["quantization"] = (f"skipped: 8-bit needs bitsandbytes, which is not installed ({NEEDS_CUDA} for the "
                                 "measured run); loaded in full precision instead")
    start = time.perf_counter()
    with hub_errors("T5 v1.1 XXL (random weights, local checkpoint)", recipe), MemoryMonitor(settings.device) as memory:
        encoder = T5EncoderModel.from_pretrained(folder, **kwargs)
        if "device_map" not in kwargs:
            encoder.to(settings.device)
    notes["load_seconds"] = round(time.perf_counter() - start, 2)
    notes["load_peak_allocated_bytes"] = int(memory.peak_bytes)
    notes["weights_bytes"] = int(encoder.get_memory_footprint())
    return encoder.eval(), notes


def measure_encoder(encoder: Any, settings: Settings) -> tuple[dict[str, Any], tuple[torch.Tensor, torch.Tensor]]:
    """Warm-up, then one timed encoding of the prompt and the empty negative prompt."""
    tokens = t5_token_ids(encoder.config.vocab_size, settings.seed)
    encode_t5(encoder, tokens, settings.device)
    synchronize(settings.device)
    with MemoryMonitor(settings.device) as memory:
        start = time.perf_counter()
        embeds = encode_t5(encoder, tokens, settings.device)
        synchronize(settings.device)
        seconds = time.perf_counter() - start
    record = {"seconds": round(seconds, 4), "peak_allocated_bytes": int(memory.peak_bytes), "memory_kind": memory.kind,
              "output_shape": list(embeds[0].shape), "calls": 2}
    return record, tuple(e.detach().float().cpu() for e in embeds)


def run_t4(settings: Settings, runner: Runner, out: dict[str, Any]) -> dict[str, Any]:
    """iflearn's ``t4`` recipe under a 15 GB cap: every flag of ``RECIPES["t4"]`` drives what happens, and parts
    stay loaded while they fit, as in ``iflearn.cascade`` (``iflearn.placement.Residency`` with the published
    sizes of the configured stages: with IF-I-XL, loading stage I unloads T5).

    Fills ``out`` part by part (so a run stopped halfway keeps what it measured) and returns it.
    """
    from iflearn.placement import HEADROOM_GB, Residency, part_cost

    recipe = RECIPES["t4"]
    sizes = (next(k for k, v in STAGE1_CONFIGS.items() if v == settings.stage1_config),
             next(k for k, v in STAGE2_CONFIGS.items() if v == settings.stage2_config))
    costs = {part: part_cost(part, *sizes, half=True, t5_8bit=recipe.text_encoder_8bit).weight_bytes
             for part in ("encoder", "stage1", "stage2", "stage3")}
    residency = Residency(T4_CAP_BYTES - HEADROOM_GB * 1e9)
    held: dict[str, Any] = {}
    out.update({"recipe": recipe.name, "summary": recipe.summary, "skipped": {}, "stages": {}, "sizes": list(sizes)})
    dtype = recipe.dtype if settings.cuda else torch.float32
    if not settings.cuda:
        out["skipped"]["float16"] = f"{NEEDS_CUDA}: float32 on the CPU"
        out["skipped"]["model CPU offload"] = f"{NEEDS_CUDA}: place() moves the pipeline to the CPU instead"
    out["dtype"] = str(dtype).replace("torch.", "")
    folder = Path(tempfile.mkdtemp(prefix="t5-random-", dir=settings.tmp_dir))
    try:
        out["prepare_text_encoder_checkpoint"] = runner.job("t4: save T5", lambda: save_t5_for_8bit(settings, folder))
        with memory_cap(settings, T4_CAP_BYTES) as cap:
            out["memory_cap"] = cap
            state: dict[str, Any] = {}

            def text_encoder() -> dict[str, Any]:
                try:
                    encoder, notes = load_t5(recipe, settings, folder)
                except Exception as err:  # e.g. bitsandbytes missing: keep measuring the stages with an fp16 T5
                    if not recipe.text_encoder_8bit:
                        raise
                    tqdm.write(f"[t4: T5 8-bit] failed ({type(err).__name__}: {str(err)[:200]}); using it unquantized")
                    free()
                    encoder, notes = load_t5(replace(recipe, text_encoder_8bit=False), settings, folder)
                    notes["quantization"] = "failed; fell back to the unquantized T5 (see quantization_error)"
                    notes["quantization_error"] = error_record(err)["error"]
                record, state["embeds"] = measure_encoder(encoder, settings)
                record.update(notes)
                residency.admit("encoder", costs["encoder"])
                held["encoder"] = encoder
                del encoder
                if recipe.free_text_encoder:
                    residency.forget("encoder")
                    held.pop("encoder")
                    free()
                    record["freed"] = True
                    if settings.cuda:
                        record["allocated_after_free_bytes"] = int(torch.cuda.memory_allocated())
                return record

            out["text_encoder"] = runner.job("t4: T5 8-bit", text_encoder, needs_s=60)
            image: torch.Tensor | None = None
            for stage in STAGES:
                def one_stage(stage: str = stage) -> dict[str, Any]:
                    nonlocal image
                    if "embeds" not in state:
                        raise RuntimeError("no prompt embeddings: the text encoder step failed (see text_encoder)")
                    if stage != "stage_I" and image is None:
                        raise RuntimeError("no input picture: the previous stage failed")
                    part = {"stage_I": "stage1", "stage_II": "stage2", "stage_III": "stage3"}[stage]
                    unloaded = residency.admit(part, costs[part])
                    for old in unloaded:
                        held.pop(old, None)
                    if unloaded:
                        free()
                    pipe = place(build_stage(stage, settings, dtype), recipe, settings.device)
                    record, image = measure_stage(stage, pipe, recipe, settings, dtype, state["embeds"], image)
                    record["offload"] = recipe.offload if settings.cuda else "none (CPU)"
                    record["unloaded_before"] = unloaded
                    record["kept_loaded"] = residency.loaded
                    held[part] = pipe
                    del pipe
                    if recipe.one_stage_at_a_time:
                        residency.forget(part)
                        held.pop(part)
                        free()
                    return record

                out["stages"][stage] = runner.job(f"t4: {stage}", one_stage, needs_s=30)
                if "error" in out["stages"][stage] or "skipped" in out["stages"][stage]:
                    image = None
    finally:
        held.clear()
        free()
        shutil.rmtree(folder, ignore_errors=True)
    return out


# ---------------------------------------------------------------------------------------------------------------
# 6. The fast recipe: everything fp16 on the GPU, eager then torch.compile'd UNets, default steps and presets
# ---------------------------------------------------------------------------------------------------------------
def preset_timesteps(name: str) -> list[int]:
    """A deep-floyd/IF timestep preset from ``diffusers.pipelines.deepfloyd_if``, e.g. ``"fast27"``."""
    from diffusers.pipelines.deepfloyd_if import timesteps as presets

    return list(getattr(presets, f"{name}_timesteps"))


def run_fast(settings: Settings, runner: Runner, out: dict[str, Any]) -> dict[str, Any]:
    """iflearn's ``full_gpu`` recipe: T5 and all three stages on the device, then ``torch.compile`` and presets.

    Fills ``out`` part by part and returns it.
    """
    recipe = RECIPES["full_gpu"]
    dtype = recipe.dtype if settings.cuda else torch.float32
    out.update({"recipe": recipe.name, "summary": recipe.summary, "dtype": str(dtype).replace("torch.", ""),
                "skipped": {}, "eager": {}, "compiled": {}, "presets": {}})
    if not settings.cuda:
        out["skipped"]["float16"] = f"{NEEDS_CUDA}: float32 on the CPU"
    state: dict[str, Any] = {}

    def text_encoder() -> dict[str, Any]:
        start = time.perf_counter()
        encoder = build_t5(read_config(T5_CONFIG, settings.config_dir), settings.device, dtype)
        build = time.perf_counter() - start
        record, state["embeds"] = measure_encoder(encoder, settings)
        record["build_seconds"] = round(build, 2)
        state["encoder"] = encoder  # full_gpu keeps the encoder (free_text_encoder is False)
        if recipe.free_text_encoder:
            del state["encoder"]
        return record

    out["text_encoder"] = runner.job("fast: T5", text_encoder, needs_s=20)
    pipes: dict[str, Any] = {}
    inputs: dict[str, torch.Tensor | None] = {"stage_I": None}

    def chain(kind: str, stage: str, body: Callable[[Any, torch.Tensor | None], StageOutput]) -> dict[str, Any]:
        """Build (once) and place the stage's pipeline, run ``body`` on it, pass its pictures to the next stage."""
        if "embeds" not in state:
            raise RuntimeError("no prompt embeddings: the text encoder step failed (see text_encoder)")
        if stage not in inputs:
            raise RuntimeError(f"no input picture for {stage}: the previous stage failed in the {kind} run")
        if stage not in pipes:
            pipes[stage] = place(build_stage(stage, settings, dtype), recipe, settings.device)
        record, images = body(pipes[stage], inputs[stage])
        following = STAGES.index(stage) + 1
        if following < len(STAGES):
            inputs[STAGES[following]] = images
        return record

    # Eager, default steps.
    for stage in STAGES:
        def eager(stage: str = stage) -> dict[str, Any]:
            return chain("eager", stage, lambda pipe, image: measure_stage(
                stage, pipe, recipe, settings, dtype, state["embeds"], image))

        out["eager"][stage] = runner.job(f"fast eager: {stage}", eager, needs_s=20)
    # torch.compile of the UNets, default steps.
    compile_needs = {"stage_I": 150, "stage_II": 110, "stage_III": 90}
    for stage in STAGES:
        if not settings.cuda:
            out["compiled"][stage] = {"skipped": f"torch.compile: {NEEDS_CUDA} (measured on the GPU only)"}
            runner.bar.update()
            continue
        if not settings.compile:
            out["compiled"][stage] = {"skipped": "turned off by --no-compile"}
            runner.bar.update()
            continue

        def compiled(stage: str = stage) -> dict[str, Any]:
            def body(pipe: Any, image: torch.Tensor | None) -> StageOutput:
                eager_unet = pipe.unet
                pipe.unet = torch.compile(eager_unet, mode=settings.compile_mode)
                try:
                    embeds = tuple(to_pipeline_input(e, recipe, settings, dtype) for e in state["embeds"])
                    first_in = None if image is None else to_pipeline_input(image, recipe, settings, dtype)
                    first, _ = timed_call(
                        stage_call(stage, pipe, settings, embeds, first_in, steps=settings.warmup_steps),
                        settings.warmup_steps, settings.device,
                    )
                    # A second short call after the compiling one catches a recompilation before the measured call.
                    record, images = measure_stage(stage, pipe, recipe, settings, dtype, state["embeds"], image)
                except BaseException:
                    pipe.unet = eager_unet  # the presets then run eager
                    raise
                per_step = record["seconds"] / record["steps"]
                record["first_call_seconds"] = first.seconds
                record["compile_seconds"] = round(max(0.0, first.seconds - settings.warmup_steps * per_step), 2)
                record["compile_mode"] = settings.compile_mode
                eager = out["eager"].get(stage, {})
                if "seconds" in eager:
                    record["speedup_vs_eager"] = round(eager["seconds"] / record["seconds"], 3)
                    if eager.get("loop_it_per_s") and record.get("loop_it_per_s"):
                        record["loop_speedup_vs_eager"] = round(record["loop_it_per_s"] / eager["loop_it_per_s"], 3)
                return record, images

            return chain("compiled", stage, body)

        out["compiled"][stage] = runner.job(f"fast compiled: {stage}", compiled, needs_s=compile_needs[stage])
    # Presets (with the compiled UNets where they were compiled).
    for stage in STAGES:
        for name in PRESETS[stage]:
            key = f"{stage}:{name}"
            if not settings.presets:
                out["presets"][key] = {"skipped": "turned off by --no-presets"}
                runner.bar.update()
                continue

            def preset(stage: str = stage, name: str = name) -> dict[str, Any]:
                steps = preset_timesteps(name)

                def body(pipe: Any, image: torch.Tensor | None) -> StageOutput:
                    if stage == "stage_III":
                        # StableDiffusionUpscalePipeline takes no `timesteps` list: as many evenly spaced steps.
                        record, images = measure_stage(stage, pipe, recipe, settings, dtype, state["embeds"], image,
                                                       steps=len(steps), warmup=False)
                        record["timesteps"] = f"{len(steps)} evenly spaced (the upscaler takes no timesteps list)"
                    else:
                        record, images = measure_stage(stage, pipe, recipe, settings, dtype, state["embeds"], image,
                                                       timesteps=steps, warmup=False)
                        record["timesteps"] = name
                    record["unet_compiled"] = hasattr(pipe.unet, "_orig_mod")
                    return record, images

                return chain("preset", stage, body)

            out["presets"][key] = runner.job(f"fast preset: {key}", preset, needs_s=15)
    state.clear()
    pipes.clear()
    return out


# ---------------------------------------------------------------------------------------------------------------
# 7. Environment, output and the command line
# ---------------------------------------------------------------------------------------------------------------
def package_version(name: str) -> str | None:
    try:
        from importlib.metadata import version

        return version(name)
    except Exception:
        return None


def environment(settings: Settings) -> dict[str, Any]:
    """GPU, driver, CUDA and library versions, and the date (UTC)."""
    env: dict[str, Any] = {
        "date_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": {name: package_version(name) for name in
                     ("torch", "diffusers", "transformers", "accelerate", "bitsandbytes", "safetensors", "iflearn")},
        "cuda_runtime": torch.version.cuda,
        "device": str(settings.device),
    }
    if settings.cuda:
        props = torch.cuda.get_device_properties(settings.device)
        env.update(gpu_name=props.name, gpu_total_bytes=int(props.total_memory),
                   capability=f"{props.major}.{props.minor}", cudnn=torch.backends.cudnn.version())
        try:
            smi = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                                 capture_output=True, text=True, timeout=20)
            env["driver"] = smi.stdout.strip().splitlines()[0] if smi.returncode == 0 and smi.stdout.strip() else None
        except (OSError, subprocess.SubprocessError):
            env["driver"] = None
    else:
        env.update(gpu_name=None, driver=None, cpu=platform.processor() or platform.machine())
    return env


def gpu_slug(name: str | None) -> str:
    """``"NVIDIA H100 80GB HBM3"`` → ``"h100"``, for the default output file name."""
    if not name:
        return "cpu"
    match = re.search(r"\b([A-Z]+\d+[A-Z]?)\b", name.replace("NVIDIA", ""))
    return (match.group(1) if match else re.sub(r"\W+", "_", name).strip("_")).lower()


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=None,
                   help="JSON to write (default: benchmarks/results/gpu_cascade_<gpu>.json; --tiny: a temp file)")
    p.add_argument("--tiny", action="store_true", help="tiny configs on the CPU, a few steps: checks the code path")
    p.add_argument("--quick", action="store_true",
                   help="IF-I-M + IF-II-M, 10 steps per stage, no compile, no presets: a short check on a GPU")
    p.add_argument("--stage1", choices=sorted(STAGE1_CONFIGS), default=None, help="stage I size (default XL)")
    p.add_argument("--stage2", choices=sorted(STAGE2_CONFIGS), default=None, help="stage II size (default L)")
    p.add_argument("--steps", default=None, help="steps per stage, e.g. 100,50,75 (default: diffusers' defaults)")
    p.add_argument("--warmup-steps", type=int, default=None, help="steps of each warm-up call (default 3; tiny 1)")
    p.add_argument("--recipes", default="t4,fast", help="which recipes, comma-separated: t4, fast")
    p.add_argument("--no-compile", action="store_true", help="skip torch.compile")
    p.add_argument("--compile-mode", default="default",
                   help="torch.compile mode for the UNets: default, reduce-overhead, max-autotune, ...")
    p.add_argument("--no-presets", action="store_true", help="skip the timestep presets")
    p.add_argument("--tmp-dir", default=None, help="where the random T5 checkpoint (about 9.5 GB) is written")
    p.add_argument("--budget-s", type=float, default=None,
                   help="stop starting new parts after this many seconds (default 450; tiny 600)")
    return p.parse_args(argv)


def make_settings(args: argparse.Namespace) -> Settings:
    """Settings from the command line; ``--tiny`` and ``--quick`` set smaller defaults."""
    defaults = real_backend().defaults  # iflearn's real-backend defaults: 100/50/75 steps, 7/4/9 guidance
    if args.tiny:
        device = torch.device("cpu")
        steps: tuple[int, ...] = (3, 3, 3)
    else:
        if not torch.cuda.is_available():
            raise SystemExit(
                "gpu_cascade.py measures the cascade on a CUDA GPU, and torch.cuda.is_available() is False here. "
                "Run it on a GPU machine, or add --tiny to check the code path on the CPU with tiny models."
            )
        device = torch.device("cuda", torch.cuda.current_device())
        steps = (10, 10, 10) if args.quick else tuple(d.steps for d in defaults)
    if args.steps:
        try:
            steps = tuple(int(s) for s in args.steps.split(","))
        except ValueError:
            steps = ()
        if len(steps) != 3 or min(steps) < 1:
            raise SystemExit(f"--steps {args.steps!r}: expected three whole numbers >= 1, e.g. --steps 100,50,75.")
    recipes = tuple(r.strip() for r in args.recipes.split(",") if r.strip())
    unknown = set(recipes) - {"t4", "fast"}
    if unknown:
        raise SystemExit(f"--recipes {args.recipes!r}: unknown {sorted(unknown)}; expected t4, fast or t4,fast.")
    small = args.tiny or args.quick
    return Settings(
        device=device,
        tiny=args.tiny,
        config_dir=TINY_CONFIG_DIR if args.tiny else CONFIG_DIR,
        stage1_config=STAGE1_CONFIGS[args.stage1 or ("M" if small else "XL")],
        stage2_config=STAGE2_CONFIGS[args.stage2 or ("M" if small else "L")],
        steps=steps,  # type: ignore[arg-type]
        guidance=tuple(d.guidance_scale for d in defaults),  # type: ignore[arg-type]
        noise_levels=(defaults[1].noise_level, defaults[2].noise_level),  # type: ignore[arg-type]
        warmup_steps=args.warmup_steps or (1 if args.tiny else 3),
        recipes=recipes,
        compile=not (args.no_compile or args.quick),
        compile_mode=args.compile_mode,
        presets=not (args.no_presets or args.quick),
        tmp_dir=args.tmp_dir,
        budget_s=args.budget_s or (600.0 if args.tiny else 450.0),
    )


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark; write and return the JSON record."""
    args = parse_args(argv)
    settings = make_settings(args)
    env = environment(settings)  # PyTorch's defaults are kept (no cudnn.benchmark, no TF32 matmul), as in the course
    if args.out:
        out_path = args.out
    elif settings.tiny:  # a code-path check, not a result: keep it out of benchmarks/results
        out_path = Path(tempfile.gettempdir()) / "gpu_cascade_tiny.json"
    else:
        out_path = RESULTS_DIR / f"gpu_cascade_{gpu_slug(env.get('gpu_name'))}.json"
    result: dict[str, Any] = {
        "benchmark": "gpu_cascade",
        "proxy_configs": True,
        "note": (
            "Random weights, full-size architectures. The IF UNet configs (stage I and II) are proxies: the official "
            "configs are not public, so they follow IF's published design with widths scaled to the published "
            "parameter counts. T5 v1.1 XXL and the SD x4 upscaler use their published architectures. Timings show "
            "the compute of the real pipelines; the pictures are noise."
        ),
        "mode": "tiny" if settings.tiny else ("quick" if args.quick else "full"),
        "environment": env,
        "settings": {
            "stage1_config": settings.stage1_config, "stage2_config": settings.stage2_config,
            "steps": list(settings.steps), "guidance_scale": list(settings.guidance),
            "noise_level": {"stage_II": settings.noise_levels[0], "stage_III": settings.noise_levels[1]},
            "warmup_steps": settings.warmup_steps, "batch": "1 picture (2 with classifier-free guidance)",
            "prompt_tokens": f"{PROMPT_TOKENS} fixed random token ids padded to {MAX_TOKENS}",
            "compile_mode": settings.compile_mode, "budget_s": settings.budget_s,
            "t4_memory_cap_bytes": int(T4_CAP_BYTES),
            "presets": {k: list(v) for k, v in PRESETS.items()},
        },
        "configs": parameter_table(settings.config_dir),
        "recipes": {},
    }
    if settings.tiny:
        result["full_size_configs"] = parameter_table(CONFIG_DIR)
    print(f"Parameter counts ({settings.config_dir}):")
    for name, row in result["configs"].items():
        extra = ""
        if "published_params" in row:
            extra = f" (published {row['published_params'] / 1e9:g}B, ratio {row['ratio_to_published']})"
        print(f"  {name:36s} {row['params'] / 1e9:8.3f}B{' proxy' if row['proxy'] else ''}{extra}")
    jobs = {"t4": 5, "fast": 1 + 3 + 3 + sum(len(v) for v in PRESETS.values())}
    def checkpoint() -> None:
        result["total_seconds"] = round(time.perf_counter() - settings.started, 2)
        write_json(out_path, result)

    runner = Runner(settings, sum(jobs[r] for r in settings.recipes), checkpoint)
    runs = {"t4": run_t4, "fast": run_fast}
    try:
        for name in settings.recipes:
            result["recipes"][name] = {}
            try:
                runs[name](settings, runner, result["recipes"][name])
            except KeyboardInterrupt:
                raise
            except BaseException as err:  # keep the other recipe's numbers
                result["recipes"][name].update(error_record(err))
            finally:
                free()
            checkpoint()
    finally:
        runner.close()
    result["total_seconds"] = round(time.perf_counter() - settings.started, 2)
    write_json(out_path, result)
    print(f"Wrote {out_path} ({result['total_seconds']} s).")
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
