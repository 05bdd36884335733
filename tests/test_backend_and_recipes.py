"""Backend and memory-recipe choice, on simulated machines."""

from __future__ import annotations

import pytest

from iflearn import errors
from iflearn.backend import choose_backend, mini_backend, real_backend, real_sizes_for
from iflearn.i18n import set_language
from iflearn.recipes import RECIPES, choose_recipe, recipe_for_oom


@pytest.fixture(autouse=True)
def english():
    set_language("en")
    yield
    set_language("en")


def test_auto_without_cuda_is_mini_and_says_why():
    choice = choose_backend("auto", cuda=False, hub=True)
    assert choice.backend.name == "mini"
    assert "no CUDA GPU" in choice.reason and "IF-I-XL-v1.0" in choice.reason


def test_auto_with_cuda_but_no_hub_is_mini():
    choice = choose_backend("auto", cuda=True, hub=False)
    assert choice.backend.name == "mini"
    assert "cannot be reached" in choice.reason


def test_auto_with_cuda_and_hub_is_real():
    choice = choose_backend("auto", cuda=True, hub=True)
    assert choice.backend.name == "real"
    assert choice.backend.stage1 == "DeepFloyd/IF-I-XL-v1.0"
    assert choice.backend.stage2 == "DeepFloyd/IF-II-L-v1.0"
    assert choice.backend.stage3 == "stabilityai/stable-diffusion-x4-upscaler"


def test_forced_mini_even_with_a_gpu():
    assert choose_backend("mini", cuda=True, hub=True).backend.name == "mini"


def test_forced_real_without_cuda_teaches():
    with pytest.raises(errors.NoCudaError, match="no CUDA GPU.*backend='mini'"):
        choose_backend("real", cuda=False, hub=False)


def test_forced_real_without_hub_teaches():
    with pytest.raises(errors.HubUnreachableError, match="cannot be reached"):
        choose_backend("real", cuda=True, hub=False)


def test_unknown_backend_name_echoes_value():
    with pytest.raises(errors.BadArgumentError, match="'gpu'"):
        choose_backend("gpu")


def test_real_backend_sizes_and_bad_size():
    assert real_backend("M", "M").stage1 == "DeepFloyd/IF-I-M-v1.0"
    assert real_backend().sizes == (64, 256, 1024)
    with pytest.raises(errors.BadArgumentError, match="'XXL'"):
        real_backend("XXL")


def test_mini_backend_missing_folder_teaches(tmp_path):
    with pytest.raises(errors.MiniWeightsMissingError, match="model_index.json"):
        mini_backend(tmp_path).check_local()


@pytest.mark.parametrize(
    ("free_gb", "name"), [(None, "cpu"), (14.7, "t4"), (15.0, "t4"), (39.9, "t4"), (40.0, "full_gpu"), (79.0, "full_gpu"), (8.0, "sequential")]
)
def test_recipe_from_free_memory(free_gb, name):
    choice = choose_recipe(free_gb)
    assert choice.recipe.name == name
    assert choice.reason


def test_t4_recipe_is_the_free_colab_recipe():
    t4 = RECIPES["t4"]
    # 8-bit T5 and fp16 stages kept on the GPU; what does not fit is unloaded by iflearn.placement.Residency
    assert t4.text_encoder_8bit and not t4.free_text_encoder and t4.offload == "none" and not t4.one_stage_at_a_time
    assert str(t4.dtype) == "torch.float16"
    assert real_sizes_for("t4") == ("M", "M") and real_sizes_for("full_gpu") == ("XL", "L")


def test_recipe_override_and_bad_name():
    assert choose_recipe(80.0, "t4").recipe.name == "t4"
    with pytest.raises(errors.BadArgumentError, match="'tiny'"):
        choose_recipe(80.0, "tiny")


def test_out_of_memory_suggests_a_smaller_recipe():
    assert recipe_for_oom("full_gpu", 80) == "t4"
    assert recipe_for_oom("t4", 15) == "sequential"


def test_korean_messages():
    set_language("ko")
    with pytest.raises(errors.NoCudaError, match="CUDA GPU가 없습니다"):
        choose_backend("real", cuda=False, hub=True)
