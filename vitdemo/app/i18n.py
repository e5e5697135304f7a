"""Every string a user reads, in English and Simplified Chinese, looked up in one place.

Two kinds of text, two routes:
- Static text (labels, tab names, placeholders, fixed Markdown) is `t(key)`: Gradio sends the key and the
  browser shows it in its own language (`gr.I18n`, handed to `launch(i18n=I18N)`).
- Text the server composes (summaries, captions, messages, errors) is `text(key, lang, **values)`, where
  `lang = language(request)` comes from the request's Accept-Language header: Gradio's I18n translates only
  what is fixed when the page is built.

The strings themselves live in `vitdemo/app/strings/<feature>.py`, each module exporting `EN` and `ZH`
dicts with the same keys (a test fails on a key missing in either). Keys are namespaced by feature
("page.title", "tour.patches.why"), so features add strings without touching each other's files.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from typing import Any

import gradio as gr

from . import strings as _strings_package

ENGLISH, CHINESE = "en", "zh-CN"
LANGUAGES = (ENGLISH, CHINESE)


@cache
def catalogue() -> dict[str, dict[str, str]]:
    """{language: {key: string}}, merged from every module in `vitdemo/app/strings`."""
    merged: dict[str, dict[str, str]] = {ENGLISH: {}, CHINESE: {}}
    for info in pkgutil.iter_modules(_strings_package.__path__):
        module = importlib.import_module(f"{_strings_package.__name__}.{info.name}")
        for language, table in ((ENGLISH, module.EN), (CHINESE, module.ZH)):
            clash = set(table) & set(merged[language])
            assert not clash, f"strings/{info.name}.py redefines {sorted(clash)}"
            merged[language].update(table)
    return merged


@cache
def translations() -> gr.I18n:
    """The `gr.I18n` for `launch(i18n=...)`. Chinese is registered as "zh-CN" and as "zh" (browsers send
    either), English as "en"."""
    table = catalogue()
    return gr.I18n(**{ENGLISH: table[ENGLISH], CHINESE: table[CHINESE], "zh": table[CHINESE]})


def t(key: str) -> Any:
    """A static string, translated in the browser. Fails at build time on an unknown key."""
    assert key in catalogue()[ENGLISH], f"no string {key!r} in vitdemo/app/strings"
    return translations()(key)


def text(key: str, lang: str = ENGLISH, **values: Any) -> str:
    """A string composed on the server, in `lang` ("en" or "zh-CN"), with `values` filled in."""
    table = catalogue()
    chosen = table.get(lang, table[ENGLISH])
    return chosen.get(key, table[ENGLISH][key]).format(**values)


def language(request: gr.Request | None) -> str:
    """The page's language for this request: Chinese when the browser prefers any Chinese, else English."""
    header = ""
    if request is not None:
        header = (getattr(request, "headers", None) or {}).get("accept-language", "") or ""
    first = header.split(",")[0].strip().lower()
    return CHINESE if first.startswith("zh") else ENGLISH
