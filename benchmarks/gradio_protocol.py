"""The raw Gradio protocol, spoken as a browser (or an attacker) speaks it, with no gradio_client in between.

A page event goes through `queue/join` (POST: the values and the session's id, answered with an event id)
and the session's stream `queue/data` (server-sent events, ending with the event's `process_completed`);
the explorer's server functions through `component_server`, outside the queue; named endpoints through
`call/<name>`. gradio_client converts or refuses many malformed values before sending them, so the tests of
what the server answers to them (tests/test_hardening.py, tests/test_api.py) and the attack replay
(benchmarks/attack.py) send them with these functions instead; `Page` wraps them as one browser page
(its session and the page's names for things), for tests/test_admission.py.
"""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import httpx

API = "gradio_api"
FILE_META = {"_type": "gradio.FileData"}


def base_of(url: str) -> str:
    return url.rstrip("/")


def page_config(url: str) -> dict[str, Any]:
    """The page's `/config`: components (with their ids, props and values) and dependencies (events)."""
    answer = httpx.get(f"{base_of(url)}/config", timeout=30)
    answer.raise_for_status()
    return answer.json()


def component_id(config: dict[str, Any], elem_id: str) -> int:
    """The id of the component whose `elem_id` is `elem_id`."""
    return next(c["id"] for c in config["components"] if c.get("props", {}).get("elem_id") == elem_id)


def dependency(config: dict[str, Any], api_name: str | None = None, target: int | None = None,
               event: str | None = None, inputs: int | None = None) -> dict[str, Any]:
    """The first event by `api_name`, or by the component that triggers it (`target`, `event`), optionally
    one whose inputs include the component `inputs`."""
    for dep in config["dependencies"]:
        if api_name is not None and dep.get("api_name") != api_name:
            continue
        if target is not None and not any(t[0] == target and (event is None or t[1] == event)
                                          for t in dep.get("targets", [])):
            continue
        if inputs is not None and inputs not in dep.get("inputs", []):
            continue
        return dep
    raise LookupError(f"no event with api_name={api_name} target={target} event={event} inputs={inputs}")


def values_for(config: dict[str, Any], dep: dict[str, Any], overrides: dict[int, Any] | None = None) -> list[Any]:
    """The values a page sends for `dep`: each input's value in `/config`, or `overrides[id]` for some."""
    props = {c["id"]: c.get("props", {}) for c in config["components"]}
    return [(overrides or {}).get(i, props.get(i, {}).get("value")) for i in dep["inputs"]]


def new_session() -> str:
    return uuid.uuid4().hex[:11]


def queue_join(url: str, fn_index: int, data: list[Any] | str | bytes, session: str | None = None,
               trigger_id: int | None = None, timeout: float = 120.0) -> dict[str, Any]:
    """Join the queue with `data` and read the session's stream until this event completes.

    → the `process_completed` message ({"success", "output": {"data"} or {"error"}, ...}, plus "logs": the
    event's toasts, e.g. {"level": "warning", "log": text}), or, when the join
    itself is refused, {"status": HTTP status, "body": its text}. `data` may be raw bytes or text: then it is
    sent as the whole body, as is (an oversized or malformed body).
    """
    base, session = base_of(url), session or new_session()
    if isinstance(data, (str, bytes)):
        joined = httpx.post(f"{base}/{API}/queue/join", content=data, timeout=timeout,
                            headers={"content-type": "application/json"})
    else:
        joined = httpx.post(f"{base}/{API}/queue/join", timeout=timeout, json={
            "data": data, "fn_index": fn_index, "trigger_id": trigger_id, "session_hash": session,
            "event_data": None})
    if joined.status_code != 200:
        return {"status": joined.status_code, "body": joined.text}
    event_id, logs = joined.json()["event_id"], []
    with httpx.stream("GET", f"{base}/{API}/queue/data", params={"session_hash": session},
                      timeout=timeout) as stream:
        for line in stream.iter_lines():
            if not line.startswith("data:"):
                continue
            message = json.loads(line[len("data:"):])
            if message.get("msg") == "log" and message.get("event_id") == event_id:
                logs.append(message)  # gr.Warning and gr.Info toasts
            if message.get("msg") == "process_completed" and message.get("event_id") == event_id:
                return {**message, "logs": logs}
            if message.get("msg") == "unexpected_error":
                return {"status": 500, "body": json.dumps(message)}
    raise RuntimeError(f"the stream of event {event_id} ended before it completed")


def error_of(message: dict[str, Any]) -> str | None:
    """The error text of a `queue_join` answer (None when it succeeded)."""
    if "status" in message:
        return message["body"]
    return None if message.get("success") else (message.get("output") or {}).get("error")


def server_function(url: str, component: int, fn_name: str, data: Any, session: str = "",
                    timeout: float = 300.0, body: str | bytes | None = None) -> httpx.Response:
    """POST a server function call to `component_server` (what the explorer's JS does); `body` replaces the
    whole JSON body when given (a malformed or oversized one)."""
    target = f"{base_of(url)}/{API}/component_server"
    if body is not None:
        return httpx.post(target, content=body, timeout=timeout, headers={"content-type": "application/json"})
    return httpx.post(target, timeout=timeout, json={"session_hash": session, "component_id": component,
                                                     "fn_name": fn_name, "data": data})


