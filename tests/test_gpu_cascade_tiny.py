"""``benchmarks/gpu_cascade.py``: proxy configs' parameter counts, the tiny CPU run end to end, the GPU run.

The parameter counts are taken on the meta device (no memory, a few seconds). The tiny run executes the whole
script on the CPU with tiny configs of the same families (about 40 s); the ``gpu`` test runs the real, full-size
measurement in its short ``--quick`` form and is skipped without CUDA.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"
SCRIPT = BENCHMARKS / "gpu_cascade.py"
STAGES = ("stage_I", "stage_II", "stage_III")
PROXY_UNETS = ("stage1_if_i_xl.json", "stage1_if_i_m.json", "stage2_if_ii_l.json", "stage2_if_ii_m.json")


def load_script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_script("gpu_cascade")


def errors_in(record: Any, path: str = "") -> list[str]:
    """Every ``"error"`` recorded anywhere in the JSON, with where it is."""
    found = []
    if isinstance(record, dict):
        if "error" in record:
            found.append(f"{path}: {record['error']}")
        for key, value in record.items():
            found += errors_in(value, f"{path}/{key}")
    return found


def run_script(args: list[str], timeout: int) -> None:
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, str(SCRIPT), *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, f"gpu_cascade.py {' '.join(args)} exited {proc.returncode}:\n{proc.stderr[-4000:]}"


# -- configs -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", PROXY_UNETS)
def test_proxy_unet_matches_published_parameter_count(bench: ModuleType, name: str) -> None:
    params = bench.count_parameters(name)
    published = bench.PUBLISHED_PARAMS[name]
    ratio = params / published
    assert abs(ratio - 1) <= 0.05, (
        f"{name}: {params / 1e9:.3f}B parameters, {ratio:.3f}x the published {published / 1e9:g}B; a proxy config "
        "must be within 5 %: scale block_out_channels / layers_per_block / cross_attention_dim."
    )


def test_t5_is_the_published_architecture(bench: ModuleType) -> None:
    cfg = bench.read_config("t5_v1_1_xxl.json")
    published = dict(d_model=4096, num_layers=24, d_ff=10240, num_heads=64, d_kv=64, vocab_size=32128,
                     feed_forward_proj="gated-gelu", dense_act_fn="gelu_new")
    assert {k: cfg[k] for k in published} == published
    d, f, layers, vocab = 4096, 10240, 24, 32128
    per_layer = 4 * d * d + 3 * d * f + 2 * d  # attention q/k/v/o, gated FFN wi_0/wi_1/wo, two RMS norms
    expected = vocab * d + layers * per_layer + 32 * 64 + d  # embeddings, layers, relative bias, final norm
    assert bench.count_parameters("t5_v1_1_xxl.json") == expected  # 4.76B (the IF blog rounds the encoder to 4.5B)


def test_upscaler_configs_are_the_published_sizes(bench: ModuleType) -> None:
    clip = bench.read_config("sd_x4_upscaler_text_encoder.json")
    assert (clip["hidden_size"], clip["num_hidden_layers"], clip["num_attention_heads"]) == (1024, 23, 16)
    assert bench.read_config("sd_x4_upscaler_vae.json")["scaling_factor"] == 0.08333
    unet = bench.read_config("sd_x4_upscaler_unet.json")
    assert (unet["in_channels"], unet["out_channels"], unet["block_out_channels"]) == (7, 4, [256, 512, 512, 1024])


def test_every_config_says_where_its_numbers_come_from(bench: ModuleType) -> None:
    for path in sorted(bench.CONFIG_DIR.glob("*.json")):
        notes = json.loads(path.read_text())
        assert notes.get("_sources"), f"{path.name}: add a `_sources` entry saying where each number comes from"
        if path.name in PROXY_UNETS:
            assert notes.get("_proxy") is True, f"{path.name} is a proxy config; mark it with \"_proxy\": true"


def test_readme_table_is_current() -> None:
    make_table = load_script("make_table")
    assert make_table.main(["--check"]) == 0, "benchmarks/README.md is out of date: run python benchmarks/make_table.py"


# -- the tiny run --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_result(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("gpu-cascade") / "tiny.json"
    run_script(["--tiny", "--out", str(out)], timeout=300)
    return json.loads(out.read_text())


def check_stage(record: dict[str, Any], steps: int, shape: list[int]) -> None:
    assert record["steps"] == steps and record["seconds"] > 0 and record["it_per_s"] > 0, record
    assert record["output_shape"] == shape and record["output_finite"], record
    assert record["peak_allocated_bytes"] > 0 and record["attention_processors"], record


def test_tiny_run_records_every_part(tiny_result: dict[str, Any]) -> None:
    r = tiny_result
    assert r["proxy_configs"] is True and r["mode"] == "tiny"
    assert not errors_in(r), errors_in(r)
    assert r["environment"]["versions"]["torch"] and r["environment"]["date_utc"]
    assert set(r["recipes"]) == {"t4", "fast"}
    shapes = {"stage_I": [1, 3, 16, 16], "stage_II": [1, 3, 32, 32], "stage_III": [1, 3, 128, 128]}
    t4 = r["recipes"]["t4"]
    assert t4["text_encoder"]["seconds"] > 0 and t4["text_encoder"]["output_shape"] == [1, 77, 32]
    # the small proxies (IF-I-M / IF-II-M) under a 15 GB cap: every part stays loaded, as in the course on a T4
    assert t4["sizes"] == ["M", "M"] and all(t4["stages"][s]["unloaded_before"] == [] for s in STAGES)
    assert t4["stages"]["stage_III"]["kept_loaded"] == ["encoder", "stage1", "stage2", "stage3"]
    assert "needs CUDA" in t4["memory_cap"]["skipped"]
    for stage in STAGES:
        check_stage(t4["stages"][stage], 3, shapes[stage])
    fast = r["recipes"]["fast"]
    assert fast["text_encoder"]["seconds"] > 0
    for stage in STAGES:
        check_stage(fast["eager"][stage], 3, shapes[stage])
        assert "needs CUDA" in fast["compiled"][stage]["skipped"]
    preset_steps = {"stage_I:fast27": 27, "stage_II:smart27": 27, "stage_II:smart50": 50,
                    "stage_III:super27": 27, "stage_III:super40": 40}
    assert set(fast["presets"]) == set(preset_steps)
    for key, steps in preset_steps.items():
        check_stage(fast["presets"][key], steps, shapes[key.split(":")[0]])
    assert r["total_seconds"] > 0


def test_tiny_run_reports_parameter_counts(tiny_result: dict[str, Any]) -> None:
    assert all(row["params"] > 0 for row in tiny_result["configs"].values())
    full = tiny_result["full_size_configs"]
    for name in PROXY_UNETS:
        assert full[name]["proxy"] is True and abs(full[name]["ratio_to_published"] - 1) <= 0.05, full[name]
    assert full["t5_v1_1_xxl.json"]["params"] > 4.7e9


def test_make_table_renders_a_run(tiny_result: dict[str, Any]) -> None:
    make_table = load_script("make_table")
    run = dict(tiny_result, _file="gpu_cascade_example.json")
    lines = make_table.results_table([run])
    assert len(lines) == 2 + 4 + 1 + 3 + 3 + 5
    assert any("fast compiled | stage_I | skipped: torch.compile: needs CUDA" in line for line in lines)
    block = make_table.render([run])
    text = make_table.replace_block(f"a\n{make_table.BEGIN}\nold\n{make_table.END}\nb\n", block)
    assert text.startswith("a\n") and text.endswith("\nb\n") and "old" not in text


# -- the real measurement ------------------------------------------------------------------------------------------
@pytest.mark.gpu
@pytest.mark.slow
def test_gpu_quick_run(tmp_path: Path) -> None:
    """Full-size IF-I-M + IF-II-M + SD x4 with random weights, 10 steps a stage, both recipes (a few minutes)."""
    out = tmp_path / "gpu_quick.json"
    run_script(["--quick", "--out", str(out)], timeout=900)
    r = json.loads(out.read_text())
    assert not errors_in(r), errors_in(r)
    t4 = r["recipes"]["t4"]
    assert t4["text_encoder"]["quantization"].startswith("8-bit"), t4["text_encoder"]
    for stage in STAGES:
        assert t4["stages"][stage]["peak_allocated_bytes"] <= 15e9, t4["stages"][stage]
        assert r["recipes"]["fast"]["eager"][stage]["seconds"] > 0
    assert r["recipes"]["fast"]["eager"]["stage_III"]["output_shape"] == [1, 3, 1024, 1024]
