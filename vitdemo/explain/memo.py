"""The bytes an analysis holds, counted exactly, and a bounded store for the views computed from it.

Exact, because the app's cache evicts analyses by their size and an analysis grows after it is cached:
each view and each class's relevance is computed when first asked for. Counting only the forward's arrays
missed the per-class state entirely (issue 21: relevance for 8 classes took a server from 1.4 to 4.5 GB
while the cache saw no change). So a size here is the sum of the distinct memory blocks that the numpy
arrays and torch tensors use: a view counts the whole block it keeps alive, once, and two objects that
share memory (a tensor made from an array, the backward's tape reusing the forward's recorded stages)
count it once.

Bounded, because a view's key holds values a request chooses (a discard ratio, a clicked patch, a class):
without a bound one analysis could be grown without end by asking for ever new ones. Every view can be
computed again from the forward's results, so the least recently used are dropped.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from typing import Any

import numpy as np
import torch


def held_bytes(*objects: Any) -> int:
    """Bytes of the distinct memory blocks of every array and tensor in `objects`, looking inside dicts,
    lists, tuples, sets and dataclasses (anything else holds nothing counted: callables, numbers, strings)."""
    blocks: dict[int, int] = {}
    for array in _arrays(objects):
        address, size = _block(array)
        blocks[address] = max(blocks.get(address, 0), size)
    return sum(blocks.values())


def picture_bytes(image: Any) -> int:
    """What PIL holds for a picture's pixels: 4 bytes each for RGB and other multi-byte modes, 1 for L/P/1."""
    return image.width * image.height * (1 if image.mode in ("1", "L", "P") else 4)


def _arrays(objects: tuple[Any, ...]) -> Iterator[np.ndarray | torch.Tensor]:
    pending, seen = list(objects), set()
    while pending:
        item = pending.pop()
        if isinstance(item, (np.ndarray, torch.Tensor)):
            yield item
        elif id(item) in seen:
            continue
        elif isinstance(item, dict):
            seen.add(id(item))
            pending.extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            seen.add(id(item))
            pending.extend(item)
        elif dataclasses.is_dataclass(item) and not isinstance(item, type):
            seen.add(id(item))
            pending.extend(getattr(item, f.name) for f in dataclasses.fields(item))


def _block(array: np.ndarray | torch.Tensor) -> tuple[int, int]:
    """(start address, bytes) of the whole block that `array` keeps alive."""
    if isinstance(array, torch.Tensor):
        storage = array.untyped_storage()
        return storage.data_ptr(), storage.nbytes()
    root = array
    while isinstance(root.base, np.ndarray):
        root = root.base
    if isinstance(root.base, torch.Tensor):  # `tensor.numpy()`: the tensor's storage
        return _block(root.base)
    return root.__array_interface__["data"][0], root.nbytes


class Memo:
    """Computed values by key, the least recently used dropped once together they hold more than `max_bytes`
    (each counted by `held_bytes` when stored); the newest always stays, however big. Thread-safe."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self._items: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """The value stored under `key`, else `compute()`'s, stored."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key][0]
        value = compute()  # unlocked: one view may be computed from others
        size = held_bytes(value)
        with self._lock:
            if key in self._items:  # another thread computed it meanwhile: keep one copy
                self._items.move_to_end(key)
                return self._items[key][0]
            self._items[key] = (value, size)
            self._bytes += size
            while self._bytes > self.max_bytes and len(self._items) > 1:
                _, (_, dropped) = self._items.popitem(last=False)
                self._bytes -= dropped
        return value

    @property
    def nbytes(self) -> int:
        """What the stored values hold, the sum of their `held_bytes`."""
        return self._bytes

    def __contains__(self, key: Hashable) -> bool:
        return key in self._items

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0
