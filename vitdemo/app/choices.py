"""The values the controls offer, free of torch so the page can be built before torch is imported.

The names themselves are `vitdemo.constants`' (colormaps, head fusions) and `vitdemo.methods`' (the methods):
this module only lists them the way the controls take them. The builders below turn a model's config or the
engine's models into a control's choices (and the patch picker's legend, which explains its star).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import methods
from .i18n import ENGLISH, Message, t
from .model_info import choice_label

if TYPE_CHECKING:
    from ..config import ViTConfig
    from .service import Engine

MAX_COMPARED = 3  # patch sizes the Compare tab shows at once
NATIVE_MARK = "★"  # marks a patch size the model was trained at


def method_choices() -> list[str]:
    """The explanation methods a control or an API parameter offers, in the table's order."""
    return list(methods.names())


def patch_choices(config: ViTConfig) -> list[tuple[str, int]]:
    """Radio choices: every offered size, the ones the model was trained at marked with a star."""
    native = set(config.native_patch_sizes)
    return [(f"{p} {NATIVE_MARK}" if p in native else str(p), p) for p in config.offered_patch_sizes()]


def patch_hint(config: ViTConfig, lang: str | None = None) -> Any:
    """One line under the patch-size picker: what the star means and what to expect from the others.

    In `lang`; without one (the page being built) as static text the browser translates."""
    native = config.native_patch_sizes
    key = ("messages.patch_hint.all_native" if set(config.offered_patch_sizes()) <= set(native)
           else "messages.patch_hint.resized")
    message = Message(key, star=NATIVE_MARK, patch=config.patch_size)
    return message.render(lang) if lang else t(key, **message.values)


def compare_default(config: ViTConfig) -> list[int]:
    """Smallest, native and largest offered size: the comparison that shows the trade-off best."""
    offered = config.offered_patch_sizes()
    return sorted({offered[0], config.patch_size, offered[-1]})[:MAX_COMPARED]


def model_choices(engine: Engine, lang: str = ENGLISH) -> list[tuple[str, str]]:
    """Dropdown choices; models that must be downloaded say so with the size (offline: that they are not
    downloaded). The wording is `model_info.choice_label`'s."""
    available = set(engine.available())
    return [(choice_label(e, k in available, lang), k) for k, e in engine.entries.items()]
