"""Score mini-IF's prompt adherence with an independent analytic checker: ``python -m iflearn.mini.evaluate``.

The checker knows nothing of the renderer's internals; it reads a picture the way a person would:
the background is the colour of the border, the shape is whatever differs from it; its colour is the nearest
named colour of its pixels, its kind comes from how much of its bounding box it fills (square ≈ 1, circle ≈ π/4,
triangle ≈ 1/2), its position from its centroid and its size from its bounding box.

The prompts are the held-out full captions (every attribute given, never seen in training written that way).
"""

from __future__ import annotations

import argparse
import json
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from tqdm.auto import tqdm

from iflearn.mini.dataset import BACKGROUND_COLOURS, COLOURS, POSITIONS, Scene, caption, held_out_scenes
from iflearn.mini.machine import describe as describe_machine

__all__ = ["Reading", "read_picture", "score_reading", "edge_sharpness", "evaluate", "main"]


@dataclass
class Reading:
    """What the checker sees in one picture (``None`` where it finds no shape)."""

    background: str
    colour: str | None
    shape: str | None
    position: str | None
    size: str | None


def _nearest(rgb: np.ndarray, palette: dict[str, tuple[int, int, int]]) -> str:
    names = list(palette)
    distances = [float(np.sum((rgb - np.asarray(palette[n], dtype=np.float32)) ** 2)) for n in names]
    return names[int(np.argmin(distances))]


