"""Every string a user reads, in English and Simplified Chinese, looked up in one place.

Four routes, by who composes the text and where:
- Static text (labels, tab names, placeholders, fixed Markdown) is `t(key)`: Gradio sends the key and the
  browser shows it in its own language (`gr.I18n`, handed to `launch(i18n=...)`). Values known when the page
  is built may fill it in (`t(key, mb=20)`).
- Text the server composes (summaries, captions, messages) is `text(key, lang, **values)`, where
  `lang = language(request)` comes from the request's Accept-Language header: Gradio's I18n translates only
  what is fixed when the page is built.
- Errors and other sentences made far from any request (validation, uploads, the startup line) are a
  `Message`: a `str` that reads as English wherever it goes (logs, the API, `str(exc)`, existing tests) and
  keeps its key and values, so whoever shows it to a person renders it in their language
  (`localized(message, lang)`, `localized_error(exc, lang)`).
- The explorer, drawn in the browser, gets its own table (`explorer_strings()`, shipped in the page's head)
  and picks the language the same way Gradio does (the `lang` Gradio sets on <html>).

One limit: a reader who switches the language in Gradio's Settings gets the labels and the explorer in the
new language at once, but the server keeps writing in the browser's (Accept-Language) until the browser's
own language changes.

The strings themselves live in `vitdemo/app/strings/<feature>.py`, each module exporting `EN` and `ZH`
dicts with the same keys (tests/test_i18n.py fails on a key missing in either). Keys are namespaced by
feature ("page.title", "tour.patches.why"), so features add strings without touching each other's files.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import pkgutil
import sys
from functools import cache
from typing import TYPE_CHECKING, Any

from . import strings as _strings_package

if TYPE_CHECKING:  # gradio is imported when a page is built, not by every module that makes a Message
    import gradio as gr

ENGLISH, CHINESE = "en", "zh-CN"
LANGUAGES = (ENGLISH, CHINESE)
CHINESE_LOCALES = (CHINESE, "zh", "zh-TW", "zh-HK", "zh-SG")
BROWSER_PREFIX = "explorer."  # keys the browser-drawn parts (explorer, galleries, webcam) look up themselves


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
    """The `gr.I18n` for `launch(i18n=...)`: English as "en"; the Simplified Chinese as "zh-CN", "zh" and the
    other Chinese locales, since `language` serves any Chinese reader the Chinese text (a Traditional
    Chinese browser would otherwise get English labels over Chinese messages).

    Its tables are copies: `t(key, **values)` adds the filled-in strings to them, not to `catalogue()`.
    """
    import gradio as gr

    table = catalogue()
    chinese = dict(table[CHINESE])
    return gr.I18n(**{ENGLISH: dict(table[ENGLISH]), **{code: chinese for code in CHINESE_LOCALES}})


def t(key: str, **values: Any) -> Any:
    """A static string, translated in the browser. Fails at build time on an unknown key.

    With `values` (numbers fixed when the page is built, such as the upload limit), the string is filled in
    for every language and registered under a key of its own, so the browser still picks the language.
    """
    assert key in catalogue()[ENGLISH], f"no string {key!r} in vitdemo/app/strings"
    i18n = translations()
    if not values:
        return i18n(key)
    digest = hashlib.sha1(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()[:10]
    filled = f"{key}__{digest}"  # the browser's lookup takes letters, digits, dots and underscores
    tables = i18n.translations_dict
    for language in (ENGLISH, CHINESE):
        tables[language][filled] = text(key, language, **values)  # "zh" shares the Chinese table
    return i18n(filled)


def t_message(message: Message) -> Any:
    """A `Message` made before any request (the startup line) as static text: the browser picks the language."""
    return t(message.key, **message.values) if isinstance(message, Message) else message


def text(key: str, lang: str = ENGLISH, **values: Any) -> str:
    """A string composed on the server, in `lang` ("en" or "zh-CN"), with `values` filled in (a `Message`
    among them is rendered in `lang` too)."""
    table = catalogue()
    chosen = table.get(lang, table[ENGLISH])
    template = chosen.get(key, table[ENGLISH][key])
    return template.format(**{name: localized(value, lang) for name, value in values.items()})


class Message(str):
    """A sentence for a person, made where no request is at hand (a refused value, a bad upload).

    It *is* its English text, so it goes anywhere a `str` goes (an exception's message, the API, the log);
    `render(lang)` gives it in another language. Values may be Messages themselves ("must be {wanted}").
    """

    key: str
    values: dict[str, Any]

    def __new__(cls, key: str, **values: Any) -> Message:
        made = super().__new__(cls, text(key, ENGLISH, **values))
        made.key, made.values = key, values
        return made

    def render(self, lang: str = ENGLISH) -> str:
        return text(self.key, lang, **self.values)

    def __reduce__(self) -> Any:  # pickled (multiprocessing, caches) as the Message it is, not a bare str
        return _rebuild, (self.key, self.values)


def _rebuild(key: str, values: dict[str, Any]) -> Message:
    return Message(key, **values)


def localized(value: Any, lang: str = ENGLISH) -> Any:
    """`value` in `lang` when it is a `Message` or a `t()` key (a component's label, read back on the server);
    anything else unchanged (numbers stay numbers)."""
    if isinstance(value, Message):
        return value.render(lang)
    if "gradio.i18n" not in sys.modules:  # no I18nData can exist yet: do not load gradio for a CLI call
        return value
    from gradio.i18n import I18nData

    if isinstance(value, I18nData):
        tables = translations().translations_dict
        return tables.get(lang, tables[ENGLISH]).get(value.key, tables[ENGLISH].get(value.key, value.key))
    return value


def localized_error(exc: BaseException, lang: str = ENGLISH) -> str:
    """An exception's message for the person who caused it: in `lang` when it was made as a `Message`
    (the app's own refusals), else as it is (a library's English sentence)."""
    first = exc.args[0] if len(exc.args) == 1 else None
    return first.render(lang) if isinstance(first, Message) else str(exc)


def language(request: gr.Request | None) -> str:
    """The page's language for this request: Chinese when the browser prefers any Chinese, else English."""
    header = ""
    if request is not None:
        header = (getattr(request, "headers", None) or {}).get("accept-language", "") or ""
    first = header.split(",")[0].strip().lower()
    return CHINESE if first.startswith("zh") else ENGLISH


def current_language() -> str:
    """The language of the request Gradio is serving now, for code Gradio calls without a `gr.Request`
    (a component's preprocessing, the explorer's server functions, the API's error wrapper); English
    outside a request."""
    from gradio.context import LocalContext

    return language(LocalContext.request.get(None))


def explorer_strings() -> str:
    """The browser's table, as a JSON object {"en": {...}, "zh-CN": {...}}: the `explorer.*` keys only."""
    table = catalogue()
    return json.dumps({lang: {k: v for k, v in table[lang].items() if k.startswith(BROWSER_PREFIX)}
                       for lang in LANGUAGES}, ensure_ascii=False)
