"""Train mini-IF from a seed: ``python -m iflearn.mini.train``.

Stage I learns to draw 32x32 scenes from captions; stage II learns to upscale them x4 to 128x128, given the
bilinearly upsampled, noise-augmented stage I picture; half of its batch starts from the noised bicubic
enlargement (the way it is sampled, img2img-style) and a quarter are crops of photographs. Both use IF's
scheduler, learned variance (hybrid loss) and 10 % empty captions for classifier-free guidance. The run prints a progress bar with the loss, saves
sample grids as PNG and resumable checkpoints, and finally writes the EMA weights as diffusers pipeline folders
(``model_index.json``, ``unet/``, ``scheduler/`` ...) with a ``TRAINING.json`` record beside them.

Examples::

    python -m iflearn.mini.train --stage all                      # reproduce the shipped weights
    python -m iflearn.mini.train --stage 1 --steps 20 --tiny --out /tmp/smoke   # a smoke run in seconds
    python -m iflearn.mini.train --stage 1 --resume               # continue from the last checkpoint
    python -m iflearn.mini.train --device cuda                    # on a GPU (the data stay the same)
    python -m iflearn.mini.train --caption-cache captions.safetensors   # encode the captions once, reuse them
    python -m iflearn.mini.train --stage 2 --start-band 0 100 --flat-weight 2   # stage II with other settings

Every random draw (scenes, captions, timesteps, noise) comes from seeded CPU generators, so a run sees the same
data on any device; the arithmetic differs in its last bits between devices, so weights trained on a GPU are
close to, not identical with, the CPU run's.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import random
import sys
import time
from dataclasses import dataclass
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from iflearn.device import default_device
from iflearn.mini import configs
from iflearn.mini.degrade import colour_jitter, soften
from iflearn.mini.dataset import all_captions, caption, held_out_scenes, random_scene, render
from iflearn.mini.losses import hybrid_loss, noised_from
from iflearn.mini.machine import describe as describe_machine
from iflearn.mini.photos import random_crop
from iflearn.mini.quality import flat_regions
from iflearn.mini.text_encoder import MAX_TOKENS, load_mini_text_encoder
from iflearn.upscale import start_picture

__all__ = ["TrainSettings", "CaptionBank", "train_stage", "draw_in_bands", "main", "SAMPLE_PROMPTS"]

#: Prompts drawn in the periodic sample grids.
SAMPLE_PROMPTS = [
    "a big red circle in the center on a blue background",
    "a small yellow square on the left on a black background",
    "a big white triangle at the bottom on a green background",
    "a small purple circle at the top on a yellow background",
    "a big orange square on the right on a purple background",
    "a blue triangle",
    "a green circle on a white background",
    "a big red square at the top",
]


@dataclass
class TrainSettings:
    """One stage's training run. ``steps`` of ``batch`` pictures, AdamW with warm-up and cosine decay."""

    stage: int
    steps: int
    batch: int
    lr: float
    seed: int = 0
    ema_decay: float = 0.999
    p_uncond: float = 0.1
    vlb_weight: float = 1e-3
    crop: int = 64  # stage II trains on random crops of this side
    schedule_steps: int | None = None  # length of the cosine learning-rate schedule (default: steps)
    sample_every: int = 500
    checkpoint_every: int = 250
    tiny: bool = False
    degrade: bool = True  # stage II: colour jitter and blur so its inputs look like stage I's outputs
    snr_gamma: float | None = None  # Min-SNR-gamma loss weighting (see iflearn.mini.losses.hybrid_loss)
    v_weight_max: float | None = None  # v-prediction's loss weighting for an epsilon UNet (ditto)
    device: str = "cpu"  # where the UNet trains: "cpu" or "cuda" (the data are drawn on the CPU either way)
    adherence_prompts: int = 16  # held-out captions drawn by the periodic adherence check (stage I)
    p_drop: float = 0.3  # chance that a caption leaves out each optional part (1.0: "a red circle" only)
    init: str | None = None  # start from this pipeline folder's UNet (fine-tuning) instead of random weights
    timestep_bands: tuple[tuple[int, int, float], ...] | None = None  # (low, high, share): where timesteps fall
    noise_level_bands: tuple[tuple[int, int, float], ...] | None = None  # the same for stage II's augmentation
    photo_share: float = 0.0  # stage II: share of the batch cropped from photographs (iflearn.mini.photos)
    start_share: float = 0.0  # stage II: share of the batch noised from the bicubic enlargement (img2img-style)
    start_band: tuple[int, int] = (50, 300)  # ... at timesteps in this range
    flat_weight: float = 1.0  # stage II: loss weight of pixels inside the truth's flat regions (others: 1)
    start_noise: float = 1.0  # stage II: scale of the img2img-style share's start noise (0: unnoised, as sampled)


