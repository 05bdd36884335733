"""Where mini-IF's stage II trades flat areas for sharp edges: one stage II UNet (or several) sampled at a sweep
of timesteps, each point measured against every stage II target of ``python -m iflearn.mini.evaluate``.

Stage II enlarges img2img-style: it starts from the bicubic enlargement at the first timestep and denoises at the
rest. By default it does so deterministically, as the course does: the start is not noised and the solver adds no
noise (:mod:`iflearn.upscale`). ``--noised`` measures IF's img2img way instead, noised start and DDPM steps.
Starting higher gives the UNet more room to sharpen edges; starting lower leaves less grain in flat areas. For
each weights folder, sampler and timestep list this measures, on the evaluation's held-out scenes, notebook 6's
drawing and the held-out photographs: PSNR gain and edge sharpness over bicubic, the spread inside flat regions
(overall and by distance from the truth's edges, :func:`iflearn.mini.quality.flat_spread_by_distance`), and
whether colour, shape and size survive. The training record of each stage II (start band, flat weight, steps,
seconds, machine) is copied beside its points.

    python benchmarks/mini_if_stage2_frontier.py                        # the shipped weights, ~6 min on 2 cores
    python benchmarks/mini_if_stage2_frontier.py --noised               # ... sampled IF's img2img way
    python -m iflearn.mini.train --stage 2 --start-band 0 100 --out run-b   # a stage II with other settings
    python benchmarks/mini_if_stage2_frontier.py --weights start-0-100=run-b   # ... measured beside it

``--scene-offset 48 --scenes 98`` measures on the held-out scenes the evaluation does not use, to check a choice
made on its 48. ``--weights LABEL=FOLDER`` names a folder holding ``IF-II-mini/`` (stage I is not used). Each run
replaces the points it measures (same label, sampler, timesteps and scenes) in
``benchmarks/results/mini_if_stage2_frontier.json`` and keeps the others, with the machine it ran on.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import time
from pathlib import Path

import torch
from tqdm.auto import tqdm

import iflearn  # noqa: F401  (before diffusers: quiets two library notices)

from iflearn.backend import MINI_WEIGHTS, mini_backend
from iflearn.cascade import Cascade
from iflearn.mini import quality
from iflearn.mini.machine import describe as describe_machine

RESULT = Path(__file__).parent / "results" / "mini_if_stage2_frontier.json"
#: The default (t = 55, 10, 0), two-step lists from lower and higher starts, and other middle steps.
TIMESTEPS = ([55, 10, 0], [50, 10, 0], [50, 0], [20, 0], [10, 0], [40, 10, 0], [60, 10, 0], [50, 20, 0], [50, 5, 0])
RINGS = ("3-5", "6-9", "10+")


def weights_folder(folder: Path, scratch: Path) -> Path:
    """A folder :func:`iflearn.backend.mini_backend` can load: ``folder``'s ``IF-II-mini`` beside the shipped
    ``IF-I-mini`` (linked into ``scratch`` when ``folder`` has none)."""
    if not (folder / "IF-II-mini" / "model_index.json").is_file():
        raise SystemExit(f"--weights ...={folder}: expected a folder holding IF-II-mini/model_index.json, e.g. the "
                         "--out folder of `python -m iflearn.mini.train --stage 2`")
    if (folder / "IF-I-mini").is_dir():
        return folder
    scratch.mkdir(parents=True, exist_ok=True)
    (scratch / "IF-I-mini").symlink_to(Path(MINI_WEIGHTS).resolve() / "IF-I-mini")
    (scratch / "IF-II-mini").symlink_to((folder / "IF-II-mini").resolve())
    return scratch


def training_record(folder: Path) -> dict:
    """What trained this stage II: its start band and noise, flat weight, steps, seconds and machine
    (``TRAINING.json``)."""
    path = folder / "IF-II-mini" / "TRAINING.json"
    if not path.is_file():
        return {}
    record = json.loads(path.read_text())
    settings = record.get("settings", {})
    keep = ("steps", "start_band", "start_share", "start_noise", "timestep_bands", "flat_weight", "photo_share")
    return {"settings": {k: settings.get(k) for k in keep}, "wall_seconds": record.get("wall_seconds"),
            "machine": record.get("machine")}


def with_sampler(backend, noised: bool):
    """``backend`` with stage II sampled deterministically (the default) or, ``noised``, IF's img2img way."""
    first, second = backend.defaults
    return dataclasses.replace(backend, defaults=(first, dataclasses.replace(second, deterministic=not noised)))


