"""A real-layout fixture: the published DeepFloyd IF repositories, file for file, with tiny random weights.

Written into a Hugging Face Hub cache (``models--DeepFloyd--IF-I-XL-v1.0/snapshots/<rev>/…``, blobs and symlinks as
``huggingface_hub`` writes them) under the real repo ids, so that ``from_pretrained("DeepFloyd/IF-I-XL-v1.0", …)``
resolves offline (``HF_HUB_OFFLINE=1``) through exactly the code a learner's Colab runs: sharded fp16 T5 with its
index, a ``spiece.model``-only T5 tokenizer, ``.fp16`` UNet variants, IF's safety checker, feature extractor and
watermarker, and the x4 upscaler with its VAE, CLIP text encoder and two schedulers.

Run it by hand to look at it::

    python tests/real_layout.py /tmp/hub          # then: HF_HUB_CACHE=/tmp/hub HF_HUB_OFFLINE=1 python …

What is known and what is assumed about the published layout (public sources; the repos are gated):

| fact | status |
|---|---|
| IF-I/IF-II pipelines were written by ``IFPipeline``/``IFSuperResolutionPipeline.save_pretrained`` with T5 tokenizer, CLIP feature extractor and ``IFSafetyChecker`` (``requires_safety_checker=True``); schedulers' settings | known: diffusers ``scripts/convert_if.py`` |
| ``watermarker/`` is a component of the IF repos | known: HF blog "IF on a free-tier Colab" loads ``IFWatermarker.from_pretrained(repo, subfolder="watermarker")`` |
| ``text_encoder/`` sharded, with ``model.fp16-0000N-of-00002.safetensors`` and ``model.safetensors.index.fp16.json`` | known: transformers' variant naming; the blog loads ``variant="fp16"`` / ``"8bit"`` |
| ``.fp16`` variants of every IF component | known for UNet and T5 (docs load ``variant="fp16"``); assumed for safety checker and watermarker |
| IF-II repos carry no T5 weights (``"text_encoder": [null, null]``), only the tokenizer | assumed (every public recipe passes ``text_encoder=None``) |
| x4 upscaler: ``StableDiffusionUpscalePipeline`` with ``vae``, ``text_encoder`` (CLIP), ``tokenizer``, ``unet``, ``scheduler`` (DDIM), ``low_res_scheduler`` (DDPM), ``max_noise_level`` 350 | known: Stability-AI x4 config and diffusers' pipeline signature |
| x4 upscaler ``.fp16`` variants | assumed |
| sizes: T5 width, UNet channels, CLIP widths, vocabularies | tiny on purpose (``benchmarks/configs/tiny``); the UNets' *keys* follow ``convert_if.py`` |
| x4 upscaler's UNet self-attention and VAE mid-block attention | left out of the fixture (minutes per call on a CPU); the published models have them |
| safety checker heads | set so that nothing is flagged (random heads would black out pictures at random); tests flip them |
| watermark image | a fixed pattern, so that a test can find it in a picture |
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "benchmarks" / "configs" / "tiny"

STAGE1_REPOS = ("DeepFloyd/IF-I-XL-v1.0", "DeepFloyd/IF-I-L-v1.0", "DeepFloyd/IF-I-M-v1.0")
STAGE2_REPOS = ("DeepFloyd/IF-II-L-v1.0", "DeepFloyd/IF-II-M-v1.0")
STAGE3_REPO = "stabilityai/stable-diffusion-x4-upscaler"
ALL_REPOS = (*STAGE1_REPOS, *STAGE2_REPOS, STAGE3_REPO)

#: Picture sides of the published stages (the fixture's UNets generate at these sizes).
SIDES = {"stage1": 64, "stage2": 256}
#: T5 width of the fixture (IF's T5-XXL has 4096).
T5_WIDTH = 32
#: The x4 upscaler's CLIP width in the fixture.
CLIP_WIDTH = 32

_CORPUS = [
    "a big red circle on a blue background", "a small blue triangle at the top on a yellow background",
    "a photo of a corgi", "an oil painting of a lighthouse at sunset", "a pencil sketch of a cat",
    "a portrait photo of a doctor", "a green square on the right on a black background", "a photo of a dog",
    "a white circle on a purple background", "an orange triangle in the center on a green background",
    "the quick brown fox jumps over the lazy dog", "a photo of an astronaut riding a horse",
]


def _tiny(name: str) -> dict[str, Any]:
    config = json.loads((TINY / name).read_text())
    config.pop("_sources", None)
    return config


# -- components ---------------------------------------------------------------------------------------------------
def _save_both(module: Any, folder: Path, shards: int = 1) -> None:
    """Save fp32 weights and the ``fp16`` variant, as the IF repos hold both, each in ``shards`` files."""
    for dtype, variant in ((torch.float32, None), (torch.float16, "fp16")):
        module.to(dtype)
        kwargs: dict[str, Any] = {"variant": variant} if variant else {}
        if shards > 1:
            size = sum(p.numel() * p.element_size() for p in module.parameters())
            kwargs["max_shard_size"] = f"{int(size / shards * 1.2) // 1000 + 1}KB"
        module.save_pretrained(folder, **kwargs)
    module.to(torch.float32)


def write_t5_tokenizer(folder: Path) -> int:
    """``spiece.model`` + ``tokenizer_config.json`` + ``special_tokens_map.json`` (no ``tokenizer.json``), like
    ``google/t5-v1_1-xxl``'s. Returns the tokenizer's vocabulary size (SentencePiece pieces + 100 extra ids)."""
    import sentencepiece as spm

    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus.txt"
        words = sorted({w for line in _CORPUS for w in line.split()})
        lines = _CORPUS + [" ".join(words[i:] + words[:i]) for i in range(len(words))]
        corpus.write_text("\n".join(lines * 10))
        spm.SentencePieceTrainer.train(
            input=str(corpus), model_prefix=str(Path(tmp) / "spiece"), vocab_size=160, model_type="unigram",
            hard_vocab_limit=False,
            pad_id=0, eos_id=1, unk_id=2, bos_id=-1, pad_piece="<pad>", eos_piece="</s>", unk_piece="<unk>",
            character_coverage=1.0, minloglevel=2,
        )
        shutil.copy(Path(tmp) / "spiece.model", folder / "spiece.model")
        pieces = spm.SentencePieceProcessor(model_file=str(folder / "spiece.model")).get_piece_size()
    extra = [f"<extra_id_{i}>" for i in range(100)]
    specials = {"eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>", "additional_special_tokens": extra}
    (folder / "special_tokens_map.json").write_text(json.dumps(specials, indent=2))
    (folder / "tokenizer_config.json").write_text(json.dumps(
        {**specials, "extra_ids": 100, "model_max_length": 512, "sp_model_kwargs": {}, "tokenizer_class": "T5Tokenizer",
         "name_or_path": "google/t5-v1_1-xxl"}, indent=2))
    return pieces + 100


def write_t5_encoder(folder: Path, vocab_size: int) -> None:
    """``T5EncoderModel`` (v1.1 family: gated-gelu) in two shards per dtype, with both index files."""
    from transformers import T5Config, T5EncoderModel

    config = _tiny("t5_v1_1_xxl.json")
    config.pop("model_type")
    config.update(vocab_size=vocab_size + 28, d_model=T5_WIDTH)  # the table is bigger than the tokenizer, as 32128 > 32100
    torch.manual_seed(0)
    model = T5EncoderModel(T5Config(**config, is_encoder_decoder=False, use_cache=False))
    _save_both(model, folder, shards=2)


def write_if_unet(folder: Path, stage: str) -> None:
    """IF's UNet (``convert_if.py``'s block types and keys) at a tiny width, generating at the published side."""
    from diffusers import UNet2DConditionModel

    config = _tiny("stage1_if_i_xl.json" if stage == "stage1" else "stage2_if_ii_l.json")
    config.update(sample_size=SIDES[stage], cross_attention_dim=T5_WIDTH, encoder_hid_dim=T5_WIDTH)
    torch.manual_seed(1 if stage == "stage1" else 2)
    _save_both(UNet2DConditionModel(**config), folder)


def write_scheduler(folder: Path, kind: str = "DDPMScheduler", **config: Any) -> None:
    import diffusers

    getattr(diffusers, kind)(**config).save_pretrained(folder)


def write_safety(folder: Path, extractor_folder: Path, flag: bool = False) -> None:
    """``IFSafetyChecker`` (a CLIP vision tower + NSFW and watermark heads) and its ``CLIPImageProcessor``.

    Args:
        flag: heads that flag every picture (for tests of the black-out path); default: flag none.
    """
    from diffusers.pipelines.deepfloyd_if.safety_checker import IFSafetyChecker
    from transformers import CLIPConfig, CLIPImageProcessor

    vision = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, image_size=32,
                  patch_size=8, projection_dim=16)
    text = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=4, vocab_size=100,
                bos_token_id=0, eos_token_id=1, pad_token_id=1)
    torch.manual_seed(3)
    checker = IFSafetyChecker(CLIPConfig(vision_config=vision, text_config=text, projection_dim=16))
    with torch.no_grad():
        for head in (checker.p_head, checker.w_head):
            head.weight.zero_()
            head.bias.fill_(10.0 if flag else -10.0)
    _save_both(checker, folder)
    CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(extractor_folder)


def watermark_pattern() -> torch.Tensor:
    """The fixture's 62×62 RGBA watermark: an opaque magenta ring, transparent elsewhere, values 0–255."""
    y, x = torch.meshgrid(torch.arange(62.0), torch.arange(62.0), indexing="ij")
    ring = (((y - 30.5) ** 2 + (x - 30.5) ** 2).sqrt() - 20).abs() < 6
    image = torch.zeros(62, 62, 4)
    image[..., 0], image[..., 2], image[..., 3] = 255 * ring, 255 * ring, 255 * ring
    return image


