"""The whole cascade: encode the prompt once, then stage I → stage II → stage III, timed and measured.

Example::

    from iflearn import Cascade
    cascade = Cascade.load()                       # picks the backend and memory recipe, says why
    result = cascade.generate("a big red circle on a blue background", seed=0)
    result.stages[0].images.shape                  # (1, 3, 32, 32) on mini-IF, (1, 3, 64, 64) on real IF
    result.table()                                 # per-stage seconds and peak memory
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

import torch
from PIL import Image
from tqdm.auto import tqdm

from iflearn import loading, upscale
from iflearn.backend import Backend, BackendChoice, cap_steps, choose_backend, real_backend, real_sizes_for
from iflearn.device import MemoryMonitor, default_device, gpu_info
from iflearn.embed_cache import EmbeddingCache, cache_dir
from iflearn.errors import (
    BadArgumentError,
    StageNotAvailableError,
    check_guidance,
    check_noise_level,
    check_prompt,
    check_size,
    check_steps,
    check_timesteps,
)
from iflearn.i18n import tr
from iflearn.placement import HEADROOM_GB, Residency, part_cost
from iflearn.plotting import to_pil
from iflearn.recipes import Recipe, RecipeChoice, choose_recipe
from iflearn.safety import SafetyReport, check_pictures, watermark_pictures
from iflearn.text import PromptEncoding, encode_prompt

__all__ = ["StageResult", "CascadeResult", "Cascade", "STAGE_NAMES"]

STAGE_NAMES = ("stage I", "stage II", "stage III")


@dataclass
class StageResult:
    """One stage's output.

    Attributes:
        images: ``(B, 3, H, W)`` float32 in ``[-1, 1]`` on the CPU, as shown: on the real backend after IF's
            safety checker (flagged pictures are black) and with IF's watermark in the bottom-right corner.
        seconds: wall time of the stage (loading excluded).
        peak_memory_bytes: peak CUDA allocated memory on a GPU, peak process RSS on a CPU (see ``memory_kind``).
        safety: what the safety checker flagged (real backend), else ``None``.
    """

    name: str
    images: torch.Tensor
    seconds: float
    peak_memory_bytes: int
    memory_kind: str
    settings: dict[str, Any]
    safety: SafetyReport | None = None

    @property
    def size(self) -> int:
        return int(self.images.shape[-1])

    def pil(self, index: int = 0) -> Image.Image:
        return to_pil(self.images[index])


@dataclass
class CascadeResult:
    """Everything one ``generate`` call produced: every stage's pictures, the seed and settings, timings."""

    prompt: str
    negative_prompt: str
    seed: int
    backend: str
    recipe: str
    stages: list[StageResult] = field(default_factory=list)
    encoding: PromptEncoding | None = None

    @property
    def image(self) -> Image.Image:
        """The last stage's first picture."""
        return self.stages[-1].pil(0)

    def table(self) -> list[dict[str, Any]]:
        """One row per stage: name, size, steps, seconds, peak memory in MB."""
        return [
            {
                "stage": s.name,
                "size": f"{s.size}x{s.size}",
                "steps": s.settings.get("num_inference_steps"),
                "seconds": round(s.seconds, 3),
                "peak_memory_MB": round(s.peak_memory_bytes / 1e6, 1),
                "memory_kind": s.memory_kind,
            }
            for s in self.stages
        ]


