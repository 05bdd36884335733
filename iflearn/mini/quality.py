"""How good is mini-IF's stage II, and how much does guidance have to trade? Measurements for
``python -m iflearn.mini.evaluate`` (each with the target it is held to).

* :func:`super_resolution_report`: stage II on the *true* 32 px pictures of held-out scenes (and on notebook 6's
  drawing) against bicubic enlargement, both compared with the true 128 px picture: PSNR, edge sharpness, the
  spread of pixel values inside flat regions, and whether colour, shape and size survive.
* :func:`photo_report`: the same on photographs bundled with scikit-image that mini-IF never saw.
* :func:`variety_report`: one under-specified prompt over many seeds and several guidance scales: how much the
  pictures vary in what the caption leaves open, and how often they follow what it says.

Pictures are ``(3, H, W)`` or ``(1, 3, H, W)`` tensors in ``[-1, 1]``.

>>> round(psnr(torch.zeros(3, 4, 4), torch.full((3, 4, 4), 0.2)), 2)
20.0
"""

from __future__ import annotations

import math
import random
from collections import Counter

import numpy as np
import torch
import torch.nn.functional as F

from iflearn.mini.dataset import caption, held_out_scenes, render

__all__ = ["TARGETS", "psnr", "flat_regions", "flat_mask", "flat_spread", "flat_spread_by_distance",
           "super_resolution_report", "photo_report",
           "variety_report", "drawing"]

#: What mini-IF's stage II and guidance are held to (the model card, ``iflearn/mini/weights/README.md``, reports them).
TARGETS = {
    "psnr_gain_over_bicubic_dB": 1.0,      # stage II at least this much above bicubic, scenes and drawing
    "sharpness_ratio_over_bicubic": 1.3,   # edge sharpness at least this multiple of bicubic's
    "flat_spread": 0.01,                   # inside flat regions: the truth's is 0, bicubic's about 0.011
    "attributes_kept": 0.97,               # colour, shape and size read the same as the truth's
    "photo_psnr_gain_dB": 0.0,             # photographs: at least as good as bicubic
    "photo_sharpness_ratio": 1.1,          # ... and visibly sharper
    "seconds_per_picture": 1.0,            # stage I + stage II on a 2-core CPU
}


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """Peak signal-to-noise ratio in dB of two pictures in ``[-1, 1]`` (peak-to-peak 2)."""
    mse = float(((a.float() - b.float()) ** 2).mean())
    return 10 * math.log10(4 / max(mse, 1e-12))


def flat_regions(pictures: torch.Tensor, radius: int = 3) -> torch.Tensor:
    """``(B, 1, H, W)`` bool: pixels whose whole ``(2 radius + 1)``-square neighbourhood has one colour.

    Args:
        pictures: ``(B, C, H, W)``, any value range.

    >>> p = torch.zeros(1, 3, 9, 9); p[..., 4, 4] = 1.0
    >>> m = flat_regions(p, radius=1)[0, 0]
    >>> bool(m[0, 0]), bool(m[3, 3]), bool(m[4, 4])
    (True, False, False)
    """
    size = 2 * radius + 1
    high = F.max_pool2d(pictures.float(), size, stride=1, padding=radius)
    low = -F.max_pool2d(-pictures.float(), size, stride=1, padding=radius)
    return (high - low).amax(dim=1, keepdim=True) < 1e-3


def flat_mask(truth: torch.Tensor, radius: int = 3) -> torch.Tensor:
    """``(H, W)`` bool: pixels whose whole ``(2 radius + 1)``-square neighbourhood in ``truth`` has one value."""
    return flat_regions(truth.float().reshape(1, -1, *truth.shape[-2:]), radius)[0, 0]


def flat_spread(image: torch.Tensor, truth: torch.Tensor, mask: torch.Tensor | None = None) -> float:
    """Standard deviation of ``image`` inside the truth's flat regions, each region (one colour of the truth)
    measured about its own mean and the results averaged: 0 for a perfectly flat picture.

    Args:
        image, truth: ``(3, H, W)`` or ``(1, 3, H, W)`` in ``[-1, 1]``.
        mask: ``(H, W)`` bool, the pixels to measure (default: :func:`flat_mask` of ``truth``).
    """
    image, truth = image.float().reshape(3, *image.shape[-2:]), truth.float().reshape(3, *truth.shape[-2:])
    mask = flat_mask(truth) if mask is None else mask
    if not mask.any():
        return float("nan")
    colours = {tuple(np.round(truth[:, y, x].numpy(), 2)) for y, x in zip(*np.nonzero(mask.numpy())[:2])}
    spreads = []
    for colour in colours:
        region = mask & (truth - torch.tensor(colour)[:, None, None]).abs().amax(0).lt(0.01)
        if int(region.sum()) > 16:
            spreads.append(float(image[:, region].std(dim=1).mean()))
    return float(np.mean(spreads)) if spreads else float("nan")