def write_watermarker(folder: Path) -> None:
    from diffusers.pipelines.deepfloyd_if.watermark import IFWatermarker

    marker = IFWatermarker()
    marker.watermark_image.copy_(watermark_pattern())
    _save_both(marker, folder)


def write_clip_text(folder: Path, tokenizer_folder: Path) -> None:
    """The x4 upscaler's ``CLIPTextModel`` and a byte-level ``CLIPTokenizer`` (``vocab.json`` + ``merges.txt``)."""
    from transformers import CLIPTextConfig, CLIPTextModel

    chars = [chr(c) for c in range(33, 127)]
    vocab = {tok: i for i, tok in enumerate(chars + [c + "</w>" for c in chars])}
    vocab["<|startoftext|>"], vocab["<|endoftext|>"] = len(vocab), len(vocab) + 1
    tokenizer_folder.mkdir(parents=True, exist_ok=True)
    (tokenizer_folder / "vocab.json").write_text(json.dumps(vocab))
    (tokenizer_folder / "merges.txt").write_text("#version: 0.2\n")
    specials = {"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>",
                "pad_token": "!"}
    (tokenizer_folder / "special_tokens_map.json").write_text(json.dumps(specials))
    (tokenizer_folder / "tokenizer_config.json").write_text(json.dumps(
        {**specials, "model_max_length": 77, "do_lower_case": True, "tokenizer_class": "CLIPTokenizer"}))
    config = _tiny("sd_x4_upscaler_text_encoder.json")
    config.pop("model_type", None)
    config.update(vocab_size=len(vocab), bos_token_id=vocab["<|startoftext|>"], eos_token_id=vocab["<|endoftext|>"],
                  pad_token_id=0, hidden_size=CLIP_WIDTH)
    torch.manual_seed(4)
    _save_both(CLIPTextModel(CLIPTextConfig(**config)), folder)


