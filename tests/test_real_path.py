"""The real backend's parts on the CPU, against the real-layout fixture: loading through ``from_pretrained`` from a
Hub cache under the published ids, the safety checker and watermark, the 16 GB placement, the embedding cache."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from real_layout import ALL_REPOS, build_hub_cache, watermark_pattern

from iflearn import errors
from iflearn.backend import choose_backend, real_backend
from iflearn.device import gpu_info, simulated_gpu
from iflearn.loading import load_safety, load_stage1, place, text_encoder_kwargs
from iflearn.placement import HEADROOM_GB, Residency, part_cost
from iflearn.recipes import RECIPES


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_hub_cache(tmp_path_factory.mktemp("hub"))


@pytest.fixture()
def t4(hub: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A simulated 15 GB T4 with the fixture as its Hub cache (offline)."""
    import huggingface_hub.constants as hub_constants

    for name, value in {"HF_HUB_CACHE": str(hub), "HF_HUB_OFFLINE": "1", "IFLEARN_SIMULATE_GPU": "Tesla T4:15",
                        "IFLEARN_MAX_STEPS": "2", "IFLEARN_CACHE": str(tmp_path / "cache")}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(hub))  # read at import time by huggingface_hub
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", True)
    return tmp_path


def test_fixture_layout_is_the_hub_layout(hub: Path) -> None:
    for repo in ALL_REPOS:
        repo_dir = hub / ("models--" + repo.replace("/", "--"))
        revision = (repo_dir / "refs" / "main").read_text()
        snapshot = repo_dir / "snapshots" / revision
        assert (snapshot / "model_index.json").is_symlink()  # content lives in blobs/, as huggingface_hub stores it
    stage1 = next((hub / "models--DeepFloyd--IF-I-XL-v1.0" / "snapshots").iterdir())
    names = {str(p.relative_to(stage1)) for p in stage1.rglob("*") if p.is_file()}
    assert {"text_encoder/model.safetensors.index.fp16.json", "tokenizer/spiece.model", "unet/config.json",
            "unet/diffusion_pytorch_model.fp16.safetensors", "safety_checker/config.json",
            "feature_extractor/preprocessor_config.json", "watermarker/config.json"} <= names
    assert "tokenizer/tokenizer.json" not in names  # spiece.model only: transformers converts it (needs protobuf)
    shards = [n for n in names if n.startswith("text_encoder/model.fp16-")]
    assert len(shards) >= 2, shards
    index = json.loads((stage1 / "model_index.json").read_text())
    assert index["safety_checker"] == ["deepfloyd_if", "IFSafetyChecker"] and index["requires_safety_checker"]
    stage2 = next((hub / "models--DeepFloyd--IF-II-L-v1.0" / "snapshots").iterdir())
    assert json.loads((stage2 / "model_index.json").read_text())["text_encoder"] == [None, None]


def test_simulated_gpu_picks_real_and_t4(t4: Path) -> None:
    info = gpu_info()
    assert info is not None and info.free_gb == pytest.approx(15.0) and "simulated" in info.name
    choice = choose_backend("auto")
    assert choice.backend.name == "real", choice.reason
    from iflearn.cascade import Cascade

    cascade = Cascade.load(verbose=False)
    assert cascade.recipe.name == "t4" and cascade.device.type == "cpu"
    assert cascade.backend.stage1 == "DeepFloyd/IF-I-M-v1.0" and cascade.backend.stage2 == "DeepFloyd/IF-II-M-v1.0"


def test_bad_simulated_gpu_value_teaches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IFLEARN_SIMULATE_GPU", "lots")
    with pytest.raises(ValueError, match="expected a size in GB such as '15'"):
        simulated_gpu()


def test_plain_diffusers_loading_fails_and_the_shim_loads(t4: Path) -> None:
    """The bug the shim exists for: diffusers 0.42.1's IFSafetyChecker on transformers 5."""
    from diffusers.pipelines.deepfloyd_if.safety_checker import IFSafetyChecker

    with pytest.raises(AttributeError, match="all_tied_weights_keys"):
        IFSafetyChecker.from_pretrained("DeepFloyd/IF-I-XL-v1.0", subfolder="safety_checker")
    parts = load_safety(real_backend(), RECIPES["t4"], torch.device("cpu"))
    assert type(parts.safety_checker).__mro__[1] is IFSafetyChecker
    assert torch.equal(parts.watermarker.watermark_image, watermark_pattern())


