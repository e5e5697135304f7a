"""The "Draw" input: what is drawn on the sketchpad becomes the analysed image.

The sketchpad does not run the model itself: each change sets the image input to the drawing, flattened onto
white paper, and the image's own change runs the one update event every input shares (`ui._wire_model`), so a
drawing is analysed, cached and explained exactly as an upload is. A blank pad (cleared, or nothing drawn
yet) leaves the image as it was.
"""

from __future__ import annotations

import io
from typing import Any

import gradio as gr
from PIL import Image

from .errors import refusal
from .i18n import Message, current_language, t
from .uploads import ACCEPTED_FORMATS

CANVAS = (480, 480)  # square, like the model's input; the bundled model sees it at 96 px (a 5:1 shrink)
PEN = 14  # px on the canvas: about 3 px at the model's 96, within the widths the bundled model trained on
COLOURS = ["#111111", "#1d4ed8", "#b91c1c"]
PAPER = (255, 255, 255)
MAX_DRAWING_PIXELS = 16 * CANVAS[0] * CANVAS[1]  # the canvas exported at up to 4× its size (high-DPI screens)
MAX_BLOB_BYTES = 4 * 2**20  # a PNG of that many pixels, drawn with a few pens, is far smaller
PENDING_DRAWINGS = 16  # drawings received by `accept_blobs` and not yet analysed, kept at once
MAX_ID = 64


def sketchpad() -> gr.Sketchpad:
    """The pad: one layer, a dark pen by default, no upload or crop (the image input does those).

    Its drawings reach the server outside the queue, through Gradio's `accept_blobs` server function, which
    keeps every blob until the drawing is analysed and decodes whatever it holds with PIL; `_bounded` makes
    it take only what the pad sends (a PNG of about the canvas' size) and keep a few drawings at a time."""
    pad = gr.Sketchpad(label=t("draw.label"), type="pil", image_mode="RGBA", canvas_size=CANVAS, fixed_canvas=True,
                       layers=False, transforms=(), sources=(), format="png", height=300, elem_id="draw",
                       brush=gr.Brush(default_size=PEN, colors=COLOURS, default_color=COLOURS[0],
                                      color_mode="defaults"))
    return _bounded(pad)


def _bounded(pad: gr.Sketchpad) -> gr.Sketchpad:
    """`pad` whose `accept_blobs` refuses what the pad never sends (one sentence, nothing stored) and keeps at
    most `PENDING_DRAWINGS`, and whose decoding refuses a picture over `MAX_DRAWING_PIXELS` from its header.

    These replace the instance's methods (see components.py for why not a subclass)."""
    accept, convert = pad.accept_blobs, pad.convert_and_format_image

    def accept_blobs(data: Any) -> dict[str, str] | None:
        fields, files = getattr(data, "data", None), getattr(data, "files", None)
        if not _blob_fits(fields, files):
            return {"error": Message("errors.drawing_upload").render(current_language())}
        accept(data)
        while len(pad.blob_storage) > PENDING_DRAWINGS:  # the oldest drawing not yet analysed goes first
            pad.blob_storage.pop(next(iter(pad.blob_storage)))
        return None

    def convert_and_format_image(file: Any, flatten_on_white: bool = False) -> Any:
        if file is not None:
            _check_size(file)
        return convert(file, flatten_on_white)

    accept_blobs._is_server_fn = True  # type: ignore[attr-defined]  (Gradio serves only functions marked so)
    pad.accept_blobs = accept_blobs  # type: ignore[method-assign]
    pad.convert_and_format_image = convert_and_format_image  # type: ignore[method-assign]
    return pad


def _blob_fits(fields: Any, files: Any) -> bool:
    """One file of at most `MAX_BLOB_BYTES` for the background, the composite or layer 0, under a short id."""
    if not (isinstance(fields, dict) and isinstance(files, list) and len(files) == 1):
        return False
    index, blob = fields.get("index"), files[0][1] if isinstance(files[0], (list, tuple)) and len(files[0]) == 2 \
        else None
    return (fields.get("type") in ("background", "composite", "layer") and isinstance(fields.get("id"), str)
            and 0 < len(fields["id"]) <= MAX_ID and index in (None, "", "null", "0", 0)
            and isinstance(blob, bytes) and len(blob) <= MAX_BLOB_BYTES)


def _check_size(file: Any) -> None:
    """Refuse a drawing that is no picture of an accepted format, or larger than the pad makes, from its header."""
    try:
        source = io.BytesIO(file) if isinstance(file, (bytes, bytearray)) else file.path
        with Image.open(source, formats=ACCEPTED_FORMATS) as picture:
            width, height = picture.size
    except Exception:
        raise refusal(Message("errors.drawing_upload")) from None
    if width * height > MAX_DRAWING_PIXELS:
        raise refusal(Message("errors.drawing_too_large", width=width, height=height))


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