#: Stage II's training length: it fits, with stage I's, in two hours of a 2-core CPU.
STAGE2_STEPS = 3000
#: Where stage II's training timesteps fall: (low, high, share). It samples img2img-style, from the noised bicubic
#: enlargement at low noise (``start_share`` of the batch learns exactly that step), and its last step removes
#: what noise is left; training spends most steps at low noise (a third below t = 100), and a third of them
#: everywhere, so that sampling from pure noise (IF's way) still works.
STAGE2_TIMESTEP_BANDS = ((0, 100, 0.35), (0, 300, 0.3), (0, 1000, 0.35))
#: The timesteps of the img2img-style share: around the one the sampler starts at (t = 55). Training noises this
#: share's bicubic start; the sampler does not (``iflearn.upscale``): measured, the unnoised start gives flatter
#: areas and sharper edges with these weights (``benchmarks/results/mini_if_stage2_frontier.json``).
STAGE2_START_BAND = (40, 100)

#: The settings of the shipped weights. Stage I's loss carries v-prediction's weighting, ``1 / abar_t`` capped
#: at 20 (a training-only change: the UNet still predicts epsilon for IF's unchanged scheduler). With the plain
#: epsilon loss, and with Min-SNR-5, the words decided at high noise (position, background) were still not
#: followed after 1,000-2,500 steps: below 20 % on held-out captions. Stage I's batch is 64: at batch 32,
#: whether *position* was learned at all depended on the seed and the device (see
#: ``benchmarks/results/mini_if_train_sweep_h200.json``).
DEFAULTS = {
    1: dict(steps=3000, schedule_steps=3000, batch=64, lr=1e-3, v_weight_max=20.0),
    2: dict(steps=STAGE2_STEPS, schedule_steps=STAGE2_STEPS, batch=12, lr=1e-3, timestep_bands=STAGE2_TIMESTEP_BANDS,
            noise_level_bands=((0, 100, 0.5), (0, 1000, 0.5)), photo_share=0.25, start_share=0.5,
            start_band=STAGE2_START_BAND),
}


def embed_captions(texts: list[str], batch: int = 256, encoder=None) -> torch.Tensor:
    """Encode every caption once: ``(N, 77, 384)`` float16 MiniLM hidden states, padded like IF's prompts."""
    tokenizer, encoder = encoder or load_mini_text_encoder()
    chunks = []
    with torch.no_grad():
        for i in tqdm(range(0, len(texts), batch), desc="encoding captions", leave=False):
            tokens = tokenizer(
                texts[i : i + batch], padding="max_length", max_length=MAX_TOKENS, truncation=True, return_tensors="pt"
            )
            chunks.append(encoder(tokens.input_ids, attention_mask=tokens.attention_mask)[0].half())
    return torch.cat(chunks)


