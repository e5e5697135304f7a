"""Picture outputs that reach the browser intact when many users get the same picture at once.

Gradio saves a returned PIL image with `save_pil_to_cache`, which writes `<hash of the bytes>/image.png`
in place, every time. When two requests produce the same picture together (a class on the same example), one
request rewrites the file while the other's download is reading it, and that download arrives empty
(`RemoteProtocolError … received 0 bytes`). A *path* is handled by `save_file_to_cache`, which copies under a
temporary name and renames into place, so it is safe.

So our image and gallery outputs write each picture once themselves, named by its content hash, through a
temporary file and `os.replace` (a reader sees the whole old file or the whole new one, never a partial one),
and hand Gradio the path. The folder is bounded: beyond `MAX_FILES` pictures the oldest go. Like
`components.upload_image`, this replaces the instance's `postprocess` rather than subclassing (Gradio writes
a `.pyi` stub next to every Component subclass's source).
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import threading
import types
from pathlib import Path
from typing import Any

import gradio as gr
from PIL import Image

PICTURE_DIR = Path(os.environ.get("VITDEMO_PICTURE_DIR", Path(tempfile.gettempdir()) / "vitdemo-images"))
MAX_FILES = int(os.environ.get("VITDEMO_PICTURE_FILES", "512"))
PRUNE_EVERY = 32  # new files between two looks at the folder: listing it on every write would cost more
JPEG_QUALITY = 90
_lock = threading.Lock()
_written = 0


def encoded(image: Image.Image, fmt: str) -> bytes:
    """The picture as PNG or JPEG bytes (JPEG has no alpha: RGBA and palette pictures become RGB first)."""
    fmt = fmt.lower()
    buffer = io.BytesIO()
    if fmt in ("jpeg", "jpg"):
        image = image if image.mode in ("RGB", "L") else image.convert("RGB")
        image.save(buffer, "JPEG", quality=JPEG_QUALITY)
    else:
        image.save(buffer, "PNG", compress_level=1)  # level 1: a few times faster than the default, ~10% larger
    return buffer.getvalue()


def picture_file(image: Image.Image, fmt: str = "png", folder: Path | None = None) -> str:
    """The path of a file holding `image` in `fmt`, written once per distinct content and never in place."""
    folder = folder or PICTURE_DIR
    data = encoded(image, fmt)
    suffix = ".jpg" if fmt.lower() in ("jpeg", "jpg") else ".png"
    path = folder / (hashlib.blake2b(data, digest_size=16).hexdigest() + suffix)
    if path.exists():
        os.utime(path)  # used again: keep it among the newest, so pruning takes others first
        return str(path)
    folder.mkdir(parents=True, exist_ok=True)
    fd, staging = tempfile.mkstemp(dir=folder, prefix=".writing-", suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        os.replace(staging, path)
    except BaseException:
        Path(staging).unlink(missing_ok=True)
        raise
    _count_and_prune(folder)
    return str(path)


def prune(folder: Path, keep: int = MAX_FILES) -> int:
    """Delete all but the `keep` most recently used pictures in `folder`; how many were deleted."""
    entries = []
    for entry in os.scandir(folder):
        if entry.is_file() and not entry.name.startswith("."):
            try:
                entries.append((entry.stat().st_mtime, entry.path))
            except FileNotFoundError:  # another thread pruned it meanwhile
                continue
    entries.sort(reverse=True)
    for _, old in entries[keep:]:
        Path(old).unlink(missing_ok=True)
    return max(0, len(entries) - keep)


def _count_and_prune(folder: Path) -> None:
    global _written
    with _lock:
        _written += 1
        due = _written % PRUNE_EVERY == 0
    if due:
        prune(folder)


def as_file(value: Any, fmt: str) -> Any:
    """A PIL image (alone or as a gallery's `(image, caption)`) as its file's path; anything else unchanged."""
    if isinstance(value, Image.Image):
        return picture_file(value, fmt)
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], Image.Image):
        return picture_file(value[0], fmt), value[1]
    return value


def output_image(**kwargs: Any) -> gr.Image:
    """A `gr.Image(**kwargs)` (format "png" unless given) that saves returned pictures with `picture_file`."""
    image = gr.Image(**{"format": "png", **kwargs})

    def postprocess(self: gr.Image, value: Any) -> Any:
        return gr.Image.postprocess(self, as_file(value, self.format))

    image.postprocess = types.MethodType(postprocess, image)  # type: ignore[method-assign]
    return image


def output_gallery(**kwargs: Any) -> gr.Gallery:
    """A `gr.Gallery(**kwargs)` (format "png" unless given) that saves returned pictures with `picture_file`."""
    gallery = gr.Gallery(**{"format": "png", **kwargs})

    def postprocess(self: gr.Gallery, value: Any) -> Any:
        return gr.Gallery.postprocess(self, None if value is None else [as_file(item, self.format) for item in value])

    gallery.postprocess = types.MethodType(postprocess, gallery)  # type: ignore[method-assign]
    return gallery
