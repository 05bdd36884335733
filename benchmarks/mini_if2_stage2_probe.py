"""A first probe towards a stage II that beats bicubic: fine-tune the shipped stage II on low timesteps only
(t < 400) and run it img2img-style, ``IFImg2ImgSuperResolutionPipeline`` starting from the bicubic picture at a low
strength. Measures the shipped and the fine-tuned UNet side by side on 16 held-out scenes (their true 32 px
pictures), 10 steps, noise level 0, against bicubic: PSNR, edge sharpness ratio, spread inside flat regions, time.

    python benchmarks/mini_if2_stage2_probe.py --steps 1500 --out mini-if2-probe    # ~12 min on 2 cores
    python benchmarks/mini_if2_stage2_probe.py --out mini-if2-probe --measure-only  # re-measure a finished run

Writes ``benchmarks/results/mini_if2_stage2_probe.json``. The shipped weights are not changed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

import iflearn  # noqa: F401  (before diffusers: quiets two library notices)
from diffusers import IFImg2ImgSuperResolutionPipeline, IFSuperResolutionPipeline

from iflearn.backend import MINI_WEIGHTS
from iflearn.mini import quality
from iflearn.mini.dataset import caption, held_out_scenes, render
from iflearn.mini.evaluate import edge_sharpness
from iflearn.mini.train import CaptionBank, TrainSettings, train_stage

RESULT = Path(__file__).parent / "results" / "mini_if2_stage2_probe.json"


def measure(folder: Path, bank: CaptionBank, strengths=(0.2, 0.3, 0.4), scenes: int = 16) -> dict:
    """img2img-style super-resolution with the stage II UNet in ``folder``, per strength."""
    base = IFSuperResolutionPipeline.from_pretrained(folder, text_encoder=None, tokenizer=None)
    pipe = IFImg2ImgSuperResolutionPipeline(**base.components)
    pipe.set_progress_bar_config(disable=True)
    chosen = held_out_scenes()
    random.Random(1).shuffle(chosen)
    rows = {}
    for strength in strengths:
        found = []
        for scene in chosen[:scenes]:
            truth, small = render(scene, 128)[None], render(scene, 32)[None]
            bicubic = F.interpolate(small, size=128, mode="bicubic", align_corners=False).clamp(-1, 1)
            start = time.perf_counter()
            out = pipe(image=small, original_image=bicubic, strength=strength, prompt_embeds=bank([caption(scene)]),
                       negative_prompt_embeds=bank([""]), noise_level=0, num_inference_steps=10, guidance_scale=1.0,
                       generator=torch.Generator().manual_seed(0), output_type="pt").images.clamp(-1, 1)
            found.append((quality.psnr(out, truth), quality.psnr(bicubic, truth),
                          edge_sharpness(out[0]) / edge_sharpness(bicubic[0]), quality.flat_spread(out, truth),
                          time.perf_counter() - start))
        a = np.array(found).mean(0)
        rows[f"strength={strength}"] = {"psnr": round(float(a[0]), 2), "psnr_bicubic": round(float(a[1]), 2),
                                        "gain_dB": round(float(a[0] - a[1]), 2),
                                        "sharpness_ratio": round(float(a[2]), 2),
                                        "flat_spread": round(float(a[3]), 4), "seconds": round(float(a[4]), 2)}
        print(folder.parent.name, strength, rows[f"strength={strength}"], flush=True)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(prog="python benchmarks/mini_if2_stage2_probe.py", description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--out", type=Path, default=Path("mini-if2-probe"))
    parser.add_argument("--measure-only", action="store_true", help="measure the run already in --out")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    bank = CaptionBank.cached(args.out / "captions.safetensors")
    settings = TrainSettings(stage=2, steps=args.steps, schedule_steps=args.steps, batch=12, lr=2e-4,
                             timestep_bands=((0, 400, 1.0),),
                             init=str(MINI_WEIGHTS / "IF-II-mini"), sample_every=10**9, checkpoint_every=250)
    if not args.measure_only:
        train_stage(settings, args.out, bank=bank, samples=False)
    record = json.loads((args.out / "IF-II-mini" / "TRAINING.json").read_text())
    result = {
        "what": __doc__.split("\n\n")[0].replace("\n", " "),
        "settings": record["settings"], "train_seconds": record["wall_seconds"], "final_mse": record["final_mse"],
        "shipped": measure(MINI_WEIGHTS / "IF-II-mini", bank),
        "fine_tuned": measure(args.out / "IF-II-mini", bank),
        "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(), "torch_threads": args.threads,
                    "torch": torch.__version__},
        "date": time.strftime("%Y-%m-%d"),
    }
    RESULT.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