class CaptionBank:
    """The training captions, the held-out ones and ``""``, with their embeddings, looked up by text.

    ``embeds`` is ``(N, 77, 384)`` float16. Each row is fully fixed by its first ``n`` positions (the prompt's
    real tokens; :class:`~iflearn.mini.text_encoder.MiniTextEncoder` repeats them into the padding), which is
    what :meth:`save` stores, so a bank file is ~27 MB instead of ~180 MB.
    """

    def __init__(self, texts: list[str] | None = None, embeds: torch.Tensor | None = None) -> None:
        self.encoder = None
        if texts is None:
            # Training captions first, encoded on their own: the same batches, so the same bits, as always.
            train = all_captions()
            held = sorted({caption(s) for s in held_out_scenes()} - set(train))
            texts = train + held
            embeds = torch.cat([embed_captions(train, encoder=self._encoder()),
                                embed_captions(held, encoder=self._encoder())])
        self.texts = list(texts)
        self.index = {t: i for i, t in enumerate(self.texts)}
        self.embeds = embeds if embeds is not None else embed_captions(self.texts, encoder=self._encoder())

    def _encoder(self):
        if self.encoder is None:
            self.encoder = load_mini_text_encoder()
        return self.encoder

    def __call__(self, texts: list[str]) -> torch.Tensor:
        """``(len(texts), 77, 384)`` float32; texts outside the bank are encoded on the fly (once: they join it)."""
        if all(t in self.index for t in texts):
            return self.embeds[[self.index[t] for t in texts]].float()
        new = sorted({t for t in texts if t not in self.index})
        self.embeds = torch.cat([self.embeds, embed_captions(new, encoder=self._encoder())])
        self.index.update({t: len(self.texts) + i for i, t in enumerate(new)})
        self.texts += new
        return self.embeds[[self.index[t] for t in texts]].float()

    def save(self, path: Path) -> None:
        """Write the bank as safetensors: each caption's real-token states, their counts, and the texts."""
        from safetensors.torch import save_file

        tokenizer = self._encoder()[0]
        ids = tokenizer(self.texts, truncation=True, max_length=MAX_TOKENS).input_ids
        counts = torch.tensor([len(row) for row in ids])
        packed = torch.cat([row[:n] for row, n in zip(self.embeds, counts.tolist())])
        path.parent.mkdir(parents=True, exist_ok=True)
        tensors = {"states": packed.contiguous(), "counts": counts}
        save_file(tensors, str(path), metadata={"texts": json.dumps(self.texts)})

    @classmethod
    def load(cls, path: Path) -> "CaptionBank":
        """Read a bank written by :meth:`save`; the text encoder is loaded only if an unknown text is asked for."""
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            texts = json.loads(f.metadata()["texts"])
            states, counts = f.get_tensor("states"), f.get_tensor("counts")
        rows, start = [], 0
        for n in counts.tolist():
            row = states[start : start + n]
            rows.append(row[torch.arange(MAX_TOKENS) % n])  # the padding repeats the real tokens
            start += n
        return cls(texts, torch.stack(rows))

    @classmethod
    def cached(cls, path: Path | None) -> "CaptionBank":
        """The bank from ``path`` if it holds every caption training needs; else encode them (and write ``path``)."""
        if path is not None and path.exists():
            bank = cls.load(path)
            missing = set(all_captions()) - set(bank.index)
            if not missing:
                return bank
            print(f"{path} lacks {len(missing)} of today's captions (e.g. {sorted(missing)[0]!r}); encoding anew")
        bank = cls()
        if path is not None:
            bank.save(path)
        return bank


