"""The from_pretrained path on local folders in the Hub layout, and the cascade's outputs and errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import warnings

import httpx
import pytest
import torch

from iflearn import errors
from iflearn.backend import mini_backend, real_backend
from iflearn.i18n import set_language
from iflearn.loading import hub_errors, load_stage1, load_stage2
from iflearn.recipes import RECIPES


@pytest.fixture(autouse=True)
def english():
    set_language("en")


def test_hub_layout_on_disk(tiny_root):
    index = json.loads((tiny_root / "IF-I-mini" / "model_index.json").read_text())
    assert index["_class_name"] == "IFPipeline"
    assert index["unet"] == ["diffusers", "UNet2DConditionModel"]
    assert (tiny_root / "IF-I-mini" / "unet" / "diffusion_pytorch_model.safetensors").is_file()
    index2 = json.loads((tiny_root / "IF-II-mini" / "model_index.json").read_text())
    assert index2["_class_name"] == "IFSuperResolutionPipeline"
    assert (tiny_root / "IF-II-mini" / "image_noising_scheduler" / "scheduler_config.json").is_file()


def test_save_load_round_trip_keeps_weights_and_if_config(tiny_root, tmp_path):
    backend = mini_backend(tiny_root)
    pipe = load_stage1(backend, RECIPES["cpu"], torch.device("cpu"))
    assert pipe.unet.config.out_channels == 6 and pipe.unet.config.addition_embed_type == "text"
    assert pipe.scheduler.config.variance_type == "learned_range"
    assert pipe.scheduler.config.beta_schedule == "squaredcos_cap_v2"
    pipe.save_pretrained(tmp_path / "again")
    again = load_stage1(mini_backend(tmp_path).__class__(**{**backend.__dict__, "stage1": str(tmp_path / "again")}),
                        RECIPES["cpu"], torch.device("cpu"))
    x, t, e = torch.randn(1, 3, 32, 32), torch.tensor([500]), torch.randn(1, 77, 384)
    with torch.no_grad():
        assert torch.equal(pipe.unet(x, t, encoder_hidden_states=e).sample, again.unet(x, t, encoder_hidden_states=e).sample)
    stage2 = load_stage2(backend, RECIPES["cpu"], torch.device("cpu"))
    assert stage2.unet.config.in_channels == 6 and stage2.unet.config.class_embed_type == "timestep"


def test_cascade_shapes_dtypes_ranges(tiny_cascade):
    result = tiny_cascade.generate("a big red circle on a blue background", seed=0)
    assert [s.name for s in result.stages] == ["stage I", "stage II"]
    assert result.stages[0].images.shape == (1, 3, 32, 32)
    assert result.stages[1].images.shape == (1, 3, 128, 128)
    for stage in result.stages:
        assert stage.images.dtype == torch.float32
        assert stage.images.min() >= -1 and stage.images.max() <= 1
        assert stage.seconds > 0 and stage.peak_memory_bytes > 0
    assert result.encoding.prompt_embeds.shape == (1, 77, 384)
    assert result.encoding.negative_embeds.shape == (1, 77, 384)
    assert result.seed == 0 and result.backend == "mini" and result.recipe == "cpu"
    rows = result.table()
    assert rows[1]["size"] == "128x128" and rows[0]["steps"] == 20
    assert result.image.size == (128, 128)


def test_cascade_is_deterministic_for_a_seed(tiny_cascade):
    a = tiny_cascade.generate("a green square", seed=5, stages=2, steps=(4, 3))
    b = tiny_cascade.generate("a green square", seed=5, stages=2, steps=(4, 3))
    c = tiny_cascade.generate("a green square", seed=6, stages=2, steps=(4, 3))
    assert torch.equal(a.stages[0].images, b.stages[0].images)
    assert torch.equal(a.stages[1].images, b.stages[1].images)
    assert not torch.equal(a.stages[0].images, c.stages[0].images)


def test_stage_one_only(tiny_cascade):
    result = tiny_cascade.generate("a blue triangle", stages=1, steps=(3,))
    assert len(result.stages) == 1


@pytest.mark.parametrize(
    ("kwargs", "error", "text"),
    [
        (dict(guidance=(0.5, 1.0)), errors.BadArgumentError, "guidance_scale=0.5"),
        (dict(steps=(0, 10)), errors.BadArgumentError, "num_inference_steps=0"),
        (dict(size=64), errors.BadArgumentError, "size=64"),
        (dict(noise_level=1000), errors.BadArgumentError, "noise_level=1000"),
        (dict(stages=3), errors.StageNotAvailableError, "stage III"),
        (dict(stages=4), errors.BadArgumentError, "stages=4"),
        (dict(seed=-1), errors.BadArgumentError, "seed=-1"),
        (dict(timesteps=[0, 500, 999]), errors.BadArgumentError, r"timesteps=\[0, 500, 999\] for stage I"),
        (dict(timesteps="fast27"), errors.BadArgumentError, "timesteps='fast27' for stage I"),
    ],
)
def test_bad_arguments_teach(tiny_cascade, kwargs, error, text):
    with pytest.raises(error, match=text.replace("(", r"\(")):
        tiny_cascade.generate("a red circle", **kwargs)


def test_non_string_prompt_teaches(tiny_cascade):
    with pytest.raises(errors.BadPromptError, match=r"prompt=\['a', 'b'\] \(list\): expected text"):
        tiny_cascade.generate(["a", "b"])


def test_long_prompt_says_what_was_cut(tiny_cascade):
    prompt = "a red circle " + " ".join(f"word{i}" for i in range(80)) + " zebra"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = tiny_cascade.generate(prompt, stages=1, steps=(2,))
    messages = [str(w.message) for w in caught if issubclass(w.category, errors.PromptTruncatedWarning)]
    assert messages and "zebra" in messages[0] and "77 tokens" in messages[0]
    assert "zebra" in result.encoding.tokenized.cut
    assert result.encoding.tokenized.length == 77


def test_gated_repository_error_teaches():
    response = httpx.Response(403, request=httpx.Request("GET", "https://huggingface.co/DeepFloyd/IF-I-XL-v1.0"))
    from huggingface_hub.errors import GatedRepoError

    with pytest.raises(errors.GatedModelError, match="accept the licence.*huggingface_hub.login"):
        with hub_errors("DeepFloyd/IF-I-XL-v1.0"):
            raise GatedRepoError("403 Client Error. Cannot access gated repo", response=response)


def test_out_of_memory_names_the_recipe_that_fits():
    with pytest.raises(errors.OutOfGPUMemoryError, match="recipe='t4'"):
        with hub_errors("DeepFloyd/IF-I-XL-v1.0", RECIPES["full_gpu"]):
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")


def test_real_checkpoint_offline_fails_fast_through_from_pretrained(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.time()
    with pytest.raises(errors.HubUnreachableError, match="backend='mini'"):
        load_stage1(real_backend("M", "M"), RECIPES["full_gpu"], torch.device("cpu"))
    assert time.time() - start < 30


def _run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "iflearn.cli", *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "IFLEARN_LANG": "en", **(env or {})})


def test_cli_doctor_says_no_cuda_mini():
    out = _run_cli("doctor")
    assert out.returncode == 0, out.stderr
    assert "cuda           no" in out.stdout
    assert "backend        mini — Using the mini backend because this machine has no CUDA GPU" in out.stdout


def test_cli_generate_writes_each_stage(tiny_root, tmp_path):
    from PIL import Image

    out = _run_cli("generate", "a red circle", "--out", str(tmp_path), "--stages", "2", "--steps", "3", "2",
                   env={"IFLEARN_MINI_WEIGHTS": str(tiny_root)})
    assert out.returncode == 0, out.stderr
    assert Image.open(tmp_path / "stage1_32px.png").size == (32, 32)
    assert Image.open(tmp_path / "stage2_128px.png").size == (128, 128)


def test_cli_real_backend_without_gpu_or_network_fails_in_seconds(tmp_path):
    start = time.time()
    out = _run_cli("generate", "a red circle", "--out", str(tmp_path), "--backend", "real")
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert "no CUDA GPU" in out.stderr and "backend='mini'" in out.stderr
    assert time.time() - start < 30


@pytest.mark.gpu
def test_t4_recipe_on_gpu_runs_the_tiny_cascade_in_fp16(tiny_root):
    from iflearn.cascade import Cascade

    cascade = Cascade(mini_backend(tiny_root), RECIPES["full_gpu"], torch.device("cuda"))
    result = cascade.generate("a red circle", steps=(3, 2))
    assert result.stages[1].images.shape == (1, 3, 128, 128)
    assert result.stages[0].memory_kind == "cuda allocated"