def _model_index(folder: Path, index: dict[str, Any]) -> None:
    (folder / "model_index.json").write_text(json.dumps({"_diffusers_version": "0.16.0.dev0", **index}, indent=2))


# -- repositories -------------------------------------------------------------------------------------------------
def build_stage1(folder: Path, flag: bool = False) -> None:
    """``DeepFloyd/IF-I-*-v1.0``: IFPipeline with T5, its tokenizer, safety checker and watermarker."""
    vocab = write_t5_tokenizer(folder / "tokenizer")
    write_t5_encoder(folder / "text_encoder", vocab)
    write_if_unet(folder / "unet", "stage1")
    scheduler = json.loads((TINY / "schedulers.json").read_text())
    write_scheduler(folder / "scheduler", **scheduler["stage_I"])
    write_safety(folder / "safety_checker", folder / "feature_extractor", flag)
    write_watermarker(folder / "watermarker")
    _model_index(folder, {
        "_class_name": "IFPipeline",
        "feature_extractor": ["transformers", "CLIPImageProcessor"],
        "requires_safety_checker": True,
        "safety_checker": ["deepfloyd_if", "IFSafetyChecker"],
        "scheduler": ["diffusers", "DDPMScheduler"],
        "text_encoder": ["transformers", "T5EncoderModel"],
        "tokenizer": ["transformers", "T5Tokenizer"],
        "unet": ["diffusers", "UNet2DConditionModel"],
        "watermarker": ["deepfloyd_if", "IFWatermarker"],
    })