def make_batch(settings: TrainSettings, step: int, bank: CaptionBank) -> tuple[torch.Tensor, ...]:
    """The batch of ``step``: a pure function of (seed, step), so a resumed run sees the same data.

    Returns for stage I ``(x0 (B,3,32,32), embeds (B,77,384))``; for stage II
    ``(x0 (B,3,c,c), low_res_up (B,3,c,c), start (B,3,c,c), embeds)`` with ``c`` the crop side: the true picture,
    the bilinear enlargement of its low-resolution version (stage II's condition) and the bicubic one (where
    img2img-style super-resolution starts).
    """
    rng = random.Random(settings.seed * 1_000_003 + step * 7919 + settings.stage)
    scenes = [random_scene(rng, settings.p_drop) for _ in range(settings.batch)]
    texts = ["" if rng.random() < settings.p_uncond else caption(s) for s in scenes]
    embeds = bank(texts)
    if settings.stage == 1:
        return torch.stack([render(s, configs.STAGE1_SIZE) for s in scenes]), embeds
    photos = [settings.photo_share > 0 and rng.random() < settings.photo_share for _ in scenes]
    if any(photos):
        texts = ["" if photo else text for photo, text in zip(photos, texts)]
        embeds = bank(texts)
    highs, lows = [], []
    for scene, photo in zip(scenes, photos):
        if photo:  # a photograph, made small as the evaluation does (area filter)
            high = random_crop(rng, configs.STAGE2_SIZE)
            low = F.interpolate(high[None], size=configs.STAGE1_SIZE, mode="area")[0]
        else:
            high, low = render(scene, configs.STAGE2_SIZE), render(scene, configs.STAGE1_SIZE)
        if settings.degrade and rng.random() < 0.8:
            high, low = colour_jitter([high, low], rng)
        if settings.degrade and rng.random() < 0.5:
            low = soften(low, rng.uniform(0.3, 0.9))
        highs.append(high)
        lows.append(low)
    high, low = torch.stack(highs), torch.stack(lows)
    # Exactly what IFSuperResolutionPipeline does with the stage I picture before noising it.
    up = F.interpolate(low, (configs.STAGE2_SIZE, configs.STAGE2_SIZE), mode="bilinear", align_corners=True)
    start = start_picture(low, configs.STAGE2_SIZE)  # where img2img-style super-resolution starts
    c = settings.crop
    xs = [rng.randrange(0, configs.STAGE2_SIZE - c + 1) for _ in scenes]
    ys = [rng.randrange(0, configs.STAGE2_SIZE - c + 1) for _ in scenes]
    high, up, start = (torch.stack([p[:, y : y + c, x : x + c] for p, x, y in zip(pictures, xs, ys)])
                       for pictures in (high, up, start))
    return high, up, start, embeds


def draw_in_bands(bands: tuple[tuple[int, int, float], ...], n: int, generator: torch.Generator) -> torch.Tensor:
    """``(n,)`` integers: each falls in one of the ``(low, high, share)`` bands (picked by share), uniformly there.

    >>> t = draw_in_bands(((900, 1000, 0.5), (0, 100, 0.5)), 1000, torch.Generator().manual_seed(0))
    >>> bool(((t < 100) | (t >= 900)).all()), 400 < int((t < 100).sum()) < 600
    (True, True)
    """
    shares = torch.tensor([float(share) for _, _, share in bands])
    if (shares < 0).any() or float(shares.sum()) <= 0 or any(not 0 <= lo < hi for lo, hi, _ in bands):
        raise ValueError(f"bands={bands!r}: expected (low, high, share) with 0 <= low < high and shares >= 0 "
                         "that are not all 0, e.g. ((900, 1000, 0.5), (0, 300, 0.5)).")
    which = torch.multinomial(shares, n, replacement=True, generator=generator)
    low = torch.tensor([lo for lo, _, _ in bands])[which]
    width = torch.tensor([hi - lo for lo, hi, _ in bands])[which]
    return low + (torch.rand(n, generator=generator) * width).long().clamp(max=width - 1)


