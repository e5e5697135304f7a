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

from dataclasses import dataclass

from ..data.geometry import SHAPE_LABELS
from ..settings import EXAMPLES_DIR
from .models import ModelEntry, peek_labels

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
