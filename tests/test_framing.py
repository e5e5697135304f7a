"""Drawings framed as the training shapes are (vitdemo/framing.py), on cases worked out by hand, and the path
that applies it: only a drawing from the sketchpad (the image input's value named as the pad's) is framed."""

from __future__ import annotations

import base64
import io

import gradio as gr
from PIL import Image, ImageDraw

from vitdemo.app.components import raw_upload
from vitdemo.app.draw import DRAWING_NAME, Drawing
from vitdemo.app.service import Engine
from vitdemo.framing import FILL, MIN_FRAME, frame_box, framed, ink_box


def page(size=(480, 480)) -> Image.Image:
    return Image.new("RGB", size, (255, 255, 255))


def test_the_ink_box_holds_every_dark_pixel_and_nothing_else():
    picture = page((10, 8))
    picture.putpixel((3, 2), (0, 0, 0))
    picture.putpixel((6, 5), (30, 30, 150))  # a dark blue pen is ink too (grey level 46)
    picture.putpixel((9, 7), (220, 220, 220))  # light grey: paper, not ink
    assert ink_box(picture) == (3, 2, 7, 6)  # right and bottom excluded, as PIL crops
    assert ink_box(page((10, 8))) is None


def test_the_frame_is_a_square_centred_on_the_ink():
    assert (FILL, MIN_FRAME) == (0.75, 0.3)  # the cases below are worked out for these
    # ink 300×240 at (60, 100): side 300 / 0.75 = 400, centred on (210, 220)
    assert frame_box((60, 100, 360, 340), (480, 480)) == (10, 20, 410, 420)
    # a large circle whose ink runs to the pad's edges: the square reaches 80 px past every edge
    assert frame_box((0, 0, 480, 480), (480, 480)) == (-80, -80, 560, 560)
    # a small doodle (30×20 px): 40 px would make it as fat as its pen; the square stays 0.3 × 480 = 144 px
    assert frame_box((200, 300, 230, 320), (480, 480)) == (143, 238, 287, 382)


def test_a_framed_drawing_is_its_ink_centred_on_white_paper():
    drawing = page()
    ImageDraw.Draw(drawing).rectangle((0, 0, 299, 299), outline=(0, 0, 0), width=10)  # in the top-left corner
    shown = framed(drawing)
    assert shown.size == (400, 400)  # 300 / 0.75
    assert ink_box(shown) == (50, 50, 350, 350)  # 50 px of paper on every side
    assert shown.getpixel((0, 0)) == shown.getpixel((399, 399)) == (255, 255, 255)  # beyond the pad: white
    assert shown.getpixel((200, 200)) == (255, 255, 255) and shown.getpixel((55, 200)) == (0, 0, 0)
    blank = page()
    assert framed(blank) is blank


def png(picture: Image.Image) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def test_only_the_sketchpads_drawing_is_framed():
    drawing = page()
    ImageDraw.Draw(drawing).rectangle((0, 0, 299, 299), outline=(0, 0, 0), width=10)
    url = "data:image/png;base64," + base64.b64encode(png(drawing)).decode("ascii")
    sent = raw_upload(None, gr.data_classes.ImageData(url=url, orig_name=DRAWING_NAME))
    pasted = raw_upload(None, gr.data_classes.ImageData(url=url, orig_name="clipboard.png"))
    assert isinstance(sent, Drawing) and not isinstance(pasted, Drawing) and sent == pasted
    engine = Engine.__new__(Engine)  # decoding needs no model
    assert engine.decode(sent).size == (400, 400)
    assert engine.decode(pasted).size == (480, 480)