def _lr_at(step: int, settings: TrainSettings) -> float:
    total = settings.schedule_steps or settings.steps
    warmup = min(100, total // 10 + 1)
    if step < warmup:
        return settings.lr * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return settings.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def _unet_config(settings: TrainSettings) -> dict:
    if settings.stage == 1:
        return configs.stage1_unet_config((16, 32, 32) if settings.tiny else (32, 64, 128))
    return configs.stage2_unet_config((8, 16, 16, 32) if settings.tiny else (16, 32, 64, 96))


def _build_pipeline(stage: int, unet, text_encoder=None, tokenizer=None):
    from diffusers import IFPipeline, IFSuperResolutionPipeline

    common = dict(
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        safety_checker=None,
        feature_extractor=None,
        watermarker=None,
        requires_safety_checker=False,
    )
    if stage == 1:
        return IFPipeline(scheduler=configs.stage1_scheduler(), **common)
    return IFSuperResolutionPipeline(
        scheduler=configs.stage2_scheduler(), image_noising_scheduler=configs.image_noising_scheduler(), **common
    )


def quick_adherence(
    unet, bank: CaptionBank, prompts: int = 16, steps: int = 20, guidance: float = 7.0,
    seeds: tuple[int, ...] = (0,), shuffle_seed: int = 1,
) -> dict[str, float]:
    """Stage I's prompt adherence on ``prompts`` held-out full captions, read by the evaluation's checker.

    One batched pipeline call per seed (on the UNet's device); returns each attribute's hit rate in ``[0, 1]``
    over ``prompts x len(seeds)`` pictures. A cheap progress signal during training, and the score of
    ``benchmarks/mini_if_train_sweep.py`` (the full measurement is ``python -m iflearn.mini.evaluate``).
    """
    from iflearn.mini.dataset import held_out_scenes
    from iflearn.mini.evaluate import read_picture, score_reading

    scenes = held_out_scenes()
    random.Random(shuffle_seed).shuffle(scenes)
    scenes = scenes[:prompts]
    device = next(unet.parameters()).device
    embeds = bank([caption(s) for s in scenes]).to(device)
    negative = bank([""] * len(scenes)).to(device)
    unet.eval()
    pipe = _build_pipeline(1, unet)
    pipe.set_progress_bar_config(disable=True)
    scores = []
    with torch.no_grad():
        for seed in seeds:
            images = pipe(prompt_embeds=embeds, negative_prompt_embeds=negative, num_inference_steps=steps,
                          guidance_scale=guidance, generator=torch.Generator().manual_seed(seed),
                          output_type="pt").images.cpu()
            scores += [score_reading(read_picture(image.clamp(-1, 1)), scene) for image, scene in zip(images, scenes)]
    unet.train()
    return {key: round(sum(s[key] for s in scores) / len(scores), 3) for key in scores[0]}


def save_sample_grid(stage: int, unet, path: Path, bank: CaptionBank, steps: int = 25) -> None:
    """Draw :data:`SAMPLE_PROMPTS` with the current weights and save a captioned grid PNG."""
    from iflearn.plotting import image_grid

    unet.eval()
    device = next(unet.parameters()).device
    prompts = SAMPLE_PROMPTS[:4] if stage == 2 else SAMPLE_PROMPTS
    embeds, negative = bank(prompts).to(device), bank([""] * len(prompts)).to(device)
    generator = torch.Generator().manual_seed(0)
    pipe = _build_pipeline(stage, unet)
    pipe.set_progress_bar_config(disable=True)
    with torch.no_grad():
        if stage == 1:
            images = pipe(
                prompt_embeds=embeds, negative_prompt_embeds=negative, num_inference_steps=steps,
                guidance_scale=7.0, generator=generator, output_type="pt",
            ).images
        else:
            low = torch.stack([render(random_scene(random.Random(i), p_drop=0.0), configs.STAGE1_SIZE) for i in range(4)])
            images = pipe(
                image=low.to(device), prompt_embeds=embeds, negative_prompt_embeds=negative, num_inference_steps=steps,
                guidance_scale=1.0, noise_level=250, generator=generator, output_type="pt",
            ).images
    unet.train()
    image_grid(images.cpu(), captions=prompts, columns=4).save(path)


def train_stage(settings: TrainSettings, out: Path, resume: bool = False, bank: CaptionBank | None = None,
                callback: Callable[[int, torch.nn.Module], None] | None = None, samples: bool = True) -> dict:
    """Train one stage and write its pipeline folder under ``out``; returns the run's record.

    Args:
        settings: what to train, and how long.
        out: folder for checkpoints, sample grids and the finished pipeline.
        resume: continue from ``out``'s last checkpoint.
        bank: the captions' embeddings (default: every caption, encoded now).
        callback: called as ``callback(step, ema_unet)`` every ``settings.sample_every`` steps and at the end
            (the EMA UNet in eval mode; it goes back to training afterwards), e.g. to draw samples in a notebook.
        samples: save the periodic sample grids (PNG) and adherence checks.
    """
    torch.manual_seed(settings.seed)
    bank = bank or CaptionBank()
    scheduler = configs.stage1_scheduler() if settings.stage == 1 else configs.stage2_scheduler()
    noising = configs.image_noising_scheduler()
    device = torch.device(settings.device)
    unet = configs.build_unet(_unet_config(settings))
    if settings.init:
        from diffusers import UNet2DConditionModel

        unet.load_state_dict(UNet2DConditionModel.from_pretrained(settings.init, subfolder="unet").state_dict())
    unet = unet.to(device)
    ema = copy.deepcopy(unet).requires_grad_(False)
    optimizer = torch.optim.AdamW(unet.parameters(), lr=settings.lr, weight_decay=0.0)
    ckpt_dir, sample_dir = out / "checkpoints", out / "samples"
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    sample_dir.mkdir(parents=True, exist_ok=True)
    ckpt_path = ckpt_dir / f"stage{settings.stage}.pt"
    start, elapsed, history = 0, 0.0, []
    if resume and ckpt_path.exists():
        state = torch.load(ckpt_path, weights_only=False, map_location=device)
        unet.load_state_dict(state["unet"])
        ema.load_state_dict(state["ema"])
        optimizer.load_state_dict(state["optimizer"])
        start, elapsed, history = state["step"], state["elapsed"], state["history"]
        print(f"resuming stage {settings.stage} from step {start}")
    unet.train()
    began = time.time() - elapsed
    bar = tqdm(range(start, settings.steps), desc=f"stage {settings.stage}", initial=start, total=settings.steps)
    smooth = None
    for step in bar:
        batch = make_batch(settings, step, bank)
        # All randomness is drawn on the CPU, then moved: the same data on every device.
        generator = torch.Generator().manual_seed(settings.seed * 7_654_321 + step)
        x0, embeds = batch[0].to(device), batch[-1].to(device)
        n = x0.shape[0]
        if settings.timestep_bands:
            t = draw_in_bands(settings.timestep_bands, n, generator)
        else:
            t = torch.randint(0, scheduler.config.num_train_timesteps, (n,), generator=generator)
        noise = torch.randn(x0.shape, generator=generator)
        t, noise = t.to(device), noise.to(device)
        from_start = settings.stage == 2 and settings.start_share > 0
        if from_start:  # img2img-style: these pictures are noised from the bicubic enlargement, at their own t
            chosen = (torch.rand(n, generator=generator) < settings.start_share).to(device).view(-1, 1, 1, 1)
            t = torch.where(chosen.view(-1), draw_in_bands(((*settings.start_band, 1.0),), n, generator).to(device), t)
        xt = scheduler.add_noise(x0, noise, t)
        if from_start:  # ... and still asked for the truth
            started, eps_star = noised_from(scheduler, x0, batch[2].to(device), noise * settings.start_noise, t)
            xt, noise = torch.where(chosen, started, xt), torch.where(chosen, eps_star, noise)
        if settings.stage == 1:
            output = unet(xt, t, encoder_hidden_states=embeds).sample
        else:
            if settings.noise_level_bands:
                level = draw_in_bands(settings.noise_level_bands, n, generator)
            else:
                level = torch.randint(0, 1000, (n,), generator=generator)
            aug_noise = torch.randn(x0.shape, generator=generator)
            level, aug_noise = level.to(device), aug_noise.to(device)
            aug = noising.add_noise(batch[1].to(device), aug_noise, level)
            output = unet(torch.cat([xt, aug], dim=1), t, encoder_hidden_states=embeds, class_labels=level).sample
        pixel_weight = None
        if settings.stage == 2 and settings.flat_weight != 1.0:
            pixel_weight = 1 + (settings.flat_weight - 1) * flat_regions(x0).float()
        loss, parts = hybrid_loss(scheduler, output, x0, xt, noise, t, settings.vlb_weight, settings.snr_gamma,
                                  settings.v_weight_max, pixel_weight)
        for group in optimizer.param_groups:
            group["lr"] = _lr_at(step, settings)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(unet.parameters(), 1.0)
        optimizer.step()
        decay = min(settings.ema_decay, (1 + step) / (10 + step))
        with torch.no_grad():  # one fused call: per-parameter calls cost ~300 kernel launches a step on a GPU
            torch._foreach_lerp_(list(ema.parameters()), list(unet.parameters()), 1 - decay)
        smooth = parts["mse"] if smooth is None else 0.98 * smooth + 0.02 * parts["mse"]
        bar.set_postfix(mse=f"{smooth:.4f}", vlb=f"{parts['vlb']:.3f}")
        done = step + 1
        if done % 50 == 0 or done == settings.steps:
            history.append({"step": done, "mse": round(smooth, 5), "seconds": round(time.time() - began, 1)})
        if done % settings.checkpoint_every == 0 or done == settings.steps:
            state = dict(unet=unet.state_dict(), ema=ema.state_dict(), optimizer=optimizer.state_dict(),
                         step=done, elapsed=time.time() - began, history=history)
            torch.save(state, str(ckpt_path) + ".tmp")
            os.replace(str(ckpt_path) + ".tmp", ckpt_path)
        if callback is not None and (done % settings.sample_every == 0 or done == settings.steps):
            ema.eval()
            callback(done, ema)
            unet.train()
        if samples and (done % settings.sample_every == 0 or done == settings.steps):
            save_sample_grid(settings.stage, ema, sample_dir / f"stage{settings.stage}_step{done:06d}.png", bank)
            if settings.stage == 1 and not settings.tiny:
                adherence = quick_adherence(ema, bank, prompts=settings.adherence_prompts)
                history.append({"step": done, "adherence": adherence})
                bar.write(f"step {done}: adherence on 16 held-out prompts {adherence}")
    bar.close()
    folder = out / ("IF-I-mini" if settings.stage == 1 else "IF-II-mini")
    _build_pipeline(settings.stage, ema.to("cpu")).save_pretrained(folder, safe_serialization=True)
    record = {
        "stage": settings.stage,
        "settings": settings.__dict__,
        "command": " ".join([Path(sys.executable).name, "-m", "iflearn.mini.train", *sys.argv[1:]]),
        "wall_seconds": round(time.time() - began, 1),
        "final_mse": next((h["mse"] for h in reversed(history) if "mse" in h), None),
        "parameters": sum(p.numel() for p in ema.parameters()),
        "machine": describe_machine(device),
        "date": time.strftime("%Y-%m-%d"),
        "history": history,
    }
    (folder / "TRAINING.json").write_text(json.dumps(record, indent=2) + "\n")
    return record


def _pick_device(name: str, parser: argparse.ArgumentParser) -> str:
    if name == "auto":
        return default_device().type
    if name not in ("cpu", "cuda"):
        parser.error(f"--device {name}: expected cpu, cuda or auto")
    if name == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: this machine has no CUDA GPU that torch can use; leave --device out to train "
                     "on the CPU")
    return name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m iflearn.mini.train", description=__doc__.split("\n")[0])
    parser.add_argument("--stage", choices=["1", "2", "all"], default="all")
    parser.add_argument("--out", type=Path, default=Path("mini-if-run"), help="folder for checkpoints, samples, weights")
    parser.add_argument("--steps", type=int, help="override the number of steps (per stage)")
    parser.add_argument("--stage1-steps", type=int, help="override stage I's number of steps")
    parser.add_argument("--stage2-steps", type=int, help="override stage II's number of steps")
    parser.add_argument("--schedule-steps", type=int, help="length of the learning-rate schedule (default per stage)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: all cores)")
    parser.add_argument("--tiny", action="store_true", help="a tiny model, for smoke tests")
    parser.add_argument("--sample-every", type=int, default=500)
    parser.add_argument("--resume", action="store_true", help="continue from the last checkpoint in --out")
    parser.add_argument("--device", default="auto", help="cpu, cuda, or auto (cuda when a GPU is present; default)")
    parser.add_argument("--caption-cache", type=Path, default=None,
                        help="safetensors file of the captions' embeddings: read if present, else written")
    parser.add_argument("--start-band", type=int, nargs=2, metavar=("LOW", "HIGH"), default=None,
                        help="stage II: timesteps of the img2img-style share, LOW <= t < HIGH (default %s)"
                        % (STAGE2_START_BAND,))
    parser.add_argument("--flat-weight", type=float, default=None,
                        help="stage II: loss weight of pixels inside the truth's flat regions (default 1)")
    parser.add_argument("--start-noise", type=float, default=None,
                        help="stage II: scale of the img2img-style share's start noise, 0 to 1 (default 1; 0 starts "
                             "unnoised, as the sampler does)")
    args = parser.parse_args(argv)
    if args.start_noise is not None and not 0 <= args.start_noise <= 1:
        parser.error(f"--start-noise {args.start_noise}: expected a scale from 0 (the bicubic start unnoised, as the "
                     "sampler starts) to 1 (noised as in IF's img2img), e.g. --start-noise 0")
    if args.start_band is not None and not 0 <= args.start_band[0] < args.start_band[1] <= 1000:
        parser.error(f"--start-band {args.start_band[0]} {args.start_band[1]}: expected LOW HIGH with "
                     "0 <= LOW < HIGH <= 1000 (timesteps of IF's 1000-step schedule), e.g. --start-band 40 100")
    if args.flat_weight is not None and not args.flat_weight > 0:
        parser.error(f"--flat-weight {args.flat_weight}: expected a positive loss weight, e.g. 2 (1: no weighting)")
    for name in ("steps", "stage1_steps", "stage2_steps", "schedule_steps"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} {value}: expected a positive number of steps, e.g. 20")
    if args.threads:
        torch.set_num_threads(args.threads)
    # Tiny values (denormals) in weights, EMA and optimiser state can slow CPU arithmetic tenfold; flush them.
    torch.set_flush_denormal(True)
    device = _pick_device(args.device, parser)
    stages = [1, 2] if args.stage == "all" else [int(args.stage)]
    bank = CaptionBank.cached(args.caption_cache)
    for stage in stages:
        params = dict(DEFAULTS[stage])
        override = args.steps if args.steps is not None else getattr(args, f"stage{stage}_steps")
        if override is not None:
            params["steps"] = override
            params["schedule_steps"] = override
        if args.schedule_steps is not None:
            params["schedule_steps"] = args.schedule_steps
        if stage == 2 and args.start_band is not None:
            params["start_band"] = tuple(args.start_band)
        if stage == 2 and args.flat_weight is not None:
            params["flat_weight"] = args.flat_weight
        if stage == 2 and args.start_noise is not None:
            params["start_noise"] = args.start_noise
        if args.tiny:
            params["batch"] = 4
        settings = TrainSettings(stage=stage, seed=args.seed, tiny=args.tiny, sample_every=args.sample_every,
                                 checkpoint_every=max(1, min(250, params["steps"])), device=device, **params)
        record = train_stage(settings, args.out, resume=args.resume, bank=bank)
        print(f"stage {stage}: {record['wall_seconds']} s, final mse {record['final_mse']} -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
