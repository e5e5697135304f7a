"""Class names as a person reads them: the bundled shapes in Chinese on a Chinese page, else the model's own.

The model (and the library, `Analysis.labels`, `Analysis.top`) keeps its labels as trained ("circle"): they are
the keys a class method's maps, a `target` and file names are made of. Only what a person reads is translated,
at the edge: the page's top-5, captions and summary, the API's labels when the request asks for Chinese. The
one table of names lives beside the labels themselves (`data.geometry.SHAPE_NAMES_ZH`); a model whose labels
are not all shapes (ImageNet, CLIP, a folder's classes) shows its own labels in every language, since a shape's
name inside another label set ("ring", "star" among ImageNet's classes) may mean something else.
"""

from __future__ import annotations

from collections.abc import Sequence

from .data.geometry import SHAPE_LABELS, SHAPE_NAMES_ZH

CHINESE = "zh-CN"  # the page's code for Chinese (`vitdemo.app.i18n.CHINESE`; tests/test_class_names.py checks)
NAMES = {CHINESE: SHAPE_NAMES_ZH}  # {language: {label: name}}; English is the labels themselves


def translations(labels: Sequence[str]) -> dict[str, dict[str, str]]:
    """{language: {label: name}} for a model with `labels`: the shapes' names when every label is a shape,
    else {} (each label reads as itself). This is what the browser's explorer receives in its bundle."""
    if not labels or not set(labels) <= set(SHAPE_LABELS):
        return {}
    return {lang: {label: table[label] for label in labels} for lang, table in NAMES.items()}


def shown(label: str, labels: Sequence[str], lang: str) -> str:
    """`label` (one of the model's `labels`) as a reader of `lang` reads it."""
    return translations(labels).get(lang, {}).get(label, label)


def shown_all(labels: Sequence[str], lang: str) -> list[str]:
    """Every label of a model, in the order given, as a reader of `lang` reads it."""
    table = translations(labels).get(lang, {})
    return [table.get(label, label) for label in labels]


def label_of(name: str | None, labels: Sequence[str]) -> str | None:
    """The model's label a person named `name` in any language ("圆" → "circle"); anything else unchanged
    (None, a label, or a value validation then refuses)."""
    if name is None or name in labels:
        return name
    for table in translations(labels).values():
        for label, shown_name in table.items():
            if shown_name == name:
                return label
    return name
