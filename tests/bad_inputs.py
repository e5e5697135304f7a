"""Uploads to test `vitdemo.app.uploads.decode_image` with, built in memory so no binaries are committed.

- `bad_input_corpus()`: files the app must refuse with a friendly message (not images, damaged images,
  decompression bombs, oversized files, shapes beyond 10:1).
- `good_odd_input_corpus()`: real but unusual images the app must accept (transparency, CMYK, 16-bit,
  animation, EXIF rotation, shapes at the 10:1 limit).
- `fuzz_seed_corpus()` and the hypothesis strategies: small valid files of every accepted format, and
  their random mutations, for the property test and `benchmarks/fuzz_uploads.py`.

The app tests reuse the first two through the Gradio API, so keep their names and keys stable.
"""

from __future__ import annotations

import functools
import io
import random
import struct
import zlib

import numpy as np
from hypothesis import strategies as st
from PIL import Image

from vitdemo.app.uploads import MAX_FILE_BYTES

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ORIENTATION = 0x0112  # the EXIF tag that says how to turn a sideways-stored photo upright

RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)


def encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    """The bytes of `image` saved as `fmt`, as a browser would upload them."""
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def noise(size: tuple[int, int], mode: str = "RGB", seed: int = 0) -> Image.Image:
    """Random pixels: they compress badly, so the files have real data to truncate or mutate."""
    channels = len(Image.new(mode, (1, 1)).getbands())
    return Image.frombytes(mode, size, np.random.default_rng(seed).bytes(size[0] * size[1] * channels))


