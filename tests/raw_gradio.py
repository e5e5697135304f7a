"""Gradio's wire protocol spoken by hand (httpx), as a browser page or an attacker speaks it: no gradio_client.

    page = RawPage(url)                       # a page of its own: a fresh session hash
    path = page.upload(Path("star.png"))      # POST /gradio_api/upload
    out = page.run("ui_update", {"input-image": page.file(path), "model": "bundled"})   # queue/join + queue/data
    page.call("explorer", "relevance", [key, "circle"])                                  # component_server

Events are named by their `api_name` and their inputs by `elem_id` (the page's test contract); inputs left out
are sent as Gradio's config has them (State components as null: Gradio keeps their values on the server).
"""

from __future__ import annotations

import json
import secrets
from functools import cached_property
from pathlib import Path
from typing import Any

import httpx

TIMEOUT_S = 120


class RawPage:
    """One browser page's worth of protocol: its session hash, the app's config, and the calls a page makes."""

    def __init__(self, url: str, session: str | None = None):
        self.url = url.rstrip("/")
        self.session = secrets.token_hex(6) if session is None else session
        self.http = httpx.Client(timeout=TIMEOUT_S)

    @cached_property
    def config(self) -> dict[str, Any]:
        return self.http.get(f"{self.url}/config").raise_for_status().json()

    @property
    def api(self) -> str:
        return self.url + self.config.get("api_prefix", "/gradio_api")

    def component(self, elem_id: str) -> dict[str, Any]:
        return next(c for c in self.config["components"] if c.get("props", {}).get("elem_id") == elem_id)

    def dependency(self, api_name: str) -> dict[str, Any]:
        return next(d for d in self.config["dependencies"] if d.get("api_name") == api_name)

    def upload(self, path: Path) -> str:
        """The server path of `path` uploaded as a page uploads a file."""
        with path.open("rb") as f:
            reply = self.http.post(f"{self.api}/upload", files={"files": (path.name, f)})
        return reply.raise_for_status().json()[0]

    @staticmethod
    def file(server_path: str) -> dict[str, Any]:
        """An uploaded file as an input value (Gradio's FileData)."""
        return {"path": server_path, "orig_name": Path(server_path).name, "meta": {"_type": "gradio.FileData"}}

    def run(self, api_name: str, values: dict[str, Any], trigger: str | None = None) -> dict[str, Any]:
        """Run a queued event (queue/join, then its queue/data stream); → the outputs by elem_id (or id).

        `values` by elem_id; `trigger`: the elem_id of the component that fired (default: the first input)."""
        dep = self.dependency(api_name)
        by_id = {c["id"]: c for c in self.config["components"]}
        data = [values.get(by_id[i].get("props", {}).get("elem_id"), by_id[i].get("props", {}).get("value"))
                if by_id[i]["type"] != "state" else None for i in dep["inputs"]]
        trigger_id = self.component(trigger)["id"] if trigger else dep["inputs"][0]
        body = {"data": data, "fn_index": dep["id"], "trigger_id": trigger_id, "session_hash": self.session,
                "event_data": None}
        event = self.http.post(f"{self.api}/queue/join", json=body).raise_for_status().json()["event_id"]
        message = self._completed(event)
        if not message.get("success"):
            raise AssertionError(f"{api_name} failed: {message}")
        names = [by_id[i].get("props", {}).get("elem_id") or i for i in dep["outputs"]]
        return dict(zip(names, message["output"]["data"], strict=True))

    def _completed(self, event_id: str) -> dict[str, Any]:
        with self.http.stream("GET", f"{self.api}/queue/data", params={"session_hash": self.session}) as stream:
            for line in stream.iter_lines():
                if not line.startswith("data:"):
                    continue
                message = json.loads(line[5:])
                if message.get("msg") == "process_completed" and message.get("event_id") == event_id:
                    return message
        raise AssertionError(f"the stream ended before event {event_id} completed")

    def call(self, elem_id: str, fn_name: str, data: Any, session: str | None = None) -> Any:
        """A server function of the component `elem_id`, as the page's `server.<fn_name>(...)` calls it
        (`session`: another session hash to claim, "" for none)."""
        body = {"data": data, "component_id": self.component(elem_id)["id"], "fn_name": fn_name,
                "session_hash": self.session if session is None else session}
        return self.http.post(f"{self.api}/component_server", json=body).raise_for_status().json()

    def close(self) -> None:
        self.http.close()
