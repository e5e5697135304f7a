"""Every value a person or a client sends, checked in one place, for the page and the API alike.

Each checker returns the value in the type the app uses, or raises `UserError` with one sentence that names
the parameter, says what is accepted and echoes (a short form of) what was sent. Nothing is rounded or
clamped: `layer=2.5` is refused, not shown as layer 2, because a silently changed request answers a
question nobody asked. Layers and heads count from 1 here, as the page shows them (`vitdemo.numbering`); the
library's Python-style index is made only at the last moment (`layer_index`, `head_index`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .. import methods, numbering
from ..constants import COLORMAPS, DEFAULT_COLORMAP, HEAD_FUSIONS, MAX_DISCARD
from .i18n import Message

MAX_ECHO = 24  # characters of a bad value repeated in a message: enough to recognise it, never a wall of digits
BIG_INT_BITS = 256  # an int this long is echoed by its size, not its digits


class UserError(ValueError):
    """A request we will not serve, with a message for the person who made it (an `i18n.Message`, so the page
    can show it in the reader's language; `str()` is the English)."""


Patch = tuple[int, int]


@dataclass(frozen=True)
class View:
    """Everything the user can change without a new forward pass, checked (see `view`)."""

    method: str = "attention"
    layer: int | None = None  # counted from 1, as the page shows it; None = the last layer
    head: str | int = "mean"  # a head counted from 1, as the page shows it, or "mean", "max", "min"
    target: str | None = None  # class explained by relevance; None = the top-1
    discard_ratio: float = 0.0
    cmap: str = DEFAULT_COLORMAP
    opacity: float = 0.6
    smooth: bool = False
    show_indices: bool = False
    show_order: bool = False
    # A clicked patch: show what it attends to instead of the class token. Its (row, col) is the grid's index from
    # 0, as the library and the page's data-view hold it (no client sends one); names and captions count it from 1.
    patch: Patch | None = None


def echo(value: Any) -> str:
    """A short repr of what was sent, for messages: a long text is cut to its start and '…', a huge number
    described by its length (a 5000-digit `repr` is slow, and Python refuses ints over 4300 digits)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > BIG_INT_BITS:
        digits = int(value.bit_length() * math.log10(2)) + 1
        return Message("errors.big_number", digits=digits)
    text = repr(value)
    return text if len(text) <= MAX_ECHO else text[: MAX_ECHO - 1] + "…"


def whole(value: Any, name: str, low: int | None = None, high: int | None = None) -> int:
    """An integer given as int, integral float or digit string; refused when fractional, non-finite or out of range."""
    wanted = _range(low, high)
    number = _number(value, name, wanted)
    if number != math.floor(number):
        raise _must_be(name, wanted, value)
    result = int(number)
    if (low is not None and result < low) or (high is not None and result > high):
        raise _must_be(name, wanted, value)
    return result


def _must_be(name: str, wanted: Message, value: Any) -> UserError:
    return UserError(Message("errors.must_be", name=name, wanted=wanted, sent=echo(value)))


def fraction(value: Any, name: str, low: float = 0.0, high: float = 1.0) -> float:
    """A finite number within [low, high]."""
    wanted = Message("errors.number_from_to", low=f"{low:g}", high=f"{high:g}")
    number = _number(value, name, wanted)
    if not low <= number <= high:
        raise _must_be(name, wanted, value)
    return number


def _number(value: Any, name: str, wanted: Message) -> float:
    """`value` as a finite number (an int stays exact, however large), or UserError saying `name` must be `wanted`.

    Non-finite values ('inf', 'nan', '1e400', which overflows to inf) are refused with the same sentence as any
    other value outside `wanted`: for the person sending them it is one mistake, not three kinds of error.
    """
    if isinstance(value, bool) or value is None:
        raise _must_be(name, wanted, value)
    if isinstance(value, int):
        return value  # exact, however large; the range check then refuses it
    try:
        number = float(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError, OverflowError):
        raise _must_be(name, wanted, value) from None
    if not math.isfinite(number):
        raise _must_be(name, wanted, value)
    return number


def _range(low: int | None, high: int | None) -> Message:
    """"a whole number", with its bounds when it has any."""
    if low is not None and high is not None:
        return Message("errors.whole_from_to", low=low, high=high)
    if low is not None:
        return Message("errors.whole_at_least", low=low)
    return Message("errors.whole") if high is None else Message("errors.whole_at_most", high=high)


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _text(value: Any) -> str | None:
    """A name as sent: text stripped, a number as its digits (a class may be called "3"); None for anything else."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return None if isinstance(value, int) and value.bit_length() > BIG_INT_BITS else str(value)


def method(value: Any) -> str:
    text = "attention" if _empty(value) else (_text(value) or "").lower()
    offered = methods.names()  # the table itself: choices.py imports the model registry, which imports this module
    if text not in offered:
        raise UserError(Message("errors.one_of", name="method", choices=", ".join(offered), sent=echo(value)))
    return text


def colormap(value: Any) -> str:
    text = DEFAULT_COLORMAP if _empty(value) else (_text(value) or "").lower()
    if text not in COLORMAPS:
        raise UserError(Message("errors.one_of", name="colormap", choices=", ".join(COLORMAPS), sent=echo(value)))
    return text


def head(value: Any, heads: int | None = None) -> str | int:
    """"mean"/"max"/"min", or a head counted from 1 (at most `heads` when the model is known)."""
    if _empty(value):
        return "mean"
    if isinstance(value, str) and value.strip().lower() in HEAD_FUSIONS:
        return value.strip().lower()
    try:
        return whole(value, "head", numbering.FIRST, heads)
    except UserError:
        allowed = (Message("errors.head_from_to", low=numbering.FIRST, high=heads) if heads is not None
                   else Message("errors.head_any"))
        raise UserError(Message("errors.head", allowed=allowed, fusions=", ".join(HEAD_FUSIONS),
                                sent=echo(value))) from None


def layer(value: Any, depth: int | None = None) -> int | None:
    """A layer counted from 1 (None for the last), at most `depth` when the model is known."""
    return None if _empty(value) else whole(value, "layer", numbering.FIRST, depth)


def layer_index(value: int | None, depth: int) -> int:
    """The library's 0-based index of a layer counted from 1 (None = the last)."""
    return depth - 1 if value is None else numbering.index(value)


def layer_number(value: int | None, depth: int) -> int:
    """The layer counted from 1 that a view shows (None = the last, `depth`)."""
    return numbering.shown(layer_index(value, depth))


def head_index(value: str | int) -> str | int:
    """The library's head of a checked head (`head`): a fusion stays its name, head 1 is the library's 0."""
    return numbering.head_index(value)


def patch_size(value: Any, offered: Sequence[int], native: Sequence[int]) -> int | None:
    """A whole patch size within the offered range; None (the model's own) for empty or 0."""
    if _empty(value):
        return None
    low, high = min(offered), max(offered)
    try:
        size = whole(value, "patch_size")
    except UserError:
        size = None
    if size == 0:
        return None
    if size is None or not low <= size <= high:
        raise UserError(Message("errors.patch_size", low=low, high=high, native=", ".join(map(str, native)),
                                sent=echo(value)))
    return size


def patch_size_of(value: Any, config: Any) -> int:
    """The patch size to run on a model with `config`: `patch_size`, or the model's own for empty or 0."""
    return patch_size(value, config.offered_patch_sizes(), config.native_patch_sizes) or config.patch_size


def target(value: Any, labels: Sequence[str]) -> str | None:
    """A class label of the model (None, the top-1, for empty)."""
    if _empty(value):
        return None
    text = _text(value)
    if text not in labels:
        shown = ", ".join(list(labels)[:5]) + (", …" if len(labels) > 5 else "")
        raise UserError(Message("errors.target_classes", shown=shown, sent=echo(value)))
    return text


def model(value: Any, entries: Mapping[str, Any]) -> str | None:
    """The key of the model named by its key or its source (hub id, folder) among `entries`; None (the app's
    default) for empty. Only these are served, so a stranger cannot make the server fetch any repository.
    A folder's key is its name (`models.register`): refusals list keys, never a path on the server."""
    if _empty(value):
        return None
    text = _text(value)
    for key, entry in entries.items():
        if text == key or text == getattr(entry, "source", None):
            return key
    raise UserError(Message("errors.one_of", name="model", choices=", ".join(entries), sent=echo(value)))


def cell(value: Any, name: str = "patch") -> Patch:
    """A (row, col) pair of whole numbers, as a clicked or hidden patch is sent; the grid's bounds are the
    caller's (`fit`, the explorer's functions)."""
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise UserError(Message("errors.cell", name=name, sent=echo(value)))
    return whole(value[0], f"{name} row"), whole(value[1], f"{name} col")


def ablation_mode(value: Any) -> str:
    """How a switched-off head is replaced: "zero" (default) or "mean" (`explain/ablation.py`)."""
    text = "zero" if _empty(value) else (_text(value) or "").lower()
    if text not in ("zero", "mean"):
        raise UserError(Message("errors.one_of", name="mode", choices="zero, mean", sent=echo(value)))
    return text


def is_empty(value: Any) -> bool:
    """Nothing sent: None, or blank text."""
    return _empty(value)


def layer_heads(value: Any, depth: int, heads: int) -> list[tuple[int, int]]:
    """[[layer, head], ...] counted from 1 as the page shows them, or the text "3.1, 5.2" (layer.head) the API
    takes → (layer, head) pairs counted from 0, as `Analysis.ablate` takes them."""
    if isinstance(value, str):
        value = [part.strip().split(".") for part in value.split(",") if part.strip()]
    if not isinstance(value, (list, tuple)) or len(value) > depth * heads:
        raise UserError(Message("errors.heads_list", sent=echo(value)))
    pairs = []
    for pair in value:
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise UserError(Message("errors.heads_list", sent=echo(value)))
        pairs.append((numbering.index(whole(pair[0], "layer", numbering.FIRST, depth)),
                      numbering.index(whole(pair[1], "head", numbering.FIRST, heads))))
    return pairs


def analysis_key(value: Any) -> tuple[str, str, int, bool, str]:
    """The (image digest, model, patch size, keep aspect, prompts) an explorer bundle names its analysis by,
    checked for shape and types only (whether the cache holds it is the caller's question)."""
    if isinstance(value, (list, tuple)) and len(value) in (3, 4, 5):
        image, model_key, patch, *rest = value
        aspect, prompts = rest[:1], rest[1:]
        if isinstance(image, str) and isinstance(model_key, str) and isinstance(patch, int) and not isinstance(
                patch, bool) and all(isinstance(a, bool) for a in aspect) and all(isinstance(p, str) for p in prompts):
            return image, model_key, patch, bool(aspect and aspect[0]), prompts[0] if prompts else ""
    raise UserError(Message("errors.no_analysis_sent"))


def _label(value: Any) -> str | None:
    """A class label as sent (None for empty); whether the model has it is checked by `target`, in `fit`."""
    if _empty(value):
        return None
    text = _text(value)
    if text is None:
        raise UserError(Message("errors.target_label", sent=echo(value)))
    return text


def view(values: dict[str, Any]) -> View:
    """A `View` from named control values (missing names take the defaults); model-dependent limits are
    checked against the analysis by `fit`."""
    defaults = View()
    patch = values.get("patch_clicked")  # a clicked (row, col); "patch" is the page's patch-size control
    return View(
        method=method(values.get("method")),
        layer=layer(values.get("layer")),
        head=head(values.get("head")),
        target=_label(values.get("target")),
        discard_ratio=0.0 if _empty(values.get("discard")) else fraction(values["discard"], "discard", 0.0,
                                                                         MAX_DISCARD),
        cmap=colormap(values.get("cmap")),
        opacity=defaults.opacity if _empty(values.get("opacity")) else fraction(values["opacity"], "opacity"),
        smooth=bool(values.get("smooth")),
        show_indices=bool(values.get("indices")),
        show_order=bool(values.get("order")),
        patch=cell(patch, "patch_clicked") if patch else None,
    )


def fit(analysis: Any, chosen: View) -> View:
    """`chosen`, checked against the analysed model: layer, head, class and clicked patch must exist."""
    layer(chosen.layer, analysis.depth)
    if isinstance(chosen.head, int):
        head(chosen.head, analysis.heads)
    target(chosen.target, analysis.labels)
    if chosen.patch is not None:
        rows, cols = analysis.grid
        if not (0 <= chosen.patch[0] < rows and 0 <= chosen.patch[1] < cols):
            raise UserError(Message("errors.patch_outside", patch=chosen.patch, rows=rows, cols=cols))
    return chosen
