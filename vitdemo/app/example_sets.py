"""Which example pictures go with which kind of model: the one table the page reads (issue 23).

Why per kind: an example the model cannot know teaches nothing but a wrong answer (offline, the bundled
shapes model called the cat photo "ring 72%"). So a model trained on this project's shapes gets shapes and
drawings it was trained to read (drawn by `vitdemo.data`'s renderers, see assets/examples/CREDITS.md), and
any other model (ImageNet classifiers, and self-supervised backbones trained on the same photos) gets the
photos. Image–text models (issue 25) get the photos, each with a prompt that names what it shows (the prompt
is not yet put into the page's "what to look for" box by an example click).

The kind is read from the model's entry without loading it (a vitdemo-format folder names its classes in
its config.json), so the page can show the right examples while the model itself still loads.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..data.geometry import SHAPE_LABELS
from ..settings import EXAMPLES_DIR
from .models import ModelEntry, peek_labels

if TYPE_CHECKING:
    from .service import Engine

logger = logging.getLogger(__name__)

SHAPES = "shapes"
PHOTOS = "photos"
PHOTOS_WITH_PROMPTS = "photos with prompts"


@dataclass(frozen=True)
class ExampleSet:
    """The pictures (file names in assets/examples/, in the order shown) and, for image–text models, the
    prompt that goes with each picture."""

    files: tuple[str, ...]
    prompts: tuple[str, ...] = ()


EXAMPLE_SETS: dict[str, ExampleSet] = {
    SHAPES: ExampleSet(("shape_star.png", "shape_heart.png", "drawn_circle.png", "shape_crescent.png",
                        "drawn_arrow.png", "shape_cross.png", "shape_triangle.png", "outline_diamond.png")),
    PHOTOS: ExampleSet(("cat.jpg", "coffee.jpg", "astronaut.jpg", "rocket.jpg")),
    PHOTOS_WITH_PROMPTS: ExampleSet(("cat.jpg", "coffee.jpg", "astronaut.jpg", "rocket.jpg"),
                                     ("cat", "cup of coffee", "astronaut", "rocket")),  # image–text models
}
MOST_EXAMPLES = max(len(s.files) for s in EXAMPLE_SETS.values())  # the examples table's page size


def kind_of(entry: ModelEntry) -> str:
    """The kind of examples that fit the model `entry` names: shapes for a model whose classes are the
    shapes data set's, photos for every other (ImageNet classifiers, and backbones trained on photos)."""
    if entry.facts is not None and entry.facts.prompts:
        return PHOTOS_WITH_PROMPTS
    labels = peek_labels(entry)
    return SHAPES if labels and set(labels) == set(SHAPE_LABELS) else PHOTOS


def example_files(entry: ModelEntry) -> list[str]:
    """The paths of the example pictures for the model `entry` names, as the examples table takes them."""
    return [str(EXAMPLES_DIR / name) for name in EXAMPLE_SETS[kind_of(entry)].files]


class Warmer:
    """Analyses a model's examples in the background once it has loaded, so the first visitor to click one
    gets a cached analysis too (BENCHMARKS §15): a forward is most of a click on a large model.

    Never in a visitor's way: one example at a time, each in a slot of the engine's gate like any model work
    (a visitor's request waits at most for one forward), and only while the analysis cache is less than half
    full (by count and by bytes), so the examples never push a visitor's analyses out. Each model is warmed
    once per app instance (`warm` after that does nothing)."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._done: set[str] = set()
        self._lock = threading.Lock()

    def warm(self, entry: ModelEntry, after: threading.Thread | None = None) -> threading.Thread | None:
        """Start warming `entry`'s examples (once `after`, the model's loading, has ended); → the thread, or
        None when this model was warmed already."""
        with self._lock:
            if entry.key in self._done:
                return None
            self._done.add(entry.key)
        thread = threading.Thread(target=self._run, args=(entry, after), name=f"warm-examples-{entry.key}",
                                  daemon=True)
        thread.start()
        return thread

    def _run(self, entry: ModelEntry, after: threading.Thread | None) -> None:
        if after is not None:
            after.join()
        engine = self.engine
        for path in example_files(entry):
            if not self._room():
                return
            try:
                with engine.gate.slot():
                    engine.analysis(engine.decode(path), entry.key)
            except Exception:  # a visitor's click says it again, to the visitor
                logger.exception("warming the example %s for %s failed", path, entry.key)
                return

    def _room(self) -> bool:
        cache = self.engine.cache
        return len(cache) < cache.max_items / 2 and cache.nbytes() < cache.max_bytes / 2
