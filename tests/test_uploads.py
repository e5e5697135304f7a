"""The upload path: hostile or broken files get a friendly `ImageInputError`, odd real images decode right.

The property tests feed random and mutated files and check the one contract the app relies on: an RGB
image or an `ImageInputError`, nothing else, and quickly. `benchmarks/fuzz_uploads.py` runs the same
check for longer.
"""

from __future__ import annotations

import io
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from bad_inputs import (
    BLUE,
    GREEN,
    RED,
    bad_input_corpus,
    encode,
    good_odd_input_corpus,
    magic_then_noise,
    mutated_image_bytes,
    png_declaring,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageFile

from vitdemo.app.uploads import (
    ACCEPTED_DESCRIPTION,
    ACCEPTED_FORMATS,
    MAX_FILE_BYTES,
    MAX_PIXELS,
    ImageInputError,
    decode_image,
)
from vitdemo.preprocessing import MAX_ASPECT_RATIO

# PIL warns, without failing, about headers over ~89 megapixels (which we reject ourselves) and about
# the damage in mutated files (broken EXIF blocks, malformed MPO indexes) that it works around.
pytestmark = [pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning"),
              pytest.mark.filterwarnings("ignore::UserWarning:PIL")]

WHITE, BLACK = (255, 255, 255), (0, 0, 0)
SECONDS_PER_DECODE = 2.0

# Words the message for each bad input must contain, so the user learns what was wrong.
BAD_INPUT_WORDS = {
    "not_an_image": ["not an image", "text"],
    "zero_bytes": ["empty"],
    "random_bytes": ["not an image"],
    "truncated_png": ["PNG", "damaged"],
    "truncated_jpeg": ["JPEG", "damaged"],
    "truncated_gif": ["GIF", "damaged"],
    "truncated_webp": ["WebP", "damaged"],
    "corrupt_png_header": ["PNG", "damaged"],
    "svg": ["not an image", "SVG"],
    "html": ["not an image", "HTML"],
    "pdf": ["not an image", "PDF"],
    "eps": ["not an image", "PostScript"],
    "heic": ["not an image", "HEIC"],
    "decompression_bomb": ["too large", "megapixels"],
    "over_pixel_limit": ["too large", "8000×7000", "megapixels"],
    "zero_width_png": ["PNG", "damaged"],
    "oversize_file": ["too large", "MB"],
    "strip_40000x1": ["40000×1", "more than 10 times as wide as it is tall", "at most 10:1 wide or tall",
                      "Upload a narrower part of it"],
    "strip_3x20000": ["3×20000", "more than 10 times as tall as it is wide", "at most 10:1 wide or tall",
                      "Upload a shorter part of it"],
}

# name → (upright size, [(pixel, colour)], tolerance): what each odd image must decode to.
GOOD_ODD_EXPECTED = {
    "rgba_png": ((8, 6), [((0, 0), WHITE), ((7, 5), BLUE)], 0),
    "la_png": ((8, 6), [((0, 0), WHITE), ((7, 5), BLACK)], 0),
    "palette_transparency_png": ((8, 6), [((0, 0), WHITE), ((7, 5), RED)], 0),
    "cmyk_jpeg": ((16, 16), [((8, 8), RED)], 12),
    "png_16bit": ((256, 32), [((0, 0), BLACK), ((128, 31), (128, 128, 128)), ((255, 0), WHITE)], 1),
    "tiff_float32": ((256, 32), [((0, 0), BLACK), ((128, 31), (128, 128, 128)), ((255, 0), WHITE)], 1),
    "animated_gif": ((10, 10), [((5, 5), RED)], 0),
    "animated_webp": ((10, 10), [((5, 5), RED)], 0),
    "exif_rotated_jpeg": ((20, 40), [((10, 5), RED), ((10, 35), BLUE)], 12),
    "wide_2000x200": ((2000, 200), [((1999, 199), GREEN)], 0),
    "tall_200x2000": ((200, 2000), [((199, 1999), GREEN)], 0),
    "tiny_1x1": ((1, 1), [((0, 0), RED)], 0),
    "bilevel_1bit": ((8, 6), [((0, 0), BLACK), ((7, 5), WHITE)], 0),
    "webp": ((32, 32), [((16, 16), BLUE)], 12),
    "bmp": ((7, 5), [((3, 2), RED)], 0),
    "tiff_lzw": ((9, 9), [((4, 4), GREEN)], 0),
    "progressive_jpeg": ((33, 17), [((16, 8), BLUE)], 12),
    "grey_jpeg": ((16, 16), [((8, 8), WHITE)], 2),
}


def assert_friendly(error: ImageInputError, *words: str) -> None:
    """Short, plain, says what is accepted, and names the problem."""
    message = str(error)
    assert len(message) < 300 and "\n" not in message and "Traceback" not in message, message
    for word in words:
        assert word.lower() in message.lower(), (word, message)


@pytest.mark.parametrize("name", sorted(bad_input_corpus()))
def test_bad_input_is_refused_with_a_helpful_message(name: str) -> None:
    with pytest.raises(ImageInputError) as caught:
        decode_image(bad_input_corpus()[name])
    assert_friendly(caught.value, "Accepted: PNG, JPEG", *BAD_INPUT_WORDS[name])


def test_every_bad_input_has_expected_words() -> None:
    assert set(BAD_INPUT_WORDS) == set(bad_input_corpus())


@pytest.mark.parametrize("name", sorted(good_odd_input_corpus()))
def test_odd_real_image_decodes_upright_rgb(name: str) -> None:
    size, probes, tolerance = GOOD_ODD_EXPECTED[name]
    image = decode_image(good_odd_input_corpus()[name])
    assert type(image) is Image.Image and image.mode == "RGB"
    assert image.size == size
    for xy, colour in probes:
        assert np.abs(np.subtract(image.getpixel(xy), colour)).max() <= tolerance, (xy, image.getpixel(xy))


def test_every_odd_image_has_expectations() -> None:
    assert set(GOOD_ODD_EXPECTED) == set(good_odd_input_corpus())


def test_pixel_limit_is_checked_from_the_header_before_decoding() -> None:
    # Exactly at the limit passes the size check, then fails as truncated (the file has one row).
    width = 10_000
    with pytest.raises(ImageInputError) as at_limit:
        decode_image(png_declaring(width, MAX_PIXELS // width))
    assert_friendly(at_limit.value, "damaged")
    with pytest.raises(ImageInputError) as over:
        decode_image(png_declaring(width, MAX_PIXELS // width + 1))
    assert_friendly(over.value, "too large")


def test_file_size_limit_applies_to_bytes_and_paths(tmp_path: Path) -> None:
    padded = encode(Image.new("RGB", (4, 4), RED), "BMP") + bytes(MAX_FILE_BYTES)
    path = tmp_path / "huge.bmp"
    path.write_bytes(padded)
    for source in (padded, path, str(path)):
        with pytest.raises(ImageInputError) as caught:
            decode_image(source)
        assert_friendly(caught.value, "too large", f"{MAX_FILE_BYTES // 2**20} MB")


def test_paths_are_decoded_by_content_not_extension(tmp_path: Path) -> None:
    path = tmp_path / "photo.gif"  # a PNG with the wrong extension
    path.write_bytes(good_odd_input_corpus()["tiny_1x1"])
    assert decode_image(path).getpixel((0, 0)) == RED
    svg = tmp_path / "drawing.png"
    svg.write_bytes(bad_input_corpus()["svg"])
    with pytest.raises(ImageInputError, match="SVG"):
        decode_image(str(svg))


@pytest.mark.parametrize("where", ["missing.png", "."])
def test_missing_file_or_directory_is_refused(tmp_path: Path, where: str) -> None:
    with pytest.raises(ImageInputError, match="could not be found"):
        decode_image(tmp_path / where)


def test_nothing_uploaded_or_wrong_type_is_refused() -> None:
    with pytest.raises(ImageInputError, match="No image"):
        decode_image(None)
    with pytest.raises(ImageInputError, match="Unsupported input type"):
        decode_image({"path": "x.png"})  # type: ignore[arg-type]


def test_pil_image_is_converted_without_changing_the_callers_image() -> None:
    rgba = Image.new("RGBA", (3, 2), (0, 0, 0, 0))
    out = decode_image(rgba)
    assert out.mode == "RGB" and out.getpixel((0, 0)) == WHITE
    assert rgba.mode == "RGBA" and out is not rgba
    rgb = Image.new("RGB", (3, 2), RED)
    assert decode_image(rgb) is not rgb  # a copy: the app may draw on it without changing the caller's


def test_pil_image_of_a_format_outside_the_allowlist_is_refused() -> None:
    ppm = Image.open(io.BytesIO(encode(Image.new("RGB", (2, 2)), "PPM")))
    with pytest.raises(ImageInputError, match="PPM images are not accepted"):
        decode_image(ppm)


def test_deep_grey_pil_modes_are_scaled_not_clipped() -> None:
    int_image = Image.fromarray(np.array([[0, 30000, 65535]], dtype=np.int32))  # mode I, 16-bit data
    assert [decode_image(int_image).getpixel((x, 0))[0] for x in range(3)] == [0, 117, 255]
    signed = Image.fromarray(np.array([[-5.0, 0.0, 5.0]], dtype=np.float32))  # mode F, no white level
    assert [decode_image(signed).getpixel((x, 0))[0] for x in range(3)] == [0, 128, 255]


@pytest.mark.parametrize(
    ("array", "colour"),
    [
        (np.full((4, 5), 255, np.uint8), WHITE),
        (np.full((4, 5, 1), 0, np.uint8), BLACK),
        (np.full((4, 5, 3), (255, 0, 0), np.uint8), RED),
        (np.zeros((4, 5, 4), np.uint8), WHITE),  # fully transparent → white
        (np.full((4, 5, 3), (0.0, 0.0, 1.0), np.float32), BLUE),
        (np.ones((4, 5), np.float64), WHITE),
    ],
)
def test_numpy_arrays_like_gradio_gives(array: np.ndarray, colour: tuple[int, int, int]) -> None:
    image = decode_image(array)
    assert image.mode == "RGB" and image.size == (5, 4) and image.getpixel((2, 2)) == colour


@pytest.mark.parametrize(
    ("array", "words"),
    [
        (np.zeros((4, 5, 2), np.uint8), ["shape (4, 5, 2)", "channels"]),
        (np.zeros((2, 4, 5, 3), np.uint8), ["shape"]),
        (np.zeros(7, np.uint8), ["shape"]),
        (np.zeros((0, 5, 3), np.uint8), ["no pixels"]),
        (np.zeros((4, 5), np.int64), ["dtype int64", "uint8"]),
        (np.full((4, 5), 1.5), ["floats outside 0–1"]),
        (np.full((4, 5), np.nan), ["floats outside 0–1"]),
    ],
)
def test_numpy_arrays_of_the_wrong_shape_or_type_are_refused(array: np.ndarray, words: list[str]) -> None:
    with pytest.raises(ImageInputError) as caught:
        decode_image(array)
    assert_friendly(caught.value, *words)


def test_global_pil_state_is_left_alone() -> None:
    before = Image.MAX_IMAGE_PIXELS
    for data in bad_input_corpus().values():
        with pytest.raises(ImageInputError):
            decode_image(data)
    assert before == Image.MAX_IMAGE_PIXELS
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False  # truncated files must fail, not decode half grey


def test_accepted_description_matches_the_limits() -> None:
    assert f"{MAX_FILE_BYTES // 2**20} MB" in ACCEPTED_DESCRIPTION
    assert f"{MAX_PIXELS / 1e6:g} megapixels" in ACCEPTED_DESCRIPTION
    assert f"at most {MAX_ASPECT_RATIO:g}:1 wide or tall" in ACCEPTED_DESCRIPTION
    assert set(ACCEPTED_FORMATS) == {"PNG", "JPEG", "GIF", "WEBP", "BMP", "TIFF"}


def decodes_cleanly(data: bytes) -> None:
    """The contract: an RGB PIL image or a friendly ImageInputError, within the time bound."""
    start = time.perf_counter()
    try:
        image = decode_image(data)
    except ImageInputError as error:
        assert_friendly(error, "Accepted")
    else:
        assert type(image) is Image.Image and image.mode == "RGB"
        assert 0 < image.width * image.height <= MAX_PIXELS
    assert time.perf_counter() - start < SECONDS_PER_DECODE


FUZZ = settings(deadline=timedelta(seconds=SECONDS_PER_DECODE), suppress_health_check=[HealthCheck.too_slow])


@settings(FUZZ, max_examples=150)
@given(mutated_image_bytes())
def test_mutated_images_decode_or_fail_cleanly(data: bytes) -> None:
    decodes_cleanly(data)


@settings(FUZZ, max_examples=50)
@given(st.one_of(st.binary(max_size=2048), magic_then_noise()))
def test_random_bytes_decode_or_fail_cleanly(data: bytes) -> None:
    decodes_cleanly(data)
