"""The forward pass, remembered per (image, model, patch size), so every view control only re-renders.

An `Analysis` keeps every layer's attention, which is what makes a view switch cost milliseconds, and also
what makes it big: ViT-B at patch 8 holds 12 × 12 × 785² floats (~350 MB). So the cache is bounded by the
bytes its analyses hold (`Analysis.nbytes`, exact) as well as by count, and drops the least recently used
analysis first. An analysis grows after it is stored (relevance for a class, the backward's tape, each view
computed on demand), so the sizes are measured again on every `get` and `put`, not only when stored: the
bound then lags at most what the requests since the last use added.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any, NamedTuple

from PIL import Image

from ..settings import settings

if TYPE_CHECKING:
    from ..explain.analysis import Analysis

_DIGEST_BAND_BYTES = 4 * 2**20


class AnalysisKey(NamedTuple):
    """What decides a forward pass's result; everything else (layer, head, method, colours) is a view."""

    image: str  # `image_digest` of the decoded pixels, salted per app instance
    model: str  # `ModelEntry.key`
    patch_size: int
    keep_aspect: bool = False
    prompts: str = ""  # an image–text model's prompts, one per line, as typed ("" for a classifier)


def image_digest(image: Image.Image, salt: bytes = b"") -> str:
    """A short hash of the decoded pixels: the same photo uploaded twice (or by two users) is one entry.

    `salt` keys the hash (BLAKE2's key): the app passes a random secret of its instance (`Engine.salt`), so a
    key the browser sees names nothing in another instance and cannot be worked out from a picture.
    Hashed a band of rows at a time, which gives the same hash as `image.tobytes()` in one piece without
    its copy (150 MB for a 50-megapixel photo).
    """
    digest = hashlib.blake2b(digest_size=12, key=salt)
    digest.update(f"{image.mode}{image.size}".encode())
    width, height = image.size
    rows = max(1, _DIGEST_BAND_BYTES // max(1, width * len(image.getbands())))
    for top in range(0, height, rows):
        digest.update(image.crop((0, top, width, min(top + rows, height))).tobytes())
    return digest.hexdigest()


def analysis_nbytes(analysis: Analysis) -> int:
    """Bytes an analysis holds now: its forward's results, the backward's tape, its gradients and computed
    views (`Analysis.nbytes`)."""
    return int(analysis.nbytes())


class AnalysisCache:
    """A thread-safe LRU of analyses bounded by count and by `analysis_nbytes`, measured on every use."""

    def __init__(self, max_items: int | None = None, max_bytes: int | None = None,
                 sizeof: Callable[[Any], int] = analysis_nbytes):
        now = settings()
        self.max_items = now.cache_items if max_items is None else max_items
        self.max_bytes = int(now.cache_mb * 2**20) if max_bytes is None else max_bytes
        self.sizeof = sizeof
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Any | None:
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            self._shrink()  # it, or another, may have grown since: the newest (this one) stays
            return self._items[key]

    def put(self, key: Hashable, value: Any) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            self._shrink()

    def drop_model(self, model_key: str) -> None:
        """Forget every analysis of one model (it holds the model: unloading it must free its memory)."""
        with self._lock:
            for key in [k for k in self._items if getattr(k, "model", None) == model_key]:
                del self._items[key]

    def __len__(self) -> int:
        return len(self._items)

    def nbytes(self) -> int:
        """What the stored analyses hold now, measured."""
        with self._lock:
            return sum(self.sizeof(v) for v in self._items.values())

    def _shrink(self) -> None:
        """Drop the oldest entries until both bounds hold; the newest always stays, however big."""
        while len(self._items) > self.max_items:
            self._items.popitem(last=False)
        sizes = [self.sizeof(v) for v in self._items.values()]  # oldest first, measured now
        total = sum(sizes)
        for size in sizes[:-1]:
            if total <= self.max_bytes:
                break
            self._items.popitem(last=False)
            total -= size