class Cascade:
    """The IF cascade on one backend with one memory recipe. Build it with :meth:`Cascade.load`."""

    def __init__(self, backend: Backend, recipe: Recipe, device: torch.device, reason: str = "",
                 gpu_bytes: float | None = None) -> None:
        self.backend = backend
        self.recipe = recipe
        self.device = device
        self.reason = reason
        self._pipes: dict[str, Any] = {}
        sizes = self.real_sizes
        budget = None
        if backend.name == "real" and recipe.offload == "none" and gpu_bytes is not None:
            # The safety checker stays for good (every stage uses it); the rest share what is left.
            safety = part_cost("safety", *sizes, half=recipe.dtype == torch.float16, t5_8bit=recipe.text_encoder_8bit)
            budget = gpu_bytes - HEADROOM_GB * 1e9 - safety.weight_bytes
        self.residency = Residency(budget)
        folder = cache_dir() if backend.name == "real" else None
        self.embeddings = EmbeddingCache(f"{backend.stage1}|{recipe.name}", folder)

    @property
    def real_sizes(self) -> tuple[str, str]:
        """Stage I and II sizes (``"XL"``, ``"M"``, …) of a real backend, read from its repo ids; a folder whose
        name does not say counts as the largest size (IF-I-XL, IF-II-L), so memory is never underestimated."""
        one = re.search(r"IF-I-(XL|L|M)\b", self.backend.stage1)
        two = re.search(r"IF-II-(L|M)\b", self.backend.stage2)
        return (one.group(1) if one else "XL"), (two.group(1) if two else "L")

    @classmethod
    def load(
        cls,
        backend: str | Backend = "auto",
        recipe: str | None = None,
        device: str | torch.device | None = None,
        verbose: bool = True,
        sizes: tuple[str, str] | None = None,
    ) -> Cascade:
        """Choose the backend (``"auto"``, ``"real"``, ``"mini"`` or a :class:`Backend`) and the recipe.

        Args:
            sizes: the real backend's stage I and II sizes, e.g. ``("XL", "L")``; default: what the recipe keeps
                loaded for a whole notebook (:func:`iflearn.backend.real_sizes_for`: IF-I-M + IF-II-M on a T4).

        Nothing heavy is loaded yet: each part loads on first use, as its recipe says.
        """
        if isinstance(backend, Backend):
            choice = BackendChoice(backend, tr(f"{backend.name} backend, as given.", f"주어진 {backend.name} 백엔드입니다."))
        else:
            choice = choose_backend(backend)
        dev = torch.device(device) if device is not None else default_device()
        if choice.backend.name == "mini":
            rchoice = choose_recipe(None, recipe or "cpu")
            if rchoice.recipe.name != "cpu":
                raise BadArgumentError(
                    tr(
                        f"recipe={recipe!r} is a GPU memory recipe for the real backend; the mini backend runs in "
                        "float32 with recipe='cpu'. Leave recipe out.",
                        f"recipe={recipe!r} 는 real 백엔드용 GPU 메모리 레시피입니다. mini 백엔드는 recipe='cpu'"
                        "(float32)로 실행합니다. recipe를 생략하세요.",
                    )
                )
        else:
            info = gpu_info()
            rchoice: RecipeChoice = choose_recipe(info.free_gb if info else None, recipe)
            if not isinstance(backend, Backend):
                choice = BackendChoice(real_backend(*(sizes or real_sizes_for(rchoice.recipe.name))), choice.reason)
        gpu_bytes = None
        if choice.backend.name == "real":
            info = gpu_info()
            gpu_bytes = info.total_bytes if info else None
        if verbose:
            print(choice.reason)
            print(tr("Memory recipe: ", "메모리 레시피: ") + rchoice.reason)
            if choice.backend.name == "real":
                print(tr("Checkpoints: ", "체크포인트: ") + f"{choice.backend.stage1}, {choice.backend.stage2}, "
                      f"{choice.backend.stage3}")
        return cls(choice.backend, rchoice.recipe, dev, choice.reason, gpu_bytes)

    # -- parts, loaded on first use -------------------------------------------------------------------------
    def pipe(self, part: str) -> Any:
        """The loaded pipeline for ``"encoder"``, ``"stage1"``, ``"stage2"`` or ``"stage3"`` (``"safety"``: IF's
        safety checker and watermarker on the real backend, ``None`` on mini-IF).

        A part is loaded on first use and kept while it fits the recipe's GPU budget; loading one that does not fit
        first unloads the parts used least recently (:class:`iflearn.placement.Residency`).
        """
        if part in self._pipes:
            self.residency.touch(part)
            return self._pipes[part]
        loaders = {
            "encoder": loading.load_prompt_encoder,
            "stage1": loading.load_stage1,
            "stage2": loading.load_stage2,
            "stage3": loading.load_stage3,
        }
        if part == "safety":
            self._pipes[part] = loading.load_safety(self.backend, self.recipe, self.device)
            return self._pipes[part]
        if part not in loaders:
            raise BadArgumentError(tr(
                f"part={part!r}: expected one of {(*loaders, 'safety')}.",
                f"part={part!r}: {(*loaders, 'safety')} 중 하나여야 합니다.",
            ))
        if self.backend.name == "real":
            half = self.recipe.dtype == torch.float16
            cost = part_cost(part, *self.real_sizes, half=half, t5_8bit=self.recipe.text_encoder_8bit)
            for old in self.residency.admit(part, cost.weight_bytes):
                self.release(old)
        if part == "encoder":
            self._pipes[part] = loaders[part](self.backend, self.recipe, self.device)
        else:
            safety = self.pipe("safety")
            self._pipes[part] = loaders[part](self.backend, self.recipe, self.device, safety)
            if self.backend.name == "mini":
                # mini-IF's UNets draw a picture ~12 % faster in channels-last layout on a CPU
                # (benchmarks/results/mini_if_speed.json: 0.85 s against 0.96 s on 2 cores).
                self._pipes[part].unet.to(memory_format=torch.channels_last)
        return self._pipes[part]

    @property
    def loaded(self) -> list[str]:
        """The parts loaded now (``"safety"`` included once loaded)."""
        return list(self._pipes)

    def release(self, part: str) -> None:
        """Drop a loaded part and free its memory (``gc.collect(); torch.cuda.empty_cache()``)."""
        self._pipes.pop(part, None)
        self.residency.forget(part)
        loading.free()

    def release_all(self) -> None:
        """Drop every loaded part (the cached prompt embeddings stay)."""
        for part in list(self._pipes):
            self.release(part)

    def encode(self, prompt: str, negative_prompt: str = "") -> PromptEncoding:
        """Encode the prompt and negative prompt, once per prompt: later calls (and, on the real backend, later
        sessions) reuse the cached embeddings (:mod:`iflearn.embed_cache`) without loading the text encoder."""
        check_prompt(prompt)
        check_prompt(negative_prompt, "negative_prompt")
        encoding = self.embeddings.get(prompt, negative_prompt)
        if encoding is None:
            encoding = encode_prompt(self.pipe("encoder"), prompt, negative_prompt)
            self.embeddings.put(encoding)
            if self.recipe.free_text_encoder:
                self.release("encoder")
        # In the dtype the stages compute in (fp16 on a GPU; float32 on a CPU), wherever they came from.
        dtype = loading.compute_dtype(self.recipe, self.device) if self.backend.name == "real" else torch.float32
        encoding.prompt_embeds = encoding.prompt_embeds.to(dtype)
        encoding.negative_embeds = encoding.negative_embeds.to(dtype)
        return encoding

    # -- the cascade ----------------------------------------------------------------------------------------
    def generate(
        self,
        prompt: str,
        negative_prompt: str = "",
        seed: int = 0,
        stages: int | None = None,
        steps: tuple[int, ...] | None = None,
        guidance: tuple[float, ...] | None = None,
        noise_level: int | None = None,
        timesteps: list[int] | None = None,
        size: int | None = None,
        progress: bool = True,
    ) -> CascadeResult:
        """Run the cascade for one prompt.

        Args:
            stages: how many stages to run (1, 2 or 3; default: all the backend has).
            steps, guidance: per stage; default: the backend's (real: 100/50/75 and 7/4/9; mini: 20 and 7/1, its
                stage II img2img-style at the timesteps ``backend.defaults[1].timesteps``, 55, 10 and 0; asked for
                a step count, it runs the last ``strength`` of them).
            noise_level: stage II's augmentation noise level in ``[0, 1000)`` (default: the backend's; real 250).
            timesteps: a stage I timestep preset, e.g. ``fast27_timesteps`` (overrides its step count).
            size: stage I's picture side; only the size the backend was trained for is accepted.
            progress: show the cascade's progress bar (one step per stage).

        Returns:
            A :class:`CascadeResult`; ``stages[i].images`` is ``(1, 3, H, W)`` in ``[-1, 1]``.
        """
        check_prompt(prompt)
        check_prompt(negative_prompt, "negative_prompt")
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise BadArgumentError(tr(f"seed={seed!r}: expected a whole number >= 0, e.g. seed=0.",
                                      f"seed={seed!r}: 0 이상의 정수가 필요합니다. 예: seed=0."))
        n = self.backend.num_stages if stages is None else stages
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 3:
            raise BadArgumentError(tr(f"stages={stages!r}: expected 1, 2 or 3.", f"stages={stages!r}: 1, 2, 3 중 하나여야 합니다."))
        if n > self.backend.num_stages:
            # Raises the teaching error that explains which backend has stage III.
            loading.load_stage3(self.backend, self.recipe, self.device)
        defaults = self.backend.defaults
        asked = steps is not None
        steps = tuple(cap_steps(s) for s in steps) if asked else tuple(d.steps for d in defaults)
        guidance = tuple(guidance) if guidance is not None else tuple(d.guidance_scale for d in defaults)
        if len(steps) < n or len(guidance) < n:
            raise BadArgumentError(
                tr(f"steps={steps!r}, guidance={guidance!r}: give one value per stage for {n} stages, e.g. "
                   f"steps={tuple(d.steps for d in defaults[:n])}.",
                   f"steps={steps!r}, guidance={guidance!r}: {n}개 단계마다 값을 하나씩 주세요. 예: "
                   f"steps={tuple(d.steps for d in defaults[:n])}.")
            )
        for i in range(n):
            check_steps(steps[i], STAGE_NAMES[i])
            check_guidance(guidance[i], STAGE_NAMES[i])
        level = check_noise_level(defaults[1].noise_level if noise_level is None else noise_level)
        if timesteps is not None:
            timesteps = check_timesteps(timesteps, "stage I")
        if size is not None:
            check_size(size, (self.backend.sizes[0],))

        result = CascadeResult(prompt, negative_prompt, seed, self.backend.name, self.recipe.name)
        self._progress = progress
        bar = tqdm(total=n, desc="cascade", unit="stage", disable=not progress)
        encoding = self.encode(prompt, negative_prompt)
        result.encoding = encoding
        embeds, negative = encoding.prompt_embeds, encoding.negative_embeds

        image = self._run(result, 0, "stage1", dict(
            prompt_embeds=embeds, negative_prompt_embeds=negative, num_inference_steps=steps[0],
            guidance_scale=guidance[0], **({"timesteps": timesteps} if timesteps else {}),
        ), seed)
        bar.update()
        if n >= 2:
            image = self._run(result, 1, "stage2", dict(
                image=image, prompt_embeds=embeds, negative_prompt_embeds=negative,
                num_inference_steps=steps[1] if asked else None, guidance_scale=guidance[1], noise_level=level,
            ), seed + 1)
            bar.update()
        if n >= 3:
            image = self._run(result, 2, "stage3", dict(
                prompt=prompt, negative_prompt=negative_prompt or None, image=image, num_inference_steps=steps[2],
                guidance_scale=guidance[2], noise_level=defaults[2].noise_level,
            ), seed + 2)
            bar.update()
        bar.close()
        return result

    def _run(self, result: CascadeResult, index: int, part: str, kwargs: dict[str, Any], seed: int) -> torch.Tensor:
        pipe = self.pipe(part)
        if part == "stage2":  # img2img-style on a backend whose stage II enlarges that way (mini-IF)
            defaults = self.backend.defaults[1]
            pipe = upscale.pipeline_for(pipe, defaults.strength, defaults.deterministic)
            kwargs.update(upscale.sampling_arguments(kwargs["image"], self.backend.sizes[1], defaults,
                                                     kwargs.pop("num_inference_steps")))
        # One bar for the whole cascade; per-stage bars that close themselves would leave orphaned widget views
        # in a saved notebook ("model not found" after reopening it).
        pipe.set_progress_bar_config(disable=True)
        generator = torch.Generator("cpu").manual_seed(seed)
        dtype = getattr(pipe.unet, "dtype", torch.float32)
        for key in ("prompt_embeds", "negative_prompt_embeds", "image", "original_image"):
            if isinstance(kwargs.get(key), torch.Tensor):
                kwargs[key] = kwargs[key].to(self.device if self.recipe.offload == "none" else "cpu", dtype)
        with loading.hub_errors(part, self.recipe), MemoryMonitor(self.device) as memory:
            start = time.perf_counter()
            with torch.no_grad():
                output = pipe(**kwargs, generator=generator, output_type="pt")
            seconds = time.perf_counter() - start
        images = output.images
        if not isinstance(images, torch.Tensor):  # defensive: every IF pipeline returns a tensor for "pt"
            images = torch.as_tensor(images)
        if part == "stage3":  # the x4 upscaler returns [0, 1]; keep the course's [-1, 1] convention
            images = images * 2 - 1
        images = images.detach().float().cpu().clamp(-1, 1)
        shown, report = images, None
        safety = self.pipe("safety")
        if safety is not None:
            # As IF's pipelines do for PIL output: flagged pictures become black (and so does what the next stage
            # starts from); the picture shown carries the watermark, the one passed on does not.
            images, report = check_pictures(safety, images)
            shown = watermark_pictures(safety, images)
        settings = {k: v for k, v in kwargs.items() if isinstance(v, (int, float, str)) or v is None
                    or (isinstance(v, list) and all(isinstance(x, int) for x in v))}
        settings["seed"] = seed
        result.stages.append(StageResult(STAGE_NAMES[index], shown, seconds, memory.peak_bytes, memory.kind, settings,
                                         report))
        if self.recipe.one_stage_at_a_time:
            self.release(part)
        return images