def call(url: str, api_name: str, data: list[Any], timeout: float = 120.0) -> tuple[str, Any]:
    """POST `data` to `call/<api_name>` as it is, bypassing gradio_client's uploads; → (event, payload)."""
    base = base_of(url)
    started = httpx.post(f"{base}/{API}/call/{api_name}", json={"data": data}, timeout=timeout)
    started.raise_for_status()
    stream = httpx.get(f"{base}/{API}/call/{api_name}/{started.json()['event_id']}", timeout=timeout).text
    event = next(line[len("event: "):] for line in stream.splitlines() if line.startswith("event: "))
    payload = json.loads(next(line[len("data: "):] for line in stream.splitlines() if line.startswith("data: ")))
    return event, payload


def upload(url: str, name: str, content: bytes, timeout: float = 120.0) -> dict[str, Any]:
    """POST one file to Gradio's `upload` route, as the page does; → the FileData to send in its place."""
    answer = httpx.post(f"{base_of(url)}/{API}/upload", files={"files": (name, content)}, timeout=timeout)
    answer.raise_for_status()
    return {"path": answer.json()[0], "orig_name": name, "meta": FILE_META}


# -- bytes on a socket: what an HTTP client would not send (a declared length it never sends, a chunked body) --


def post_head(path: str, headers: dict[str, str]) -> bytes:
    """A POST's request line and headers (JSON content type, plus `headers`), ready for `raw_exchange`."""
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json",
             *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def slices(data: bytes | memoryview, size: int = 2**20) -> Iterator[memoryview]:
    """`data` in `size` pieces, without copying it (a measured body must not be copied by its sender)."""
    view = memoryview(data)
    return (view[start:start + size] for start in range(0, len(view), size))


def chunked(data: bytes | memoryview, size: int = 2**20) -> Iterator[bytes | memoryview]:
    """`data` in HTTP/1.1 chunked framing, piece by piece, without copying it."""
    for part in slices(data, size):
        yield b"%x\r\n" % len(part)
        yield part
        yield b"\r\n"
    yield b"0\r\n\r\n"


def raw_exchange(host: str, port: int, head: bytes, body_parts: Iterable[bytes | memoryview] = (),
                 timeout: float = 20.0) -> tuple[int, bytes]:
    """Send `head` and then `body_parts` on a plain socket; → (status, body of the answer).

    The server may answer and close before the body is sent: sending then fails, and the answer is read."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(head)
        try:
            for part in body_parts:
                sock.sendall(part)
        except OSError:  # refused and closed mid-body
            pass
        answer = b""
        while b"\r\n\r\n" not in answer or len(answer.split(b"\r\n\r\n", 1)[1]) < _length(answer):
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    if not answer.startswith(b"HTTP/"):
        raise ConnectionError("no HTTP answer")
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), rest.split(b"\r\n\r\n", 1)[-1]


def _length(answer: bytes) -> int:
    """The Content-Length of an answer's head (as good as endless without one: read until closed)."""
    for line in answer.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    return 1 << 30


class Page:
    """One browser page's worth of the protocol: its session, the app's `/config`, and the calls a page makes,
    with events named by `api_name` and inputs and outputs by `elem_id` (the page's test contract).

        page = Page(url)
        image = page.upload(Path("star.png"))                                       # upload
        out = page.run("ui_update", {"input-image": image, "model": "bundled"})     # queue/join + queue/data
        page.call("explorer", "maps", [...])                                        # component_server
    """

    def __init__(self, url: str, session: str | None = None, timeout: float = 120.0):
        self.url, self.timeout = url, timeout
        self.session = new_session() if session is None else session
        self.config = page_config(url)

    def component(self, elem_id: str) -> int:
        return component_id(self.config, elem_id)

    def upload(self, path: Path) -> dict[str, Any]:
        """`path` uploaded as the page uploads a file; → the FileData to send in its place."""
        return upload(self.url, path.name, path.read_bytes(), timeout=self.timeout)

    def run(self, api_name: str, values: dict[str, Any], trigger: str | None = None) -> dict[str, Any]:
        """Run a queued event; → its outputs by elem_id (or id). `values` by elem_id; inputs left out are sent
        as `/config` has them, State components as null (Gradio keeps their values on the server); `trigger`:
        the elem_id of the component that fired (default: the first input). A failed event raises."""
        dep = dependency(self.config, api_name=api_name)
        props = {c["id"]: c.get("props", {}) for c in self.config["components"]}
        states = {c["id"] for c in self.config["components"] if c["type"] == "state"}
        data = [None if i in states else values.get(props[i].get("elem_id"), props[i].get("value"))
                for i in dep["inputs"]]
        trigger_id = self.component(trigger) if trigger else dep["inputs"][0]
        message = queue_join(self.url, dep["id"], data, session=self.session, trigger_id=trigger_id,
                             timeout=self.timeout)
        if not message.get("success"):
            raise AssertionError(f"{api_name} failed: {message}")
        names = [props[i].get("elem_id") or i for i in dep["outputs"]]
        return dict(zip(names, message["output"]["data"], strict=True))

    def call(self, elem_id: str, fn_name: str, data: Any, session: str | None = None) -> Any:
        """A server function of the component `elem_id`, as the page's `server.<fn_name>(...)` calls it
        (`session`: another session id to claim, "" for none); → its JSON answer."""
        answer = server_function(self.url, self.component(elem_id), fn_name, data, timeout=self.timeout,
                                 session=self.session if session is None else session)
        return answer.raise_for_status().json()