def flat_spread_by_distance(image: torch.Tensor, truth: torch.Tensor,
                            radii: tuple[int, ...] = (3, 6, 10)) -> dict[str, float]:
    """:func:`flat_spread` in rings of distance from the truth's nearest edge: where the spread lives.

    A pixel is in ring ``"a-b"`` when its ``(2 a + 1)``-square neighbourhood in ``truth`` is one colour and its
    ``(2 (b + 1) + 1)``-square is not; the last ring, ``"c+"``, is everything at least ``c`` pixels from an edge.
    Bicubic enlargement spreads only near edges (its ringing); grain a model paints in reaches the interior.

    >>> truth = torch.full((3, 32, 32), -1.0); truth[:, :, 16:] = 1.0
    >>> near = truth.clone(); near[:, :, 12] += 0.2  # a stripe 4 px left of the edge
    >>> {k: round(v, 3) for k, v in flat_spread_by_distance(near, truth).items()}  # left ring 0.094, right 0
    {'3-5': 0.047, '6-9': 0.0, '10+': 0.0}
    """
    truth3 = truth.float().reshape(3, *truth.shape[-2:])
    masks = [flat_mask(truth3, r) for r in radii]
    rings = {f"{a}-{b - 1}": inner & ~outer for a, b, inner, outer in zip(radii, radii[1:], masks, masks[1:])}
    rings[f"{radii[-1]}+"] = masks[-1]
    return {name: flat_spread(image, truth3, ring) for name, ring in rings.items()}


def drawing(size: int) -> torch.Tensor:
    """Notebook 6's "your own picture": a yellow circle on purple, ``(1, 3, size, size)`` in ``[-1, 1]``."""
    from PIL import Image, ImageDraw

    picture = Image.new("RGB", (size, size), (140, 40, 180))
    ImageDraw.Draw(picture).ellipse([0.22 * size, 0.22 * size, 0.78 * size, 0.78 * size], fill=(240, 220, 30))
    return torch.from_numpy(np.asarray(picture, dtype=np.float32) / 127.5 - 1).permute(2, 0, 1)[None]


def _compare(cascade, small: torch.Tensor, truth: torch.Tensor, prompt: str, seed: int,
             timesteps: list[int] | None = None) -> dict[str, float]:
    from iflearn.mini.evaluate import edge_sharpness
    from iflearn.variations import super_resolve

    bicubic = F.interpolate(small, size=truth.shape[-1], mode="bicubic", align_corners=False).clamp(-1, 1)
    stage2 = super_resolve(cascade, small, prompt, seed=seed, timesteps=timesteps)
    rings = {f"flat_spread_{who}_{ring}": value for who, picture in (("stage2", stage2), ("bicubic", bicubic))
             for ring, value in flat_spread_by_distance(picture, truth).items()}
    return {
        "psnr_stage2": psnr(stage2, truth), "psnr_bicubic": psnr(bicubic, truth),
        "sharpness_stage2": edge_sharpness(stage2[0]), "sharpness_bicubic": edge_sharpness(bicubic[0]),
        "sharpness_truth": edge_sharpness(truth[0]),
        "flat_spread_stage2": flat_spread(stage2, truth), "flat_spread_bicubic": flat_spread(bicubic, truth),
        "flat_spread_truth": flat_spread(truth, truth), **rings, "stage2": stage2,
    }


def _summary(rows: list[dict[str, float]]) -> dict[str, float]:
    keys = [k for k in rows[0] if k != "stage2"]
    out = {k: round(float(np.nanmean([r[k] for r in rows])), 4) for k in keys}
    out["psnr_gain_dB"] = round(out["psnr_stage2"] - out["psnr_bicubic"], 2)
    out["sharpness_ratio"] = round(out["sharpness_stage2"] / max(out["sharpness_bicubic"], 1e-9), 3)
    return out


