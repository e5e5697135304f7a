"""The explanation methods, one row each: everything the library, the page, the API and the figure know of one.

A row says what a method needs (a class to explain), how it treats heads (methods that chain the layers
multiply layer into layer, so "head 3" would chain heads that share only an index: they exist for the fused
heads only), which strings name and describe it, and the two functions that compute it from an `Analysis`:
its map at one layer and its maps at every layer in one pass. `Analysis.attention_map`/`maps_by_layer`,
the explorer's bundle and buttons, the API's choices and description, the figure and its command all read
this table, so adding a method is a row here, its strings (`explorer.method.NAME`, `explorer.title.NAME`,
`explorer.about.NAME` in app/strings/explorer.py, English and Chinese), and its math.

The functions are named here but import what computes lazily, so this module (like `constants`) loads
without torch: the page is built before torch is imported.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from .explain.analysis import Analysis


@dataclass(frozen=True)
class Query:
    """What one map is asked for: the last layer (0-based; unused by `by_layer`), the head (an index or a
    fusion), the class (an index, for methods that need one) and rollout's share of weak links dropped."""

    layer: int
    head: int | str
    target: int | None = None
    discard_ratio: float = 0.0


MapFunction = Callable[["Analysis", Query], "np.ndarray"]


@dataclass(frozen=True)
class Method:
    """One explanation method (see the module docstring)."""

    name: str
    map: MapFunction  # (analysis, query) → (rows, cols), non-negative, summing to 1
    by_layer: MapFunction  # (analysis, query) → (layers, rows, cols): `map` at every layer
    label_key: str  # its name on a button and in sentences
    title_key: str  # what its map shows, the explorer's caption
    description_key: str  # what it computes, with its source (the figure's caption, the API's description)
    needs_class: bool = False  # explains one class (relevance, LeGrad): computed per class, on request
    chains_layers: bool = False  # accumulates layers 1..L: fused heads only, "layers 1–L" in titles
    discards: bool = False  # reads `Query.discard_ratio` (rollout's trick)
    colour: str = "#6b7280"  # its faithfulness curve

    def schema(self) -> dict[str, Any]:
        """What the browser needs of it (the explorer's bundle carries this)."""
        return {"name": self.name, "needs_class": self.needs_class, "chains_layers": self.chains_layers,
                "discards": self.discards, "label_key": self.label_key, "title_key": self.title_key,
                "colour": self.colour}


def _attention(analysis: Analysis, q: Query) -> np.ndarray:
    from .explain.maps import fuse_heads

    return analysis.class_map(fuse_heads(analysis.query_rows(q.layer), q.head))


def _attention_by_layer(analysis: Analysis, q: Query) -> np.ndarray:
    from .explain.maps import fuse_heads

    return analysis.class_maps([fuse_heads(analysis.query_rows(layer), q.head) for layer in range(analysis.depth)])


def _rollout(analysis: Analysis, q: Query) -> np.ndarray:
    from .explain.maps import rollout

    return analysis.class_map(rollout(analysis.attentions[:q.layer + 1], q.head, q.discard_ratio,
                                      analysis.num_prefix_tokens, query=analysis.query))


def _rollout_by_layer(analysis: Analysis, q: Query) -> np.ndarray:
    from .explain.maps import rollout_by_layer

    return analysis.class_maps(rollout_by_layer(analysis.attentions, q.head, q.discard_ratio,
                                                analysis.num_prefix_tokens, query=analysis.query))


def _relevance(analysis: Analysis, q: Query) -> np.ndarray:
    from .explain.maps import relevance

    gradients = analysis.gradient_layers(q.target)
    return analysis.class_map(relevance(analysis.attentions[:q.layer + 1], gradients[:q.layer + 1], q.head,
                                        query=analysis.query))


def _relevance_by_layer(analysis: Analysis, q: Query) -> np.ndarray:
    from .explain.maps import relevance_by_layer

    return analysis.class_maps(relevance_by_layer(analysis.attentions, analysis.gradient_layers(q.target), q.head,
                                                  query=analysis.query))


def _legrad(analysis: Analysis, q: Query) -> np.ndarray:
    from .explain.legrad import legrad

    return analysis.class_map(legrad(analysis.legrad_rows(q.target)[:q.layer + 1], q.head))


def _legrad_by_layer(analysis: Analysis, q: Query) -> np.ndarray:
    from .explain.legrad import legrad_by_layer

    return analysis.class_maps(legrad_by_layer(analysis.legrad_rows(q.target), q.head))


def _keys(name: str) -> dict[str, str]:
    return {"label_key": f"explorer.method.{name}", "title_key": f"explorer.title.{name}",
            "description_key": f"explorer.about.{name}"}


# In the order the page offers them (buttons, choices, faithfulness curves).
TABLE: dict[str, Method] = {method.name: method for method in (
    Method("attention", _attention, _attention_by_layer, **_keys("attention"), colour="#6366f1"),
    Method("rollout", _rollout, _rollout_by_layer, **_keys("rollout"), chains_layers=True, discards=True,
           colour="#059669"),
    Method("relevance", _relevance, _relevance_by_layer, **_keys("relevance"), needs_class=True,
           chains_layers=True, colour="#dc2626"),
    Method("legrad", _legrad, _legrad_by_layer, **_keys("legrad"), needs_class=True, chains_layers=True,
           colour="#d97706"),
)}


def rows() -> tuple[Method, ...]:
    """Every method's row, in the table's order (read at call time, so a row added later counts)."""
    return tuple(TABLE.values())


def names() -> tuple[str, ...]:
    """Every method's name, in the table's order (read at call time, so a row added later counts)."""
    return tuple(TABLE)


def method(name: str) -> Method:
    """The row of `name`; ValueError naming the choices for anything else."""
    if isinstance(name, str) and name in TABLE:
        return TABLE[name]
    raise ValueError(f"method must be one of {names()}, not {name!r}")


def schema() -> list[dict[str, Any]]:
    """Every method's row as the browser reads it, in order."""
    return [m.schema() for m in rows()]
