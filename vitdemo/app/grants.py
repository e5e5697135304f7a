"""Which analyses each browser session was shown, so the explorer's server functions answer only for those.

The server functions run whatever a caller names by analysis key, and a key alone must not be a pass: one seen
once (in a shared screenshot, a log, or guessed for a cached example) would let any session, or a script
naming none, spend the server's time on it. So the page's own events, which know the session (Gradio's
`gr.Request.session_hash`), record every key they send it (`grant`), and a server function asks `shown`. A
session never granted anything, the empty session hash included, is shown nothing.

Bounded, least recently used first out: `SESSIONS` sessions and `KEYS_PER_SESSION` keys each (a page shows a
few analyses at a time: the explorer's, the comparison's, the second model's). A key refers to the cache's own
`AnalysisKey`, so an entry costs about a dictionary slot: well under 20 MB when full.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable

SESSIONS = 8192  # far more than Gradio keeps (VITDEMO_SESSIONS): a page outlives its Gradio state
KEYS_PER_SESSION = 16


class Grants:
    """A thread-safe, bounded record of (session → analysis keys shown to it)."""

    def __init__(self, sessions: int = SESSIONS, keys_per_session: int = KEYS_PER_SESSION):
        self.sessions = sessions
        self.keys_per_session = keys_per_session
        self._shown: OrderedDict[str, OrderedDict[Hashable, None]] = OrderedDict()
        self._lock = threading.Lock()

    def grant(self, session: str | None, key: Hashable) -> None:
        """Record that `session` was sent `key` (a request that names no session is granted nothing)."""
        if not session:
            return
        with self._lock:
            keys = self._shown.setdefault(session, OrderedDict())
            self._shown.move_to_end(session)
            keys[key] = None
            keys.move_to_end(key)
            while len(keys) > self.keys_per_session:
                keys.popitem(last=False)
            while len(self._shown) > self.sessions:
                self._shown.popitem(last=False)

    def shown(self, session: str | None, key: Hashable) -> bool:
        """Whether `session` was sent `key` (and neither has been forgotten since)."""
        if not session or not isinstance(session, str):
            return False
        with self._lock:
            keys = self._shown.get(session)
            try:
                if keys is None or key not in keys:
                    return False
            except TypeError:  # a key with a list in it, as JSON can send: never one we granted
                return False
            self._shown.move_to_end(session)
            return True

    def __len__(self) -> int:
        return len(self._shown)
