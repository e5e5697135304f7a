"""The values the controls offer, free of torch so the page can be built before torch is imported.

The names themselves are `vitdemo.constants`' (colormaps, head fusions) and `vitdemo.methods`' (the methods):
this module only lists them the way the controls take them.
"""

from __future__ import annotations

from .. import methods


def method_choices() -> list[str]:
    """The explanation methods a control or an API parameter offers, in the table's order."""
    return list(methods.names())