def halves(mode: str, size: tuple[int, int], left: object, right: object) -> Image.Image:
    """An image whose left half is one colour and right half another, to check orientation and alpha."""
    image = Image.new(mode, size, right)
    image.paste(left, (0, 0, size[0] // 2, size[1]))
    return image


def png_declaring(width: int, height: int) -> bytes:
    """A ~100-byte PNG whose header declares width × height grey pixels: a decompression bomb.

    Every chunk has a valid CRC, so only a size check rejects it. The data holds one row of zeros and
    stops mid-stream like a cut-off upload, so a decoder that trusts the header allocates the whole
    image and then fails as truncated.
    """
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale, no interlace
    stream = zlib.compressobj()
    row = stream.compress(b"\0" * (width + 1)) + stream.flush(zlib.Z_SYNC_FLUSH)  # filter byte + pixels
    return PNG_SIGNATURE + chunk(b"IHDR", header) + chunk(b"IDAT", row) + chunk(b"IEND", b"")


def bad_input_corpus() -> dict[str, bytes]:
    """Files `decode_image` must refuse with `ImageInputError`: name → file contents."""
    png, jpeg = encode(noise((64, 64)), "PNG"), encode(noise((64, 64)), "JPEG", quality=90)
    gif, webp = encode(noise((64, 64)), "GIF"), encode(noise((64, 64)), "WEBP", quality=80)
    corrupt_png = bytearray(png)
    corrupt_png[16:24] = b"\xde\xad\xbe\xef" * 2  # width and height in IHDR, now with a wrong CRC
    return {
        "not_an_image": b"Dear model, please classify this sentence.\n" * 20,
        "zero_bytes": b"",
        "random_bytes": random.Random(0).randbytes(4096),
        "truncated_png": png[: len(png) // 2],
        "truncated_jpeg": jpeg[: len(jpeg) // 2],
        "truncated_gif": gif[: len(gif) // 2],
        "truncated_webp": webp[: len(webp) // 2],
        "corrupt_png_header": bytes(corrupt_png),
        "svg": b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
               b'<rect width="10" height="10" fill="red"/></svg>\n',
        "html": b"<!DOCTYPE html>\n<html><body><img src=x onerror=alert(1)></body></html>\n",
        "pdf": b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n",
        "eps": b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n",
        "heic": b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(64),
        "decompression_bomb": png_declaring(30_000, 30_000),  # 900 megapixels: PIL's own limit trips
        "over_pixel_limit": png_declaring(8_000, 7_000),  # 56 megapixels: under PIL's limit, over ours
        "zero_width_png": png_declaring(0, 10),
        "oversize_file": PNG_SIGNATURE + bytes(MAX_FILE_BYTES),
        # A few hundred bytes each, but scaling the short side up to the model's input made 1.4–2.4 GB.
        "strip_40000x1": encode(Image.new("L", (40_000, 1), 128), "PNG"),
        "strip_3x20000": encode(Image.new("L", (3, 20_000), 128), "PNG"),
    }


def good_odd_input_corpus() -> dict[str, bytes]:
    """Real but unusual images `decode_image` must accept: name → file contents.

    The colours and sizes are chosen so a test can check the result (see tests/test_uploads.py).
    """
    palette = Image.new("P", (8, 6), 0)
    palette.putpalette([*RED, *GREEN])
    palette.paste(1, (0, 0, 4, 6))  # the left half uses palette entry 1, which is transparent
    sideways = halves("RGB", (40, 20), RED, BLUE)
    exif = Image.Exif()
    exif[ORIENTATION] = 6  # "turn 90° clockwise to view": upright it is 20×40, red on top
    ramp16 = np.tile(np.linspace(0, 65535, 256).round().astype(np.uint16), (32, 1))
    ramp_float = np.tile(np.linspace(0.0, 1.0, 256, dtype=np.float32), (32, 1))
    red, green = Image.new("RGB", (10, 10), RED), Image.new("RGB", (10, 10), GREEN)
    return {
        "rgba_png": encode(halves("RGBA", (8, 6), (0, 0, 0, 0), (*BLUE, 255)), "PNG"),
        "la_png": encode(halves("LA", (8, 6), (0, 0), (0, 255)), "PNG"),
        "palette_transparency_png": encode(palette, "PNG", transparency=1),
        "cmyk_jpeg": encode(Image.new("CMYK", (16, 16), (0, 255, 255, 0)), "JPEG", quality=95),
        "png_16bit": encode(Image.fromarray(ramp16), "PNG"),
        "tiff_float32": encode(Image.fromarray(ramp_float), "TIFF"),
        "animated_gif": encode(red, "GIF", save_all=True, append_images=[green], duration=100, loop=0),
        "animated_webp": encode(red, "WEBP", save_all=True, append_images=[green], duration=100,
                                lossless=True),
        "exif_rotated_jpeg": encode(sideways, "JPEG", exif=exif, quality=95),
        "wide_2000x200": encode(Image.new("RGB", (2000, 200), GREEN), "PNG"),  # 10:1, the widest accepted
        "tall_200x2000": encode(Image.new("RGB", (200, 2000), GREEN), "PNG"),
        "tiny_1x1": encode(Image.new("RGB", (1, 1), RED), "PNG"),
        "bilevel_1bit": encode(halves("1", (8, 6), 0, 1), "PNG"),
        "webp": encode(Image.new("RGB", (32, 32), BLUE), "WEBP", quality=90),
        "bmp": encode(Image.new("RGB", (7, 5), RED), "BMP"),
        "tiff_lzw": encode(Image.new("RGB", (9, 9), GREEN), "TIFF", compression="tiff_lzw"),
        "progressive_jpeg": encode(Image.new("RGB", (33, 17), BLUE), "JPEG", progressive=True),
        "grey_jpeg": encode(Image.new("L", (16, 16), 255), "JPEG"),
    }


@functools.lru_cache(maxsize=1)
def fuzz_seed_corpus() -> dict[str, bytes]:
    """Small valid files of every accepted format and many modes; the fuzzers mutate these.

    Small (≤ 24×16 pixels) so thousands of decodes stay fast; cached because the fuzzers draw from them
    on every example. Callers must not modify the dict.
    """
    size = (24, 16)
    exif = Image.Exif()
    exif[ORIENTATION] = 8
    frames = [noise(size, seed=1), noise(size, seed=2)]
    return {
        "png": encode(noise(size), "PNG"),
        "png_rgba": encode(noise(size, "RGBA"), "PNG"),
        "png_16bit": encode(Image.fromarray(np.arange(384, dtype=np.uint16).reshape(16, 24) * 170), "PNG"),
        "png_palette": encode(noise(size).convert("P"), "PNG", transparency=3),
        "png_interlaced": encode(noise(size), "PNG", interlace=True),
        "jpeg": encode(noise(size), "JPEG", quality=80, exif=exif),
        "jpeg_progressive": encode(noise(size), "JPEG", progressive=True),
        "jpeg_cmyk": encode(noise(size, "CMYK"), "JPEG"),
        "gif_animated": encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=50),
        "webp_lossy": encode(noise(size), "WEBP", quality=70),
        "webp_lossless": encode(noise(size, "RGBA"), "WEBP", lossless=True),
        "webp_animated": encode(frames[0], "WEBP", save_all=True, append_images=frames[1:]),
        "bmp": encode(noise(size), "BMP"),
        "bmp_palette": encode(noise(size).convert("P"), "BMP"),
        "tiff": encode(noise(size), "TIFF"),
        "tiff_lzw": encode(noise(size), "TIFF", compression="tiff_lzw"),
        "tiff_deflate_float": encode(Image.fromarray(np.random.default_rng(0).random((16, 24), np.float32)),
                                     "TIFF", compression="tiff_adobe_deflate"),
        "mpo": encode(frames[0], "MPO", save_all=True, append_images=frames[1:]),
    }


# Values that make header fields (widths, lengths, offsets, counts) extreme when written over them.
_INTERESTING = (b"\xff\xff\xff\xff", b"\x00\x00\x00\x00", b"\x7f\xff\xff\xff", b"\x00\x00\xff\xff",
                b"\x80\x00", b"\x00\x01", b"\xff")
_MUTATIONS = ("flip", "overwrite", "insert", "delete", "truncate")


@st.composite
def mutated_image_bytes(draw: st.DrawFn) -> bytes:
    """A valid seed file with 1–6 random byte mutations, biased towards the header.

    Headers are where sizes, offsets and lengths live, and a lie there is what crashes or hangs decoders;
    so half the positions are in the first 64 bytes.
    """
    seeds = fuzz_seed_corpus()
    data = bytearray(seeds[draw(st.sampled_from(sorted(seeds)))])
    for _ in range(draw(st.integers(1, 6))):
        if not data:
            break
        at = draw(st.one_of(st.integers(0, 63), st.integers(0, len(data) - 1))) % len(data)
        operation = draw(st.sampled_from(_MUTATIONS))
        if operation == "flip":
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif operation == "overwrite":
            value = draw(st.sampled_from(_INTERESTING))
            data[at:at + len(value)] = value
        elif operation == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif operation == "delete":
            del data[at:at + draw(st.integers(1, 16))]
        else:
            del data[max(at, 1):]  # keep a byte: the empty file is in bad_input_corpus already
    return bytes(data)


def magic_then_noise() -> st.SearchStrategy[bytes]:
    """An accepted format's signature followed by random bytes: gets past identification into parsing."""
    magics = (PNG_SIGNATURE, b"\xff\xd8\xff\xe0", b"GIF89a", b"RIFF\x00\x01\x00\x00WEBPVP8 ", b"BM",
              b"II*\x00", b"MM\x00*")
    return st.builds(lambda magic, rest: magic + rest, st.sampled_from(magics), st.binary(max_size=512))


def fuzz_uploads() -> st.SearchStrategy[bytes]:
    """Everything the fuzzers try: random bytes, signatures plus noise, and mutated real images."""
    return st.one_of(st.binary(min_size=1, max_size=2048), magic_then_noise(), mutated_image_bytes())
