"""The ``iflearn`` command: ``doctor``, ``generate``, ``assign``, ``grade``, ``feedback``, ``export``, ``train-mini``,
``eval-mini``.

Examples::

    iflearn doctor
    iflearn generate "a big red circle on a blue background" --out pictures --stages 2 --seed 0
    iflearn generate "a photo of a corgi" --out pictures --backend real      # on a GPU, after logging in
"""

from __future__ import annotations

import argparse
import platform
import sys
from pathlib import Path

__all__ = ["main", "doctor_report"]


def doctor_report() -> list[tuple[str, str]]:
    """What this machine has, and which backend and recipe ``Cascade.load()`` would choose, and why."""
    import torch

    from iflearn import device
    from iflearn.backend import choose_backend, real_backend, real_sizes_for
    from iflearn.i18n import tr
    from iflearn.recipes import choose_recipe

    info = device.gpu_info()
    reachable = device.hub_reachable()
    rows = [
        ("python", platform.python_version()),
        ("torch", torch.__version__),
        ("cuda", tr("yes", "예") + f" (CUDA {torch.version.cuda})" if info else tr("no", "아니오")),
        ("gpu", f"{info.name}, {info.free_gb:.1f} GB free of {info.total_bytes / 1e9:.1f} GB" if info else "-"),
        ("colab", tr("yes", "예") if device.in_colab() else tr("no", "아니오")),
        ("hub token", tr("present", "있음") if device.hub_token_present() else tr("not found", "없음")),
        ("hub reachable", tr("yes", "예") if reachable else tr("no", "아니오")),
    ]
    choice = choose_backend("auto", cuda=info is not None)  # Hub access, or the checkpoints already cached
    recipe = choose_recipe(info.free_gb if info else None)
    rows.append(("backend", f"{choice.backend.name} — {choice.reason}"))
    rows.append(("recipe", f"{recipe.recipe.name} — {recipe.reason}"))
    if choice.backend.name == "real":
        chosen = real_backend(*real_sizes_for(recipe.recipe.name))
        rows.append(("checkpoints", f"{chosen.stage1}, {chosen.stage2}, {chosen.stage3}"))
    return rows


def _doctor(args: argparse.Namespace) -> int:
    rows = doctor_report()
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key.ljust(width)}  {value}")
    return 0


def _generate(args: argparse.Namespace) -> int:
    from iflearn.cascade import Cascade

    cascade = Cascade.load(args.backend, recipe=args.recipe)
    steps = tuple(args.steps) if args.steps else None
    result = cascade.generate(args.prompt, negative_prompt=args.negative, seed=args.seed, stages=args.stages, steps=steps)
    args.out.mkdir(parents=True, exist_ok=True)
    for index, stage in enumerate(result.stages, start=1):
        path = args.out / f"stage{index}_{stage.size}px.png"
        stage.pil(0).save(path)
        print(f"{stage.name}: {stage.size}x{stage.size} px, {stage.seconds:.2f} s → {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``iflearn`` console command."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "grade":
        from iflearn.grading.cli import main as grade_main

        return grade_main(argv[1:])
    if argv and argv[0] in ("assign", "feedback", "export"):  # the instructor's cycle around ``grade``
        import importlib

        return importlib.import_module(f"iflearn.grading.{argv[0]}").main(argv[1:])
    if argv and argv[0] == "train-mini":
        from iflearn.mini.train import main as train_main

        return train_main(argv[1:])
    if argv and argv[0] == "eval-mini":
        from iflearn.mini.evaluate import main as eval_main

        return eval_main(argv[1:])
    parser = argparse.ArgumentParser(prog="iflearn", description="Learn DeepFloyd IF by running it.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("doctor", help="what this machine can run, and why").set_defaults(func=_doctor)
    gen = sub.add_parser("generate", help="run the cascade for one prompt and save each stage's PNG")
    gen.add_argument("prompt")
    gen.add_argument("--out", type=Path, required=True, help="folder for stage1_*.png, stage2_*.png, ...")
    gen.add_argument("--stages", type=int, choices=[1, 2, 3], default=None, help="how many stages (default: all)")
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--negative", default="", help="negative prompt")
    gen.add_argument("--steps", type=int, nargs="+", help="denoising steps per stage, e.g. --steps 20 10")
    gen.add_argument("--backend", choices=["auto", "mini", "real"], default="auto")
    gen.add_argument("--recipe", choices=["cpu", "t4", "full_gpu", "sequential"], default=None)
    gen.set_defaults(func=_generate)
    sub.add_parser("assign", help="an assignment notebook and its key from a solution notebook (iflearn assign --help)")
    sub.add_parser("grade", help="grade learners' notebooks (iflearn grade --help)")
    sub.add_parser("feedback", help="one feedback file per learner from a gradebook (iflearn feedback --help)")
    sub.add_parser("export", help="a gradebook CSV for Canvas or Moodle, with your overrides (iflearn export --help)")
    sub.add_parser("train-mini", help="train mini-IF (same as python -m iflearn.mini.train)")
    sub.add_parser("eval-mini", help="score mini-IF's prompt adherence")
    args = parser.parse_args(argv)
    from iflearn.errors import IFLearnError

    try:
        return args.func(args)
    except IFLearnError as err:
        print(f"iflearn {args.command}: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
