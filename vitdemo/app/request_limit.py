"""A size limit on every request's body, for every route, checked before the app reads a byte of it.

Why: Gradio reads a JSON body whole and parses it (orjson, then pydantic) before it looks at what it asked
for, at many times its size: a 100 MB body to `/gradio_api/component_server` cost the server +1.8 GB, to
`/gradio_api/queue/join` +301 MB (issue 21). Uploads are multipart and Gradio refuses a *file* over
`max_file_size`, but one request may carry up to 1,000 such files.

The largest legitimate request is one picture at the upload limit sent as a data URL (base64: 4 bytes for
every 3) inside a JSON body, so the limit is that plus room for the rest of the JSON. A multipart upload of
one picture at the limit is smaller and passes too.

`BodyLimit` is an ASGI middleware (`launch(app_kwargs={"middleware": [...]})`, see `ui.launch_options`):
- a body that declares its length (Content-Length, what browsers and HTTP clients send) is refused from the
  header, before any of it is read; the server never hands the app more than the declared length;
- a body sent in chunks without a length is counted as it arrives and refused as soon as it passes the
  limit, so it costs at most the limit in memory; below it, it is handed on whole.
The refusal is a 413 whose JSON `error` is one sentence in the reader's language (Accept-Language).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from .i18n import language, text
from .uploads import MAX_FILE_BYTES

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

JSON_ROOM = 1 * 2**20  # the rest of a request around its picture: other inputs, ids, the data URL's prefix


def data_url_bytes(file_bytes: int) -> int:
    """Characters of a base64 data URL's payload for a file of `file_bytes` (4 for every 3, padded)."""
    return -(-file_bytes // 3) * 4


MAX_BODY_BYTES = data_url_bytes(MAX_FILE_BYTES) + JSON_ROOM


class BodyLimit:
    """ASGI middleware: refuse request bodies over `max_bytes` with 413 (see the module docstring)."""

    def __init__(self, app: App, max_bytes: int = MAX_BODY_BYTES):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = declared_length(scope)
        if declared is not None:
            if declared > self.max_bytes:
                await refuse(scope, send, self.max_bytes)
            else:
                await self.app(scope, receive, send)
            return
        if not _chunked(scope):  # no length and no chunks: HTTP/1.1 says there is no body
            await self.app(scope, receive, send)
            return
        body = await read_at_most(receive, self.max_bytes)
        if body is None:
            await refuse(scope, send, self.max_bytes)
            return
        await self.app(scope, _replay(body, receive), send)


def declared_length(scope: Scope) -> int | None:
    """The Content-Length a request declares, or None when it declares none; an unreadable one counts as
    too long (`inf` would not be an int: a huge number does the same)."""
    for name, value in scope.get("headers", ()):
        if name.lower() == b"content-length":
            text_value = value.decode("latin-1").strip()
            return int(text_value) if text_value.isdigit() else 2**63
    return None


def _chunked(scope: Scope) -> bool:
    return any(name.lower() == b"transfer-encoding" for name, _ in scope.get("headers", ()))


async def read_at_most(receive: Receive, max_bytes: int) -> bytes | None:
    """The whole body if it is at most `max_bytes`, else None as soon as it passes them (the rest unread)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client went away: hand on what there is
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > max_bytes:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that gives `body` in one message, then whatever the client sends next (a disconnect)."""
    given = False

    async def replayed() -> Message:
        nonlocal given
        if given:
            return await receive()
        given = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replayed


async def refuse(scope: Scope, send: Send, max_bytes: int) -> None:
    """Answer 413 with one sentence, and close the connection (the rest of the body is never read)."""
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", ())}
    sentence = text("limits.request_too_large", language(_HeaderView(headers)), limit=f"{max_bytes / 2**20:.0f}",
                    mb=MAX_FILE_BYTES // 2**20)
    payload = json.dumps({"error": sentence}, ensure_ascii=False).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": payload})


class _HeaderView:
    """What `i18n.language` reads from a request: its headers."""

    def __init__(self, headers: dict[str, str]):
        self.headers = headers
