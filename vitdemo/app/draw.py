"""The "Draw" input: what is drawn on the sketchpad becomes the analysed image, once per stroke.

The pad is Gradio's Sketchpad with no server event of its own: Gradio's pad uploads its background, layers and
composite on every change and again for every event that names it (20-100 requests a stroke), so nothing on the
server listens to it. Instead `sketch.js`, in the page, takes the drawing when a stroke ends (flattened on
white paper, as a PNG data URL) and sets it as the image input's value through a hidden button whose event
runs in the browser only (`wire`); the image's own change then runs the one update event every input shares
(`ui._wire_model`), so a drawing is analysed, cached and explained exactly as an upload is, and travels
inside that event's request. A blank pad (cleared, or nothing drawn yet) leaves the image as it was.

The image input's value names the drawing (`DRAWING_NAME`), so the server frames it as the training shapes
are framed before the model sees it (`vitdemo.framing`, applied in `Engine.decode` to a `Drawing`).
"""

from __future__ import annotations

import io
import json
from typing import TYPE_CHECKING, Any

import gradio as gr
from PIL import Image

from .errors import refusal
from .i18n import Message, current_language, t
from .uploads import ACCEPTED_FORMATS

if TYPE_CHECKING:
    from .page import Page

CANVAS = (480, 480)  # square, like the model's input; the bundled model sees it at 96 px (a 5:1 shrink)
PEN = 14  # px on the canvas: about 3 px at the model's 96, within the widths the bundled model trained on
COLOURS = ["#111111", "#1d4ed8", "#b91c1c"]
MAX_DRAWING_PIXELS = 16 * CANVAS[0] * CANVAS[1]  # the canvas exported at up to 4× its size (high-DPI screens)
MAX_BLOB_BYTES = 4 * 2**20  # a PNG of that many pixels, drawn with a few pens, is far smaller
PENDING_DRAWINGS = 16  # drawings received by `accept_blobs` and not yet analysed, kept at once
MAX_ID = 64
DRAWING_NAME = "vitdemo-drawing.png"  # the image input's orig_name for a drawing from the pad
SEND_ID = "draw-send"
TAKE = f"() => window.vitdemo.sketch.take({json.dumps(DRAWING_NAME)})"  # sketch.js: the drawing as the image


class Drawing(bytes):
    """The bytes of a PNG drawn on the pad (an image input value named `DRAWING_NAME`): framed before analysis."""


def sketchpad() -> gr.Sketchpad:
    """The pad: one layer, a dark pen (`sketch.js` picks it as soon as the pad is ready, and again after a
    clear: Gradio's pad falls back to a tool of its own), no upload or crop (the image input does those).

    The page never calls its `accept_blobs` server function (no event listens to the pad), but a client may:
    that function keeps every blob it is sent and decodes whatever it holds with PIL, so `_bounded` makes it
    take only what the pad would send (a PNG of about the canvas' size) and keep a few drawings at a time."""
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


def send_button() -> gr.Button:
    """The hidden button `sketch.js` clicks when a stroke ends (its event is `wire`'s)."""
    return gr.Button(visible="hidden", elem_id=SEND_ID)


def wire(page: Page) -> None:
    """The hidden button's click sets the image input to the drawing, in the browser: no request of its own."""
    page.draw_send.click(None, None, page.image, js=TAKE, api_visibility="private", show_progress="hidden")


def drawing_or_bytes(data: bytes, name: str | None) -> bytes:
    """A data URL's bytes, marked as a `Drawing` when the image input names it as the pad's."""
    return Drawing(data) if name == DRAWING_NAME else data
