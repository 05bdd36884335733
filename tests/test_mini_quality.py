"""The stage II and guidance measurements of ``python -m iflearn.mini.evaluate`` measure what they say."""

from __future__ import annotations

import torch

from iflearn.mini import quality
from iflearn.mini.dataset import random_scene, render


def test_psnr_is_infinite_like_for_equal_pictures_and_falls_with_error() -> None:
    x = torch.rand(3, 8, 8) * 2 - 1
    assert quality.psnr(x, x) > 100
    assert quality.psnr(x, x + 0.1) > quality.psnr(x, x + 0.2)


def test_flat_spread_is_zero_for_the_truth_and_grows_with_mottling() -> None:
    import random

    truth = render(random_scene(random.Random(3)), 128)
    mottled = truth + 0.1 * torch.randn(truth.shape, generator=torch.Generator().manual_seed(0))
    assert quality.flat_spread(truth, truth) < 1e-6
    assert 0.08 < quality.flat_spread(mottled, truth) < 0.12  # the noise's own standard deviation
    mask = quality.flat_mask(truth)
    assert 0.3 < float(mask.float().mean()) < 1.0  # the edges are not flat, the rest is


def test_drawing_is_notebook_6s_picture() -> None:
    picture = quality.drawing(64)
    assert picture.shape == (1, 3, 64, 64) and picture.min() >= -1 and picture.max() <= 1
    centre, corner = picture[0, :, 32, 32], picture[0, :, 0, 0]
    assert centre[0] > 0.8 and corner[2] > 0.3  # yellow inside, purple outside


def test_bicubic_spreads_only_near_edges_while_grain_reaches_the_interior() -> None:
    import torch.nn.functional as F

    truth = quality.drawing(128)
    bicubic = F.interpolate(quality.drawing(32), size=128, mode="bicubic", align_corners=False).clamp(-1, 1)
    rings = quality.flat_spread_by_distance(bicubic, truth)
    assert list(rings) == ["3-5", "6-9", "10+"]
    assert rings["3-5"] > 0.01 and rings["10+"] < 1e-3, rings  # ringing beside the circle's edge, flat inside
    grainy = bicubic + 0.02 * torch.randn(bicubic.shape, generator=torch.Generator().manual_seed(0))
    assert 0.015 < quality.flat_spread_by_distance(grainy, truth)["10+"] < 0.025


def test_stage2_frontier_benchmark_measures_a_weights_folder(tmp_path) -> None:
    import json
    import subprocess
    import sys
    from pathlib import Path

    from iflearn.backend import MINI_WEIGHTS

    script = Path(__file__).parents[1] / "benchmarks" / "mini_if_stage2_frontier.py"
    folder = tmp_path / "run"  # a training run's --out folder: IF-II-mini only
    folder.mkdir()
    (folder / "IF-II-mini").symlink_to(Path(MINI_WEIGHTS).resolve() / "IF-II-mini")
    out = tmp_path / "frontier.json"
    done = subprocess.run([sys.executable, str(script), "--weights", f"mine={folder}", "--scenes", "2",
                           "--timesteps", "[[50, 0], [5, 0]]", "--threads", "1", "--out", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    mine = json.loads(out.read_text())["weights"]["mine"]
    assert mine["training"]["settings"]["start_band"] == [40, 100]  # copied from the run's TRAINING.json
    default, gentle = mine["points"]
    assert default["sampler"] == "deterministic" and default["timesteps"] == [50, 0] and set(default["scenes"]["flat_spread_by_distance"]) == {"3-5", "6-9", "10+"}
    assert default["scenes"]["flat_spread_by_distance_bicubic"]["10+"] < 1e-3  # bicubic is flat far from edges
    # the lower start changes less: sharpness nearer bicubic's (1.0) than the default's
    assert abs(gentle["drawing"]["sharpness_ratio"] - 1) < abs(default["drawing"]["sharpness_ratio"] - 1)
    bad = subprocess.run([sys.executable, str(script), "--weights", str(folder), "--out", str(out)],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "expected LABEL=FOLDER" in bad.stderr


def test_stage2_frontier_keeps_earlier_points_and_switches_the_sampler() -> None:
    import importlib.util
    from pathlib import Path

    from iflearn.backend import mini_backend

    path = Path(__file__).parents[1] / "benchmarks" / "mini_if_stage2_frontier.py"
    spec = importlib.util.spec_from_file_location("frontier", path)
    frontier = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(frontier)
    backend = mini_backend()
    assert frontier.with_sampler(backend, noised=True).defaults[1].deterministic is False
    assert frontier.with_sampler(backend, noised=False).defaults[1].deterministic is True
    assert frontier.with_sampler(backend, noised=True).defaults[0] == backend.defaults[0]
    old = [{"timesteps": [50, 0], "x": 1}, {"timesteps": [10, 0], "x": 2}]  # saved before samplers were recorded
    new = [{"sampler": "noised", "timesteps": [10, 0], "x": 3}, {"sampler": "deterministic", "timesteps": [50, 0], "x": 4}]
    merged = frontier.merge(old, new)
    assert [(p["sampler"], p["timesteps"], p["x"]) for p in merged] == [
        ("noised", [50, 0], 1), ("noised", [10, 0], 3), ("deterministic", [50, 0], 4)]
    elsewhere = [{"sampler": "noised", "timesteps": [10, 0], "scene_offset": 48, "x": 5}]
    assert len(frontier.merge(merged, elsewhere)) == 4  # other scenes: a point of its own
