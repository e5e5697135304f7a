"""Uploaded file → upright RGB image, or a short message saying what was wrong and what is accepted.

The app is public, so strangers upload anything: SVGs, PDFs, half-sent phone photos, decompression bombs.
Everything goes through `decode_image`, which returns a plain RGB `PIL.Image.Image` or raises
`ImageInputError`, whose message is written for that person (the app shows it with `gr.Error`).

Four rules keep this safe:
- the format is chosen by content from a short allowlist, so PIL never reaches its riskier plugins
  (EPS, for one, runs Ghostscript);
- sizes are checked before any pixels are decoded: bytes first, then width × height and the shape (at most
  10:1, see `vitdemo.preprocessing.MAX_ASPECT_RATIO`) from the header;
- the memory a decode will take is estimated from the header too, per format, and kept under
  `DECODE_BUDGET`: a JPEG that would exceed it is decoded at a half or a quarter of its size, anything else
  is refused with a sentence that says why it costs more ("as WebP", "with transparency") and up to how
  many megapixels such images are accepted;
- every exception from PIL becomes an `ImageInputError`, so a user never sees a traceback.

Global PIL settings are left alone. `Image.MAX_IMAGE_PIXELS` keeps its default, and our stricter
`MAX_PIXELS` is checked as well. `ImageFile.LOAD_TRUNCATED_IMAGES` must stay False (the default), so a
truncated file raises an error instead of decoding as half grey.
"""

from __future__ import annotations

import io
import logging
import os

import numpy as np
from PIL import ExifTags, Image, ImageOps

from ..preprocessing import MAX_ASPECT_RATIO, rgb_on_white
from .i18n import Message

# Phone photos are 2–15 MB; pass MAX_FILE_BYTES to Gradio's max_file_size too, so it refuses bigger uploads
# before they are even saved.
MAX_FILE_BYTES = 20 * 1024 * 1024
# Enough for 48- and 50-megapixel phone cameras (8160×6120 is 49.9). The model only sees ~224×224 anyway.
MAX_PIXELS = 50_000_000
# What decoding, turning upright and converting to RGB may take at once, as estimated from the header by
# `_peak_bytes_per_pixel`. With the file itself (≤ 20 MB) and the analysis, one upload stays under 300 MB
# (benchmarks/memory_bounds.py; tests/test_resources.py). An upright 50 MP photo needs 200 MB; a
# sideways-stored one (many phone photos) or one with transparency needs twice that. Such a JPEG is decoded
# at half size by libjpeg: the model sees at most 768×256 px of it anyway, and on the example photos its
# model view is within 2 grey levels (0.1 on average) of the full decode's. Other formats are refused above
# the budget: 33 megapixels with transparency, 22 for grey with alpha, 15 for WebP, whose decoder holds 12
# bytes a pixel more (the message says which limit). Every format's worst case is measured in
# benchmarks/memory_bounds.py (`--cases formats`) and tested in tests/test_resources.py.
DECODE_BUDGET = 256 * 2**20
WEBP_DECODER_BYTES = 12  # per pixel, beyond the image: see `_decoder_bytes_per_pixel`
ACCEPTED_FORMATS = ("PNG", "JPEG", "GIF", "WEBP", "BMP", "TIFF")  # PIL's plugin names, tried in this order
# What every refusal ends with (a `Message`: English as a str, and in the reader's language on the page).
ACCEPTED_DESCRIPTION = Message("errors.formats", mb=MAX_FILE_BYTES // 2**20, megapixels=f"{MAX_PIXELS / 1e6:g}",
                               ratio=f"{MAX_ASPECT_RATIO:g}")