def super_resolution_report(cascade, scenes: int = 48, seed: int = 0, timesteps: list[int] | None = None,
                            offset: int = 0) -> dict:
    """Stage II on the true low-resolution pictures of ``scenes`` held-out scenes, and on notebook 6's drawing
    (at the backend's defaults, or at ``timesteps``). The flat spread is also given by distance from the truth's
    edges (``flat_spread_stage2_3-5`` ...: :func:`flat_spread_by_distance`). The scenes are the held-out ones in
    a fixed shuffled order, from ``offset`` on: the evaluation uses the first 48, so a setting chosen on them can be
    checked on the others (``offset=48``)."""
    from iflearn.mini.evaluate import read_picture

    side, big = cascade.backend.sizes[0], cascade.backend.sizes[1]
    chosen = held_out_scenes()
    random.Random(1).shuffle(chosen)
    rows, kept = [], {"colour": 0, "shape": 0, "size": 0}
    if not 0 <= offset < len(chosen):
        raise ValueError(f"offset={offset}: there are {len(chosen)} held-out scenes; pick 0 to {len(chosen) - 1}")
    for scene in chosen[offset:offset + scenes]:
        truth, small = render(scene, big)[None], render(scene, side)[None]
        row = _compare(cascade, small, truth, caption(scene), seed, timesteps)
        seen, wanted = read_picture(row["stage2"][0]), read_picture(truth[0])
        for key in kept:
            kept[key] += getattr(seen, key) == getattr(wanted, key)
        rows.append(row)
    truth = drawing(big)
    own = _compare(cascade, F.interpolate(truth, size=side, mode="area"), truth,
                   "a big yellow circle on a purple background", seed, timesteps)
    scenes_summary = _summary(rows)
    scenes_summary["attributes_kept"] = {k: round(v / len(rows), 4) for k, v in kept.items()}
    drawing_summary = _summary([own])
    return {
        "scenes": len(rows),
        "held_out_scenes": scenes_summary,
        "notebook_6_drawing": drawing_summary,
        "met": {
            "psnr_gain": min(scenes_summary["psnr_gain_dB"], drawing_summary["psnr_gain_dB"])
            >= TARGETS["psnr_gain_over_bicubic_dB"],
            "sharpness": min(scenes_summary["sharpness_ratio"], drawing_summary["sharpness_ratio"])
            >= TARGETS["sharpness_ratio_over_bicubic"],
            "flat_as_truth": scenes_summary["flat_spread_stage2"] <= max(scenes_summary["flat_spread_truth"],
                                                          TARGETS["flat_spread"]),
            "attributes_kept": min(scenes_summary["attributes_kept"].values()) >= TARGETS["attributes_kept"],
        },
    }


def photo_report(cascade, names: tuple[str, ...] = ("astronaut", "chelsea", "coffee", "rocket"), seed: int = 0,
                 timesteps: list[int] | None = None) -> dict:
    """Stage II on scikit-image's photographs (centre crops), against bicubic, with an empty prompt."""
    from iflearn.noise import load_photo

    side, big = cascade.backend.sizes[0], cascade.backend.sizes[1]
    rows = {}
    for name in names:
        truth = load_photo(name, size=big)
        row = _compare(cascade, F.interpolate(truth, size=side, mode="area"), truth, "", seed, timesteps)
        rows[name] = {k: round(v, 4) for k, v in row.items() if k in ("psnr_stage2", "psnr_bicubic",
                                                                       "sharpness_stage2", "sharpness_bicubic")}
    gain = float(np.mean([r["psnr_stage2"] - r["psnr_bicubic"] for r in rows.values()]))
    sharper = float(np.mean([r["sharpness_stage2"] / r["sharpness_bicubic"] for r in rows.values()]))
    return {"photos": rows, "mean_psnr_gain_dB": round(gain, 2), "mean_sharpness_ratio": round(sharper, 3),
            "met": gain >= TARGETS["photo_psnr_gain_dB"] and sharper >= TARGETS["photo_sharpness_ratio"]}


def _entropy(values: list) -> float:
    counts = Counter(values)
    total = sum(counts.values())
    return round(-sum(c / total * math.log2(c / total) for c in counts.values()), 3)


def variety_report(cascade, prompt: str = "a circle", seeds: int = 16,
                   guidances: tuple[float, ...] = (0.0, 1.0, 3.0, 7.0)) -> dict:
    """Stage I pictures of an under-specified ``prompt`` over ``seeds`` seeds at each guidance scale ``w``.

    ``w = 0`` is the unconditional model (the empty prompt); ``w = 1`` the conditional one without guidance.
    For each ``w``: the entropy (bits) of the colours, positions and backgrounds the checker reads (what the prompt
    leaves open: higher is more varied) and the share of pictures with the asked shape (adherence).
    """
    from iflearn.mini.evaluate import read_picture

    wanted = prompt.split()[-1]
    out = {}
    for w in guidances:
        readings = []
        for seed in range(seeds):
            text, scale = ("", 1.0) if w == 0 else (prompt, w)
            result = cascade.generate(text, seed=seed, stages=1, guidance=(scale,), progress=False)
            readings.append(read_picture(result.stages[0].images[0]))
        out[f"w={w:g}"] = {
            "colour_entropy_bits": _entropy([r.colour for r in readings]),
            "position_entropy_bits": _entropy([r.position for r in readings]),
            "background_entropy_bits": _entropy([r.background for r in readings]),
            "asked_shape": round(sum(r.shape == wanted for r in readings) / seeds, 3),
        }
    entropies = [v["colour_entropy_bits"] + v["position_entropy_bits"] for v in out.values()]
    adherence = [v["asked_shape"] for v in out.values()]
    trades = entropies[-1] < entropies[0] and adherence[-1] > adherence[0]
    return {"prompt": prompt, "seeds": seeds, "by_guidance": out, "met": {"guidance_trades_variety": trades}}
