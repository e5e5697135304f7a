"""How people count and how Python indexes, and the one place the two meet.

Rows, columns, heads and layers are shown counted from 1 everywhere a person reads them: the page, its
captions and download names, the HTTP API, the tour, figures and the figure command. The library
(`vitdemo.analyze`, `Analysis.*`, `FigureView`) keeps Python's 0-based indices, so that `analysis.attention_map(
layer=-1)` and slicing behave as a Python reader expects. Everything that turns one into the other calls these
functions (the page's painter has the same rule as `counted` in painter_core.js, checked on the same download
names), so "from 1" is decided here once and not by `+ 1`s scattered through the app.
"""

from __future__ import annotations

FIRST = 1  # what people call the first row, column, head and layer

Head = str | int  # a fusion ("mean", "max", "min") or one head


def shown(index: int) -> int:
    """The number a person reads for the library's 0-based `index` (row, column, head or layer)."""
    return index + FIRST


def index(number: int) -> int:
    """The library's 0-based index of the row, column, head or layer a person numbered `number`."""
    return number - FIRST


def shown_head(head: Head) -> Head:
    """A head as people count it: a fusion stays its name, a head index becomes its number from 1."""
    return head if isinstance(head, str) else shown(head)


def head_index(head: Head) -> Head:
    """The library's head of a head counted from 1: a fusion stays its name."""
    return head if isinstance(head, str) else index(head)
