"""Prompt embeddings, cached per prompt: a prompt encoded once is never encoded again, so T5 (9.5 GB in fp16,
about 5 GB in 8 bit) is not loaded again when a cell is re-run or a notebook restarted.

Entries live in memory and, for the real backend, on disk under ``$IFLEARN_CACHE`` (default
``~/.cache/iflearn``)/``prompt-embeds``, one ``.pt`` file per (text encoder, recipe, prompt, negative prompt).
Files are written to a temporary name and renamed, so an interrupted write never leaves a broken entry, and an
unreadable entry is ignored (and encoded again), never fatal.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import torch

from iflearn.text import PromptEncoding, TokenizedPrompt

__all__ = ["cache_root", "cache_dir", "EmbeddingCache"]


def cache_root() -> Path:
    """iflearn's cache folder: ``$IFLEARN_CACHE``, default ``~/.cache/iflearn``."""
    return Path(os.environ.get("IFLEARN_CACHE") or Path.home() / ".cache" / "iflearn")


def cache_dir() -> Path:
    """``$IFLEARN_CACHE/prompt-embeds`` (default ``~/.cache/iflearn/prompt-embeds``)."""
    return cache_root() / "prompt-embeds"


class EmbeddingCache:
    """Encodings by prompt for one text encoder.

    Args:
        encoder_id: what produced the embeddings, e.g. ``"DeepFloyd/IF-I-M-v1.0|t4"`` (the repo and the recipe,
            since 8-bit and fp16 T5 give slightly different numbers).
        folder: where entries are stored on disk; ``None`` keeps them in memory only.
    """

    def __init__(self, encoder_id: str, folder: Path | None) -> None:
        self.encoder_id = encoder_id
        self.folder = folder
        self._memory: dict[tuple[str, str], PromptEncoding] = {}
        self.hits = 0
        self.misses = 0

    def _path(self, prompt: str, negative_prompt: str) -> Path:
        key = json.dumps([self.encoder_id, prompt, negative_prompt], ensure_ascii=False)
        return self.folder / (hashlib.sha256(key.encode()).hexdigest() + ".pt")  # type: ignore[operator]

    def get(self, prompt: str, negative_prompt: str) -> PromptEncoding | None:
        """The cached encoding, or ``None``."""
        found = self._memory.get((prompt, negative_prompt))
        if found is None and self.folder is not None:
            found = self._read(self._path(prompt, negative_prompt), prompt, negative_prompt)
            if found is not None:
                self._memory[(prompt, negative_prompt)] = found
        if found is None:
            self.misses += 1
        else:
            self.hits += 1
        return found

    def put(self, encoding: PromptEncoding) -> None:
        """Keep ``encoding`` (in memory, and atomically on disk when the cache has a folder)."""
        self._memory[(encoding.prompt, encoding.negative_prompt)] = encoding
        if self.folder is None:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        t = encoding.tokenized
        entry = {
            "encoder_id": self.encoder_id, "prompt": encoding.prompt, "negative_prompt": encoding.negative_prompt,
            "tokens": t.tokens, "input_ids": t.input_ids, "attention_mask": t.attention_mask, "cut": t.cut,
            "prompt_embeds": encoding.prompt_embeds.detach().cpu(),
            "negative_embeds": encoding.negative_embeds.detach().cpu(),
        }
        fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                torch.save(entry, f)
            os.replace(tmp, self._path(encoding.prompt, encoding.negative_prompt))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _read(self, path: Path, prompt: str, negative_prompt: str) -> PromptEncoding | None:
        if not path.is_file():
            return None
        try:
            entry = torch.load(path, map_location="cpu", weights_only=True)
            if (entry["encoder_id"], entry["prompt"], entry["negative_prompt"]) != (self.encoder_id, prompt,
                                                                                    negative_prompt):
                return None
            tokenized = TokenizedPrompt(prompt, list(entry["tokens"]), entry["input_ids"], entry["attention_mask"],
                                        entry["cut"])
            return PromptEncoding(prompt, negative_prompt, tokenized, entry["prompt_embeds"], entry["negative_embeds"])
        except Exception:  # a damaged or foreign file: encode again rather than fail
            return None
