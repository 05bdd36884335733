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
    assert "sqrt(1 - abar_t)" in result.hint
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
