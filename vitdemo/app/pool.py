"""The few models kept loaded: least recently used goes first, and each model loads only once at a time.

A ViT-B takes ~350 MB in fp32 and a few seconds to load, so switching back and forth between two models
should not reload them, yet a server cannot keep every model a visitor ever picked. Two threads asking for
the same model wait for one load instead of doing it twice.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..settings import settings
from .models import ModelEntry

if TYPE_CHECKING:
    from ..model import ViT

logger = logging.getLogger(__name__)

def load_model(source: str) -> ViT:
    """`vitdemo.load` with the device and precision from the environment (VITDEMO_DEVICE, VITDEMO_PRECISION)."""
    from ..loading import load

    return load(source)


class ModelPool:
    """A bounded LRU of loaded models, keyed by `ModelEntry.key`; `on_evict(key)` runs when one is dropped."""

    def __init__(self, loader: Callable[[str], ViT] = load_model, capacity: int | None = None,
                 on_evict: Callable[[str], None] | None = None):
        capacity = settings().max_models if capacity is None else capacity
        if capacity < 1:
            raise ValueError("the pool must hold at least one model")
        self.loader, self.capacity, self.on_evict = loader, capacity, on_evict
        self._models: OrderedDict[str, ViT] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[str, threading.Lock] = {}

    def get(self, entry: ModelEntry) -> ViT:
        """The loaded model for `entry`, loading it (once, even when asked from many threads) if needed."""
        model = self.peek(entry.key)
        if model is not None:
            return model
        with self._lock:
            key_lock = self._loading.setdefault(entry.key, threading.Lock())
        with key_lock:
            model = self.peek(entry.key)
            if model is None:
                logger.info("loading %s (%s)", entry.key, entry.source)
                model = self.loader(entry.source)
                self._insert(entry.key, model)
        return model

    def peek(self, key: str) -> ViT | None:
        """The model if loaded (marking it recently used), else None; never loads."""
        with self._lock:
            if key in self._models:
                self._models.move_to_end(key)
                return self._models[key]
        return None

    def loaded(self) -> list[str]:
        """Keys of the loaded models, least recently used first."""
        with self._lock:
            return list(self._models)

    def _insert(self, key: str, model: ViT) -> None:
        with self._lock:
            self._models[key] = model
            evicted = []
            while len(self._models) > self.capacity:
                evicted.append(self._models.popitem(last=False)[0])
        for old in evicted:
            logger.info("unloading %s (keeping %d models)", old, self.capacity)
            if self.on_evict:
                self.on_evict(old)
