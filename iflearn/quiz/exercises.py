"""Code exercises: the learner writes a small function, :func:`check_exercise` tests it on random tensors.

Each :class:`Exercise` knows how to draw inputs and the reference maths (written in NumPy, the paper's
symbols). A check always runs the exercise's fixed edge cases (``abar_t = 1`` and a very noisy step, a guidance
scale of 0 and 1, ...) with random tensors, then random cases, so a function that is right only at a few
special values, or the classic ``abar_t * x0 + (1 - abar_t) * eps``, fails every time. The notebook passes the inputs to the learner's function as ``torch`` tensors, so
``torch.sqrt`` and friends work; the grader runs the same comparison outside the learner's kernel
(:mod:`iflearn.grading.exercises`).

>>> def q_sample(x0, eps, abar_t):
...     return abar_t ** 0.5 * x0 + (1 - abar_t) ** 0.5 * eps
>>> check_exercise("q_sample", q_sample).passed
True
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from iflearn.i18n import tr

__all__ = ["Exercise", "ExerciseResult", "EXERCISES", "get_exercise", "check_exercise", "compare_outputs"]

Inputs = dict[str, Any]  # name -> np.ndarray (passed as a tensor) or float (passed as a float)


@dataclass(frozen=True)
class Exercise:
    """A function the learner writes.

    Attributes:
        name: the exercise name used in ``check_exercise(name, fn)`` and in answer keys.
        signature: the ``def`` line the learner should write.
        make_inputs: draws one set of keyword inputs from a NumPy ``Generator``.
        reference: the right output for those inputs, as a NumPy array.
        hint: what to try when the result is wrong, in ``"en"`` and ``"ko"``.
        atol: allowed absolute error (inputs are float32 in the notebook).
        edge_cases: draws the fixed edge cases (fixed scalars, random tensors) from a NumPy ``Generator``.
    """

    name: str
    signature: str
    make_inputs: Callable[[np.random.Generator], Inputs]
    reference: Callable[..., np.ndarray]
    hint: dict[str, str]
    atol: float = 1e-4
    edge_cases: Callable[[np.random.Generator], list[Inputs]] | None = None

    def cases(self, seed: int, n: int = 3) -> list[Inputs]:
        """The edge cases, then ``n`` random input sets, all drawn from ``seed`` (the grader picks a seed the
        learner cannot know)."""
        rng = np.random.default_rng(seed)
        edges = self.edge_cases(rng) if self.edge_cases else []
        return edges + [self.make_inputs(rng) for _ in range(n)]


def _image_inputs(rng: np.random.Generator, abar_t: float | None = None,
                  shape: tuple[int, ...] = (2, 3, 8, 8)) -> Inputs:
    # x0: (B, 3, H, W) float in [-1, 1]; eps: standard normal noise of the same shape; abar_t in (0, 1]
    return {
        "x0": rng.uniform(-1, 1, shape).astype(np.float32),
        "eps": rng.standard_normal(shape).astype(np.float32),
        "abar_t": np.float32(rng.uniform(0.001, 0.999) if abar_t is None else abar_t),
    }


def _image_edges(rng: np.random.Generator) -> list[Inputs]:
    # no noise (abar_t = 1), almost all noise, a typical mid step, and another image size
    return [_image_inputs(rng, 1.0), _image_inputs(rng, 0.02), _image_inputs(rng, 0.5, (1, 3, 4, 4))]


def _q_sample_reference(x0: np.ndarray, eps: np.ndarray, abar_t: float) -> np.ndarray:
    # x_t = sqrt(abar_t) * x_0 + sqrt(1 - abar_t) * eps   (DDPM eq. 4)
    abar = np.float64(abar_t)
    return np.sqrt(abar) * x0.astype(np.float64) + np.sqrt(1.0 - abar) * eps.astype(np.float64)


def _guidance_inputs(rng: np.random.Generator, guidance_scale: float | None = None) -> Inputs:
    shape = (1, 3, 8, 8)
    return {
        "noise_uncond": rng.standard_normal(shape).astype(np.float32),
        "noise_text": rng.standard_normal(shape).astype(np.float32),
        "guidance_scale": float(rng.uniform(0.0, 12.0) if guidance_scale is None else guidance_scale),
    }


def _guidance_edges(rng: np.random.Generator) -> list[Inputs]:
    # w = 0 gives the unconditional prediction, w = 1 the text-conditioned one; 7.5 is the usual setting
    return [_guidance_inputs(rng, w) for w in (0.0, 1.0, 7.5)]


def _guidance_reference(noise_uncond: np.ndarray, noise_text: np.ndarray, guidance_scale: float) -> np.ndarray:
    # eps = eps_uncond + w * (eps_text - eps_uncond)   (classifier-free guidance, as in IFPipeline)
    uncond = noise_uncond.astype(np.float64)
    return uncond + guidance_scale * (noise_text.astype(np.float64) - uncond)


def _snr_inputs(rng: np.random.Generator) -> Inputs:
    return {"abar_t": np.sort(rng.uniform(0.001, 0.999, (10,))).astype(np.float32)}


def _snr_edges(rng: np.random.Generator) -> list[Inputs]:
    # SNR 1 at abar_t = 0.5, far below and far above it
    return [{"abar_t": np.array([0.001, 0.02, 0.5, 0.9, 0.99], dtype=np.float32)}]


def _snr_reference(abar_t: np.ndarray) -> np.ndarray:
    # SNR(t) = abar_t / (1 - abar_t): signal power over noise power in x_t
    abar = abar_t.astype(np.float64)
    return abar / (1.0 - abar)


def _loss_weight_inputs(rng: np.random.Generator, cap: float | None = None) -> Inputs:
    # abar_t: (B,) values of the cosine schedule in (0, 1]; cap: the largest weight, as TrainSettings.v_weight_max
    return {"abar_t": rng.uniform(0.002, 1.0, (8,)).astype(np.float32),
            "cap": float(rng.uniform(2.0, 50.0) if cap is None else cap)}


def _loss_weight_edges(rng: np.random.Generator) -> list[Inputs]:
    # a clean picture (weight 1), the noisiest step (the cap), abar_t exactly at 1 / cap, and the course's cap 20
    return [{"abar_t": np.array([1.0, 0.5, 0.05, 0.002], dtype=np.float32), "cap": 20.0},
            {"abar_t": np.array([0.25, 0.2, 0.1], dtype=np.float32), "cap": 5.0}]


def _loss_weight_reference(abar_t: np.ndarray, cap: float) -> np.ndarray:
    # v-prediction's loss written for an epsilon UNet: |v - v_hat|^2 = |eps - eps_hat|^2 / abar_t, capped
    return np.minimum(1.0 / abar_t.astype(np.float64), cap)


def _numbers_inputs(rng: np.random.Generator) -> Inputs:
    # a picture of height x width with `channels` values per position, denoised at 1/downsample of its side
    downsample = float(rng.choice([1, 2, 4, 8]))
    return {
        "height": downsample * float(rng.integers(4, 129)),
        "width": downsample * float(rng.integers(4, 129)),
        "channels": float(rng.integers(1, 7)),
        "downsample": downsample,
    }


def _numbers_edges(rng: np.random.Generator) -> list[Inputs]:
    # IF stage I (64x64 RGB pixels), Stable Diffusion's latent (512x512 -> 64x64x4), a non-square picture
    return [{"height": 64.0, "width": 64.0, "channels": 3.0, "downsample": 1.0},
            {"height": 512.0, "width": 512.0, "channels": 4.0, "downsample": 8.0},
            {"height": 256.0, "width": 128.0, "channels": 3.0, "downsample": 1.0}]


def _numbers_reference(height: float, width: float, channels: float, downsample: float) -> np.ndarray:
    # (height / downsample) * (width / downsample) * channels: one number per channel per denoised position
    return np.asarray((height / downsample) * (width / downsample) * channels, dtype=np.float64)


def _mask_inputs(rng: np.random.Generator, lengths: list[int] | None = None) -> Inputs:
    # attention_mask: (B, 77), 1 for the first `length` positions (real tokens), 0 for the padding after them
    lengths = list(rng.integers(2, 78, int(rng.integers(1, 5)))) if lengths is None else lengths
    mask = (np.arange(77)[None, :] < np.asarray(lengths)[:, None]).astype(np.float32)
    return {"attention_mask": mask}


def _mask_edges(rng: np.random.Generator) -> list[Inputs]:
    # the empty prompt (only the start/end tokens), a prompt cut at 77, and a batch of different lengths
    return [_mask_inputs(rng, [2]), _mask_inputs(rng, [77]), _mask_inputs(rng, [6, 13, 2])]


def _mask_reference(attention_mask: np.ndarray) -> np.ndarray:
    # the number of 1s in each row: the tokens the encoder really reads
    return attention_mask.astype(np.float64).sum(axis=-1)


def _threshold_inputs(rng: np.random.Generator, scale: float | None = None, ratio: float | None = None,
                      max_value: float | None = None, shape: tuple[int, ...] = (2, 3, 8, 8)) -> Inputs:
    # x0: a predicted clean picture (B, 3, H, W), often outside [-1, 1] under strong guidance; one scale per picture
    scales = rng.uniform(0.3, 3.0, (shape[0], 1, 1, 1)) if scale is None else np.full((shape[0], 1, 1, 1), scale)
    return {
        "x0": (rng.standard_normal(shape) * scales).astype(np.float32),
        "ratio": float(rng.uniform(0.8, 0.995) if ratio is None else ratio),
        "max_value": float(rng.uniform(1.0, 2.5) if max_value is None else max_value),
    }


def _threshold_edges(rng: np.random.Generator) -> list[Inputs]:
    # all inside [-1, 1] (s = 1: only clipping), far outside (s = max_value), IF's stage I setting on a batch whose
    # pictures need different s, another picture size, and max_value = 1 (s = 1 whatever x0 is)
    mixed = _threshold_inputs(rng, scale=1.0, ratio=0.95, max_value=1.5)
    mixed["x0"][0] *= 0.3  # picture 0 needs s = 1, picture 1 s = 1.5
    return [_threshold_inputs(rng, scale=0.25, ratio=0.95, max_value=1.5),
            _threshold_inputs(rng, scale=5.0, ratio=0.95, max_value=1.5), mixed,
            _threshold_inputs(rng, ratio=0.9, max_value=2.0, shape=(1, 3, 4, 4)),
            _threshold_inputs(rng, scale=2.0, ratio=0.995, max_value=1.0)]  # max_value 1: plain clipping


def _threshold_reference(x0: np.ndarray, ratio: float, max_value: float) -> np.ndarray:
    # s = quantile_ratio(|x0|) per picture, clamped to [1, max_value]; x0 <- clip(x0, -s, s) / s   (Imagen)
    x = x0.astype(np.float64)
    s = np.quantile(np.abs(x).reshape(x.shape[0], -1), ratio, axis=1)
    s = np.clip(s, 1.0, max_value).reshape((-1,) + (1,) * (x.ndim - 1))
    return np.clip(x, -s, s) / s


def _bilinear_up(image: np.ndarray, side: int) -> np.ndarray:
    # bilinear enlargement of (B, C, h, w) to (B, C, side, side) with align_corners=True, as stage II does
    def axis_weights(n_in: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        pos = np.arange(side) * (n_in - 1) / (side - 1) if side > 1 else np.zeros(1)
        lo = np.clip(np.floor(pos).astype(int), 0, n_in - 1)
        hi = np.clip(lo + 1, 0, n_in - 1)
        return lo, hi, pos - lo
    x = image.astype(np.float64)
    lo, hi, f = axis_weights(x.shape[-2])
    x = x[..., lo, :] * (1 - f)[:, None] + x[..., hi, :] * f[:, None]
    lo, hi, f = axis_weights(x.shape[-1])
    return x[..., lo] * (1 - f) + x[..., hi] * f


def _augment_inputs(rng: np.random.Generator, noise_level: int | None = None, low: int = 8, factor: int = 4) -> Inputs:
    # image: stage I's picture (B, 3, h, h) in [-1, 1]; noise: (B, 3, 4h, 4h); alphas_cumprod: the noising
    # scheduler's table (1000,), decreasing from ~1; noise_level: an int in [0, 1000)
    betas = np.linspace(1e-4, 0.02, 1000) * rng.uniform(0.5, 1.5)
    return {
        "image": rng.uniform(-1, 1, (2, 3, low, low)).astype(np.float32),
        "noise": rng.standard_normal((2, 3, low * factor, low * factor)).astype(np.float32),
        "noise_level": int(rng.integers(0, 1000) if noise_level is None else noise_level),
        "alphas_cumprod": np.cumprod(1 - betas).astype(np.float32),
    }


def _augment_edges(rng: np.random.Generator) -> list[Inputs]:
    # no noise (level 0: only the enlargement), IF's default 250, almost all noise, and another picture size
    return [_augment_inputs(rng, 0), _augment_inputs(rng, 250), _augment_inputs(rng, 999),
            _augment_inputs(rng, 100, low=4)]


def _augment_reference(image: np.ndarray, noise: np.ndarray, noise_level: int, alphas_cumprod: np.ndarray) -> np.ndarray:
    # up = bilinear(image) to the noise's size; abar = alphas_cumprod[noise_level];
    # sqrt(abar) * up + sqrt(1 - abar) * noise   (image_noising_scheduler.add_noise)
    up = _bilinear_up(image, noise.shape[-1])
    abar = np.float64(alphas_cumprod[noise_level])
    return np.sqrt(abar) * up + np.sqrt(1.0 - abar) * noise.astype(np.float64)


def _start_inputs(rng: np.random.Generator, n: int | None = None, strength: float | None = None,
                  spaced: bool = False) -> Inputs:
    # timesteps: the scheduler's (N,) list from noisy to clean; strength in (0, 1], at least one step to run
    n = int(rng.integers(4, 101) if n is None else n)
    if spaced:  # as DDPMScheduler.set_timesteps(N) spaces them: 0, 1000 // N, ... reversed
        timesteps = (np.arange(n) * (1000 // n))[::-1]
    else:
        timesteps = np.sort(rng.choice(1000, size=n, replace=False))[::-1]
    return {"timesteps": timesteps.astype(np.float32),
            "strength": float(rng.uniform(1.5 / n, 1.0) if strength is None else strength)}


def _start_edges(rng: np.random.Generator) -> list[Inputs]:
    # strength 1 (start at the first step), one step only, IFImg2ImgPipeline's defaults (80 steps, 0.7), the
    # notebook's 40 steps at 0.3, and a product that falls just below a whole number (100 * 0.29 = 28.999...)
    return [_start_inputs(rng, 40, 1.0, True), _start_inputs(rng, 40, 1.5 / 40, True),
            _start_inputs(rng, 80, 0.7, True), _start_inputs(rng, 40, 0.3, True), _start_inputs(rng, 100, 0.29)]


def _start_reference(timesteps: np.ndarray, strength: float) -> np.ndarray:
    # IFImg2ImgPipeline.get_timesteps: n_run = min(int(N * strength), N); denoising starts at timesteps[N - n_run]
    n = len(timesteps)
    n_run = min(int(n * strength), n)
    return np.asarray(timesteps[n - n_run], dtype=np.float64)


def _shape_mask_inputs(rng: np.random.Generator, threshold: float | None = None, side: int | None = None) -> Inputs:
    # image: (1, 3, H, W) in [-1, 1], a flat background with a patch of another colour and some noise;
    # background: (3,) colour in [-1, 1]; threshold: a distance in RGB units of [-1, 1]
    side = int(rng.integers(6, 17) if side is None else side)
    background = rng.uniform(-1, 1, 3)
    image = np.broadcast_to(background[None, :, None, None], (1, 3, side, side)).copy()
    top, left = rng.integers(0, side // 2, 2)
    image[..., top : top + side // 2, left : left + side // 2] = rng.uniform(-1, 1, (3, 1, 1))
    image = np.clip(image + rng.normal(0, 0.1, image.shape), -1, 1)
    return {"image": image.astype(np.float32), "background": background.astype(np.float32),
            "threshold": float(rng.uniform(0.2, 1.0) if threshold is None else threshold)}


def _shape_mask_edges(rng: np.random.Generator) -> list[Inputs]:
    # a tiny threshold (almost every pixel differs a little), one larger than any distance (nothing is a shape),
    # a usual one, and another picture size
    return [_shape_mask_inputs(rng, 0.01), _shape_mask_inputs(rng, 4.0), _shape_mask_inputs(rng, 0.5),
            _shape_mask_inputs(rng, 0.5, side=32)]


def _shape_mask_reference(image: np.ndarray, background: np.ndarray, threshold: float) -> np.ndarray:
    # 1 where a pixel's RGB distance from the background colour is more than threshold: (1, 1, H, W) of 0 and 1
    distance = np.sqrt(((image.astype(np.float64) - background.astype(np.float64)[None, :, None, None]) ** 2)
                       .sum(axis=1, keepdims=True))
    return (distance > threshold).astype(np.float64)


def _tally_inputs(rng: np.random.Generator, n_names: int | None = None, n_seeds: int | None = None) -> Inputs:
    # names: the K codes an attribute can take; values: one code per seed, -1 where the picture was unreadable
    k = int(rng.integers(2, 9) if n_names is None else n_names)
    s = int(rng.integers(5, 41) if n_seeds is None else n_seeds)
    names = rng.choice(20, size=k, replace=False)
    values = rng.choice(np.append(names, -1), size=s, p=np.append(np.full(k, 0.9 / k), 0.1))
    return {"values": values.astype(np.float32), "names": names.astype(np.float32)}


def _tally_edges(rng: np.random.Generator) -> list[Inputs]:
    # every seed the same value, a value that never appears, and unreadable pictures (-1) that count for nobody
    same = _tally_inputs(rng, 3, 10)
    same["values"][:] = same["names"][1]
    missing = _tally_inputs(rng, 4, 20)
    missing["values"][missing["values"] == missing["names"][0]] = missing["names"][1]
    unread = _tally_inputs(rng, 3, 12)
    unread["values"][:4] = -1
    return [same, missing, unread]


def _tally_reference(values: np.ndarray, names: np.ndarray) -> np.ndarray:
    # counts[k] = how many seeds gave the value names[k]  (collections.Counter, in the order of names)
    return (values[:, None] == names[None, :]).sum(axis=0).astype(np.float64)


EXERCISES: dict[str, Exercise] = {
    "q_sample": Exercise(
        name="q_sample",
        signature="def q_sample(x0, eps, abar_t):",
        make_inputs=_image_inputs,
        edge_cases=_image_edges,
        reference=_q_sample_reference,
        hint={
            "en": "x_t mixes the picture and the noise so that its variance stays 1 (for a unit-variance x0): the "
                  "two weights' squares must add up to 1, and abar_t is the share of the picture's variance. "
                  "Check your weights at abar_t = 1 (the picture alone) and near 0 (almost only noise).",
            "ko": "x_t는 분산이 1로 유지되도록(x0의 분산이 1일 때) 그림과 노이즈를 섞습니다. 두 계수의 제곱의 합이 1이어야 "
                  "하고, abar_t는 그림 쪽 분산의 몫입니다. abar_t = 1(그림만)과 0 근처(거의 노이즈만)에서 계수를 "
                  "확인해 보세요.",
        },
    ),
    "guidance": Exercise(
        name="guidance",
        signature="def guidance(noise_uncond, noise_text, guidance_scale):",
        make_inputs=_guidance_inputs,
        edge_cases=_guidance_edges,
        reference=_guidance_reference,
        hint={
            "en": "Start from the unconditional prediction and move guidance_scale times along "
                  "(noise_text - noise_uncond). With guidance_scale = 1 you should get noise_text back.",
            "ko": "무조건부 예측에서 출발해 (noise_text - noise_uncond) 방향으로 guidance_scale배 이동하세요. "
                  "guidance_scale = 1이면 noise_text가 그대로 나와야 합니다.",
        },
        atol=1e-3,
    ),
    "snr": Exercise(
        name="snr",
        signature="def snr(abar_t):",
        make_inputs=_snr_inputs,
        edge_cases=_snr_edges,
        reference=_snr_reference,
        hint={
            "en": "x_t has signal variance abar_t and noise variance 1 - abar_t; SNR is their ratio.",
            "ko": "x_t의 신호 분산은 abar_t, 노이즈 분산은 1 - abar_t입니다. SNR은 그 비율입니다.",
        },
        atol=1e-2,
    ),
    "numbers_denoised": Exercise(
        name="numbers_denoised",
        signature="def numbers_denoised(height, width, channels, downsample):",
        make_inputs=_numbers_inputs,
        edge_cases=_numbers_edges,
        reference=_numbers_reference,
        hint={
            "en": "A model denoises one number per channel at every position it works on. A latent model works "
                  "on a grid `downsample` times smaller along each side; a pixel model has downsample = 1.",
            "ko": "모델은 자기가 다루는 위치마다 채널 수만큼의 숫자를 디노이징합니다. 잠재 모델은 가로·세로가 각각 "
                  "downsample배 작은 격자에서 일하고, 픽셀 모델은 downsample = 1입니다.",
        },
    ),
    "count_real_tokens": Exercise(
        name="count_real_tokens",
        signature="def count_real_tokens(attention_mask):",
        make_inputs=_mask_inputs,
        edge_cases=_mask_edges,
        reference=_mask_reference,
        hint={
            "en": "attention_mask has one row of 77 entries per prompt: 1 where a real token sits, 0 for padding. "
                  "Return one count per row (a tensor of shape (B,)), not the row length.",
            "ko": "attention_mask는 프롬프트마다 77칸짜리 행 하나입니다. 실제 토큰은 1, 패딩은 0입니다. "
                  "행의 길이가 아니라 행마다 개수 하나씩((B,) 모양 텐서)을 반환하세요.",
        },
    ),
    "dynamic_threshold": Exercise(
        name="dynamic_threshold",
        signature="def dynamic_threshold(x0, ratio, max_value):",
        make_inputs=_threshold_inputs,
        edge_cases=_threshold_edges,
        reference=_threshold_reference,
        hint={
            "en": "Work per picture: s is the `ratio` quantile of |x0| over that picture's values (torch.quantile on "
                  "x0.abs().reshape(B, -1) along dim=1), kept between 1 and max_value; then clip x0 to [-s, s] and "
                  "divide by s. Clipping to [-1, 1] alone is not it.",
            "ko": "사진마다 따로 계산하세요: s는 그 사진 값들의 |x0| 중 `ratio` 분위수(x0.abs().reshape(B, -1)에 dim=1로 "
                  "torch.quantile)이고, 1과 max_value 사이로 제한합니다. 그다음 x0를 [-s, s]로 자르고 s로 나눕니다. "
                  "[-1, 1]로 자르기만 하면 안 됩니다.",
        },
    ),
    "noise_augment": Exercise(
        name="noise_augment",
        signature="def noise_augment(image, noise, noise_level, alphas_cumprod):",
        make_inputs=_augment_inputs,
        edge_cases=_augment_edges,
        reference=_augment_reference,
        hint={
            "en": "First enlarge image to the noise's size the way stage II does (F.interpolate, mode='bilinear', "
                  "align_corners=True); then noise it like q_sample, with abar = alphas_cumprod[noise_level]. At "
                  "noise_level = 0 the result should be (almost) the enlarged picture.",
            "ko": "먼저 2단계처럼 image를 noise 크기로 키웁니다(F.interpolate, mode='bilinear', align_corners=True). "
                  "그다음 q_sample처럼 abar = alphas_cumprod[noise_level]로 노이즈를 더합니다. noise_level = 0이면 "
                  "결과는 (거의) 키운 그림이어야 합니다.",
        },
    ),
    "start_timestep": Exercise(
        name="start_timestep",
        signature="def start_timestep(timesteps, strength):",
        make_inputs=_start_inputs,
        edge_cases=_start_edges,
        reference=_start_reference,
        hint={
            "en": "Work one case by hand first: N = 10 steps at strength 0.3. How many of the 10 steps does img2img "
                  "run (step 3's printout counts them for 40 steps), and which position in the list is the first of them? "
                  "Then write that count and that position for any N and strength, the way diffusers rounds: "
                  "int() floors, round() does not.",
            "ko": "먼저 손으로 한 경우를 풀어 보세요: N = 10스텝, strength 0.3. img2img는 10스텝 중 몇 개를 "
                  "실행하고(3절의 출력이 40스텝일 때의 개수를 보여 줍니다), 그 첫 스텝은 목록의 몇 번째일까요? 그다음 "
                  "임의의 N과 strength에 대해 그 개수와 위치를 diffusers처럼 계산하세요: int()는 내림이고 "
                  "round()는 아닙니다.",
        },
        atol=1e-6,
    ),
    "shape_mask": Exercise(
        name="shape_mask",
        signature="def shape_mask(image, background, threshold):",
        make_inputs=_shape_mask_inputs,
        edge_cases=_shape_mask_edges,
        reference=_shape_mask_reference,
        hint={
            "en": "Subtract the background colour from every pixel (reshape it to (1, 3, 1, 1)), take the "
                  "length over the colour channels (dim=1, keepdim=True), and compare it with threshold.",
            "ko": "모든 픽셀에서 배경색을 빼고(배경색을 (1, 3, 1, 1) 모양으로), 색 채널(dim=1, keepdim=True)에 "
                  "대해 길이를 구한 뒤 threshold와 비교하세요.",
        },
        atol=1e-6,
    ),
    "loss_weight": Exercise(
        name="loss_weight",
        signature="def loss_weight(abar_t, cap):",
        make_inputs=_loss_weight_inputs,
        edge_cases=_loss_weight_edges,
        reference=_loss_weight_reference,
        hint={
            "en": "One weight per picture, the same shape as abar_t. A clean picture (abar_t = 1) keeps weight 1; "
                  "the noisier the picture, the larger the weight, but never above cap. Which of torch's "
                  "element-wise functions keeps the smaller of two values?",
            "ko": "그림마다 가중치 하나, abar_t와 같은 모양입니다. 깨끗한 그림(abar_t = 1)은 가중치 1이고, 노이즈가 "
                  "많을수록 가중치가 커지지만 cap을 넘지 않습니다. 두 값 중 작은 쪽을 고르는 torch의 원소별 함수는 "
                  "무엇일까요?",
        },
        atol=1e-4,
    ),
    "tally": Exercise(
        name="tally",
        signature="def tally(values, names):",
        make_inputs=_tally_inputs,
        edge_cases=_tally_edges,
        reference=_tally_reference,
        hint={
            "en": "Return one count per entry of names, in the same order: how many entries of values equal it. "
                  "A value that never appears counts 0, and values not in names are not counted.",
            "ko": "names의 각 항목마다, 같은 순서로, values 중 그 값과 같은 것의 개수를 반환하세요. 한 번도 "
                  "나오지 않은 값은 0이고, names에 없는 값은 세지 않습니다.",
        },
        atol=1e-6,
    ),
}


def get_exercise(name: str) -> Exercise:
    """The exercise called ``name``; ``KeyError`` listing the known names otherwise."""
    if name not in EXERCISES:
        raise KeyError(f"No exercise named {name!r}; the exercises are {sorted(EXERCISES)}.")
    return EXERCISES[name]


@dataclass(frozen=True)
class ExerciseResult:
    """Pass or fail for a code exercise.

    Attributes:
        name: the exercise name.
        passed: whether every test case matched the reference.
        message: what happened (the first mismatch, error or wrong shape).
        hint: what to try next (empty when passed).
        max_abs_error: the largest difference from the reference over the cases that ran (``inf`` if none).
    """

    name: str
    passed: bool
    message: str
    hint: str
    max_abs_error: float

    def _repr_html_(self) -> str:
        colour = "#1b7f3b" if self.passed else "#b3261e"
        hint = f"<br><i>{tr('Hint', '힌트')}: {html.escape(self.hint)}</i>" if self.hint else ""
        return f'<div style="border-left:4px solid {colour};padding:4px 10px">{html.escape(self.message)}{hint}</div>'

    def __repr__(self) -> str:
        return self.message + (f"\n{tr('Hint', '힌트')}: {self.hint}" if self.hint else "")


def compare_outputs(exercise: Exercise, cases: list[Inputs], outputs: list[Any]) -> ExerciseResult:
    """Compare outputs (NumPy-convertible) with the reference for each case; the grader uses this too."""
    worst = 0.0
    for index, (inputs, output) in enumerate(zip(cases, outputs, strict=True)):
        expected = exercise.reference(**inputs)
        try:
            got = np.asarray(output, dtype=np.float64)
        except (TypeError, ValueError):
            return _fail(exercise, tr(f"case {index + 1}: returned {type(output).__name__}, expected a tensor",
                                      f"사례 {index + 1}: 텐서가 아닌 {type(output).__name__}를 반환했습니다"))
        if got.shape != expected.shape:
            return _fail(exercise, tr(f"case {index + 1}: output shape {tuple(got.shape)}, expected {expected.shape}",
                                      f"사례 {index + 1}: 출력 모양 {tuple(got.shape)}, 기대값 {expected.shape}"))
        error = float(np.max(np.abs(got - expected))) if got.size else 0.0
        if not np.isfinite(error):
            error = float("inf")
        worst = max(worst, error)
        if not error <= exercise.atol:
            return _fail(exercise, tr(f"case {index + 1}: max abs error {error:.3g} > {exercise.atol:g}",
                                      f"사례 {index + 1}: 최대 절대 오차 {error:.3g} > {exercise.atol:g}"), worst)
    return ExerciseResult(exercise.name, True, tr(f"✅ {exercise.name}: all {len(cases)} cases match, edge and "
                                                  f"random (max abs error {worst:.2g}).",
                                                  f"✅ {exercise.name}: 경계 사례와 무작위 사례 {len(cases)}개 모두 "
                                                  f"일치 (최대 절대 오차 {worst:.2g})."), "", worst)


def _fail(exercise: Exercise, message: str, worst: float = float("inf")) -> ExerciseResult:
    return ExerciseResult(exercise.name, False, f"❌ {exercise.name}: {message}",
                          tr(exercise.hint["en"], exercise.hint["ko"]), worst)


def to_torch(inputs: Inputs) -> dict[str, Any]:
    """NumPy arrays become float32 ``torch`` tensors (plain NumPy if torch is missing); floats stay floats."""
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency of the course
        return dict(inputs)
    return {k: torch.from_numpy(np.array(v)) if isinstance(v, np.ndarray | np.generic) else v
            for k, v in inputs.items()}


def to_numpy(output: Any) -> Any:
    """A tensor (or anything array-like) as a float64 NumPy array; other objects unchanged."""
    if hasattr(output, "detach"):
        output = output.detach().cpu().double().numpy()
    return output


def check_exercise(name: str, fn: Callable[..., Any], seed: int | None = None) -> ExerciseResult:
    """Run your function on random tensors and compare it with the reference maths.

    Args:
        name: the exercise, e.g. ``"q_sample"`` (see :data:`EXERCISES`).
        fn: your function, e.g. ``q_sample`` written as ``def q_sample(x0, eps, abar_t): ...``.
        seed: fix the random cases (default: new ones each call).

    Returns:
        An :class:`ExerciseResult` (shown as a green/red box in a notebook) with a hint when it fails.
    """
    exercise = get_exercise(name)
    if not callable(fn):
        raise TypeError(f"check_exercise({name!r}, {fn!r}): pass your function itself, e.g. "
                        f"check_exercise({name!r}, {exercise.signature[4:].split('(')[0]}), without calling it.")
    cases = exercise.cases(seed if seed is not None else int(np.random.default_rng().integers(2**31)))
    outputs = []
    for index, inputs in enumerate(cases):
        try:
            outputs.append(to_numpy(fn(**to_torch(inputs))))
        except Exception as exc:  # the learner's code raised: report it as feedback, not a traceback
            return _fail(exercise, tr(f"case {index + 1} raised {type(exc).__name__}: {exc}. "
                                      f"Expected signature: {exercise.signature}",
                                      f"사례 {index + 1}에서 {type(exc).__name__} 발생: {exc}. "
                                      f"필요한 형태: {exercise.signature}"))
    return compare_outputs(exercise, cases, outputs)