_DECODED_FORMATS = {*ACCEPTED_FORMATS, "MPO"}  # PIL's JPEG plugin labels multi-picture camera JPEGs "MPO"
_FRIENDLY_NAMES = {"WEBP": "WebP", "MPO": "JPEG"}
# Formats whose files may be animations, of which the app analyses the first frame and says so (`animated`).
# Not MPO: a camera's multi-picture JPEG holds the photo first and previews after it, which is no animation.
_ANIMATED_FORMATS = ("GIF", "PNG", "WEBP")
ANIMATED = "vitdemo.animated"  # the decoded image's `info` key: the friendly name of the animation it came from
_CORE_BYTES = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16L": 2, "I;16B": 2, "I;16N": 2}  # PIL stores others in 4
_DEEP_MODES = ("I", "F", "I;16", "I;16L", "I;16B", "I;16N")
_TEXT_CONTROLS = frozenset(b"\t\n\r\f")
_MAGIC = (  # checked in order, on the first bytes only: just enough to name what the user sent
    (b"\x89PNG", "PNG"), (b"\xff\xd8\xff", "JPEG"), (b"GIF8", "GIF"), (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"), (b"%PDF", "PDF"), (b"%!PS", "PostScript"), (b"\xc5\xd0\xd3\xc6", "PostScript"),
    (b"8BPS", Message("errors.kind.photoshop")), (b"PK\x03\x04", Message("errors.kind.zip")),
    (b"\x1f\x8b", Message("errors.kind.gzip")),
)
_HEIF_BRANDS = {b"heic": "HEIC", b"heix": "HEIC", b"hevc": "HEIC", b"mif1": "HEIC", b"msf1": "HEIC",
                b"avif": "AVIF", b"avis": "AVIF"}

logger = logging.getLogger(__name__)


class ImageInputError(ValueError):
    """An input we will not decode. The message (an `i18n.Message`) is meant for the person who uploaded it."""


def decode_image(source: bytes | str | os.PathLike[str] | Image.Image | np.ndarray | None) -> Image.Image:
    """Decode an upload to an upright RGB image, or raise `ImageInputError` with a user-facing message.

    `bytes` are file contents and `str`/`PathLike` are file paths (Gradio's type="filepath"). A PIL image
    is used as given, at its current frame. A numpy array (Gradio's type="numpy") may be H×W or
    H×W×1/3/4, as uint8 or as floats in [0, 1]. `None` is what Gradio passes when nothing was uploaded.
    """
    if source is None:
        raise _error(Message("errors.no_image"))
    if isinstance(source, Image.Image):
        return _finish(source, owned=False)
    if isinstance(source, np.ndarray):
        return _from_array(source)
    if isinstance(source, (str, os.PathLike)):
        source = _read_file(source)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _from_bytes(bytes(source))
    raise _error(Message("errors.input_type", kind=type(source).__name__))


def _error(problem: Message) -> ImageInputError:
    return ImageInputError(Message("errors.accepted", problem=problem, accepted=ACCEPTED_DESCRIPTION))


def _read_file(path: str | os.PathLike[str]) -> bytes:
    """Read at most one byte past the limit, so an oversized file costs no memory and is still rejected."""
    try:
        if not os.path.isfile(path):  # also refuses devices and pipes, which could block or never end
            raise _error(Message("errors.not_found"))
        with open(path, "rb") as file:
            return file.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise _error(Message("errors.unreadable_file")) from exc


def _from_bytes(data: bytes) -> Image.Image:
    """Check the byte size, let PIL identify the format from the allowlist only, then decode."""
    if not data:
        raise _error(Message("errors.empty"))
    if len(data) > MAX_FILE_BYTES:
        raise _error(Message("errors.file_too_large", mb=MAX_FILE_BYTES // 2**20))
    try:
        image = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    except Image.DecompressionBombError as exc:  # PIL's own check, at ~179 megapixels by default
        raise _too_many_pixels(None) from exc
    except Exception as exc:  # usually UnidentifiedImageError, but a hostile header can raise almost anything
        logger.info("upload not identified: %r", exc)
        raise _unreadable(data) from exc
    with image:
        return _finish(image, owned=True, file_bytes=len(data))


def _finish(image: Image.Image, owned: bool, file_bytes: int = 0) -> Image.Image:
    """Check the size and shape from the header, then decode the first frame, turn it upright and make it RGB.

    PIL opens files lazily: `open` reads only the header, and `load` decodes the pixels. That is why the
    limits can be checked here, before any memory is spent on pixels. `owned` is True for an image we opened
    ourselves from a file (`file_bytes` long): its pixels can be handed back without a copy.
    """
    if image.format is not None and image.format not in _DECODED_FORMATS:
        raise _error(Message("errors.format_refused", format=image.format))
    _check_pixels(image.size)
    what = Message("errors.image_of_format", format=_FRIENDLY_NAMES.get(image.format, image.format)) \
        if image.format else Message("errors.image")
    _fit_budget(image, owned, file_bytes)
    moving = image.format in _ANIMATED_FORMATS and _is_animated(image)
    try:
        image.load()
    except MemoryError as exc:
        raise _error(Message("errors.too_large_to_decode")) from exc
    except Exception as exc:  # OSError("image file is truncated"), SyntaxError, ValueError, zlib errors, ...
        logger.info("upload failed to decode: %r", exc)
        raise _error(Message("errors.damaged", what=what)) from exc
    try:
        rgb = rgb_on_white(_upright(image))
    except ValueError as exc:  # e.g. a TIFF in a colour space PIL cannot convert, such as CIELAB
        raise _error(Message("errors.colour_mode", mode=image.mode)) from exc
    if rgb is image:
        # A plain image that shares nothing with the caller's, and does not keep the file's decoder alive. A
        # file we opened has no other user, so it only needs a plain `Image` around its pixels, not a copy
        # (`_new` is how PIL itself wraps pixels; a copy of a 50 MP photo would cost another 200 MB).
        rgb = image._new(image.im) if owned else image.copy()
    if moving:
        rgb.info[ANIMATED] = _FRIENDLY_NAMES.get(image.format, image.format)
    return rgb


def _is_animated(image: Image.Image) -> bool:
    """Whether the file holds more than one frame (PIL looks for a second one and comes back to the first)."""
    try:
        return bool(getattr(image, "is_animated", False))
    except Exception:  # a damaged second frame: the first is still the picture, and `load` judges it
        return False


def animated(image: Image.Image) -> str | None:
    """The format ("GIF", "PNG", "WebP") of the animation `decode_image` took the first frame of, else None."""
    return image.info.get(ANIMATED)


def _check_pixels(size: tuple[int, int]) -> None:
    width, height = size
    if width <= 0 or height <= 0:
        raise _error(Message("errors.no_pixels", width=width, height=height))
    if width * height > MAX_PIXELS:
        raise _too_many_pixels(size)
    if max(width, height) > MAX_ASPECT_RATIO * min(width, height):
        key = "errors.too_wide" if width > height else "errors.too_tall"
        raise _error(Message(key, width=width, height=height, ratio=f"{MAX_ASPECT_RATIO:g}"))


def _fit_budget(image: Image.Image, owned: bool, file_bytes: int = 0) -> None:
    """Keep the decode within `DECODE_BUDGET`: shrink a JPEG's decode (libjpeg scales by 1/2, 1/4 or 1/8
    as it decodes, which costs nothing extra), refuse anything else that would not fit.

    Only files we opened are shrunk: a caller's image is used at the size it has. A progressive JPEG keeps
    its coefficients at full size whatever the scale (`_unscaled_bytes_per_pixel`), so its scale must fit
    the budget next to them. Pillow's WebP decoder also reads its own copy of the file (`file_bytes`).
    """
    width, height = image.size
    per_pixel = _peak_bytes_per_pixel(image)
    unscaled = width * height * _unscaled_bytes_per_pixel(image)
    fixed = file_bytes if image.format == "WEBP" else 0
    if width * height * per_pixel + unscaled + fixed <= DECODE_BUDGET:
        return
    if owned and image.format in ("JPEG", "MPO"):
        scale = next((s for s in (2, 4, 8)
                      if -(-width // s) * -(-height // s) * per_pixel + unscaled <= DECODE_BUDGET), 0)
        if scale and image.draft(image.mode, (width // scale, height // scale)) is not None:
            return  # draft() is None for the rare JPEG libjpeg cannot scale: refused below
    fits = (DECODE_BUDGET - fixed) / (per_pixel + _unscaled_bytes_per_pixel(image)) / 1e6
    raise _error(Message("errors.over_budget", width=width, height=height, because=_costly_because(image),
                         megapixels=f"{width * height / 1e6:.1f}", fits=f"{fits:.1f}"))


def _peak_bytes_per_pixel(image: Image.Image) -> float:
    """Bytes per pixel that decoding, turning upright and converting to RGB hold at once, at most.

    From the header: PIL keeps 1 byte per pixel for 1-bit, grey and palette images, 2 for 16-bit grey and 4
    for everything else (RGB included). Turning a sideways image upright makes a copy. Every mode but RGB
    gets an RGB copy (4), after an RGBA one (4) when transparent; deeper than 8 bits, the costliest moment
    is numpy's copy of the pixels next to their float32 version (source + 4), or that version with two
    masks (4 + 2). On top comes what the format's decoder holds while it works (`_decoder_bytes_per_pixel`).
    benchmarks/memory_bounds.py measures every kind: these are exact to within a few MB.
    """
    source = _CORE_BYTES.get(image.mode, 4)
    rotated = source if _orientation(image) not in (None, 1) else 0
    if image.mode == "RGB":
        conversion = 0
    elif image.mode in _DEEP_MODES:
        conversion = max(source + 4, 6)
    elif image.has_transparency_data and image.mode != "RGBA":
        conversion = 8
    else:
        conversion = 4
    return source + rotated + conversion + _decoder_bytes_per_pixel(image)


def _decoder_bytes_per_pixel(image: Image.Image) -> float:
    """What a format's decoder holds beyond the image, per pixel of the image (measured: BENCHMARKS.md §13).

    WebP: Pillow decodes through libwebp's animation decoder, which holds two canvases and hands over a copy
    of the frame, 4 bytes a pixel each, whatever the file's mode (a 49 MP WebP of 104 KB cost +749 MB).
    TIFF: libtiff decodes a strip (or tile) at a time into a buffer of its own, and a file may keep the
    whole image in one strip (the default when it names no RowsPerStrip).
    """
    if image.format == "WEBP":
        return WEBP_DECODER_BYTES
    if image.format == "TIFF":
        return _tiff_buffer_bytes(image) / max(1, image.width * image.height)
    return 0.0


def _tiff_buffer_bytes(image: Image.Image) -> int:
    """Bytes of the buffer libtiff decodes one strip or tile into, from the file's tags (at least 4 bytes a
    sample row pixel: Pillow decodes some kinds, such as YCbCr, through RGBA)."""
    tags = getattr(image, "tag_v2", {})
    samples = int(tags.get(277, 1) or 1)  # SamplesPerPixel
    bits = tags.get(258, (8,))  # BitsPerSample, one per sample
    depth = max(4, samples * -(-int(max(bits) if isinstance(bits, tuple) else bits) // 8))
    if 322 in tags and 323 in tags:  # TileWidth, TileLength
        return int(tags[322]) * int(tags[323]) * depth
    rows = min(int(tags.get(278, image.height) or image.height), image.height)  # RowsPerStrip
    return rows * image.width * depth


def _unscaled_bytes_per_pixel(image: Image.Image) -> float:
    """Bytes per pixel a decode holds at full size even when libjpeg scales it down: a progressive JPEG's
    coefficients (2 bytes each, one per sample of every component at its own sampling), kept whole until
    the last scan. 6 bytes a pixel for 4:4:4 colour, 3 for 4:2:0."""
    if image.format not in ("JPEG", "MPO") or not image.info.get("progressive"):
        return 0.0
    layers = getattr(image, "layer", None) or [("", 1, 1, 0)] * len(image.getbands())
    h_max = max(layer[1] for layer in layers)
    v_max = max(layer[2] for layer in layers)
    return 2.0 * sum(layer[1] * layer[2] / (h_max * v_max) for layer in layers)


def _costly_because(image: Image.Image) -> Message:
    """Why this image costs more than a plain photo, as words for the message."""
    if image.format == "WEBP":
        return Message("limits.because_format", format="WebP")
    if _unscaled_bytes_per_pixel(image):
        return Message("limits.because_progressive")
    if image.format == "TIFF" and _decoder_bytes_per_pixel(image) >= 1:
        return Message("limits.because_strips")
    if image.has_transparency_data:
        return Message("errors.because_transparency")
    if image.mode in _DEEP_MODES:
        return Message("errors.because_deep")
    if image.mode != "RGB":
        return Message("errors.because_mode", mode=image.mode)
    return Message("errors.because_sideways")


def _orientation(image: Image.Image) -> int | None:
    try:
        return image.getexif().get(ExifTags.Base.Orientation)
    except Exception:  # a broken EXIF block: `_upright` ignores it too
        return None


def _too_many_pixels(size: tuple[int, int] | None) -> ImageInputError:
    limit = f"{MAX_PIXELS / 1e6:g}"
    if size is None:
        return _error(Message("errors.too_many_pixels", limit=limit))
    width, height = size
    return _error(Message("errors.too_many_pixels_size", width=width, height=height,
                          megapixels=f"{width * height / 1e6:.1f}", limit=limit))


def _upright(image: Image.Image) -> Image.Image:
    """Apply the EXIF orientation: phones store photos sideways plus a tag saying how to turn them.

    Upright images are returned as they are, since a copy of a 50-megapixel image costs 200 MB. A broken
    EXIF block costs only the rotation, not the upload (Gradio does the same).
    """
    try:
        if image.getexif().get(ExifTags.Base.Orientation, 1) == 1:
            return image
        return ImageOps.exif_transpose(image)  # a rotated copy; the caller's image is left alone
    except Exception as exc:
        logger.info("ignoring unreadable EXIF orientation: %r", exc)
        return image


def _from_array(array: np.ndarray) -> Image.Image:
    """Accept what Gradio's type="numpy" gives (H×W×3 uint8), and also grey, RGBA and floats in [0, 1]."""
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise ImageInputError(Message("errors.array_shape", shape=array.shape))
    _check_pixels((array.shape[1], array.shape[0]))
    if np.issubdtype(array.dtype, np.floating):
        if not (np.isfinite(array).all() and array.min() >= 0 and array.max() <= 1):
            raise ImageInputError(Message("errors.array_floats"))
        array = np.round(array.astype(np.float32) * 255.0).astype(np.uint8)
    elif array.dtype != np.uint8:
        raise ImageInputError(Message("errors.array_dtype", dtype=array.dtype))
    return rgb_on_white(Image.fromarray(np.ascontiguousarray(array)))


def _unreadable(data: bytes) -> ImageInputError:
    kind = _sniff(data)
    if kind in ("PNG", "JPEG", "GIF", "WebP", "BMP", "TIFF"):
        return _error(Message("errors.looks_like_image", kind=kind))
    return _error(Message("errors.not_an_image_kind", kind=kind) if kind else Message("errors.not_an_image"))


def _sniff(data: bytes) -> str | None:
    """Name the kind of file from its first bytes, only to make the error message helpful."""
    head = data[:1024]
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP"
    if head[4:8] == b"ftyp":
        return _HEIF_BRANDS.get(head[8:12], Message("errors.kind.video"))
    lowered = head.lower()
    if b"<svg" in lowered:
        return "SVG"
    if b"<html" in lowered or b"<!doctype html" in lowered:
        return "HTML"
    if not any(byte < 32 and byte not in _TEXT_CONTROLS for byte in head):
        return "XML" if lowered.lstrip().startswith(b"<?xml") else Message("errors.kind.text")
    if head.startswith(b"BM"):  # after the text test: a text file may well start with "BM"
        return "BMP"
    return None
