"""The prompts of an image–text model, as the page, the API and the figure command take them.

One text (comma, Chinese comma or enumeration comma, semicolon, or newline separated) becomes a list of
prompts, checked: at most `MAX_PROMPTS` (each is one text-tower pass and one row of every class view) of at most
`MAX_CHARS` characters (the text towers read 64–77 tokens). A model without a text tower takes none.
"""

from __future__ import annotations

import re
from typing import Any

from .i18n import ENGLISH, Message, text
from .validation import UserError

MAX_PROMPTS = 16
MAX_CHARS = 80
SEPARATORS = re.compile(r"[,\n;，、；]")


def parse(value: Any) -> list[str]:
    """The prompts in `value` (a string, or a list of strings), stripped, empty ones and repeats dropped."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        value = "\n".join(str(v) for v in value)
    if not isinstance(value, str):
        raise UserError(Message("errors.must_be", name="prompts", wanted="text", sent=type(value).__name__))
    prompts = list(dict.fromkeys(p.strip() for p in SEPARATORS.split(value) if p.strip()))
    if len(prompts) > MAX_PROMPTS:
        raise UserError(Message("prompts.too_many", most=MAX_PROMPTS, count=len(prompts)))
    longest = max((len(p) for p in prompts), default=0)
    if longest > MAX_CHARS:
        raise UserError(Message("prompts.too_long", most=MAX_CHARS, count=longest))
    return prompts


def defaults(lang: str = ENGLISH) -> list[str]:
    """The prompts an image–text model starts with, in the page's language."""
    return parse(text("prompts.defaults", lang))


def is_image_text(model: Any) -> bool:
    """Whether `model` ranks prompts (it has a text tower) rather than fixed classes."""
    return hasattr(model, "with_prompts")


def note(model: Any, lang: str = ENGLISH) -> str:
    """The line under the box: the family's template, and softmax or sigmoid, in `lang`."""
    key = "prompts.note.sigmoid" if model.uses_sigmoid else "prompts.note.softmax"
    return text(key, lang, template=model.template.format("…"))
