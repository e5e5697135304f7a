"""The "Draw" input: what is drawn on the sketchpad becomes the analysed image.

The sketchpad does not run the model itself: each change sets the image input to the drawing, flattened onto
white paper, and the image's own change runs the one update event every input shares (`ui._wire`), so a
drawing is analysed, cached and explained exactly as an upload is. A blank pad (cleared, or nothing drawn
yet) leaves the image as it was.
"""

from __future__ import annotations

from typing import Any

import gradio as gr
from PIL import Image

from .i18n import t

CANVAS = (480, 480)  # square, like the model's input; the bundled model sees it at 96 px (a 5:1 shrink)
PEN = 14  # px on the canvas: about 3 px at the model's 96, within the widths the bundled model trained on
COLOURS = ["#111111", "#1d4ed8", "#b91c1c"]
PAPER = (255, 255, 255)


def sketchpad() -> gr.Sketchpad:
    """The pad: one layer, a dark pen by default, no upload or crop (the image input does those)."""
    return gr.Sketchpad(label=t("draw.label"), type="pil", image_mode="RGBA", canvas_size=CANVAS, fixed_canvas=True,
                        layers=False, transforms=(), sources=(), format="png", height=300, elem_id="draw",
                        brush=gr.Brush(default_size=PEN, colors=COLOURS, default_color=COLOURS[0],
                                       color_mode="defaults"))


def flattened(sketch: dict[str, Any] | None) -> Image.Image | None:
    """The pad's composite as RGB on white paper, or None when nothing is drawn on it."""
    composite = (sketch or {}).get("composite")
    if composite is None:
        return None
    rgba = composite.convert("RGBA")
    paper = Image.new("RGBA", rgba.size, PAPER + (255,))
    picture = Image.alpha_composite(paper, rgba).convert("RGB")
    low = picture.convert("L").getextrema()[0]
    return picture if low < 250 else None  # blank: nothing darker than the paper


def drawing_as_image(values: dict[str, Any]) -> dict[str, Any]:
    """{"image": the drawing} for `ui.bind`, or {} (nothing changes) for a blank pad."""
    picture = flattened(values["draw"])
    return {} if picture is None else {"image": picture}