def test_safety_checker_blacks_out_flagged_pictures(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from iflearn.safety import check_pictures

    import huggingface_hub.constants as hub_constants

    flagged = build_hub_cache(tmp_path / "hub", repos=("DeepFloyd/IF-I-XL-v1.0",), flag=True)
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(flagged))
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    parts = load_safety(real_backend(), RECIPES["t4"], torch.device("cpu"))
    pictures = torch.rand(2, 3, 64, 64) * 2 - 1
    checked, report = check_pictures(parts, pictures)
    assert report.nsfw_detected == [True, True] and bool((checked == -1).all())


def test_cascade_runs_three_stages_with_safety_and_watermark(t4: Path) -> None:
    from iflearn.cascade import Cascade

    cascade = Cascade.load(verbose=False)
    result = cascade.generate("a photo of a corgi", seed=0)
    assert [s.size for s in result.stages] == [64, 256, 1024]
    for stage in result.stages:
        assert stage.images.shape[:2] == (1, 3) and stage.images.dtype == torch.float32
        assert -1 <= stage.images.min() and stage.images.max() <= 1
        assert stage.safety is not None and stage.safety.nsfw_detected == [False]
        assert stage.settings["num_inference_steps"] == 2  # IFLEARN_MAX_STEPS
    # the watermark (the fixture's magenta ring) sits in the bottom-right corner of what is shown
    big = result.stages[-1].images[0]
    corner = big[:, -80:, -80:]
    magenta = (corner[0] > 0.9) & (corner[1] < -0.9) & (corner[2] > 0.9)
    assert magenta.sum() > 50
    # every part stays loaded on a 15 GB T4 with IF-I-M / IF-II-M, and T5 is not asked again for the same prompt
    assert set(cascade.loaded) == {"encoder", "safety", "stage1", "stage2", "stage3"}
    cascade.release("encoder")
    again = cascade.generate("a photo of a corgi", seed=1, stages=1)
    assert "encoder" not in cascade.loaded and again.stages[0].images.shape == (1, 3, 64, 64)
    files = list((t4 / "cache" / "prompt-embeds").glob("*.pt"))
    assert len(files) == 1 and not list((t4 / "cache" / "prompt-embeds").glob("*.tmp"))


def test_xl_on_a_t4_takes_turns(t4: Path) -> None:
    """IF-I-XL (8.6 GB) and 8-bit T5 (4.9 GB) do not fit a T4 together: loading stage I unloads T5."""
    from iflearn.cascade import Cascade

    cascade = Cascade.load(verbose=False, sizes=("XL", "L"))
    cascade.generate("a photo of a corgi", seed=0, stages=1)
    assert "stage1" in cascade.loaded and "encoder" not in cascade.loaded


def test_residency_budget_and_costs() -> None:
    t5 = part_cost("encoder", "XL", "L", half=True, t5_8bit=True)
    xl = part_cost("stage1", "XL", "L", half=True, t5_8bit=True)
    assert xl.weight_bytes == int(8.6e9) and 4.8e9 < t5.weight_bytes < 5.0e9
    gpu = Residency(15e9 - HEADROOM_GB * 1e9)
    assert gpu.admit("encoder", t5.weight_bytes) == []
    assert gpu.admit("stage1", xl.weight_bytes) == ["encoder"]
    small = [part_cost(p, "M", "M", half=True, t5_8bit=True).weight_bytes for p in ("encoder", "stage1", "stage2", "stage3")]
    everything = Residency(15e9 - HEADROOM_GB * 1e9)
    assert all(everything.admit(p, b) == [] for p, b in zip(("encoder", "stage1", "stage2", "stage3"), small))


