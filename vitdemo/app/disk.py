"""The upload folder on disk: a cap on its total size, and nothing left behind by earlier instances.

Gradio saves every upload, and every picture an API call sends as a data URL, in its upload folder
(GRADIO_TEMP_DIR, else <tmp>/gradio); our output pictures live there too (`outputs.PictureStore`). Its
`delete_cache` removes them an hour later, which over loopback lets one sender fill the disk at ~200 MB/s,
and files of an instance that was stopped or killed were never removed at all (issue 21). So:

- `UploadFolder.make_room(incoming)` runs before every request with a body is handed on (`UploadCap`, an
  ASGI middleware): the least recently modified files go until the folder, plus what may come, fits
  `VITDEMO_UPLOAD_MB`, with room kept for every request still in flight. Listing the folder costs a stat
  per file, so it is listed at most once a second; in between, every body is counted as if it were saved
  whole (an over-count: most bodies save nothing), so the cap holds between listings too. Files Gradio was
  told to keep (the page's examples and default picture) are never taken, nor files that may still be
  being written (an upload arriving, a picture being staged) while they were written to in the last few
  seconds.
- `remove_leftovers(folder, age_s, keep)` runs once at start-up (`vitdemo.app.serve`): files older than the
  cache age are what an earlier instance left; this one's `delete_cache` would have removed them by now.
  (Gradio's folder is one per machine: where several apps share it, another app's files older than the
  age go too, except this app's kept ones. On a Space the app is alone.)
- At shutdown (a SIGTERM included: `app.py` turns it into an exit), Gradio deletes the files this instance
  made and `PictureStore.remove` the picture folder.
A visitor whose upload was taken to make room gets the usual "file not found" sentence on the next
analysis of it, and uploads again.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from pathlib import Path
from typing import Any, NamedTuple

import anyio

from .outputs import STAGING_PREFIX
from .request_limit import MAX_BODY_BYTES, declared_length

IN_FLIGHT_S = 5.0  # a file modified this recently may still be being written: never taken
RELIST_S = 1.0  # the folder is listed at most this often (see the module docstring)

Scope = MutableMapping[str, Any]
App = Callable[[Scope, Any, Any], Awaitable[None]]


class Entry(NamedTuple):
    mtime: float
    size: int
    path: Path


def listing(folder: Path) -> list[Entry]:
    """Every file under `folder` (links not followed), oldest first."""
    entries = []
    for root, _, names in os.walk(folder):
        for name in names:
            path = Path(root) / name
            try:
                stat = path.lstat()
            except OSError:  # removed meanwhile
                continue
            entries.append(Entry(stat.st_mtime, stat.st_size, path))
    entries.sort()
    return entries


def remove(paths: Iterable[Path], folder: Path) -> None:
    """Delete `paths`, then each one's parent folders that are left empty (up to, not including, `folder`)."""
    for path in paths:
        try:
            path.unlink()
        except OSError:
            continue
        parent = path.parent
        while parent != folder and folder in parent.parents:
            try:
                parent.rmdir()
            except OSError:  # not empty, or gone
                break
            parent = parent.parent


def remove_leftovers(folder: Path, age_s: float, keep: set[str] = frozenset()) -> int:
    """Delete files under `folder` last modified more than `age_s` ago, except `keep`; how many went."""
    if not folder.is_dir():
        return 0
    cutoff = time.time() - age_s
    old = [e.path for e in listing(folder) if e.mtime < cutoff and str(e.path) not in keep]
    remove(old, folder)
    return len(old)


def kept_files(blocks: Any) -> set[str]:
    """The files Gradio was told never to delete: examples and the components' initial values."""
    kept: set[str] = set()
    for component in getattr(blocks, "blocks", {}).values():
        kept.update(str(path) for path in getattr(component, "keep_in_cache", ()))
    return kept


class UploadFolder:
    """A folder kept under `cap_bytes` by taking its oldest files (see the module docstring)."""

    def __init__(self, folder: Path, cap_bytes: int, keep: Callable[[], set[str]] = set):
        self.folder = folder
        self.cap_bytes = cap_bytes
        self.keep = keep
        self._lock = threading.Lock()
        self._counted = 0
        self._in_flight = 0
        self._listed_at = -float("inf")

    def make_room(self, incoming: int) -> int:
        """Make the folder fit `incoming` more bytes under the cap, next to every request still in flight
        (each may save its whole body), until `done(incoming)`; → the bytes now counted in it."""
        with self._lock:
            self._in_flight += incoming
            now = time.monotonic()
            if self._counted + incoming > self.cap_bytes or now - self._listed_at > RELIST_S:
                self._counted = self.prune(self.cap_bytes - self._in_flight) + self._in_flight
                self._listed_at = now
            else:
                self._counted += incoming
            return self._counted

    def done(self, incoming: int) -> None:
        """A request that `make_room` was made for has finished: what it saved is on disk now."""
        with self._lock:
            self._in_flight -= incoming

    def prune(self, target: int) -> int:
        """Take the oldest files until the folder holds at most `target` bytes (or only untakeable files
        are left); → the bytes it holds."""
        if not self.folder.is_dir():
            return 0
        entries = listing(self.folder)
        total = sum(e.size for e in entries)
        if total <= target:
            return total
        keep, recent = self.keep(), time.time() - IN_FLIGHT_S
        taken = []
        for entry in entries:
            if total <= target:
                break
            if str(entry.path) not in keep and not (entry.mtime > recent and _being_written(entry.path, self.folder)):
                taken.append(entry.path)
                total -= entry.size
        remove(taken, self.folder)
        return total


class UploadCap:
    """ASGI middleware: before a request with a body reaches Gradio, `make_room` for it in the folder."""

    def __init__(self, app: App, cap_bytes: int, folder: Path | None = None):
        self.app = app
        self.cap_bytes = cap_bytes
        self.folder = folder
        self._kept: Any = None
        self.uploads: UploadFolder | None = None

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        incoming = _incoming(scope) if scope["type"] == "http" else 0
        if not incoming:
            await self.app(scope, receive, send)
            return
        folder = self._folder(scope)
        await anyio.to_thread.run_sync(folder.make_room, incoming)
        try:
            await self.app(scope, receive, send)
        finally:
            folder.done(incoming)

    def _folder(self, scope: Scope) -> UploadFolder:
        """The folder Gradio saves this app's uploads in (`App.uploaded_file_dir`, fixed when the app was
        made: GRADIO_TEMP_DIR may have changed since)."""
        if self.uploads is None:
            app = scope["app"]
            self._kept = app.get_blocks
            self.uploads = UploadFolder(self.folder or Path(app.uploaded_file_dir), self.cap_bytes, self._keep)
        return self.uploads

    def _keep(self) -> set[str]:
        return kept_files(self._kept()) if self._kept is not None else set()


def _being_written(path: Path, folder: Path) -> bool:
    """Whether `path` may be a file still being written: Gradio streams an upload into a temporary file at
    the folder's top before moving it into a folder named by its hash; our pictures are staged under a prefix."""
    return path.parent == folder or path.name.startswith(STAGING_PREFIX)


def _incoming(scope: Scope) -> int:
    """Bytes a request may save: its declared body, or the most any body may be when it declares none."""
    declared = declared_length(scope)
    if declared is not None:
        return min(declared, MAX_BODY_BYTES)
    chunked = any(name.lower() == b"transfer-encoding" for name, _ in scope.get("headers", ()))
    return MAX_BODY_BYTES if chunked else 0
