"""Which stage I training settings make mini-IF follow its prompts? Several runs side by side, then one score.

Each named configuration trains mini-IF's stage I from scratch in its own process (all on one device, e.g. one
GPU), with the adherence check on 48 held-out captions every 500 steps. When every run has finished, or at the
deadline, the runs still going are stopped, and every run (its final weights, else its last checkpoint's EMA) is
scored on the same 48 held-out full captions x 2 seeds at 20 steps, at guidance 7 and 4, by
``iflearn.mini.evaluate``'s checker. The result is one JSON file.

The caption embeddings come from a caption bank file, so the machine needs no text encoder::

    python -m iflearn.mini.train --stage 1 --steps 1 --tiny --out /tmp/bank-only --caption-cache captions.safetensors
    python benchmarks/mini_if_train_sweep.py --bank captions.safetensors --deadline 390 \\
        --out benchmarks/results/mini_if_train_sweep_h200.json base3200 s5000 b64_s3000

``--dry`` shrinks every run to a tiny model and 6 steps, to check the script itself on a CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import torch

#: Stage I settings tried; every one uses lr 1e-3 and v-prediction's loss weight capped at 20 unless it says.
CONFIGS: dict[str, dict] = {
    "base3200": dict(steps=3200, batch=32),
    "s5000": dict(steps=5000, batch=32),
    "s5000_seed1": dict(steps=5000, batch=32, seed=1),
    "s6000": dict(steps=6000, batch=32),
    "s5000_lr2e-3": dict(steps=5000, batch=32, lr=2e-3),
    "s5000_vw50": dict(steps=5000, batch=32, v_weight_max=50.0),
    "b64_s3000": dict(steps=3000, batch=64),
    "b64_seed1": dict(steps=3000, batch=64, seed=1),
    "b64_seed2": dict(steps=3000, batch=64, seed=2),
    "b64_seed3": dict(steps=3000, batch=64, seed=3),
}
GUIDANCE = (7.0, 4.0)


def _settings(name: str, device: str, dry: bool):
    from iflearn.mini.train import TrainSettings

    params = dict(lr=1e-3, v_weight_max=20.0, **CONFIGS[name])
    params["schedule_steps"] = params["steps"]
    if dry:
        params.update(steps=6, schedule_steps=6, batch=4)
    every = 2 if dry else 500
    return TrainSettings(stage=1, device=device, adherence_prompts=48, tiny=dry, sample_every=every,
                         checkpoint_every=max(1, every // 2), **params)


def train_one(name: str, bank_path: Path, runs: Path, device: str, dry: bool) -> None:
    """Train configuration ``name`` into ``runs/name`` (a child process of :func:`main`)."""
    from iflearn.mini.train import CaptionBank, train_stage

    torch.set_num_threads(2)
    torch.set_flush_denormal(True)
    record = train_stage(_settings(name, device, dry), runs / name, bank=CaptionBank.load(bank_path))
    print("DONE", name, record["wall_seconds"], record["final_mse"], flush=True)


def score_run(run: Path, bank, device: str, dry: bool, prompts: int = 48) -> dict:
    """Load one run's weights (final, else the last checkpoint's EMA) and score it on held-out captions."""
    from diffusers import UNet2DConditionModel

    from iflearn.mini import configs
    from iflearn.mini.train import _unet_config, quick_adherence

    folder, ckpt = run / "IF-I-mini", run / "checkpoints" / "stage1.pt"
    if (folder / "TRAINING.json").exists():
        record = json.loads((folder / "TRAINING.json").read_text())
        unet = UNet2DConditionModel.from_pretrained(folder, subfolder="unet")
        entry = dict(finished=True, steps=record["settings"]["steps"], wall_seconds=record["wall_seconds"],
                     final_mse=record["final_mse"], settings=record["settings"], history=record["history"])
    elif ckpt.exists():
        state = torch.load(ckpt, weights_only=False, map_location="cpu")
        unet = configs.build_unet(_unet_config(_settings(run.name, "cpu", dry)))
        unet.load_state_dict(state["ema"])
        entry = dict(finished=False, steps=state["step"], wall_seconds=round(state["elapsed"], 1),
                     history=state["history"])
    else:
        return dict(finished=False, steps=0)
    unet = unet.to(device)
    for guidance in GUIDANCE:
        entry[f"eval_20steps_g{guidance:g}"] = quick_adherence(unet, bank, prompts=prompts, guidance=guidance,
                                                               seeds=(0, 1), shuffle_seed=0)
    entry["history"] = [h for h in entry["history"] if "adherence" in h or h["step"] % 500 == 0]
    return entry


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("configs", nargs="*", metavar="CONFIG", help=", ".join(CONFIGS))
    parser.add_argument("--bank", type=Path, required=True,
                        help="caption bank file, as written by python -m iflearn.mini.train --caption-cache FILE")
    parser.add_argument("--runs", type=Path, default=Path("/tmp/mini-if-sweep"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/mini_if_train_sweep.json"))
    parser.add_argument("--deadline", type=float, default=390.0, help="seconds of training before runs are stopped")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dry", action="store_true", help="tiny model, 6 steps: check the script")
    parser.add_argument("--train", metavar="CONFIG", help=argparse.SUPPRESS)  # the child process's job
    args = parser.parse_args(argv)
    if args.train:
        train_one(args.train, args.bank, args.runs, args.device, args.dry)
        return 0
    unknown = [name for name in args.configs if name not in CONFIGS]
    if not args.configs or unknown:
        parser.error(f"unknown configuration(s) {unknown}; name at least one of: {', '.join(CONFIGS)}")
    args.runs.mkdir(parents=True, exist_ok=True)
    start = time.time()
    children = {}
    for name in args.configs:
        command = [sys.executable, __file__, "--train", name, "--bank", str(args.bank), "--runs", str(args.runs),
                   "--device", args.device] + (["--dry"] if args.dry else [])
        log = open(args.runs / f"{name}.log", "w")
        children[name] = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                          env={**os.environ, "PYTHONUNBUFFERED": "1"})
    while time.time() - start < args.deadline and any(c.poll() is None for c in children.values()):
        time.sleep(3)
    stopped = [name for name, child in children.items() if child.poll() is None]
    for name in stopped:
        children[name].kill()
        children[name].wait()
    from iflearn.mini.train import CaptionBank

    bank = CaptionBank.load(args.bank)
    report = {
        "what": "stage I trained from scratch under several settings side by side, scored on 48 held-out full "
                "captions x 2 seeds at 20 steps by iflearn.mini.evaluate's checker",
        "device": torch.cuda.get_device_name() if args.device == "cuda" else "cpu",
        "torch": torch.__version__,
        "concurrent_runs": len(children),
        "deadline_seconds": args.deadline,
        "stopped_at_deadline": stopped,
        "date": time.strftime("%Y-%m-%d"),
        "runs": {name: score_run(args.runs / name, bank, args.device, args.dry, prompts=8 if args.dry else 48)
                 for name in args.configs},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    for name, entry in report["runs"].items():
        print(name, entry["steps"], entry.get("eval_20steps_g7"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
