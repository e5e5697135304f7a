"""The raw Gradio protocol, spoken as a browser (or an attacker) speaks it, with no gradio_client in between.

A page event goes through `queue/join` (POST: the values and the session's id, answered with an event id)
and the session's stream `queue/data` (server-sent events, ending with the event's `process_completed`);
the explorer's server functions through `component_server`, outside the queue; named endpoints through
`call/<name>`. gradio_client converts or refuses many malformed values before sending them, so the tests of
what the server answers to them (tests/test_hardening.py, tests/test_api.py) and the attack replay
(benchmarks/attack.py) send them with these functions instead.
"""

from __future__ import annotations

import json
import uuid
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
