"""The shipped mini-IF: loadable with plain diffusers as the README shows, small, documented, deterministic;
and its training command, as a short smoke run that checkpoints and resumes."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from iflearn.backend import MINI_WEIGHTS, mini_backend

ROOT = Path(__file__).resolve().parents[1]


def _readme_block() -> str:
    text = (ROOT / "README.md").read_text()
    match = re.search(r"<!-- mini-if-diffusers -->\s*```python\n(.*?)```\s*<!-- /mini-if-diffusers -->", text, re.S)
    assert match, "README lost its plain-diffusers example"
    return match.group(1)


def test_readme_plain_diffusers_lines_run_as_written(tmp_path):
    result = subprocess.run([sys.executable, "-c", _readme_block()], cwd=tmp_path, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    from PIL import Image

    assert Image.open(tmp_path / "mini_if.png").size == (128, 128)


def test_shipped_weights_are_in_the_hub_layout_and_small():
    total = 0
    for name, cls in (("IF-I-mini", "IFPipeline"), ("IF-II-mini", "IFSuperResolutionPipeline")):
        folder = MINI_WEIGHTS / name
        index = json.loads((folder / "model_index.json").read_text())
        assert index["_class_name"] == cls
        record = json.loads((folder / "TRAINING.json").read_text())
        for key in ("command", "wall_seconds", "final_mse", "machine", "settings"):
            assert record[key], key
        total += sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    assert total <= 30 * 1024 * 1024, f"{total / 1e6:.1f} MB"


def test_shipped_weights_are_deterministic_and_ifs_architecture():
    from iflearn.cascade import Cascade

    cascade = Cascade.load(mini_backend(MINI_WEIGHTS), verbose=False)
    a = cascade.generate("a big red circle on a blue background", seed=3, progress=False)
    b = cascade.generate("a big red circle on a blue background", seed=3, progress=False)
    assert torch.equal(a.stages[1].images, b.stages[1].images)
    config = cascade.pipe("stage1").unet.config
    assert config.addition_embed_type == "text" and config.encoder_hid_dim == 384 and config.out_channels == 6
    assert cascade.pipe("stage2").unet.config.class_embed_type == "timestep"


def test_training_smoke_checkpoints_resumes_and_saves(tmp_path):
    def train(*extra: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "iflearn.mini.train", "--stage", "all", "--tiny", "--out", str(tmp_path),
             "--sample-every", "2", "--threads", "1", *extra],
            capture_output=True, text=True, timeout=600,
        )

    cache = tmp_path / "captions.safetensors"
    first = train("--steps", "2", "--caption-cache", str(cache))
    assert first.returncode == 0, first.stderr[-2000:]
    assert "encoding captions" in first.stderr and cache.is_file()
    assert (tmp_path / "checkpoints" / "stage1.pt").is_file()
    assert (tmp_path / "samples" / "stage1_step000002.png").is_file()
    second = train("--steps", "3", "--resume", "--caption-cache", str(cache), "--start-band", "0", "30",
                   "--flat-weight", "2", "--start-noise", "0")
    assert second.returncode == 0, second.stderr[-2000:]
    assert "encoding captions" not in second.stderr  # read from the cache
    assert "resuming stage 1 from step 2" in second.stdout
    record = json.loads((tmp_path / "IF-II-mini" / "TRAINING.json").read_text())
    assert record["settings"]["steps"] == 3 and record["final_mse"] > 0
    assert record["settings"]["start_band"] == [0, 30] and record["settings"]["flat_weight"] == 2.0
    assert record["settings"]["start_noise"] == 0.0
    from diffusers import IFSuperResolutionPipeline

    pipe = IFSuperResolutionPipeline.from_pretrained(tmp_path / "IF-II-mini", text_encoder=None, tokenizer=None)
    assert pipe.unet.config.in_channels == 6


def test_training_rejects_bad_steps():
    out = subprocess.run([sys.executable, "-m", "iflearn.mini.train", "--steps", "0"], capture_output=True, text=True)
    assert out.returncode == 2 and "--steps 0: expected a positive number" in out.stderr


@pytest.mark.parametrize("option, said", [
    (["--start-band", "100", "40"], "--start-band 100 40: expected LOW HIGH with 0 <= LOW < HIGH <= 1000"),
    (["--start-band", "0", "2000"], "--start-band 0 2000: expected LOW HIGH"),
    (["--flat-weight", "0"], "--flat-weight 0.0: expected a positive loss weight"),
    (["--start-noise", "1.5"], "--start-noise 1.5: expected a scale from 0"),
])
def test_training_rejects_bad_stage2_settings(option, said):
    out = subprocess.run([sys.executable, "-m", "iflearn.mini.train", *option], capture_output=True, text=True)
    assert out.returncode == 2 and said in out.stderr, out.stderr


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")
def test_training_on_cuda_without_a_gpu_says_how_to_go_on():
    command = [sys.executable, "-m", "iflearn.mini.train", "--device", "cuda"]
    out = subprocess.run(command, capture_output=True, text=True)
    assert out.returncode == 2 and "no CUDA GPU" in out.stderr and "leave --device out" in out.stderr


def test_training_rejects_an_unknown_device():
    command = [sys.executable, "-m", "iflearn.mini.train", "--device", "gpu0"]
    out = subprocess.run(command, capture_output=True, text=True)
    assert out.returncode == 2 and "--device gpu0: expected cpu, cuda or auto" in out.stderr
