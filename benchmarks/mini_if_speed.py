"""How fast can mini-IF draw one picture (stage I + stage II) on this CPU, and what does each shortcut cost?

Measures side by side, in one run on the shipped weights:

* stage I at several step counts and IF's timestep presets: seconds per picture (guidance on) and prompt adherence
  on held-out captions (the evaluation's checker);
* stage II img2img-style, deterministic (the default) or noised, at several timesteps, strengths and step counts,
  and IF's way from pure noise: seconds per picture and PSNR against bicubic on held-out scenes (their true 32 px
  pictures);
* CPU settings: torch threads (1 or 2) and ``channels_last`` memory layout;
* the whole cascade at the defaults, through ``Cascade.generate`` as the notebooks call it.

    python benchmarks/mini_if_speed.py            # ~6 min on 2 cores; run it on a quiet machine

Writes ``benchmarks/results/mini_if_speed.json`` with the machine it ran on.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F

import iflearn  # noqa: F401  (before diffusers: quiets two library notices)
from diffusers.pipelines.deepfloyd_if import timesteps as presets

from iflearn.backend import STAGE2_TIMESTEPS, StageDefaults, mini_backend
from iflearn.cascade import Cascade
from iflearn.mini import quality
from iflearn.mini.dataset import caption, held_out_scenes, render
from iflearn.mini.evaluate import edge_sharpness, read_picture, score_reading
from iflearn.mini.machine import describe as describe_machine
from iflearn.upscale import pipeline_for, sampling_arguments

RESULT = Path(__file__).parent / "results" / "mini_if_speed.json"


def _timed(call, repeats: int) -> float:
    """Median seconds of ``call()`` over ``repeats`` runs, after one warm-up."""
    call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return round(statistics.median(times), 3)


def _setup(cascade: Cascade, part: str, count: int, shuffle_seed: int) -> tuple:
    """``part``'s pipeline (progress bar off), ``count`` held-out scenes in a seeded order, and the empty caption's
    ``(1, 77, 384)`` embedding (the negative prompt)."""
    pipe = cascade.pipe(part)
    pipe.set_progress_bar_config(disable=True)
    scenes = held_out_scenes()
    random.Random(shuffle_seed).shuffle(scenes)
    return pipe, scenes[:count], cascade.encode("").negative_embeds


def stage1_rows(cascade: Cascade, prompts: int, repeats: int) -> list[dict]:
    """Stage I alone: seconds per picture and adherence on ``prompts`` held-out captions, per schedule."""
    pipe, scenes, negative = _setup(cascade, "stage1", prompts, 0)
    schedules = {"20 steps (default)": dict(num_inference_steps=20), "15 steps": dict(num_inference_steps=15),
                 "10 steps": dict(num_inference_steps=10), "smart27": dict(timesteps=presets.smart27_timesteps),
                 "fast27": dict(timesteps=presets.fast27_timesteps)}
    rows = []
    for name, sampling in schedules.items():
        def draw(scene, seed=0):
            embeds = cascade.encode(caption(scene)).prompt_embeds
            return pipe(prompt_embeds=embeds, negative_prompt_embeds=negative, guidance_scale=7.0, output_type="pt",
                        generator=torch.Generator().manual_seed(seed), **sampling).images[0].clamp(-1, 1)

        seconds = _timed(lambda: draw(scenes[0]), repeats)
        hits = [score_reading(read_picture(draw(scene)), scene) for scene in scenes]
        adherence = {k: round(sum(h[k] for h in hits) / len(hits), 3) for k in hits[0]}
        rows.append({"schedule": name, "seconds": seconds, "adherence": adherence,
                     "mean_adherence": round(sum(adherence.values()) / len(adherence), 3)})
        print("stage I", rows[-1], flush=True)
    return rows


def stage2_rows(cascade: Cascade, scenes: int, repeats: int) -> list[dict]:
    """Stage II alone on true 32 px pictures: seconds per picture and PSNR against bicubic, per schedule."""
    pipe, chosen, negative = _setup(cascade, "stage2", scenes, 1)
    at = ", ".join(map(str, STAGE2_TIMESTEPS))
    deterministic = dict(strength=0.1, deterministic=True)
    schedules = {  # each as the backend's StageDefaults would say it (steps, guidance, noise level, ...)
        f"deterministic img2img-style at t = {at}, noise level 250 (default)":
            StageDefaults(20, 1.0, 250, timesteps=STAGE2_TIMESTEPS, **deterministic),
        "deterministic img2img-style at t = 50, 0": StageDefaults(20, 1.0, 250, timesteps=(50, 0), **deterministic),
        f"deterministic img2img-style at t = {at}, noise level 0":
            StageDefaults(20, 1.0, 0, timesteps=STAGE2_TIMESTEPS, **deterministic),
        f"img2img-style (noised start, DDPM) at t = {at}": StageDefaults(20, 1.0, 250, 0.1, STAGE2_TIMESTEPS),
        "img2img-style (noised start, DDPM), strength 0.1 of 20 steps (t = 50, 0)": StageDefaults(20, 1.0, 250, 0.1),
        "img2img-style (noised start, DDPM), strength 0.05 of 40 steps (t = 25, 0)": StageDefaults(40, 1.0, 250, 0.05),
        "img2img-style (noised start, DDPM), strength 0.2 of 10 steps (t = 100, 0)": StageDefaults(10, 1.0, 250, 0.2),
        "img2img-style (noised start, DDPM), strength 0.3 of 10 steps (t = 200, 100, 0)":
            StageDefaults(10, 1.0, 250, 0.3),
        "IF's way from pure noise, 10 steps": StageDefaults(10, 1.0, 250),
        "IF's way from pure noise, 20 steps": StageDefaults(20, 1.0, 250),
    }
    rows = []
    for name, defaults in schedules.items():
        runner = pipeline_for(pipe, defaults.strength, defaults.deterministic)
        level = defaults.noise_level

        def upscale(scene):
            small = render(scene, 32)[None]
            embeds = cascade.encode(caption(scene)).prompt_embeds
            return small, runner(image=small, prompt_embeds=embeds, negative_prompt_embeds=negative, noise_level=level,
                                 guidance_scale=1.0, output_type="pt", generator=torch.Generator().manual_seed(0),
                                 **sampling_arguments(small, 128, defaults)).images.clamp(-1, 1)

        seconds = _timed(lambda: upscale(chosen[0]), repeats)
        gains, sharp = [], []
        for scene in chosen:
            small, out = upscale(scene)
            truth = render(scene, 128)[None]
            bicubic = F.interpolate(small, size=128, mode="bicubic", align_corners=False).clamp(-1, 1)
            gains.append(quality.psnr(out, truth) - quality.psnr(bicubic, truth))
            sharp.append(edge_sharpness(out[0]) / edge_sharpness(bicubic[0]))
        timesteps = list(defaults.timesteps) if defaults.timesteps else None
        rows.append({"schedule": name, "strength": defaults.strength, "steps": None if timesteps else defaults.steps,
                     "timesteps": timesteps, "deterministic": defaults.deterministic, "noise_level": level,
                     "seconds": seconds,
                     "psnr_gain_over_bicubic_dB": round(statistics.mean(gains), 2),
                     "sharpness_ratio": round(statistics.mean(sharp), 2)})
        print("stage II", rows[-1], flush=True)
    return rows


def cascade_rows(cascade: Cascade, repeats: int) -> list[dict]:
    """The whole cascade at the defaults through ``Cascade.generate``, per CPU setting."""
    prompt = "a big red circle in the center on a blue background"
    rows = []
    for threads in (2, 1):
        for layout in ("contiguous", "channels_last"):
            if threads > (os.cpu_count() or 1):
                continue
            torch.set_num_threads(threads)
            fmt = torch.channels_last if layout == "channels_last" else torch.contiguous_format
            for part in ("stage1", "stage2"):
                cascade.pipe(part).unet.to(memory_format=fmt)
            seconds = _timed(lambda: cascade.generate(prompt, seed=0, progress=False), repeats)
            rows.append({"threads": threads, "memory_format": layout, "seconds_per_picture": seconds})
            print("cascade", rows[-1], flush=True)
    for part in ("stage1", "stage2"):  # back to the cascade's own layout
        cascade.pipe(part).unet.to(memory_format=torch.channels_last)
    torch.set_num_threads(os.cpu_count() or 1)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(prog="python benchmarks/mini_if_speed.py", description=__doc__.split("\n")[0])
    parser.add_argument("--weights", type=Path, default=None, help="folder with IF-I-mini/ and IF-II-mini/")
    parser.add_argument("--prompts", type=int, default=32, help="held-out captions for stage I's adherence")
    parser.add_argument("--scenes", type=int, default=16, help="held-out scenes for stage II's PSNR")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=RESULT)
    args = parser.parse_args()
    torch.set_flush_denormal(True)
    cascade = Cascade.load(mini_backend(args.weights), verbose=False)
    defaults = cascade.backend.defaults
    result = {
        "what": __doc__.split("\n\n")[0].replace("\n", " "),
        "defaults": {"stage1_steps": defaults[0].steps, "stage1_guidance": defaults[0].guidance_scale,
                     "stage2_timesteps": list(defaults[1].timesteps), "stage2_deterministic": defaults[1].deterministic,
                     "stage2_strength": defaults[1].strength,
                     "stage2_noise_level": defaults[1].noise_level},
        "cascade": cascade_rows(cascade, args.repeats),
        "stage1": stage1_rows(cascade, args.prompts, args.repeats),
        "stage2": stage2_rows(cascade, args.scenes, args.repeats),
        "machine": describe_machine(),
        "date": time.strftime("%Y-%m-%d"),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