def build_stage2(folder: Path, flag: bool = False) -> None:
    """``DeepFloyd/IF-II-*-v1.0``: IFSuperResolutionPipeline, no T5 weights, two schedulers."""
    write_t5_tokenizer(folder / "tokenizer")
    write_if_unet(folder / "unet", "stage2")
    scheduler = json.loads((TINY / "schedulers.json").read_text())
    write_scheduler(folder / "scheduler", **scheduler["stage_II"])
    write_scheduler(folder / "image_noising_scheduler", **scheduler["stage_II_noising"])
    write_safety(folder / "safety_checker", folder / "feature_extractor", flag)
    write_watermarker(folder / "watermarker")
    _model_index(folder, {
        "_class_name": "IFSuperResolutionPipeline",
        "feature_extractor": ["transformers", "CLIPImageProcessor"],
        "image_noising_scheduler": ["diffusers", "DDPMScheduler"],
        "requires_safety_checker": True,
        "safety_checker": ["deepfloyd_if", "IFSafetyChecker"],
        "scheduler": ["diffusers", "DDPMScheduler"],
        "text_encoder": [None, None],
        "tokenizer": ["transformers", "T5Tokenizer"],
        "unet": ["diffusers", "UNet2DConditionModel"],
        "watermarker": ["deepfloyd_if", "IFWatermarker"],
    })


def build_stage3(folder: Path) -> None:
    """``stabilityai/stable-diffusion-x4-upscaler``: a latent upscaler with VAE, CLIP and two schedulers."""
    from diffusers import AutoencoderKL, UNet2DConditionModel

    write_clip_text(folder / "text_encoder", folder / "tokenizer")
    torch.manual_seed(5)
    unet = _tiny("sd_x4_upscaler_unet.json")
    # Self-attention over a 128×128 latent takes minutes on a CPU; the tiny UNet keeps cross-attention only, and
    # the VAE drops its mid-block attention (the published ones have both: memory that the T4 table accounts for).
    unet.update(cross_attention_dim=CLIP_WIDTH, sample_size=SIDES["stage2"], only_cross_attention=[True, True])
    _save_both(UNet2DConditionModel(**unet), folder / "unet")
    torch.manual_seed(6)
    _save_both(AutoencoderKL(**_tiny("sd_x4_upscaler_vae.json"), mid_block_add_attention=False), folder / "vae")
    scheduler = json.loads((TINY / "schedulers.json").read_text())
    write_scheduler(folder / "scheduler", "DDIMScheduler", **scheduler["stage_III"])
    write_scheduler(folder / "low_res_scheduler", **scheduler["stage_III_low_res"])
    _model_index(folder, {
        "_class_name": "StableDiffusionUpscalePipeline",
        "low_res_scheduler": ["diffusers", "DDPMScheduler"],
        "max_noise_level": scheduler["stage_III_max_noise_level"],
        "scheduler": ["diffusers", "DDIMScheduler"],
        "text_encoder": ["transformers", "CLIPTextModel"],
        "tokenizer": ["transformers", "CLIPTokenizer"],
        "unet": ["diffusers", "UNet2DConditionModel"],
        "vae": ["diffusers", "AutoencoderKL"],
    })


