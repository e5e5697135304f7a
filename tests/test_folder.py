"""ImageFolder on a messy folder: broken files are skipped with a warning that names
them, never a crash; good images load as RGB with labels from sorted folder names."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vitdemo.app.uploads import decode_image
from vitdemo.data.folder import ImageFolder, SkippedImageWarning


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """An empty folder of our own: tmp_path itself may hold other fixtures' folders (the hub cache)."""
    folder = tmp_path / "images"
    folder.mkdir()
    return folder


def _jpeg_bytes(colour: tuple[int, int, int], size: int = 64) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


@pytest.fixture
def messy_folder(root: Path) -> tuple[Path, set[Path]]:
    """Two classes with valid PNG, JPEG and nested images, plus three broken files
    and a hidden file; returns the root and the broken files."""
    cats, dogs = root / "cats", root / "dogs"
    (dogs / "puppies").mkdir(parents=True)
    cats.mkdir()
    Image.new("RGB", (40, 30), (200, 10, 10)).save(cats / "red.png")
    Image.new("RGBA", (20, 20), (0, 0, 255, 0)).save(cats / "clear.png")  # fully transparent
    (dogs / "green.jpg").write_bytes(_jpeg_bytes((10, 200, 10)))
    Image.new("L", (32, 32), 90).save(dogs / "puppies" / "gray.png")
    broken = {cats / "empty.png", cats / "notes.jpg", dogs / "cut_short.jpg"}
    (cats / "empty.png").write_bytes(b"")
    (cats / "notes.jpg").write_text("not a picture, just a file with the wrong name\n")
    whole = _jpeg_bytes((30, 30, 220), size=256)
    (dogs / "cut_short.jpg").write_bytes(whole[: len(whole) // 2])
    (dogs / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")  # hidden: ignored silently
    return root, broken


def test_broken_files_are_skipped_with_a_warning_naming_each(messy_folder: tuple[Path, set[Path]]) -> None:
    root, broken = messy_folder
    with pytest.warns(SkippedImageWarning) as caught:
        dataset = ImageFolder(root)
    assert set(dataset.skipped) == broken
    messages = "\n".join(str(w.message) for w in caught)
    for path in broken:
        assert str(path) in messages
    assert ".DS_Store" not in messages


def test_good_images_load_as_rgb_with_sorted_labels(messy_folder: tuple[Path, set[Path]]) -> None:
    root, _ = messy_folder
    with pytest.warns(SkippedImageWarning):
        dataset = ImageFolder(root)
    assert dataset.labels == ["cats", "dogs"]
    assert len(dataset) == 4
    items = {path.name: dataset[i] for i, (path, _) in enumerate(dataset.samples)}
    assert set(items) == {"red.png", "clear.png", "green.jpg", "gray.png"}
    for image, _ in items.values():
        assert image.mode == "RGB"
    assert items["red.png"][1] == 0 and items["gray.png"][1] == 1  # nested files keep their class
    assert items["red.png"][0].size == (40, 30)
    assert items["clear.png"][0].getpixel((5, 5)) == (255, 255, 255)  # transparency on white


def test_a_file_that_breaks_after_the_scan_is_replaced_not_fatal(root: Path) -> None:
    for name in ("a", "b"):
        (root / name).mkdir()
        Image.new("RGB", (8, 8), (1, 2, 3)).save(root / name / "x.png")
    dataset = ImageFolder(root)
    (root / "a" / "x.png").write_bytes(b"garbage")
    with pytest.warns(SkippedImageWarning, match="x.png"):
        image, label = dataset[0]
    assert image.size == (8, 8) and label == 1
    assert dataset.skipped == [root / "a" / "x.png"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dataset[0]  # already reported: no second warning


def test_unusable_folders_raise_clear_errors(root: Path) -> None:
    with pytest.raises(ValueError, match="not a directory"):
        ImageFolder(root / "missing")
    with pytest.raises(ValueError, match="no class sub-folders"):
        ImageFolder(root)
    (root / "only").mkdir()
    (root / "only" / "bad.png").write_bytes(b"\x89PNG nope")
    with pytest.warns(SkippedImageWarning), pytest.raises(ValueError, match="no readable images"):
        ImageFolder(root)


def test_odd_modes_load_like_uploads(root: Path) -> None:
    """Training pictures get the app's conversion: half-transparent blue on white, a transparent palette
    entry as white, and a 16-bit grey ramp scaled to 8 bits rather than clipped to white."""
    (root / "odd").mkdir()
    Image.new("RGBA", (4, 4), (0, 0, 255, 128)).save(root / "odd" / "a_half_alpha.png")
    palette = Image.new("P", (4, 4), 1)
    palette.putpalette([255, 0, 0, 0, 255, 0])
    palette.save(root / "odd" / "b_palette.png", transparency=1)
    Image.fromarray(np.array([[0, 32768, 65535]], dtype=np.uint16)).save(root / "odd" / "c_deep.png")
    dataset = ImageFolder(root)
    half, clear, deep = (dataset[i][0] for i in range(3))
    # white × (1 − 128/255) + blue × 128/255: red and green 127, blue 255 (PIL rounds within 1)
    assert np.abs(np.subtract(half.getpixel((1, 1)), (127, 127, 255))).max() <= 1
    assert clear.getpixel((0, 0)) == (255, 255, 255)
    assert [deep.getpixel((x, 0))[0] for x in range(3)] == [0, 128, 255]  # 32768 × 255 / 65535 = 127.5
    for index, (path, _) in enumerate(dataset.samples):  # one conversion, shared with the app's uploads
        assert dataset[index][0].tobytes() == decode_image(path).tobytes()
