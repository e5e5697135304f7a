"""Picture outputs that reach the browser intact when many users get the same picture at once, stored once.

Gradio saves a returned PIL image with `save_pil_to_cache`, which writes `<hash of the bytes>/image.png`
in place, every time. When two requests produce the same picture together (a class on the same example), one
request rewrites the file while the other's download is reading it, and that download arrives empty
(`RemoteProtocolError … received 0 bytes`). A *path* is handled by `save_file_to_cache`, which copies under a
temporary name and renames into place, so it is safe.

So our image and gallery outputs write each picture once themselves (`PictureStore`), through a temporary
file and `os.replace` (a reader sees the whole old file or the whole new one, never a partial one), and hand
Gradio the path. The store's folder is a fresh one per app instance *inside Gradio's cache folder*: Gradio
serves a file that is already in its cache where it is instead of copying it (so each picture is on disk
once), its `delete_cache` ages those files too, and two apps on one machine never prune each other's
pictures. The folder is bounded: beyond `max_files` pictures the least recently used go, and staging files
left by a crash are removed with them. The name a picture is downloaded under says what it shows
(`star_p16_rollout_layer6.png`), its content hash kept in a sub-folder so equal pictures stay one file.

Like `components.upload_image`, this replaces the instance's `postprocess` rather than subclassing (Gradio
writes a `.pyi` stub next to every Component subclass's source).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import shutil
import tempfile
import threading
import time
import types
from pathlib import Path
from typing import Any

import gradio as gr
from PIL import Image

from ..settings import settings

PRUNE_EVERY = 32  # new files between two looks at the folder: listing it on every write would cost more
JPEG_QUALITY = 90
STAGING_PREFIX = ".writing-"
STALE_STAGING_S = 60.0  # a staging file this old belongs to no write in progress


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


def download_name(name: str | None, suffix: str) -> str:
    """A safe file name: letters, digits, `-`, `_` and `.` only (others become `_`), at most 80 characters."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", (name or "picture").strip())[:80].strip("._") or "picture"
    return stem + suffix


class PictureStore:
    """A bounded folder of output pictures, each written once per distinct content and never in place."""

    def __init__(self, folder: Path | None = None, max_files: int | None = None):
        now = settings()
        self.max_files = now.picture_files if max_files is None else max_files
        chosen = folder or now.picture_dir
        if chosen is None:
            from gradio.utils import get_upload_folder

            Path(get_upload_folder()).mkdir(parents=True, exist_ok=True)
            chosen = Path(tempfile.mkdtemp(prefix="vitdemo-pictures-", dir=get_upload_folder()))
        self.folder = Path(chosen)
        self.owned = folder is None and now.picture_dir is None  # a fresh folder of ours: removed at shutdown
        self._lock = threading.Lock()
        self._written = 0

    def file(self, image: Image.Image, fmt: str = "png", name: str | None = None) -> str:
        """The path of a file holding `image` in `fmt`, named `name` (+ suffix) for downloads."""
        data = encoded(image, fmt)
        suffix = ".jpg" if fmt.lower() in ("jpeg", "jpg") else ".png"
        path = self.folder / hashlib.blake2b(data, digest_size=16).hexdigest() / download_name(name, suffix)
        if path.exists():
            os.utime(path)  # used again: keep it among the newest, so pruning takes others first
            return str(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, staging = tempfile.mkstemp(dir=path.parent, prefix=STAGING_PREFIX, suffix=suffix)
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(data)
            os.replace(staging, path)
        except BaseException:
            Path(staging).unlink(missing_ok=True)
            raise
        self._count_and_prune()
        return str(path)

    def prune(self, keep: int | None = None) -> int:
        """Delete all but the `keep` most recently used pictures, and old staging files; how many pictures went."""
        keep = self.max_files if keep is None else keep
        pictures, now = [], time.time()
        for path in self.folder.glob("*/*"):
            try:
                mtime = path.stat().st_mtime
            except FileNotFoundError:  # another thread pruned it meanwhile
                continue
            if path.name.startswith(STAGING_PREFIX):
                if now - mtime > STALE_STAGING_S:
                    path.unlink(missing_ok=True)
            else:
                pictures.append((mtime, path))
        pictures.sort(reverse=True)
        for _, old in pictures[keep:]:
            old.unlink(missing_ok=True)
            with contextlib.suppress(OSError):  # not empty: another name of the same picture is still there
                old.parent.rmdir()
        return max(0, len(pictures) - keep)

    def remove(self) -> None:
        """At shutdown: delete the folder if this store made it (a folder named by the caller or by
        VITDEMO_PICTURE_DIR is left as it is)."""
        if self.owned:
            shutil.rmtree(self.folder, ignore_errors=True)

    def _count_and_prune(self) -> None:
        with self._lock:
            self._written += 1
            due = self._written % PRUNE_EVERY == 0
        if due:
            self.prune()


Named = tuple  # (PIL image, download name): what an event returns to name the file it is saved as


def as_file(store: PictureStore, value: Any, fmt: str) -> Any:
    """A PIL image, `Named` image or gallery `(image, caption)` as its file's path; anything else unchanged.

    A gallery item's caption doubles as its download name.
    """
    if isinstance(value, Image.Image):
        return store.file(value, fmt)
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], Image.Image):
        return store.file(value[0], fmt, value[1]), value[1]
    return value


def output_image(store: PictureStore, **kwargs: Any) -> gr.Image:
    """A `gr.Image(**kwargs)` (format "png" unless given) that saves returned pictures in `store`.

    The event may return `(picture, download name)`: the file then downloads under that name.
    """
    image = gr.Image(**{"format": "png", **kwargs})

    def postprocess(self: gr.Image, value: Any) -> Any:
        path = as_file(store, value, self.format)
        return gr.Image.postprocess(self, path[0] if isinstance(path, tuple) else path)

    image.postprocess = types.MethodType(postprocess, image)  # type: ignore[method-assign]
    return image


def output_gallery(store: PictureStore, **kwargs: Any) -> gr.Gallery:
    """A `gr.Gallery(**kwargs)` (format "png" unless given) that saves returned pictures in `store`."""
    gallery = gr.Gallery(**{"format": "png", **kwargs})

    def postprocess(self: gr.Gallery, value: Any) -> Any:
        items = None if value is None else [as_file(store, item, self.format) for item in value]
        return gr.Gallery.postprocess(self, items)

    gallery.postprocess = types.MethodType(postprocess, gallery)  # type: ignore[method-assign]
    return gallery
