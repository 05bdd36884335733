"""iflearn: learn how the DeepFloyd IF text-to-image cascade works by running it.

The public API, imported lazily so that ``import iflearn`` stays fast (torch and diffusers load on first use)::

    import iflearn
    iflearn.set_language("ko")                    # quiz text and messages in Korean ("en" for English)
    cascade = iflearn.Cascade.load()              # real IF on a GPU with Hub access, else mini-IF, and says why
    result = cascade.generate("a big red circle on a blue background", seed=0)
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

from iflearn.i18n import get_language, set_language

__version__ = "0.1.0"

# diffusers' IF safety checker names CLIPImageProcessor; without torchvision transformers falls back to its PIL
# twin and says so on every import. The fallback is what we want, so that one notice is dropped.
logging.getLogger("transformers.utils.import_utils").addFilter(
    lambda record: "requires torchvision (not installed)" not in record.getMessage()
)

# bitsandbytes (the 8-bit T5 of the 16 GB recipes) says on import, on CPUs with AVX-512 bf16, that an optional 4-bit
# kernel package is missing. iflearn never uses 4-bit weights, so that notice is dropped too.
logging.getLogger("bitsandbytes.backends.cpu.ops").addFilter(lambda record: "gemm_4bit_forward" not in record.getMessage())
# Looking for that kernel offline (HF_HUB_OFFLINE=1, as in the tests), the kernels package also says it skips the
# publisher check of the kernel it then does not load.
logging.getLogger("kernels._internals.hf_hub").addFilter(
    lambda record: "kernels-community/quantization-bitsandbytes" not in record.getMessage()
)

_LAZY = {
    "Cascade": "iflearn.cascade",
    "CascadeResult": "iflearn.cascade",
    "StageResult": "iflearn.cascade",
    "Backend": "iflearn.backend",
    "choose_backend": "iflearn.backend",
    "mini_backend": "iflearn.backend",
    "real_backend": "iflearn.backend",
    "choose_recipe": "iflearn.recipes",
    "RECIPES": "iflearn.recipes",
    "encode_prompt": "iflearn.text",
    "tokenize": "iflearn.text",
    "IFLearnError": "iflearn.errors",
    "default_device": "iflearn.device",
}

__all__ = ["__version__", "set_language", "get_language", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'iflearn' has no attribute {name!r}")
