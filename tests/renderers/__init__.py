"""Shape renderers written for the tests, sharing no code with `vitdemo.data`: if the bundled model only
knew its generator's quirks, these would show it. Nothing here may import from `vitdemo`.

- `plain`: the eleven classes as plain PIL polygons and ellipses on flat, gradient or noise backgrounds,
  3-25% of the image.
- `mouse`: the eleven classes as a person draws them with a mouse: one dark, wobbly outline stroke per
  contour (two for a ring), on light paper.

Both return `Drawing(image, label, mask)`, where `mask` is the object's silhouette (for an outline: the ink
and everything it encloses), the region the explanation benchmark counts as "the object".
"""

from dataclasses import dataclass

from PIL import Image

CLASSES = ("circle", "square", "triangle", "star", "pentagon", "cross", "ring", "diamond", "heart", "crescent",
           "arrow")  # the bundled model's classes, written out here rather than imported


@dataclass(frozen=True)
class Drawing:
    image: Image.Image  # RGB
    label: str
    mask: "object"  # bool numpy array (H, W): the object's silhouette
