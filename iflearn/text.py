"""Text encoding, as ``IFPipeline.encode_prompt`` does it: tokenize, pad/cut to 77, run the frozen encoder.

Real IF: T5's SentencePiece tokenizer and T5 v1.1 XXL → ``(1, 77, 4096)``. mini-IF: MiniLM's WordPiece
tokenizer and MiniLM → ``(1, 77, 384)``. The negative embedding (for classifier-free guidance) is the
encoding of the negative prompt, ``""`` by default.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from iflearn.errors import check_prompt, warn_truncated

__all__ = ["MAX_TOKENS", "TokenizedPrompt", "PromptEncoding", "tokenize", "encode_prompt", "cosine_similarity_map"]

MAX_TOKENS = 77


@dataclass
class TokenizedPrompt:
    """A prompt as the encoder sees it.

    Attributes:
        tokens: the 77 token strings (padding included).
        input_ids: ``(1, 77)`` int64 token ids.
        attention_mask: ``(1, 77)`` 1 for real tokens, 0 for padding.
        cut: the text that did not fit in 77 tokens (``""`` if nothing was cut).
    """

    prompt: str
    tokens: list[str]
    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    cut: str

    @property
    def length(self) -> int:
        """Number of real (non-padding) tokens."""
        return int(self.attention_mask.sum())

    def table(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Rows ``{"position", "token", "id", "mask"}``, for a learner to print or show as a DataFrame."""
        rows = [
            {"position": i, "token": tok, "id": int(self.input_ids[0, i]), "mask": int(self.attention_mask[0, i])}
            for i, tok in enumerate(self.tokens)
        ]
        return rows[:limit] if limit else rows


@dataclass
class PromptEncoding:
    """Prompt and negative prompt, encoded once for every stage that uses them.

    Attributes:
        prompt_embeds: ``(1, 77, D)``; D = 4096 (T5-XXL) or 384 (MiniLM).
        negative_embeds: ``(1, 77, D)``, the encoding of ``negative_prompt``.
    """

    prompt: str
    negative_prompt: str
    tokenized: TokenizedPrompt
    prompt_embeds: torch.Tensor
    negative_embeds: torch.Tensor


def tokenize(tokenizer: Any, prompt: str, warn: bool = True) -> TokenizedPrompt:
    """Tokenize like IF: pad to 77 with the attention mask, cut what does not fit (and say what was cut)."""
    check_prompt(prompt)
    batch = tokenizer(
        prompt, padding="max_length", max_length=MAX_TOKENS, truncation=True, add_special_tokens=True,
        return_tensors="pt",
    )
    full = tokenizer(prompt, padding="longest", truncation=False, add_special_tokens=True, return_tensors="pt")
    cut = ""
    if full.input_ids.shape[-1] > MAX_TOKENS:
        # The last kept position holds the end token; everything from there on in the untruncated ids is cut.
        dropped = full.input_ids[0, MAX_TOKENS - 1 : -1]
        cut = tokenizer.decode(dropped, skip_special_tokens=True)
        if warn and cut.strip():
            kept = tokenizer.decode(batch.input_ids[0], skip_special_tokens=True)
            warn_truncated(kept, cut, MAX_TOKENS)
    tokens = tokenizer.convert_ids_to_tokens(batch.input_ids[0])
    return TokenizedPrompt(prompt, tokens, batch.input_ids, batch.attention_mask, cut)


def encode_prompt(encoder_pipe: Any, prompt: str, negative_prompt: str = "") -> PromptEncoding:
    """Encode a prompt and its negative with the pipeline's own ``encode_prompt`` (no caption cleaning).

    Args:
        encoder_pipe: an ``IFPipeline`` holding ``tokenizer`` and ``text_encoder`` (see
            :func:`iflearn.loading.load_prompt_encoder`).
    """
    check_prompt(prompt)
    check_prompt(negative_prompt, "negative_prompt")
    tokenized = tokenize(encoder_pipe.tokenizer, prompt)
    with torch.no_grad():
        prompt_embeds, negative_embeds = encoder_pipe.encode_prompt(
            prompt,
            do_classifier_free_guidance=True,
            num_images_per_prompt=1,
            device=encoder_pipe._execution_device,
            negative_prompt=negative_prompt,
            clean_caption=False,
        )
    return PromptEncoding(prompt, negative_prompt, tokenized, prompt_embeds, negative_embeds)


def cosine_similarity_map(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Token-by-token cosine similarity of two ``(1, 77, D)`` embeddings → ``(77, 77)`` in ``[-1, 1]``."""
    a = torch.nn.functional.normalize(a[0].float(), dim=-1)
    b = torch.nn.functional.normalize(b[0].float(), dim=-1)
    return a @ b.T
