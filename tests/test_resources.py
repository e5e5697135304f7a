"""Resource bounds for a public server: no accepted upload costs more than 300 MB, and no shape blows up.

The peak-memory checks run each upload in a fresh process (benchmarks/memory_bounds.py, whose table is in
BENCHMARKS.md) and read the kernel's own peak (VmHWM, reset through /proc/self/clear_refs), so they measure
what the server pays, not what Python's allocator happens to have free. The other tests pin down the
mechanisms behind the bound: the shape limit, the decode budget, the model view's crop and the digest.
"""

from __future__ import annotations

import hashlib
import math
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from bad_inputs import encode, halves, png_declaring
from PIL import Image

from vitdemo.app import uploads
from vitdemo.app.cache import image_digest
from vitdemo.app.i18n import localized
from vitdemo.app.uploads import ImageInputError, decode_image
from vitdemo.config import Preprocessing, ViTConfig
from vitdemo.preprocessing import MAX_ASPECT_RATIO, MAX_KEEP_ASPECT, model_view

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import memory_bounds  # noqa: E402

PEAK_LIMIT_MB = 300
RED, BLUE = (255, 0, 0), (0, 0, 255)

# What each tested upload must become: the size decode_image returns, or None where it must be refused.
# Worked out by hand: a 10:1 shape at 50 MP is 22360×2236; the 50 MP photo decodes whole (4 bytes per
# pixel fit the budget); stored sideways it needs 8, so libjpeg decodes it at half size, then it is turned.
EXPECTED_OUTCOME = {
    "10:1 at 50 MP, JPEG": "decoded at 22360×2236",
    "50 MP photo (8160×6120), JPEG": "decoded at 8160×6120",
    "50 MP photo stored sideways (EXIF 6), JPEG": "decoded at 3060×4080",
    "largest float32 grey accepted, TIFF": "decoded at 5460×4095",
    "40000×1 strip, PNG (refused)": "refused: This image is 40000×1 pixels",
}


