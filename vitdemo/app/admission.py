"""One admission gate for the model's work, queued events and the explorer's server functions alike.

Gradio's queue limits queued events per `concurrency_id` (the app puts every event that may run the model in
one group, "model", limited to `concurrency()`), but it serves a `gr.HTML`'s server functions on
`/gradio_api/component_server`, outside the queue: without this gate 12 faithfulness calls ran at once, each
about 12 times slower, and nothing was ever refused. So both kinds of work take a slot of one semaphore sized by
the same number (`Gate`): a queued event, already admitted by Gradio's queue, waits for its slot as long as it
takes (`gate_queued_events`); a server function waits at most `VITDEMO_BUSY_SECONDS` (and not at all when
`MAX_WAITING` calls are waiting already), then answers one sentence: busy, try again.

Server functions also learn here who calls them (`server_function`, `caller`): Gradio hands a server function
the HTTP request for a parameter typed `gr.Request`, and the request's JSON body names the page's session. The
explorer answers only for analyses shown to that session (`grants.Grants`).
"""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from ..settings import settings
from .i18n import Message
from .validation import UserError
from .zerogpu import gpu_machine

if TYPE_CHECKING:  # the engine (service.py) holds a gate and imports no gradio
    import gradio as gr

# Server-function calls that may wait for a slot at once; more are refused at once. Each waits in a worker
# thread of AnyIO's default pool (40), which Starlette shares: a flood must not hold them all.
MAX_WAITING = 16
_CALLER: ContextVar[str] = ContextVar("vitdemo_server_function_caller", default="")


def concurrency() -> int:
    """Pieces of model work at once: one on a CPU (a forward already uses every core); on a GPU, 8, which the
    engine batches into one forward of the one model instance. Gradio's queue limit and the gate both use it."""
    chosen = settings().concurrency
    return chosen if chosen is not None else (8 if gpu_machine() else 1)


class Busy(UserError):
    """No slot came free within the wait a server function may have."""

    def __init__(self) -> None:
        super().__init__(Message("admission.busy"))


class Gate:
    """At most `size` pieces of model work at once; a bounded wait (`wait_s`) for those that may be refused."""

    def __init__(self, size: int, wait_s: float, max_waiting: int | None = None):
        self.size = size
        self.wait_s = wait_s
        self.max_waiting = MAX_WAITING if max_waiting is None else max_waiting
        self._slots = threading.BoundedSemaphore(size)
        self._lock = threading.Lock()
        self._waiting = 0

    @contextmanager
    def slot(self, wait_s: float | None = None) -> Iterator[None]:
        """Hold one slot for the block. Wait at most `wait_s` seconds for it (None: as long as it takes), and
        refuse (`Busy`) at once when a bounded waiter finds `max_waiting` others waiting already."""
        if not self._slots.acquire(blocking=False):
            self._wait_for_slot(wait_s)
        try:
            yield
        finally:
            self._slots.release()

    def _wait_for_slot(self, wait_s: float | None) -> None:
        with self._lock:
            if wait_s is not None and self._waiting >= self.max_waiting:
                raise Busy()
            self._waiting += 1
        try:
            if not self._slots.acquire(timeout=wait_s):
                raise Busy()
        finally:
            with self._lock:
                self._waiting -= 1

    def bounded(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """`fn` run in a slot waited for at most `wait_s` (for server functions: the caller may be refused)."""

        @functools.wraps(fn)
        def admitted(*args: Any, **kwargs: Any) -> Any:
            with self.slot(self.wait_s):
                return fn(*args, **kwargs)

        return admitted

    def unbounded(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """`fn` run in a slot waited for as long as it takes (for queued events, which Gradio already admitted).

        Keeps what Gradio reads off the function: its signature (`functools.wraps`, so `gr.Request`, progress and
        event data are still passed) and whether it is a generator (the slot is then held while it yields)."""
        if inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn):
            raise TypeError(f"{fn.__name__}: an async event cannot wait for a thread's slot; make it a plain function")
        if inspect.isgeneratorfunction(fn):
            @functools.wraps(fn)
            def streamed(*args: Any, **kwargs: Any) -> Any:
                with self.slot():
                    yield from fn(*args, **kwargs)

            return streamed

        @functools.wraps(fn)
        def admitted(*args: Any, **kwargs: Any) -> Any:
            with self.slot():
                return fn(*args, **kwargs)

        return admitted


def gate_queued_events(demo: gr.Blocks, gate: Gate, concurrency_id: str) -> int:
    """Route every queued event of `concurrency_id` through `gate` (call once the page is built); → how many.

    Done on the built page rather than where each event is declared, so an event added later to the group is
    gated too. Gradio keeps each event's function in `BlockFunction.fn` and reads it there at call time."""
    gated = 0
    for block_fn in demo.fns.values():
        if block_fn.concurrency_id == concurrency_id and block_fn.fn is not None:
            block_fn.fn = gate.unbounded(block_fn.fn)
            gated += 1
    return gated


def caller() -> str:
    """The session hash of the server-function call being served; "" outside one, or when it named none."""
    return _CALLER.get()


async def session_of(request: Any) -> str:
    """The session hash a component_server request names in its JSON body ("" if none)."""
    try:
        body = await request.json()  # Gradio has read it already: Starlette hands back the parsed copy
    except Exception:  # no request (a direct call), a multipart body, or not JSON: no session named
        return ""
    session = body.get("session_hash") if isinstance(body, dict) else None
    return session if isinstance(session, str) else ""


def server_function(fn: Callable[[Any], Any]) -> Callable[..., Any]:
    """`fn(args)` as a Gradio server function that knows its caller (`caller()`, inside `fn`).

    Reading the request body needs `await`, so the function Gradio sees is async; `fn` then runs in a worker
    thread, as Gradio runs a plain server function, and the context (so `caller()`) goes with it."""
    import anyio
    import gradio as gr

    async def call(args: Any, request: Any) -> Any:
        token = _CALLER.set(await session_of(request))
        try:
            return await anyio.to_thread.run_sync(fn, args)
        finally:
            _CALLER.reset(token)

    call.__annotations__ = {"args": Any, "request": gr.Request, "return": Any}  # Gradio passes the request by type
    call.__name__ = call.__qualname__ = fn.__name__  # the name the page calls it by (`server.<name>(...)`)
    call.__doc__ = fn.__doc__
    return call
