"""Requests that arrive together run as one batch: a GPU does 8 images in about the time of one.

The first request of a group (same model, patch size and input shape) becomes the leader: it waits a few
milliseconds for company, takes everything that queued up meanwhile, runs one batched call, and hands each
waiting request its own result. No background thread, and each request keeps its own errors: a bad upload
is rejected while decoding, before it ever joins a batch. On a CPU, where a batch is no faster than its
images one by one, the app runs one request at a time and `wait_s=0` makes this a plain call.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from typing import Any

DEFAULT_WAIT_S = 0.005
DEFAULT_MAX_BATCH = 16


class Batcher:
    """Calls `run(items) -> results` (same length and order) on groups of concurrently submitted items."""

    def __init__(self, run: Callable[[Hashable, list[Any]], list[Any]], max_batch: int = DEFAULT_MAX_BATCH,
                 wait_s: float = DEFAULT_WAIT_S):
        self.run, self.max_batch, self.wait_s = run, max_batch, wait_s
        self._lock = threading.Lock()
        self._queues: dict[Hashable, list[tuple[Any, Future]]] = {}
        self.batch_sizes: list[int] = []  # for tests and benchmarks

    def submit(self, group: Hashable, item: Any) -> Any:
        """The result for `item`, computed in a batch with any items of the same group submitted meanwhile."""
        future: Future = Future()
        with self._lock:
            queue = self._queues.setdefault(group, [])
            queue.append((item, future))
            leader = len(queue) == 1
        if leader:
            if self.wait_s > 0:
                threading.Event().wait(self.wait_s)
            self._drain(group)
        return future.result()

    def _drain(self, group: Hashable) -> None:
        """Run the group's queued items, `max_batch` at a time, until none are left."""
        while True:
            with self._lock:
                queue = self._queues.get(group, [])
                batch, rest = queue[: self.max_batch], queue[self.max_batch:]
                if rest:
                    self._queues[group] = rest
                else:
                    self._queues.pop(group, None)
            if not batch:
                return
            self.batch_sizes.append(len(batch))
            try:
                results = self.run(group, [item for item, _ in batch])
                for (_, future), result in zip(batch, results, strict=True):
                    future.set_result(result)
            except BaseException as exc:  # every waiter learns of the failure, none hangs
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
            if not rest:
                return