# -- the Hub cache ------------------------------------------------------------------------------------------------
def add_to_hub_cache(cache: Path, repo_id: str, build: Callable[[Path], None]) -> Path:
    """Build a repo's files and store them as ``huggingface_hub`` does: content-addressed blobs, a snapshot folder
    of relative symlinks, and ``refs/main`` naming the snapshot. Returns the snapshot folder."""
    repo_dir = cache / ("models--" + repo_id.replace("/", "--"))
    with tempfile.TemporaryDirectory() as tmp:
        build(Path(tmp))
        files = sorted(p for p in Path(tmp).rglob("*") if p.is_file())
        digest = hashlib.sha1()
        for path in files:
            digest.update(str(path.relative_to(tmp)).encode() + hashlib.sha256(path.read_bytes()).digest())
        revision = digest.hexdigest()
        snapshot = repo_dir / "snapshots" / revision
        (repo_dir / "blobs").mkdir(parents=True, exist_ok=True)
        for path in files:
            blob = repo_dir / "blobs" / hashlib.sha256(path.read_bytes()).hexdigest()
            if not blob.exists():
                shutil.copyfile(path, blob)
            link = snapshot / path.relative_to(tmp)
            link.parent.mkdir(parents=True, exist_ok=True)
            if link.is_symlink() or link.exists():
                link.unlink()
            link.symlink_to(os.path.relpath(blob, link.parent))
    (repo_dir / "refs").mkdir(exist_ok=True)
    (repo_dir / "refs" / "main").write_text(revision)
    return snapshot


def build_hub_cache(cache: str | Path, repos: tuple[str, ...] = ALL_REPOS, flag: bool = False) -> Path:
    """Write the fixture for ``repos`` into the Hub cache folder ``cache`` (use it as ``HF_HUB_CACHE``).

    Each stage I repo and each stage II repo get the same tiny weights (only their ids differ). Takes a few seconds.
    """
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    cache = Path(cache)
    cache.mkdir(parents=True, exist_ok=True)
    levels = diffusers_logging.get_verbosity(), transformers_logging.get_verbosity()
    diffusers_logging.set_verbosity_error()  # "cast with to()" notices while writing the fp16 variants
    transformers_logging.set_verbosity_error()
    try:
        _build_all(cache, repos, flag)
    finally:
        diffusers_logging.set_verbosity(levels[0])
        transformers_logging.set_verbosity(levels[1])
    return cache


def _build_all(cache: Path, repos: tuple[str, ...], flag: bool) -> None:
    built: dict[str, Path] = {}
    for repo in repos:
        if repo in STAGE1_REPOS:
            kind, build = "stage1", lambda f: build_stage1(f, flag)
        elif repo in STAGE2_REPOS:
            kind, build = "stage2", lambda f: build_stage2(f, flag)
        elif repo == STAGE3_REPO:
            kind, build = "stage3", build_stage3
        else:
            raise ValueError(f"{repo!r} is not one of the published IF repositories {ALL_REPOS}")
        if kind in built:  # same files under another id: copy the built folder instead of building again
            source = built[kind]
            add_to_hub_cache(cache, repo, lambda f, s=source: shutil.copytree(s, f, dirs_exist_ok=True, symlinks=False))
        else:
            built[kind] = add_to_hub_cache(cache, repo, build)


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "real-layout-hub")
    build_hub_cache(target)
    size = sum(p.stat().st_size for p in target.rglob("*") if p.is_file() and not p.is_symlink())
    print(f"wrote {len(ALL_REPOS)} repositories into {target} ({size / 1e6:.1f} MB); use HF_HUB_CACHE={target}")
