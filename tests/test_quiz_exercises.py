"""Code exercises: right, wrong, crashing and wrongly shaped functions get the right verdict and a hint."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from iflearn.quiz import check_exercise
from iflearn.quiz.exercises import EXERCISES, compare_outputs, get_exercise


def q_sample(x0: torch.Tensor, eps: torch.Tensor, abar_t: torch.Tensor) -> torch.Tensor:
    return torch.sqrt(abar_t) * x0 + torch.sqrt(1 - abar_t) * eps


def test_forward_noising_matches_torch_maths() -> None:
    result = check_exercise("q_sample", q_sample, seed=0)
    assert result.passed and result.max_abs_error < 1e-5 and result.hint == ""
    # the reference really is the DDPM formula, computed independently here with torch
    case = get_exercise("q_sample").cases(seed=1)[0]
    x0, eps, abar = (torch.from_numpy(np.array(case[k])).double() for k in ("x0", "eps", "abar_t"))
    expected = abar.sqrt() * x0 + (1 - abar).sqrt() * eps
    assert torch.allclose(torch.from_numpy(get_exercise("q_sample").reference(**case)), expected)


def test_forward_noising_with_math_sqrt_also_passes() -> None:
    assert check_exercise("q_sample", lambda x0, eps, abar_t: math.sqrt(abar_t) * x0
                          + math.sqrt(1 - abar_t) * eps).passed


@pytest.mark.parametrize("wrong, message", [
    (lambda x0, eps, abar_t: abar_t * x0 + (1 - abar_t) * eps, "max abs error"),
    (lambda x0, eps, abar_t: torch.sqrt(abar_t) * x0, "max abs error"),
    (lambda x0, eps, abar_t: x0.mean(), "output shape"),
    (lambda x0, eps: x0, "TypeError"),
    (lambda x0, eps, abar_t: "x_t", "expected a tensor"),
])
def test_wrong_forward_noising_fails_with_a_hint(wrong: object, message: str) -> None:
    result = check_exercise("q_sample", wrong, seed=3)  # type: ignore[arg-type]
    assert not result.passed and message in result.message
    assert "variance" in result.hint and "sqrt(1 - abar_t)" not in result.hint  # a direction, not the answer
    assert "Hint" in repr(result) or "힌트" in repr(result)


def test_guidance_and_snr_exercises() -> None:
    assert check_exercise("guidance", lambda noise_uncond, noise_text, guidance_scale:
                          noise_uncond + guidance_scale * (noise_text - noise_uncond)).passed
    assert not check_exercise("guidance", lambda noise_uncond, noise_text, guidance_scale:
                              guidance_scale * noise_text, seed=0).passed
    assert check_exercise("snr", lambda abar_t: abar_t / (1 - abar_t)).passed
    assert not check_exercise("snr", lambda abar_t: (1 - abar_t) / abar_t).passed


def test_unknown_exercise_and_non_callable_teach_the_fix() -> None:
    with pytest.raises(KeyError, match="q_sample"):
        check_exercise("qsample", q_sample)
    with pytest.raises(TypeError, match="without calling it"):
        check_exercise("q_sample", q_sample(torch.zeros(1), torch.zeros(1), torch.tensor(0.5)))  # type: ignore[arg-type]


def test_compare_outputs_rejects_nan_and_wrong_counts() -> None:
    exercise = EXERCISES["snr"]
    cases = exercise.cases(seed=0, n=1)
    assert not compare_outputs(exercise, cases, [np.full(10, np.nan)]).passed
    with pytest.raises(ValueError):
        compare_outputs(exercise, cases, [])


def _right_q_sample(x0: np.ndarray, eps: np.ndarray, abar_t: np.float32) -> np.ndarray:
    return np.sqrt(abar_t) * x0 + np.sqrt(1 - abar_t) * eps  # float32, as torch computes it in the notebook


def _right_only_at(values: tuple[float, ...]):  # type: ignore[no-untyped-def]
    def q_sample(x0: np.ndarray, eps: np.ndarray, abar_t: np.float32) -> np.ndarray:
        if np.isclose(abar_t, values).any():  # hard-coded special cases, wrong elsewhere
            return _right_q_sample(x0, eps, abar_t)
        return abar_t * x0 + (1 - abar_t) * eps
    return q_sample


WRONG_Q_SAMPLES = {
    "textbook mistake abar*x0 + (1-abar)*eps": lambda x0, eps, abar_t: abar_t * x0 + (1 - abar_t) * eps,
    "right only at abar=1.0 and 0.02": _right_only_at((1.0, 0.02)),
    "right only at the fixed edge values": _right_only_at((1.0, 0.02, 0.5)),
    "noise weight 1 - sqrt(abar)": lambda x0, eps, abar_t: np.sqrt(abar_t) * x0 + (1 - np.sqrt(abar_t)) * eps,
    "right only for 2 x 3 x 8 x 8 images": lambda x0, eps, abar_t: (_right_q_sample(x0, eps, abar_t)
                                                                   if x0.shape == (2, 3, 8, 8) else x0),
}


@pytest.mark.parametrize("name", sorted(WRONG_Q_SAMPLES))
def test_wrong_q_samples_fail_for_every_seed(name: str) -> None:
    exercise, wrong = get_exercise("q_sample"), WRONG_Q_SAMPLES[name]
    for seed in range(2000):
        cases = exercise.cases(seed)
        assert not compare_outputs(exercise, cases, [wrong(**c) for c in cases]).passed, f"{name} passed, seed {seed}"


def test_the_right_q_sample_passes_for_every_seed_and_every_case_is_checked() -> None:
    exercise = get_exercise("q_sample")
    for seed in range(500):
        cases = exercise.cases(seed)
        assert compare_outputs(exercise, cases, [_right_q_sample(**c) for c in cases]).passed, seed
    abars = [float(c["abar_t"]) for c in exercise.cases(7)]
    assert abars[:3] == [1.0, pytest.approx(0.02), 0.5] and len(abars) == 6  # fixed edges, then random ones
    assert all(0.001 <= a <= 0.999 for a in abars[3:])


def test_the_textbook_mistake_fails_in_the_notebook_check_too() -> None:
    for seed in range(50):
        result = check_exercise("q_sample", lambda x0, eps, abar_t: abar_t * x0 + (1 - abar_t) * eps, seed=seed)
        assert not result.passed and "sqrt(1 - abar_t)" not in result.hint  # the hint points, never answers
        assert "abar_t * x0" not in result.message  # feedback says how far off, never the answer


@pytest.mark.parametrize("name, wrong", [
    ("guidance", lambda noise_uncond, noise_text, guidance_scale: noise_text),  # right only at w = 1
    ("guidance", lambda noise_uncond, noise_text, guidance_scale: noise_uncond + 7.5 * (noise_text - noise_uncond)),
    ("snr", lambda abar_t: abar_t / (1 - abar_t) if abar_t.max() < 0.95 else abar_t),
])
def test_other_exercises_catch_special_case_answers_for_every_seed(name: str, wrong: object) -> None:
    exercise = get_exercise(name)
    for seed in range(1000):
        cases = exercise.cases(seed)
        outputs = [wrong(**c) for c in cases]  # type: ignore[operator]
        assert not compare_outputs(exercise, cases, outputs).passed, f"seed {seed}"


def test_numbers_denoised_exercise() -> None:
    def numbers_denoised(height, width, channels, downsample):
        return (height / downsample) * (width / downsample) * channels

    assert check_exercise("numbers_denoised", numbers_denoised, seed=0).passed
    # the downsample applied once (to the area) instead of to each side, and channels forgotten
    assert not check_exercise("numbers_denoised", lambda height, width, channels, downsample:
                              height * width * channels / downsample, seed=0).passed
    assert not check_exercise("numbers_denoised", lambda height, width, channels, downsample:
                              (height / downsample) * (width / downsample), seed=0).passed


def test_count_real_tokens_exercise() -> None:
    assert check_exercise("count_real_tokens", lambda attention_mask: attention_mask.sum(dim=-1), seed=0).passed
    # the row length (always 77) and one count for the whole batch are wrong
    assert not check_exercise("count_real_tokens", lambda attention_mask:
                              torch.full(attention_mask.shape[:1], attention_mask.shape[-1]), seed=0).passed
    result = check_exercise("count_real_tokens", lambda attention_mask: attention_mask.sum(), seed=0)
    assert not result.passed and "shape" in result.message


def _right_threshold(x0: torch.Tensor, ratio: float, max_value: float) -> torch.Tensor:
    s = torch.quantile(x0.abs().reshape(x0.shape[0], -1), ratio, dim=1).clamp(1, max_value).view(-1, 1, 1, 1)
    return x0.clamp(-s, s) / s


def test_dynamic_threshold_exercise_matches_the_scheduler() -> None:
    from diffusers import DDPMScheduler

    from iflearn.denoise import dynamic_threshold

    assert check_exercise("dynamic_threshold", _right_threshold, seed=0).passed
    assert check_exercise("dynamic_threshold", dynamic_threshold, seed=1).passed
    scheduler = DDPMScheduler(thresholding=True, dynamic_thresholding_ratio=0.95, sample_max_value=1.5)
    case = get_exercise("dynamic_threshold").cases(seed=2)[2]  # IF's stage I setting
    x0 = torch.from_numpy(case["x0"])
    assert torch.allclose(torch.from_numpy(get_exercise("dynamic_threshold").reference(**case)).float(),
                          scheduler._threshold_sample(x0.clone()), atol=1e-5)


@pytest.mark.parametrize("wrong", [
    lambda x0, ratio, max_value: x0.clamp(-1, 1),                                       # plain clipping
    lambda x0, ratio, max_value: x0.clamp(-max_value, max_value) / max_value,           # fixed s
    lambda x0, ratio, max_value: x0.clamp(-(s := torch.quantile(x0.abs(), ratio).clamp(1, max_value)), s) / s,  # one s
    lambda x0, ratio, max_value: _right_threshold(x0, ratio, max_value) * torch.quantile(  # no division by s
        x0.abs().reshape(x0.shape[0], -1), ratio, dim=1).clamp(1, max_value).view(-1, 1, 1, 1),
])
def test_wrong_dynamic_thresholds_fail_for_every_seed(wrong: object) -> None:
    for seed in range(200):
        result = check_exercise("dynamic_threshold", wrong, seed=seed)  # type: ignore[arg-type]
        assert not result.passed and "max_value" in result.hint, seed


def _right_augment(image: torch.Tensor, noise: torch.Tensor, noise_level: int,
                   alphas_cumprod: torch.Tensor) -> torch.Tensor:
    up = torch.nn.functional.interpolate(image, size=noise.shape[-2:], mode="bilinear", align_corners=True)
    abar = alphas_cumprod[noise_level]
    return abar.sqrt() * up + (1 - abar).sqrt() * noise


def test_noise_augment_exercise_matches_stage_two() -> None:
    from diffusers import DDPMScheduler

    assert check_exercise("noise_augment", _right_augment, seed=0).passed
    scheduler = DDPMScheduler(beta_schedule="squaredcos_cap_v2")  # IF's image_noising_scheduler
    image, noise = torch.rand(1, 3, 8, 8) * 2 - 1, torch.randn(1, 3, 32, 32)
    up = torch.nn.functional.interpolate(image, (32, 32), mode="bilinear", align_corners=True)
    expected = scheduler.add_noise(up, noise, torch.tensor([250]))
    reference = get_exercise("noise_augment").reference(image.numpy(), noise.numpy(), 250,
                                                        scheduler.alphas_cumprod.numpy())
    assert torch.allclose(torch.from_numpy(reference).float(), expected, atol=1e-5)


@pytest.mark.parametrize("wrong", [
    lambda image, noise, noise_level, alphas_cumprod: _right_augment(  # align_corners=False
        torch.nn.functional.interpolate(image, size=noise.shape[-2:], mode="bilinear"), noise, noise_level,
        alphas_cumprod),
    lambda image, noise, noise_level, alphas_cumprod: _right_augment(  # nearest enlargement
        torch.nn.functional.interpolate(image, size=noise.shape[-2:], mode="nearest"), noise, noise_level,
        alphas_cumprod),
    lambda image, noise, noise_level, alphas_cumprod: torch.nn.functional.interpolate(  # no noise
        image, size=noise.shape[-2:], mode="bilinear", align_corners=True),
    lambda image, noise, noise_level, alphas_cumprod: (lambda a, up: a * up + (1 - a) * noise)(  # no square roots
        alphas_cumprod[noise_level], torch.nn.functional.interpolate(image, size=noise.shape[-2:],
                                                                     mode="bilinear", align_corners=True)),
])
def test_wrong_noise_augments_fail_for_every_seed(wrong: object) -> None:
    for seed in range(200):
        result = check_exercise("noise_augment", wrong, seed=seed)  # type: ignore[arg-type]
        assert not result.passed and "align_corners=True" in result.hint, seed


def _right_start_timestep(timesteps: torch.Tensor, strength: float) -> torch.Tensor:
    n = len(timesteps)
    return timesteps[n - min(int(n * strength), n)]


def test_start_timestep_exercise_matches_img2img_pipeline() -> None:
    from diffusers import DDPMScheduler, IFImg2ImgPipeline

    assert check_exercise("start_timestep", _right_start_timestep, seed=0).passed
    # the reference is what IFImg2ImgPipeline.get_timesteps computes on IF's scheduler
    scheduler = DDPMScheduler(beta_schedule="squaredcos_cap_v2")
    for steps, strength in ((80, 0.7), (40, 0.3), (100, 0.29), (25, 1.0)):
        scheduler.set_timesteps(steps)
        pipe = IFImg2ImgPipeline.__new__(IFImg2ImgPipeline)
        pipe.__dict__["scheduler"] = scheduler
        timesteps, _ = IFImg2ImgPipeline.get_timesteps(pipe, steps, strength)
        reference = get_exercise("start_timestep").reference(scheduler.timesteps.numpy().astype(np.float32), strength)
        assert float(reference) == float(timesteps[0]), (steps, strength)


@pytest.mark.parametrize("wrong", [
    lambda timesteps, strength: timesteps[len(timesteps) - round(len(timesteps) * strength)],  # round, not floor
    lambda timesteps, strength: timesteps[int(len(timesteps) * strength) - 1],  # counted from the clean end
    lambda timesteps, strength: torch.tensor(1000.0 * strength),  # strength * T, ignoring the step list
])
def test_wrong_start_timesteps_fail(wrong: object) -> None:
    for seed in range(20):
        assert not check_exercise("start_timestep", wrong, seed=seed).passed, seed  # type: ignore[arg-type]


def test_shape_mask_exercise() -> None:
    from iflearn.variations import shape_mask

    assert check_exercise("shape_mask", shape_mask, seed=0).passed  # the notebook's helper is the reference
    # the mean absolute difference is another distance; a mask of booleans is fine, the wrong threshold side is not
    assert not check_exercise("shape_mask", lambda image, background, threshold: (
        (image - background.reshape(1, 3, 1, 1)).abs().mean(1, keepdim=True) > threshold).float(), seed=0).passed
    assert not check_exercise("shape_mask", lambda image, background, threshold: (
        (image - background.reshape(1, 3, 1, 1)).norm(dim=1, keepdim=True) < threshold).float(), seed=0).passed


def test_tally_exercise() -> None:
    def tally(values: torch.Tensor, names: torch.Tensor) -> torch.Tensor:
        return torch.stack([(values == name).sum() for name in names])

    assert check_exercise("tally", tally, seed=0).passed
    # shares instead of counts, and a bincount that counts unreadable pictures (-1) as the first name
    assert not check_exercise("tally", lambda values, names: tally(values, names) / len(values), seed=0).passed
    assert not check_exercise("tally", lambda values, names: torch.stack(
        [(values == n).sum() + (i == 0) * (values == -1).sum() for i, n in enumerate(names)]), seed=0).passed


def test_q_sample_hint_does_not_give_the_formula():
    from iflearn.quiz.exercises import EXERCISES

    for text in EXERCISES["q_sample"].hint.values():
        assert "sqrt(" not in text and "*" not in text, text
