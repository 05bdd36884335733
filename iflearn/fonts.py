"""Hangul in figures, with nothing for the learner to install: matplotlib falls back to a Korean font per glyph.

The Korean font is NanumGothic (SIL Open Font License), from the ``koreanize-matplotlib`` package, an
iflearn dependency that pip installs everywhere the course runs (Colab, JupyterLab, CI). Only its font files are
used: importing the package would switch *every* figure to NanumGothic and, on Python >= 3.12, needs
``distutils``; instead the fonts are registered with matplotlib's font manager and added *behind* matplotlib's
default font, so English figures look exactly as before and each Hangul glyph is drawn from NanumGothic
(matplotlib >= 3.6 falls back glyph by glyph through ``font.family``). A system Noto CJK font (Debian's
``fonts-noto-cjk``) is used when the package is missing.

>>> use_hangul_fallback() in (True, False)
True
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

__all__ = ["HANGUL_FAMILY", "hangul_font_path", "use_hangul_fallback", "pil_font"]

#: The family name matplotlib knows the bundled Korean font by.
HANGUL_FAMILY = "NanumGothic"

_SYSTEM_FONTS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/nanum/NanumGothic.ttf",
)


@lru_cache(maxsize=1)
def hangul_font_path() -> Path | None:
    """The Korean font file: koreanize-matplotlib's ``NanumGothic.ttf``, else a system CJK font, else None."""
    spec = importlib.util.find_spec("koreanize_matplotlib")  # finds the package without running it
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "fonts" / "NanumGothic.ttf"
        if path.exists():
            return path
    return next((Path(p) for p in _SYSTEM_FONTS if Path(p).exists()), None)


@lru_cache(maxsize=1)
def use_hangul_fallback() -> bool:
    """Register the Korean font and put it after the default font in matplotlib's ``font.family``.

    Returns True when a Korean font was found (figures then render Hangul), False otherwise (they show boxes;
    ``pip install koreanize-matplotlib`` fixes it). Safe to call more than once.
    """
    path = hangul_font_path()
    if path is None:
        return False
    import matplotlib
    from matplotlib import font_manager

    font_manager.fontManager.addfont(str(path))
    family = font_manager.FontProperties(fname=str(path)).get_name()
    current = matplotlib.rcParams["font.family"]
    current = [current] if isinstance(current, str) else list(current)
    if family not in current:
        matplotlib.rcParams["font.family"] = current + [family]
        # the generic "sans-serif" entry resolves through this list: keep DejaVu first, then the Korean font
        sans = list(matplotlib.rcParams["font.sans-serif"])
        if family not in sans:
            matplotlib.rcParams["font.sans-serif"] = sans[:1] + [family] + sans[1:]
    return True


def pil_font(size: int = 11, text: str = ""):
    """A PIL font for captions drawn into pictures: PIL's default, or the Korean font when ``text`` has Hangul."""
    from PIL import ImageFont

    path = hangul_font_path()
    if path is not None and any("\uac00" <= ch <= "\ud7a3" for ch in text):
        return ImageFont.truetype(str(path), size)
    return ImageFont.load_default()