def read_picture(image: torch.Tensor | Image.Image | np.ndarray) -> Reading:
    """Read background, shape colour, shape, position and size from a picture.

    Args:
        image: ``(3, H, W)`` tensor in ``[-1, 1]``, a PIL image, or an ``(H, W, 3)`` uint8 array.
    """
    if isinstance(image, torch.Tensor):
        array = ((image.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).permute(1, 2, 0).numpy()
    else:
        array = np.asarray(image, dtype=np.float32)
    h, w, _ = array.shape
    ring = max(1, h // 32)
    border = np.concatenate([array[:ring].reshape(-1, 3), array[-ring:].reshape(-1, 3),
                             array[:, :ring].reshape(-1, 3), array[:, -ring:].reshape(-1, 3)])
    bg_rgb = np.median(border, axis=0)
    background = _nearest(bg_rgb, BACKGROUND_COLOURS)
    distance = np.sqrt(np.sum((array - bg_rgb) ** 2, axis=-1))
    # The shape is what differs from the border by at least half as much as its most different pixels do
    # (close colour pairs such as orange on yellow differ by only ~80 of 441 RGB units).
    far = float(np.percentile(distance, 99))
    mask = distance > max(35.0, far / 2)
    if far < 50.0 or mask.sum() < max(4, (h * w) // 400):
        return Reading(background, None, None, None, None)
    colour = _nearest(np.median(array[mask], axis=0), COLOURS)
    ys, xs = np.nonzero(mask)
    # Robust bounding box: ignore the outermost 0.5 % of shape pixels (stray specks).
    x0, x1 = np.percentile(xs, [0.5, 99.5])
    y0, y1 = np.percentile(ys, [0.5, 99.5])
    box_w, box_h = x1 - x0 + 1, y1 - y0 + 1
    inside = mask[int(y0) : int(y1) + 1, int(x0) : int(x1) + 1]
    fill = float(inside.mean())
    shape = "square" if fill > 0.88 else "circle" if fill > 0.64 else "triangle"
    cx, cy = (xs.mean() + 0.5) / w, (ys.mean() + 0.5) / h
    if shape == "triangle":  # a triangle's centroid sits 1/6 of its height below the box centre
        cy -= box_h / h / 6
    position = min(POSITIONS, key=lambda p: (POSITIONS[p][0] - cx) ** 2 + (POSITIONS[p][1] - cy) ** 2)
    side = max(box_w / w, box_h / h)
    size = "big" if side > 0.46 else "small"
    return Reading(background, colour, shape, position, size)


def edge_sharpness(image: torch.Tensor) -> float:
    """Root-mean-square gradient of a ``(3, H, W)`` picture in ``[-1, 1]`` (higher = crisper edges).

    A blurred edge has the same total rise spread over more pixels, so its mean *squared* gradient is lower;
    the plain mean gradient would not tell the two apart.
    """
    gray = image.float().mean(0, keepdim=True)[None]
    kx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])[None, None] / 8
    gx = F.conv2d(gray, kx, padding=1)[..., 1:-1, 1:-1]
    gy = F.conv2d(gray, kx.transpose(-1, -2), padding=1)[..., 1:-1, 1:-1]
    return float(torch.sqrt((gx**2 + gy**2).mean()))


def score_reading(reading: Reading, scene: Scene) -> dict[str, bool]:
    """Which of ``scene``'s five attributes the checker's ``reading`` got right."""
    return {
        "colour": reading.colour == scene.colour,
        "shape": reading.shape == scene.shape,
        "position": reading.position == scene.position,
        "background": reading.background == scene.background,
        "size": reading.size == scene.size,
    }


def evaluate(
    weights: str | Path | None = None,
    prompts: int = 48,
    seeds: int = 2,
    steps: tuple[int, int] | None = None,
    guidance: tuple[float, float] | None = None,
    grid_path: Path | None = None,
    noise_level: int | None = None,
) -> dict:
    """Draw ``prompts`` held-out captions × ``seeds`` seeds through the mini backend and score them."""
    from iflearn.backend import mini_backend
    from iflearn.cascade import Cascade
    from iflearn.plotting import image_grid

    backend = mini_backend(weights)
    cascade = Cascade.load(backend, verbose=False)
    guidance = guidance or tuple(d.guidance_scale for d in backend.defaults)
    noise_level = backend.defaults[1].noise_level if noise_level is None else noise_level
    scenes = held_out_scenes()
    random.Random(0).shuffle(scenes)
    scenes = scenes[:prompts]
    keys = ("colour", "shape", "position", "background", "size")
    hits = {1: {k: 0 for k in keys}, 2: {k: 0 for k in keys}}
    agree = {k: 0 for k in keys}
    seconds = {1: 0.0, 2: 0.0}
    sharp_sr, sharp_bicubic, total = 0.0, 0.0, 0
    grid, grid_captions = [], []
    for scene in tqdm(scenes, desc="evaluating mini-IF"):
        text = caption(scene)
        for seed in range(seeds):
            result = cascade.generate(text, seed=seed, steps=steps, guidance=guidance, noise_level=noise_level,
                                      progress=False)
            low, high = result.stages[0].images[0], result.stages[1].images[0]
            r1, r2 = read_picture(low), read_picture(high)
            for k, ok in score_reading(r1, scene).items():
                hits[1][k] += ok
            for k, ok in score_reading(r2, scene).items():
                hits[2][k] += ok
            for k in keys:
                agree[k] += getattr(r1, k) == getattr(r2, k)
            bicubic = F.interpolate(low[None], size=high.shape[-1], mode="bicubic", align_corners=False)[0].clamp(-1, 1)
            sharp_sr += edge_sharpness(high)
            sharp_bicubic += edge_sharpness(bicubic)
            seconds[1] += result.stages[0].seconds
            seconds[2] += result.stages[1].seconds
            total += 1
            if grid_path is not None and seed == 0 and len(grid) < 16:
                grid += [low, high]
                grid_captions += [f"I: {text}", "II (128 px)"]
    if grid_path is not None:
        grid_path.parent.mkdir(parents=True, exist_ok=True)
        image_grid(grid, captions=grid_captions, columns=4, cell=128).save(grid_path)
    return {
        "what": "prompt adherence of mini-IF on held-out full captions, scored by iflearn.mini.evaluate.read_picture",
        "images": total,
        "prompts": len(scenes),
        "seeds_per_prompt": seeds,
        "steps": list(steps or (backend.defaults[0].steps, len(backend.defaults[1].timesteps or ())
                                or backend.defaults[1].steps)),
        "stage2_timesteps": None if steps else list(backend.defaults[1].timesteps or []) or None,
        "stage2_strength": backend.defaults[1].strength,
        "stage2_sampler": "deterministic" if backend.defaults[1].deterministic else "noised",
        "guidance": list(guidance),
        "noise_level": noise_level,
        "stage1_accuracy": {k: round(v / total, 4) for k, v in hits[1].items()},
        "stage2_accuracy": {k: round(v / total, 4) for k, v in hits[2].items()},
        "stage2_keeps_stage1": {k: round(v / total, 4) for k, v in agree.items()},
        "edge_sharpness": {
            "stage2": round(sharp_sr / total, 5),
            "bicubic_of_stage1": round(sharp_bicubic / total, 5),
            "ratio": round(sharp_sr / max(sharp_bicubic, 1e-9), 3),
        },
        "seconds_per_image": {"stage1": round(seconds[1] / total, 3), "stage2": round(seconds[2] / total, 3),
                              "total": round((seconds[1] + seconds[2]) / total, 3)},
        "machine": describe_machine(),
        "date": time.strftime("%Y-%m-%d"),
    }


def quality(weights: str | Path | None, scenes: int, seconds_per_picture: float) -> dict:
    """Stage II against bicubic (held-out scenes, notebook 6's drawing, photographs) and guidance's trade of
    variety for adherence (:mod:`iflearn.mini.quality`), with each target and whether it is met."""
    from iflearn.backend import mini_backend
    from iflearn.cascade import Cascade
    from iflearn.mini import quality as q

    cascade = Cascade.load(mini_backend(weights), verbose=False)
    sr = q.super_resolution_report(cascade, scenes)
    photos = q.photo_report(cascade)
    variety = q.variety_report(cascade)
    met = {**sr["met"], "photographs": photos["met"], **variety["met"],
           "seconds_per_picture": seconds_per_picture <= q.TARGETS["seconds_per_picture"]}
    return {"super_resolution": sr, "photographs": photos, "variety": variety, "targets": q.TARGETS, "met": met}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m iflearn.mini.evaluate", description=__doc__.split("\n")[0])
    parser.add_argument("--weights", type=Path, default=None, help="folder with IF-I-mini/ and IF-II-mini/")
    parser.add_argument("--prompts", type=int, default=48)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--steps", type=int, nargs=2, default=None)
    parser.add_argument("--noise-level", type=int, default=None, help="stage II's noise level (default: the backend's)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/mini_if_eval.json"))
    parser.add_argument("--grid", type=Path, default=Path("docs/img/mini_if_samples.png"))
    parser.add_argument("--adherence-only", action="store_true",
                        help="skip the super-resolution, photograph and guidance-variety measurements")
    args = parser.parse_args(argv)
    report = evaluate(args.weights, args.prompts, args.seeds, tuple(args.steps) if args.steps else None,
                      grid_path=args.grid, noise_level=args.noise_level)
    if not args.adherence_only:
        report.update(quality(args.weights, args.prompts, report["seconds_per_image"]["total"]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: report[k] for k in ("stage1_accuracy", "stage2_accuracy", "seconds_per_image", "met")
                      if k in report}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
