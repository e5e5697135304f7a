"""Chinese in figures: matplotlib's own font (DejaVu Sans) has no CJK glyphs, so a Chinese prompt (红色的汽车)
or class name would print as empty boxes. Where the system has a CJK font (the Space installs fonts-wqy-zenhei
from packages.txt, CI does too), it goes behind DejaVu Sans as a per-glyph fallback (matplotlib ≥ 3.6): Latin
text keeps its look, CJK characters come from the fallback. Without one, figures stay as they were."""

from __future__ import annotations

import functools

CJK_FAMILIES = ("WenQuanYi Zen Hei", "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "SimHei",
                "Microsoft YaHei", "PingFang SC")
CJK_FILES = ("wqy-zenhei", "notosanscjk", "notosanssc", "sourcehansans")  # lower-case file-name marks


@functools.cache
def with_cjk_fallback() -> tuple[str, ...]:
    """The CJK families now behind DejaVu Sans (empty where none is installed); set once per process."""
    import matplotlib
    from matplotlib import font_manager

    found = _installed(font_manager)
    if not found:  # matplotlib's font cache may predate the font's install: look at the system's files once
        for path in font_manager.findSystemFonts():
            if any(mark in path.lower() for mark in CJK_FILES):
                font_manager.fontManager.addfont(path)
        found = _installed(font_manager)
    if found:
        matplotlib.rcParams["font.family"] = ["DejaVu Sans", *found]
    return found


def _installed(font_manager) -> tuple[str, ...]:
    names = {font.name for font in font_manager.fontManager.ttflist}
    return tuple(name for name in CJK_FAMILIES if name in names)
