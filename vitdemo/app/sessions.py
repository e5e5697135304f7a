"""Which browser sessions keep their state: a request that only names a session never pushes a visitor out.

Gradio keeps a `SessionState` (a copy of the page's config, plus the values of its `gr.State`s) for every
session id a request names, any id the caller makes up, in one least-recently-used list of
`state_session_capacity` entries. Seventy requests with random ids, which cost the sender nothing, evicted a
real visitor's state, so the visitor's next click found no analysis (issue 21).

`SessionHolder` keeps two such lists instead:
- *visitors*: sessions an event has written a `gr.State` value to (the page's load event does, for every
  visitor who opens the page), up to `capacity` (VITDEMO_SESSIONS);
- *newcomers*: sessions nothing has written state to yet, up to `NEWCOMERS`. A request that creates nothing
  but a session lands here, and can push out only other newcomers.
A newcomer moves to the visitors when an event first writes state to it. Making state takes a queued event
(one at a time per concurrency group), so cheap traffic fills the visitors' list far more slowly than it
could fill Gradio's; the default capacity is sized from the memory a kept session costs (BENCHMARKS.md).

Installed by `lifespan` (passed to `launch(app_kwargs=...)` by `ui.launch_options`): the app's startup runs
it before the server accepts its first request, so no session is ever made by Gradio's own holder.
"""

from __future__ import annotations

import datetime
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from gradio.components import State
from gradio.state_holder import SessionState, StateHolder

NEWCOMERS = 64  # sessions without state kept at once (the old capacity: issue 10 sized it by memory)


class SessionHolder(StateHolder):
    """Gradio's `StateHolder` with visitors and newcomers kept apart (see the module docstring)."""

    def __init__(self, newcomers: int = NEWCOMERS):
        super().__init__()
        self.newcomers: OrderedDict[str, SessionState] = OrderedDict()
        self.newcomer_capacity = newcomers

    def __getitem__(self, session_id: str) -> SessionState:
        with self.lock:
            session = self.session_data.get(session_id)
            if session is not None:
                self.session_data.move_to_end(session_id)
            else:
                session = self.newcomers.get(session_id)
                if session is None:
                    session = _Session(self.blocks, self, session_id)
                    self.newcomers[session_id] = session
                    _trim(self.newcomers, self.newcomer_capacity, self.time_last_used)
                else:
                    self.newcomers.move_to_end(session_id)
            self.time_last_used[session_id] = datetime.datetime.now()
        return session

    def __contains__(self, session_id: str) -> bool:
        return session_id in self.session_data or session_id in self.newcomers

    def update(self, session_id: str) -> None:
        with self.lock:
            for kept in (self.session_data, self.newcomers):
                if session_id in kept:
                    kept.move_to_end(session_id)

    def admit(self, session_id: str, session: SessionState) -> None:
        """`session` now holds state: keep it among the visitors (the least recently used one may go)."""
        with self.lock:
            self.newcomers.pop(session_id, None)
            if self.session_data.get(session_id) is session:
                return
            self.session_data[session_id] = session
            self.time_last_used[session_id] = datetime.datetime.now()
            _trim(self.session_data, self.capacity, self.time_last_used)


class _Session(SessionState):
    """A `SessionState` that tells its holder when an event first writes a `gr.State` value to it."""

    def __init__(self, blocks: Any, holder: SessionHolder, session_id: str):
        super().__init__(blocks)
        self._holder, self._session_id, self._admitted = holder, session_id, False

    def __setitem__(self, key: int, value: Any) -> None:
        super().__setitem__(key, value)
        if not self._admitted and isinstance(self.blocks_config.blocks.get(key), State):
            self._admitted = True
            self._holder.admit(self._session_id, self)


def _trim(kept: OrderedDict[str, Any], capacity: int, last_used: dict[str, Any]) -> None:
    while len(kept) > capacity:
        evicted, _ = kept.popitem(last=False)
        last_used.pop(evicted, None)


@asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[None]:
    """Put a `SessionHolder` in place of Gradio's before the server takes requests (FastAPI lifespan)."""
    holder = SessionHolder()
    holder.set_blocks(app.get_blocks())
    app.state_holder = holder
    yield
