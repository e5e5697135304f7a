"""Uploaded file → upright RGB image, or a short message saying what was wrong and what is accepted.

The app is public, so strangers upload anything: SVGs, PDFs, half-sent phone photos, decompression bombs.
Everything goes through `decode_image`, which returns a plain RGB `PIL.Image.Image` or raises
`ImageInputError`, whose message is written for that person (the app shows it with `gr.Error`).

Three rules keep this safe:
- the format is chosen by content from a short allowlist, so PIL never reaches its riskier plugins
  (EPS, for one, runs Ghostscript);
- sizes are checked before any pixels are decoded: bytes first, then width × height from the header;
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

# Phone photos are 2–15 MB; pass MAX_FILE_BYTES to Gradio's max_file_size too, so it refuses bigger uploads
# before they are even saved.
MAX_FILE_BYTES = 20 * 1024 * 1024
# Enough for 48- and 50-megapixel phone cameras (8160×6120 is 49.9); decoding that costs ~0.3–0.6 GB and
# ~1 s at worst. The model only sees ~224×224 anyway.
MAX_PIXELS = 50_000_000
ACCEPTED_FORMATS = ("PNG", "JPEG", "GIF", "WEBP", "BMP", "TIFF")  # PIL's plugin names, tried in this order
ACCEPTED_DESCRIPTION = (f"PNG, JPEG, GIF, WebP, BMP or TIFF, up to {MAX_FILE_BYTES // 2**20} MB "
                        f"and {MAX_PIXELS / 1e6:g} megapixels")

_DECODED_FORMATS = {*ACCEPTED_FORMATS, "MPO"}  # PIL's JPEG plugin labels multi-picture camera JPEGs "MPO"
_FRIENDLY_NAMES = {"WEBP": "WebP", "MPO": "JPEG"}
_WHITE = (255, 255, 255)
_TEXT_CONTROLS = frozenset(b"\t\n\r\f")
_MAGIC = (  # checked in order, on the first bytes only: just enough to name what the user sent
    (b"\x89PNG", "PNG"), (b"\xff\xd8\xff", "JPEG"), (b"GIF8", "GIF"), (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"), (b"%PDF", "PDF"), (b"%!PS", "PostScript"), (b"\xc5\xd0\xd3\xc6", "PostScript"),
    (b"8BPS", "a Photoshop file"), (b"PK\x03\x04", "a ZIP archive"), (b"\x1f\x8b", "a gzip archive"),
)
_HEIF_BRANDS = {b"heic": "HEIC", b"heix": "HEIC", b"hevc": "HEIC", b"mif1": "HEIC", b"msf1": "HEIC",
                b"avif": "AVIF", b"avis": "AVIF"}

logger = logging.getLogger(__name__)


class ImageInputError(ValueError):
    """An input we will not decode. The message is meant for the person who uploaded it."""


def decode_image(source: bytes | str | os.PathLike[str] | Image.Image | np.ndarray | None) -> Image.Image:
    """Decode an upload to an upright RGB image, or raise `ImageInputError` with a user-facing message.

    `bytes` are file contents and `str`/`PathLike` are file paths (Gradio's type="filepath"). A PIL image
    is used as given, at its current frame. A numpy array (Gradio's type="numpy") may be H×W or
    H×W×1/3/4, as uint8 or as floats in [0, 1]. `None` is what Gradio passes when nothing was uploaded.
    """
    if source is None:
        raise _error("No image was received.")
    if isinstance(source, Image.Image):
        return _finish(source)
    if isinstance(source, np.ndarray):
        return _from_array(source)
    if isinstance(source, (str, os.PathLike)):
        source = _read_file(source)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _from_bytes(bytes(source))
    raise _error(f"Unsupported input type ({type(source).__name__}).")


def _error(problem: str) -> ImageInputError:
    return ImageInputError(f"{problem} Accepted: {ACCEPTED_DESCRIPTION}.")


def _read_file(path: str | os.PathLike[str]) -> bytes:
    """Read at most one byte past the limit, so an oversized file costs no memory and is still rejected."""
    try:
        if not os.path.isfile(path):  # also refuses devices and pipes, which could block or never end
            raise _error("The uploaded file could not be found.")
        with open(path, "rb") as file:
            return file.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise _error("The uploaded file could not be read.") from exc


def _from_bytes(data: bytes) -> Image.Image:
    """Check the byte size, let PIL identify the format from the allowlist only, then decode."""
    if not data:
        raise _error("The file is empty (0 bytes).")
    if len(data) > MAX_FILE_BYTES:
        raise _error(f"The file is too large (over the {MAX_FILE_BYTES // 2**20} MB limit).")
    try:
        image = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    except Image.DecompressionBombError as exc:  # PIL's own check, at ~179 megapixels by default
        raise _too_many_pixels(None) from exc
    except Exception as exc:  # usually UnidentifiedImageError, but a hostile header can raise almost anything
        logger.info("upload not identified: %r", exc)
        raise _unreadable(data) from exc
    with image:
        return _finish(image)


def _finish(image: Image.Image) -> Image.Image:
    """Check the size from the header, then decode the first frame, turn it upright and make it RGB.

    PIL opens files lazily: `open` reads only the header, and `load` decodes the pixels. That is why the
    pixel limit can be checked here, before any memory is spent on pixels.
    """
    if image.format is not None and image.format not in _DECODED_FORMATS:
        raise _error(f"{image.format} images are not accepted.")
    _check_pixels(image.size)
    what = f"{_FRIENDLY_NAMES.get(image.format, image.format)} image" if image.format else "image"
    try:
        image.load()
    except MemoryError as exc:
        raise _error("This image is too large to decode.") from exc
    except Exception as exc:  # OSError("image file is truncated"), SyntaxError, ValueError, zlib errors, ...
        logger.info("upload failed to decode: %r", exc)
        raise _error(f"This {what} is damaged or incomplete, so it could not be decoded.") from exc
    try:
        rgb = _to_rgb(_upright(image))
    except ValueError as exc:  # e.g. a TIFF in a colour space PIL cannot convert, such as CIELAB
        raise _error(f"This image's colour mode ({image.mode}) is not supported.") from exc
    # A plain image that shares nothing with the caller's, and does not keep the file's decoder alive.
    return rgb.copy() if rgb is image else rgb


def _check_pixels(size: tuple[int, int]) -> None:
    width, height = size
    if width <= 0 or height <= 0:
        raise _error(f"This image has no pixels ({width}×{height}).")
    if width * height > MAX_PIXELS:
        raise _too_many_pixels(size)


def _too_many_pixels(size: tuple[int, int] | None) -> ImageInputError:
    limit = f"the limit is {MAX_PIXELS / 1e6:g} megapixels"
    if size is None:
        return _error(f"This image is too large ({limit}). Please downscale it.")
    width, height = size
    return _error(f"This image is too large: {width}×{height} pixels is {width * height / 1e6:.1f} "
                  f"megapixels, and {limit}. Please downscale it.")


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


def _to_rgb(image: Image.Image) -> Image.Image:
    """Make one RGB image from any mode: deep greys are scaled, and transparency is flattened onto white.

    White, because a transparent logo or drawing usually sits on a white page. PIL's plain
    `convert("RGB")` would drop the alpha channel and show whatever colour the hidden pixels happen
    to hold (often black).
    """
    if image.mode in ("I", "F") or image.mode.startswith("I;16"):
        image = _to_8bit_grey(image)
    if image.has_transparency_data:  # RGBA, LA, PA, and palettes or greys with a transparent colour
        rgba = image if image.mode == "RGBA" else image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, _WHITE)
        flat.paste(rgba, mask=rgba)  # blends by alpha, like compositing over white, with one buffer less
        return flat
    return image if image.mode == "RGB" else image.convert("RGB")


def _to_8bit_grey(image: Image.Image) -> Image.Image:
    """Scale 16-bit, 32-bit integer or float greyscale to 8 bits, instead of clipping it.

    PIL's `convert("L")` clips, so a 16-bit scan would come out almost all white. The I;16 modes have a
    known white level (65535). Modes I and F carry none, so we use the smallest usual one that covers the
    data (1.0 for normalised floats, then 255, then 65535). Data with negative values, or values beyond
    16 bits, is stretched from its own minimum to its maximum.
    """
    values = np.asarray(image).astype(np.float32)
    values[~np.isfinite(values)] = 0.0
    black, white = (0.0, 65535.0) if image.mode.startswith("I;16") else _levels(values)
    values -= black
    values *= 255.0 / max(white - black, 1e-12)
    np.clip(np.round(values, out=values), 0, 255, out=values)
    return Image.fromarray(values.astype(np.uint8))


def _levels(values: np.ndarray) -> tuple[float, float]:
    low, high = float(values.min()), float(values.max())
    if low >= 0:
        for white in (1.0, 255.0, 65535.0):
            if high <= white:
                return 0.0, white
    return low, high


def _from_array(array: np.ndarray) -> Image.Image:
    """Accept what Gradio's type="numpy" gives (H×W×3 uint8), and also grey, RGBA and floats in [0, 1]."""
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise ImageInputError(f"The image array has shape {array.shape}; expected height×width, "
                              "or height×width×channels with 1, 3 or 4 channels.")
    _check_pixels((array.shape[1], array.shape[0]))
    if np.issubdtype(array.dtype, np.floating):
        if not (np.isfinite(array).all() and array.min() >= 0 and array.max() <= 1):
            raise ImageInputError("The image array holds floats outside 0–1; expected uint8 (0–255) "
                                  "or floats in [0, 1].")
        array = np.round(array.astype(np.float32) * 255.0).astype(np.uint8)
    elif array.dtype != np.uint8:
        raise ImageInputError(f"The image array has dtype {array.dtype}; expected uint8 (0–255) "
                              "or floats in [0, 1].")
    return _to_rgb(Image.fromarray(np.ascontiguousarray(array)))


def _unreadable(data: bytes) -> ImageInputError:
    kind = _sniff(data)
    if kind in ("PNG", "JPEG", "GIF", "WebP", "BMP", "TIFF"):
        return _error(f"This file looks like a {kind} image, but it is damaged or uses a variant we cannot read.")
    looks = f" (it looks like {kind})" if kind else ""
    return _error(f"This file is not an image we can read{looks}.")


def _sniff(data: bytes) -> str | None:
    """Name the kind of file from its first bytes, only to make the error message helpful."""
    head = data[:1024]
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP"
    if head[4:8] == b"ftyp":
        return _HEIF_BRANDS.get(head[8:12], "a video")
    lowered = head.lower()
    if b"<svg" in lowered:
        return "SVG"
    if b"<html" in lowered or b"<!doctype html" in lowered:
        return "HTML"
    if not any(byte < 32 and byte not in _TEXT_CONTROLS for byte in head):
        return "XML" if lowered.lstrip().startswith(b"<?xml") else "text"
    if head.startswith(b"BM"):  # after the text test: a text file may well start with "BM"
        return "BMP"
    return None