def test_offload_and_8bit_take_the_device_given(t4: Path) -> None:
    cpu = torch.device("cpu")
    kwargs = text_encoder_kwargs(RECIPES["t4"], cpu)
    assert kwargs["device_map"] == {"": "cpu"} and kwargs["variant"] == "fp16"
    assert text_encoder_kwargs(RECIPES["t4"], torch.device("cuda"))["device_map"] == {"": "cuda:0"}
    pipe = load_stage1(real_backend("M", "M"), RECIPES["cpu"], cpu)
    place(pipe, RECIPES["sequential"].__class__(**{**RECIPES["t4"].__dict__, "offload": "model"}), cpu)
    assert pipe._offload_device.type == "cpu"
    out = pipe(prompt_embeds=torch.randn(1, 77, 32), negative_prompt_embeds=torch.zeros(1, 77, 32),
               num_inference_steps=2, output_type="pt").images
    assert out.shape == (1, 3, 64, 64)


def test_unreadable_cache_entry_is_encoded_again(t4: Path) -> None:
    from iflearn.embed_cache import EmbeddingCache
    from iflearn.text import PromptEncoding, TokenizedPrompt

    cache = EmbeddingCache("repo|t4", t4 / "c")
    tok = TokenizedPrompt("a", ["a"], torch.zeros(1, 77, dtype=torch.long), torch.ones(1, 77, dtype=torch.long), "")
    cache.put(PromptEncoding("a", "", tok, torch.ones(1, 77, 4), torch.zeros(1, 77, 4)))
    fresh = EmbeddingCache("repo|t4", t4 / "c")
    assert torch.equal(fresh.get("a", "").prompt_embeds, torch.ones(1, 77, 4))
    for f in (t4 / "c").glob("*.pt"):
        f.write_bytes(b"not a tensor file")
    assert EmbeddingCache("repo|t4", t4 / "c").get("a", "") is None
    assert EmbeddingCache("other|t4", t4 / "c").get("a", "") is None


def test_forced_real_without_gpu_still_teaches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IFLEARN_SIMULATE_GPU", raising=False)
    if torch.cuda.is_available():
        pytest.skip("this machine has a real GPU")
    with pytest.raises(errors.NoCudaError, match="no CUDA GPU"):
        choose_backend("real")


def test_t4_memory_table_is_generated_not_typed() -> None:
    """README's T4 table == benchmarks/t4_memory.py's rendering of the committed JSON, whose figures are the
    placement code's (the notebooks' parts are checked against the JSON by test_real_backend_notebooks)."""
    import importlib.util

    root = Path(__file__).resolve().parents[1]
    spec = importlib.util.spec_from_file_location("t4_memory", root / "benchmarks" / "t4_memory.py")
    table = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(table)
    result = json.loads(table.RESULT.read_text())
    assert result["parts"] == table.part_table(tuple(result["sizes"]))
    assert result["notebooks"] == table.notebook_rows({r["notebook"]: r["parts"] for r in result["notebooks"]},
                                                      result["parts"])
    readme = (root / "README.md").read_text()
    shown = readme[readme.index(table.BEGIN): readme.index(table.END) + len(table.END)]
    assert shown == table.render(result), "run python benchmarks/t4_memory.py --table"


def test_super_resolve_with_custom_timesteps_on_the_real_layout(t4: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from iflearn.cascade import Cascade
    from iflearn.variations import super_resolve

    cascade = Cascade.load(verbose=False)
    small = torch.zeros(1, 3, 64, 64)
    scheduler_class = type(cascade.pipe("stage2").scheduler)
    original, seen = scheduler_class.set_timesteps, []

    def spy(scheduler, *args, **kwargs):
        seen.append(kwargs.get("timesteps"))
        return original(scheduler, *args, **kwargs)

    monkeypatch.setattr(scheduler_class, "set_timesteps", spy)
    big = super_resolve(cascade, small, "a photo of a corgi", timesteps=[900, 500, 0])
    assert big.shape == (1, 3, 256, 256) and -1 <= big.min() and big.max() <= 1
    assert [900, 500, 0] in seen  # IF's way (from pure noise) at exactly the given timesteps
    with pytest.raises(errors.BadArgumentError, match="timesteps="):
        super_resolve(cascade, small, timesteps=[0, 900])