def merge(old: list[dict], new: list[dict]) -> list[dict]:
    """``old`` points with those ``new`` measures again (same sampler, timesteps and scene offset) replaced. Points
    saved before the sampler was recorded were all sampled the noised way, on the evaluation's scenes."""
    key = lambda p: (p.get("sampler", "noised"), tuple(p["timesteps"]), p.get("scene_offset", 0))  # noqa: E731
    fresh = {key(p) for p in new}
    return [{"sampler": "noised", "scene_offset": 0, **p} for p in old if key(p) not in fresh] + new


def point(cascade: Cascade, timesteps: list[int], scenes: int, offset: int = 0) -> dict:
    """Every stage II figure of the evaluation at ``timesteps``, and which targets it meets (on ``scenes``
    held-out scenes from ``offset`` on: 0 is the evaluation's own)."""
    started = time.time()
    sr = quality.super_resolution_report(cascade, scenes, timesteps=timesteps, offset=offset)
    photos = quality.photo_report(cascade, timesteps=timesteps)
    held, own = sr["held_out_scenes"], sr["notebook_6_drawing"]
    return {
        "sampler": "deterministic" if cascade.backend.defaults[1].deterministic else "noised",
        "timesteps": timesteps,
        "scene_offset": offset,
        "scenes": {"psnr_gain_dB": held["psnr_gain_dB"], "sharpness_ratio": held["sharpness_ratio"],
                   "flat_spread": held["flat_spread_stage2"], "flat_spread_bicubic": held["flat_spread_bicubic"],
                   "flat_spread_by_distance": {r: held[f"flat_spread_stage2_{r}"] for r in RINGS},
                   "flat_spread_by_distance_bicubic": {r: held[f"flat_spread_bicubic_{r}"] for r in RINGS},
                   "attributes_kept": held["attributes_kept"]},
        "drawing": {"psnr_gain_dB": own["psnr_gain_dB"], "sharpness_ratio": own["sharpness_ratio"],
                    "flat_spread": own["flat_spread_stage2"]},
        "photographs": {"psnr_gain_dB": photos["mean_psnr_gain_dB"], "sharpness_ratio": photos["mean_sharpness_ratio"]},
        "met": {**sr["met"], "photographs": photos["met"]},
        "seconds": round(time.time() - started), "date": time.strftime("%Y-%m-%d"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--weights", action="append", default=None, metavar="LABEL=FOLDER",
                        help="a stage II to measure (repeatable; default: shipped=the shipped weights)")
    parser.add_argument("--timesteps", type=json.loads, default=list(TIMESTEPS),
                        help='JSON list of timestep lists, e.g. "[[50, 0], [10, 0]]"')
    parser.add_argument("--noised", action="store_true",
                        help="noise the start and take DDPM steps (IF's img2img way) instead of the default")
    parser.add_argument("--scenes", type=int, default=48)
    parser.add_argument("--scene-offset", type=int, default=0,
                        help="skip this many held-out scenes: 48 checks a choice made on the evaluation's 48 on others")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=RESULT)
    args = parser.parse_args(argv)
    pairs = args.weights or [f"shipped={MINI_WEIGHTS}"]
    if any("=" not in pair for pair in pairs):
        parser.error(f"--weights {pairs}: expected LABEL=FOLDER, e.g. --weights start-0-100=run-b")
    torch.set_num_threads(args.threads)
    result = json.loads(args.out.read_text()) if args.out.is_file() else {"weights": {}}
    for entry in result["weights"].values():  # earlier points: each says its sampler and scenes, and its seconds
        entry["points"] = merge(entry.get("points", []), [])
        entry.pop("seconds", None)
    with tempfile.TemporaryDirectory() as scratch:
        for label, folder in (pair.split("=", 1) for pair in pairs):
            backend = with_sampler(mini_backend(weights_folder(Path(folder), Path(scratch) / label)), args.noised)
            cascade = Cascade.load(backend, verbose=False)
            points = [point(cascade, list(ts), args.scenes, args.scene_offset)
                      for ts in tqdm(args.timesteps, desc=f"stage II {label}", unit="sweep point")]
            points = merge(result["weights"].get(label, {}).get("points", []), points)
            result["weights"][label] = {"training": training_record(Path(folder)), "points": points,
                                        "machine": describe_machine(),
                                        "date": time.strftime("%Y-%m-%d")}
    result["what"] = __doc__.split("\n\n")[0].replace("\n", " ")
    result["targets"] = quality.TARGETS
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
