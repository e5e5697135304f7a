"""An image input that hands the raw upload to our own decoder instead of decoding it itself.

`gr.Image` opens every upload with PIL before the event function runs, so an SVG, a PDF or a truncated
JPEG fails inside Gradio with a vague "Error". `upload_image` returns a `gr.Image` (same front end: upload,
webcam, clipboard; same API schema) whose preprocessing only passes on the file path, or the bytes of a
webcam/clipboard data URL, so `vitdemo.uploads.decode_image` decides, with a message that says what was
wrong and what is accepted.

It replaces the instance's `preprocess` rather than subclassing: Gradio writes a `.pyi` stub next to the
source of every Component subclass at import time, which a package should not do to itself.
"""

from __future__ import annotations

import base64
import binascii
import types
from typing import Any

import gradio as gr

from ..uploads import ACCEPTED_DESCRIPTION, MAX_FILE_BYTES

BASE64_SLACK = 4 / 3 + 0.01  # base64 text is 4/3 the size of its bytes


def upload_image(**kwargs: Any) -> gr.Image:
    """A `gr.Image(type="filepath", **kwargs)` whose value reaches the event function undecoded."""
    image = gr.Image(type="filepath", **kwargs)
    image.preprocess = types.MethodType(raw_upload, image)  # type: ignore[method-assign]
    return image


def raw_upload(_: gr.Image, payload: gr.data_classes.ImageData | None) -> str | bytes | None:
    """The upload's path in Gradio's cache, or the bytes of a data URL; None when nothing was sent."""
    if payload is None:
        return None
    if payload.url and payload.url.startswith("data:"):
        return data_url_bytes(payload.url)
    if payload.path is None:
        raise gr.Error("No image was received.")
    return payload.path


def data_url_bytes(url: str) -> bytes:
    """The bytes of a base64 `data:` URL (what webcam and clipboard captures may send), size-checked first."""
    header, _, body = url.partition(",")
    if len(body) > MAX_FILE_BYTES * BASE64_SLACK:
        raise gr.Error(f"The image is too large (over the {MAX_FILE_BYTES // 2**20} MB limit). "
                       f"Accepted: {ACCEPTED_DESCRIPTION}.")
    if ";base64" not in header:
        raise gr.Error("The pasted image was not base64-encoded.")
    try:
        return base64.b64decode(body, validate=False)
    except (binascii.Error, ValueError):
        raise gr.Error("The pasted image data is corrupt.") from None