def old_model_view(image: Image.Image, config: ViTConfig, patch_size: int, keep_aspect: bool) -> Image.Image:
    """`model_view` without the aspect limit (b88e1fe, with 7a3503f's exact timm resize), the reference for
    unchanged pixels."""
    resample = {"bicubic": Image.BICUBIC, "bilinear": Image.BILINEAR}[config.preprocessing.interpolation]
    size = max(patch_size, round(config.image_size / patch_size) * patch_size)
    pre = config.preprocessing
    image = image.convert("RGB")
    w, h = image.size

    def crop(im: Image.Image, width: int, height: int) -> Image.Image:
        left, top = int(round((im.width - width) / 2.0)), int(round((im.height - height) / 2.0))
        return im.crop((left, top, left + width, top + height))

    def whole(length: float) -> int:
        return max(patch_size, int(length // patch_size) * patch_size)

    if keep_aspect:
        scale = size / min(w, h)
        out_w, out_h = whole(min(w * scale, size * MAX_KEEP_ASPECT)), whole(min(h * scale, size * MAX_KEEP_ASPECT))
        return crop(image.resize((max(out_w, round(w * scale)), max(out_h, round(h * scale))), resample),
                    out_w, out_h)
    if pre.squash:
        side = int(size / pre.crop_pct)
        return crop(image.resize((side, side), resample), size, size)
    # timm's eval transform as torchvision computes it (exact since 7a3503f): the short side to
    # floor(size / crop_pct), the long side truncated, not rounded.
    short = math.floor(size / pre.crop_pct)
    new_w, new_h = (short, int(short * h / w)) if w <= h else (int(short * w / h), short)
    return crop(image.resize((max(size, new_w), max(size, new_h)), resample), size, size)


def noise(size: tuple[int, int], seed: int = 0) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


TIMM_LIKE = ViTConfig(preprocessing=Preprocessing(crop_pct=0.875, interpolation="bicubic"))
TRANSFORMERS_LIKE = ViTConfig(preprocessing=Preprocessing(interpolation="bilinear", squash=True))
SMALL = ViTConfig(image_size=96)


# -- peak memory, in fresh processes -------------------------------------------------------------------


@pytest.fixture(scope="module")
def peak_resettable() -> None:
    if not memory_bounds.peak_resettable():
        pytest.skip("this kernel does not let a process reset its peak memory (/proc/self/clear_refs)")


@pytest.mark.slow
@pytest.mark.parametrize("case", memory_bounds.TESTED, ids=lambda case: case.name)
def test_no_upload_raises_peak_memory_by_more_than_300_mb(peak_resettable, tmp_path, case):
    path = memory_bounds.write_case(case, tmp_path)
    assert path.stat().st_size > uploads.MAX_FILE_BYTES - 2**20  # the whole file is held while decoding
    result = memory_bounds.measure("bundled", path)
    assert result["outcome"].startswith(EXPECTED_OUTCOME[case.name]), result
    assert result["growth_mb"] <= PEAK_LIMIT_MB, result
    if result["outcome"].startswith("refused"):  # refused from the header: the file, and nothing else
        assert result["growth_mb"] <= path.stat().st_size / 2**20 + 10, result


# Every other accepted format at the most pixels its estimate lets through (issue 21: a 49 MP WebP of 104 KB
# cost +749 MB). Sizes worked out by hand from the budget (256 MiB) and the measured bytes per pixel:
# WebP 16 (4 for the image, 12 for libwebp's two canvases and the frame it hands over) plus the file's copy
# (20 MiB), so (256 - 20) MiB / 16 = 15.47 MP, 4540×3405 at 4:3; with alpha 20, 12.37 MP, 4060×3045; a
# transparent GIF 9, 6304×4728; an RLE BMP of 50 MP 5; a TIFF in one strip 8 (4 + a strip buffer of 4 per
# pixel), 6688×5016; a progressive 4:4:4 JPEG keeps 6 bytes of coefficients per pixel at full size, so at
# 7148×5361 only a half-size decode (1 byte per full-size pixel more) fits; 4:2:0 keeps 3.
PER_FORMAT_OUTCOME = {
    "49 MP WebP (7000×7000, the attack's file; refused)": "refused: This image is too large: 7000×7000 pixels "
                                                          "as WebP is 49.0 megapixels",
    "largest WebP accepted": "decoded at 4540×3405",
    "largest lossless WebP with alpha accepted": "decoded at 4060×3045",
    "largest GIF with transparency accepted": "decoded at 6304×4728",
    "50 MP BMP, RLE-compressed palette": "decoded at 8160×6120",
    "largest 24-bit BMP under 20 MB": "decoded at 3040×2290",
    "largest TIFF in one strip accepted": "decoded at 6688×5016",
    "largest progressive JPEG accepted, 4:4:4": "decoded at 3574×2681",
    "50 MP progressive JPEG, 4:2:0": "decoded at 4080×3060",
}


@pytest.mark.slow
@pytest.mark.parametrize("case", memory_bounds.PER_FORMAT, ids=lambda case: case.name)
def test_no_upload_of_any_format_raises_peak_memory_by_more_than_300_mb(peak_resettable, tmp_path, case):
    path = memory_bounds.write_case(case, tmp_path)
    result = memory_bounds.measure("bundled", path)
    assert result["outcome"].startswith(PER_FORMAT_OUTCOME[case.name]), result
    assert result["growth_mb"] <= PEAK_LIMIT_MB, result


def test_every_accepted_format_has_a_per_format_case():
    formats = {case.fmt.split("-")[0] for case in (*memory_bounds.TESTED, *memory_bounds.PER_FORMAT)}
    assert formats == set(uploads.ACCEPTED_FORMATS)
    assert set(PER_FORMAT_OUTCOME) == {case.name for case in memory_bounds.PER_FORMAT}


def test_the_tested_cases_are_the_worst_ones():
    """The test runs five of the benchmark's cases; these are the largest shapes and the costliest mode."""
    names = {case.name for case in memory_bounds.TESTED}
    assert names == set(EXPECTED_OUTCOME)
    widest = next(c for c in memory_bounds.TESTED if c.name.startswith("10:1"))
    assert max(widest.size) == MAX_ASPECT_RATIO * min(widest.size)
    assert widest.size[0] * widest.size[1] <= uploads.MAX_PIXELS < (widest.size[0] + 10) * (widest.size[1] + 1)
    per_pixel = {case.name: uploads._peak_bytes_per_pixel(Image.new(case.mode, (1, 1))) for case in memory_bounds.CASES
                 if case.orientation == 1 and case.transparency is None}
    assert per_pixel["largest float32 grey accepted, TIFF"] == max(per_pixel.values())


def test_library_model_view_of_a_strip_allocates_little(peak_resettable):
    """`vitdemo.model_view` on a 5000×1 strip once made a 1,280,000×256 image (1.3 GB) to return 224×224."""
    code = textwrap.dedent("""
        from PIL import Image
        from vitdemo.config import Preprocessing, ViTConfig
        from vitdemo.preprocessing import model_view

        def status(field):
            return next(int(l.split()[1]) / 1024 for l in open("/proc/self/status") if l.startswith(field))

        config = ViTConfig(preprocessing=Preprocessing(crop_pct=0.875))
        strip = Image.new("RGB", (5000, 1), (9, 99, 199))
        model_view(Image.new("RGB", (300, 200)), config)
        before = status("VmRSS")
        open("/proc/self/clear_refs", "w").write("5")
        for keep_aspect in (False, True):
            view = model_view(strip, config, keep_aspect=keep_aspect)
        print(status("VmHWM") - before, view.size)
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    growth, size = done.stdout.split(maxsplit=1)
    assert float(growth) < 20 and size.strip() == "(672, 224)"  # keep-aspect: 3:1 of whole 16 px patches


# -- the shape limit and the decode budget --------------------------------------------------------------


@pytest.mark.parametrize("size", [(40_000, 1), (3, 20_000), (2001, 200), (200, 2001)])
def test_shapes_beyond_10_to_1_are_refused_from_the_header(size):
    # The file declares the size and then breaks off: decoding it would fail as "damaged".
    # One limit, named twice from one constant (MAX_ASPECT_RATIO), and what to do: the app has no crop tool.
    said = r"more than 10 times as .*\. Upload a (narrower|shorter) part of it, cut out in any photo editor.* " \
           r"Accepted: .* 10:1 wide or tall"
    with pytest.raises(ImageInputError, match=said) as refused:
        decode_image(png_declaring(*size))
    assert "crop" not in str(refused.value)
    chinese = localized(refused.value.args[0], "zh-CN")
    assert "10 倍" in chinese and "一部分（用任何图片编辑器都能截取）" in chinese and "裁" not in chinese, chinese


@pytest.mark.parametrize("size", [(2000, 200), (200, 2000)])
def test_exactly_10_to_1_passes_the_shape_check(size):
    with pytest.raises(ImageInputError, match="damaged"):  # passed every check before the pixels
        decode_image(png_declaring(*size))


def test_a_sideways_jpeg_over_the_budget_decodes_at_half_size(monkeypatch):
    sideways = halves("RGB", (400, 200), RED, BLUE)  # stored 400×200; upright 200×400, red on top
    exif = Image.Exif()
    exif[memory_bounds.ORIENTATION] = 6
    data = encode(sideways, "JPEG", exif=exif, quality=95)
    monkeypatch.setattr(uploads, "DECODE_BUDGET", 400 * 200 * 8 - 1)  # needs 8 bytes a pixel: one short
    image = decode_image(data)
    assert image.size == (100, 200)
    assert np.abs(np.subtract(image.getpixel((50, 10)), RED)).max() <= 12
    assert np.abs(np.subtract(image.getpixel((50, 190)), BLUE)).max() <= 12
    monkeypatch.setattr(uploads, "DECODE_BUDGET", 400 * 200 * 8)
    assert decode_image(data).size == (200, 400)


def test_a_half_size_decode_shows_the_model_the_same_picture(monkeypatch):
    """libjpeg's half-size decode, then the usual resize: within a few grey levels of the full decode."""
    photo = Image.open(ROOT / "assets" / "examples" / "cat.jpg").convert("RGB").resize((4000, 3000))
    data = encode(photo, "JPEG", quality=92)
    full = decode_image(data)
    monkeypatch.setattr(uploads, "DECODE_BUDGET", 4000 * 3000 * 4 - 1)
    half = decode_image(data)
    assert (full.size, half.size) == ((4000, 3000), (2000, 1500))
    for keep_aspect in (False, True):
        a, b = (np.asarray(model_view(image, TIMM_LIKE, 16, keep_aspect), np.float32) for image in (full, half))
        assert np.abs(a - b).max() <= 4 and np.abs(a - b).mean() < 0.5


def test_other_formats_over_the_budget_are_refused_with_the_limit_for_their_kind(monkeypatch):
    monkeypatch.setattr(uploads, "DECODE_BUDGET", 4_000_000)
    rgba = encode(Image.new("RGBA", (800, 700), (0, 0, 0, 0)), "PNG")  # 0.56 MP × 8 bytes = 4.48 MB
    with pytest.raises(ImageInputError) as caught:
        decode_image(rgba)
    message = str(caught.value)
    assert "800×700 pixels with transparency is 0.6 megapixels" in message
    assert "accepted up to 0.5 megapixels" in message  # 4 MB / 8 bytes a pixel
    assert len(message) < 300
    assert decode_image(encode(Image.new("RGB", (800, 700), RED), "PNG")).size == (800, 700)  # 4 bytes: fits


def test_a_webp_over_its_budget_is_refused_naming_the_format(monkeypatch):
    """16 bytes a pixel (see PER_FORMAT_OUTCOME) plus the file's own copy."""
    data = encode(Image.new("RGB", (400, 300), RED), "WEBP")
    monkeypatch.setattr(uploads, "DECODE_BUDGET", 400 * 300 * 16 + len(data) - 1)
    with pytest.raises(ImageInputError, match=r"400×300 pixels as WebP is 0\.1 megapixels"):
        decode_image(data)
    monkeypatch.setattr(uploads, "DECODE_BUDGET", 400 * 300 * 16 + len(data))
    assert decode_image(data).size == (400, 300)


def test_a_progressive_jpeg_scales_next_to_its_full_size_coefficients(monkeypatch):
    """4:4:4: 6 bytes of coefficients for every full-size pixel whatever the scale, plus 4 per decoded pixel."""
    data = encode(halves("RGB", (400, 300), RED, BLUE), "JPEG", progressive=True, subsampling=0, quality=95)
    coefficients = 400 * 300 * 6
    monkeypatch.setattr(uploads, "DECODE_BUDGET", coefficients + 200 * 150 * 4)
    image = decode_image(data)
    assert image.size == (200, 150)
    assert np.abs(np.subtract(image.getpixel((20, 75)), RED)).max() <= 12
    monkeypatch.setattr(uploads, "DECODE_BUDGET", coefficients + 200 * 150 * 4 - 1)
    assert decode_image(data).size == (100, 75)
    monkeypatch.setattr(uploads, "DECODE_BUDGET", coefficients)
    with pytest.raises(ImageInputError, match="as a progressive JPEG"):
        decode_image(data)


def test_a_tiff_in_one_strip_counts_its_strip_buffer(monkeypatch):
    """One strip holds the whole image again (4 bytes a pixel, at least); Pillow's usual 64 KB strips do not."""
    whole = encode(Image.new("RGB", (400, 300), RED), "TIFF", compression="tiff_adobe_deflate", strip_size=2**31)
    strips = encode(Image.new("RGB", (400, 300), RED), "TIFF", compression="tiff_adobe_deflate")
    monkeypatch.setattr(uploads, "DECODE_BUDGET", 400 * 300 * 8 - 1)
    with pytest.raises(ImageInputError, match="as a TIFF in large strips"):
        decode_image(whole)
    assert decode_image(strips).size == (400, 300)


@pytest.mark.parametrize(("mode", "expected"), [
    ("RGB", 4), ("L", 5), ("P", 5), ("1", 5), ("RGBA", 8), ("CMYK", 8), ("LA", 12), ("I;16", 8), ("F", 12),
])
def test_decode_estimates_per_mode(mode, expected):
    """Bytes per pixel held at the peak: PIL's own storage plus each copy on the way to RGB (measured in
    benchmarks/memory_bounds.py to within a few MB at the budget)."""
    assert uploads._peak_bytes_per_pixel(Image.new(mode, (1, 1))) == expected


def test_decoded_file_is_not_copied_but_shares_nothing():
    data = encode(Image.new("RGB", (64, 48), RED), "PNG")
    first, second = decode_image(data), decode_image(data)
    assert type(first) is Image.Image
    first.paste(BLUE, (0, 0, 64, 48))
    assert second.getpixel((0, 0)) == RED


# -- the model view: unchanged within 10:1, cropped beyond -----------------------------------------------


@pytest.mark.parametrize("config", [TIMM_LIKE, TRANSFORMERS_LIKE, SMALL], ids=["timm", "transformers", "small"])
@pytest.mark.parametrize("size", [(640, 480), (480, 640), (101, 1001), (2240, 224), (30, 300), (7, 5)])
@pytest.mark.parametrize("keep_aspect", [False, True])
@pytest.mark.parametrize("patch_size", [16, 12])
def test_model_view_is_bit_identical_within_10_to_1(config, size, keep_aspect, patch_size):
    image = noise(size, seed=size[0])
    ours = model_view(image, config, patch_size, keep_aspect)
    assert ours.tobytes() == old_model_view(image, config, patch_size, keep_aspect).tobytes()


@pytest.mark.parametrize("keep_aspect", [False, True])
def test_model_view_beyond_10_to_1_uses_the_centre_10_to_1(keep_aspect):
    strip = noise((4000, 20), seed=1)
    centre = strip.crop((1900, 0, 2100, 20))  # 200×20: the middle 10:1, cut by hand
    expected = old_model_view(centre, TIMM_LIKE, 16, keep_aspect)
    assert model_view(strip, TIMM_LIKE, 16, keep_aspect).tobytes() == expected.tobytes()
    tall = strip.transpose(Image.Transpose.ROTATE_90)
    assert model_view(tall, TIMM_LIKE, 16, keep_aspect).size == expected.size[::-1]


def test_model_view_beyond_10_to_1_still_shows_what_it_showed():
    """The crop keeps every pixel the centre square needs: at 30:1 the old path (still affordable at this
    size) and the new one differ by sub-pixel placement only."""
    rng = np.random.default_rng(3)
    smooth = Image.fromarray(rng.integers(0, 256, (8, 240, 3), dtype=np.uint8)).resize((3000, 100), Image.BICUBIC)
    old = np.asarray(old_model_view(smooth, TIMM_LIKE, 16, False), dtype=np.float32)
    new = np.asarray(model_view(smooth, TIMM_LIKE, 16), dtype=np.float32)
    assert old.shape == new.shape and np.abs(old - new).mean() < 2.0


# -- the cache key: streamed, same hash --------------------------------------------------------------------


@pytest.mark.parametrize(("mode", "size"), [("RGB", (3000, 2000)), ("L", (5000, 1003)), ("1", (13, 7)),
                                             ("RGBA", (2100, 700))])
def test_image_digest_hashes_in_bands_like_the_whole_bytes(mode, size):
    image = noise(size, seed=2).convert(mode)
    whole = hashlib.blake2b(digest_size=12)
    whole.update(f"{mode}{size}".encode())
    whole.update(image.tobytes())
    assert image_digest(image) == whole.hexdigest()
