"""One language setting for quiz text and the package's messages: Korean (``"ko"``) or English (``"en"``).

The default comes from the environment: ``IFLEARN_LANG`` if set, else ``LANG``/``LC_ALL`` starting with
``ko``, else English. ``set_language`` changes it for the running process.
"""

from __future__ import annotations

import os

__all__ = ["LANGUAGES", "set_language", "get_language", "tr"]

LANGUAGES = ("en", "ko")
_current: str | None = None


def _from_environment() -> str:
    explicit = os.environ.get("IFLEARN_LANG", "").strip().lower()
    if explicit in LANGUAGES:
        return explicit
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        if os.environ.get(var, "").lower().startswith("ko"):
            return "ko"
    return "en"


def set_language(language: str) -> None:
    """Switch quiz text and iflearn's messages to ``"ko"`` (한국어) or ``"en"`` (English)."""
    if not isinstance(language, str) or language.strip().lower() not in LANGUAGES:
        raise ValueError(
            f"set_language({language!r}): expected one of {LANGUAGES}, e.g. iflearn.set_language('ko') "
            "for Korean or iflearn.set_language('en') for English."
        )
    global _current
    _current = language.strip().lower()


def get_language() -> str:
    """The current language code, ``"en"`` or ``"ko"``."""
    return _current or _from_environment()


def tr(en: str, ko: str) -> str:
    """Pick the English or the Korean text, by the current language."""
    return ko if get_language() == "ko" else en
