"""A training run a learner can watch: :func:`iflearn.mini.train.train_stage` with snapshots of what it draws.

Every ``settings.sample_every`` steps the run draws each prompt once with its current EMA weights and reads the
pictures back with the evaluation's checker (:func:`iflearn.mini.evaluate.read_picture`), so a notebook can show
*when* the model starts to follow each word. The finished run is kept in a folder named after its settings
(``$IFLEARN_CACHE/training/<settings hash>``): re-running the same cell loads it instead of training again, and
changing a setting trains anew. There is one training loop, ``train_stage``; this module only watches it.

>>> snapshot_rates([("red", "circle")], [("red", "square")])
{'colour': 1.0, 'shape': 0.0}
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from iflearn.mini.train import CaptionBank, TrainSettings, _build_pipeline, train_stage

__all__ = ["Snapshot", "WatchedRun", "run_folder", "snapshot_rates", "draw", "watch_training"]


@dataclass(frozen=True)
class Snapshot:
    """What the model drew after ``step`` training steps.

    Attributes:
        step: training steps done.
        images: ``(P, 3, 32, 32)`` pictures in ``[-1, 1]``, one per prompt.
        rates: share of pictures whose colour / shape the checker reads as the prompt's, each in ``[0, 1]``.
    """

    step: int
    images: torch.Tensor
    rates: dict[str, float]


@dataclass(frozen=True)
class WatchedRun:
    """A finished run: its record (``TRAINING.json``), snapshots, and the pipeline folder it saved."""

    record: dict
    snapshots: list[Snapshot]
    folder: Path
    reused: bool


def run_folder(settings: TrainSettings, prompts: list[str], root: Path | None = None) -> Path:
    """``root/<hash of the settings and prompts>`` (default root: ``$IFLEARN_CACHE/training``)."""
    from iflearn.embed_cache import cache_root

    root = root or cache_root() / "training"
    key = json.dumps({"settings": asdict(settings), "prompts": prompts}, sort_keys=True)
    return root / hashlib.sha256(key.encode()).hexdigest()[:16]


def snapshot_rates(readings: list[tuple[str | None, str | None]], wanted: list[tuple[str, str]]) -> dict[str, float]:
    """Share of ``(colour, shape)`` readings that match the ``wanted`` pairs, per attribute."""
    n = max(1, len(wanted))
    return {"colour": sum(r[0] == w[0] for r, w in zip(readings, wanted)) / n,
            "shape": sum(r[1] == w[1] for r, w in zip(readings, wanted)) / n}


def draw(unet: torch.nn.Module, prompts: list[str], bank: CaptionBank, seed: int = 0, steps: int = 20,
         guidance: float = 4.0) -> torch.Tensor:
    """Draw each prompt once with a stage I UNet through ``IFPipeline``: ``(P, 3, 32, 32)`` in ``[-1, 1]``."""
    device = next(unet.parameters()).device
    pipe = _build_pipeline(1, unet)
    pipe.set_progress_bar_config(disable=True)
    with torch.no_grad():
        images = pipe(prompt_embeds=bank(prompts).to(device), negative_prompt_embeds=bank([""] * len(prompts)).to(device),
                      num_inference_steps=steps, guidance_scale=guidance, generator=torch.Generator().manual_seed(seed),
                      output_type="pt").images
    return images.clamp(-1, 1).cpu()


def _wanted(prompt: str) -> tuple[str, str]:
    words = prompt.split()
    return words[-2], words[-1]


def watch_training(settings: TrainSettings, prompts: list[str], bank: CaptionBank | None = None,
                   root: Path | None = None) -> WatchedRun:
    """Train (or reload) the run of ``settings``, snapshotting ``prompts`` (``"a red circle"``-style captions).

    Args:
        settings: the run, as for ``train_stage`` (``sample_every`` sets the snapshot interval).
        prompts: captions whose last two words are a colour and a shape.
        bank: their embeddings (default: every caption of the run, encoded now).
        root: where finished runs are kept (default ``$IFLEARN_CACHE/training``).

    Returns:
        The run, with ``reused=True`` when it was loaded from an earlier identical run.
    """
    from iflearn.mini.evaluate import read_picture

    folder = run_folder(settings, prompts, root)
    record_path, snapshots_path = folder / "IF-I-mini" / "TRAINING.json", folder / "snapshots.pt"
    if record_path.exists() and snapshots_path.exists():
        saved = torch.load(snapshots_path, weights_only=True)
        rates = json.loads(saved["rates"])
        snapshots = [Snapshot(s, saved[f"images_{s}"], rates[str(s)]) for s in saved["steps"].tolist()]
        return WatchedRun(json.loads(record_path.read_text()), snapshots, folder / "IF-I-mini", reused=True)
    bank = bank or CaptionBank(sorted(set(prompts) | {""}))
    wanted = [_wanted(p) for p in prompts]
    snapshots: list[Snapshot] = []

    def snapshot(step: int, ema: torch.nn.Module) -> None:
        images = draw(ema, prompts, bank)
        readings = [read_picture(image) for image in images]
        rates = snapshot_rates([(r.colour, r.shape) for r in readings], wanted)
        snapshots.append(Snapshot(step, images, rates))

    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    record = train_stage(settings, partial, bank=bank, callback=snapshot, samples=False)
    shutil.rmtree(partial / "checkpoints", ignore_errors=True)  # the finished weights are in IF-I-mini/
    tensors = {f"images_{s.step}": s.images.contiguous() for s in snapshots}
    tensors["steps"] = torch.tensor([s.step for s in snapshots])
    torch.save({**tensors, "rates": json.dumps({str(s.step): s.rates for s in snapshots})}, partial / "snapshots.pt")
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(partial, folder)  # a run interrupted half-way never looks finished
    return WatchedRun(record, snapshots, folder / "IF-I-mini", reused=False)
