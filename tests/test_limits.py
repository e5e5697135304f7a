"""The served app's own limits (issue 21), attacked the way the attack pass did: raw HTTP to its routes.

- request bodies: a body over the limit is refused with 413 and one sentence, whether it declares its length
  (refused from the header, before a byte of it is read) or arrives in chunks without one (refused as soon
  as the count passes the limit); the largest legitimate request, a picture at the upload limit as a data
  URL, is under the limit;
- sessions: requests with made-up session ids that create nothing but a session do not push a visitor's
  state out, even far more of them than sessions are kept;
- the upload folder stays under its cap, the oldest uploads going first.

One app on the bundled model for the module, on 127.0.0.1 at a free port, with its own upload folder and
small limits (8 kept sessions, a 64 MB folder) so the tests need few requests. The limits' numbers are
worked out here from the upload limit, not read from the code under test.
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import gradio_protocol as gp  # noqa: E402

pytestmark = pytest.mark.server

MB = 2**20
UPLOAD_LIMIT = 20 * MB  # uploads.MAX_FILE_BYTES, the limit the page states
# A picture at the upload limit as a base64 data URL: 4 characters for every 3 bytes.
LARGEST_DATA_URL = (UPLOAD_LIMIT + 2) // 3 * 4
SESSIONS = 8
FOLDER_MB = 64


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """(demo, its upload folder): the bundled app with small limits and an upload folder of its own."""
    folder = tmp_path_factory.mktemp("gradio-uploads")
    saved = {name: os.environ.get(name) for name in ("GRADIO_TEMP_DIR", "VITDEMO_SESSIONS", "VITDEMO_UPLOAD_MB")}
    os.environ.update(GRADIO_TEMP_DIR=str(folder), VITDEMO_SESSIONS=str(SESSIONS), VITDEMO_UPLOAD_MB=str(FOLDER_MB))
    try:
        from vitdemo.app import build_app, launch_options

        demo = build_app("bundled")
        demo.launch(prevent_thread_lock=True, quiet=True, server_name="127.0.0.1", **launch_options())
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    yield demo, folder
    demo.close()


def raw_exchange(demo: Any, head: bytes, body_parts: Iterable[bytes] = (), timeout: float = 20.0) -> tuple[int, bytes]:
    return gp.raw_exchange(demo.server_name, demo.server_port, head, body_parts, timeout=timeout)


def assert_one_sentence_refusal(status: int, body: bytes) -> None:
    assert status == 413
    sentence = json.loads(body)["error"]
    assert sentence.count(". ") == 0 and sentence.endswith(".") and "refused" in sentence
    assert "20 MB" in sentence


# -- request bodies ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/gradio_api/component_server", "/gradio_api/queue/join",
                                  "/gradio_api/run/predict", "/gradio_api/upload"])
def test_a_60_mb_body_is_refused_from_its_declared_length(served, path):
    """Only the headers are sent: without the limit the server would wait for 60 MB that never come."""
    status, body = raw_exchange(served[0], gp.post_head(path, {"Content-Length": str(60 * MB)}), timeout=15)
    assert_one_sentence_refusal(status, body)


def test_a_chunked_body_is_refused_once_it_passes_the_limit(served):
    """No Content-Length: 40 MB in chunks of 1 MB; the server must stop reading and answer 413."""
    head = gp.post_head("/gradio_api/component_server", {"Transfer-Encoding": "chunked"})
    status, body = raw_exchange(served[0], head, gp.chunked(b"x" * (40 * MB)))
    assert_one_sentence_refusal(status, body)


def test_the_refusal_is_in_the_readers_language(served):
    head = gp.post_head("/gradio_api/queue/join", {"Content-Length": str(60 * MB), "Accept-Language": "zh-CN,zh"})
    status, body = raw_exchange(served[0], head)
    assert status == 413 and "拒绝" in json.loads(body)["error"]


def test_a_picture_at_the_upload_limit_as_a_data_url_passes(served):
    """The largest legitimate request: a data URL of a 20 MB picture in a JSON body, sent in chunks so the
    counting path is the one tested. It reaches Gradio, which answers for the made-up function (404)."""
    padding = "A" * LARGEST_DATA_URL
    payload = json.dumps({"session_hash": "s", "component_id": min(served[0].blocks), "fn_name": "nothing",
                          "data": "data:image/png;base64," + padding}).encode()
    head = gp.post_head("/gradio_api/component_server", {"Transfer-Encoding": "chunked"})
    status, _ = raw_exchange(served[0], head, gp.chunked(payload), timeout=60)
    assert status not in (413, 500)


def test_an_upload_at_the_limit_is_stored(served):
    demo, folder = served
    data = os.urandom(UPLOAD_LIMIT - 1024)
    answer = httpx.post(f"{demo.local_url}gradio_api/upload", files={"files": ("big.png", data, "image/png")},
                        timeout=60)
    assert answer.status_code == 200
    stored = Path(answer.json()[0])
    assert stored.read_bytes() == data and folder in stored.parents


# -- sessions ----------------------------------------------------------------------------------------------


def test_made_up_sessions_do_not_evict_a_visitors_state(served):
    """A visitor opens a tab (an event that writes the page's `tab` State); then 300 requests with random
    session ids, far more than the 8 sessions kept (and than the newcomers kept), each make a session on
    /gradio_api/component_server. The visitor's state must still be there."""
    demo, _ = served
    visitor = "visitor-" + uuid.uuid4().hex
    tab_state = next(c for c in demo.blocks.values() if type(c).__name__ == "State" and c.value == "heads")
    opens_recipe = next(i for i, fn in demo.fns.items() if fn.fn is not None and not fn.inputs
                        and [b._id for b in fn.outputs] == [tab_state._id] and fn.fn() == "recipe")
    run_event(demo, visitor, opens_recipe)
    holder = demo.app.state_holder
    assert holder[visitor].state_data[tab_state._id] == "recipe"
    with httpx.Client(base_url=demo.local_url, timeout=30) as client:
        for _ in range(300):
            answer = client.post("gradio_api/component_server", json={
                "session_hash": uuid.uuid4().hex, "component_id": tab_state._id, "fn_name": "nothing", "data": None})
            assert answer.status_code == 404
    assert visitor in holder.session_data
    assert holder[visitor].state_data[tab_state._id] == "recipe"
    assert len(holder.session_data) + len(getattr(holder, "newcomers", ())) <= SESSIONS + 64  # still bounded


def run_event(demo: Any, session: str, fn_index: int) -> None:
    """Run one event through the queue for `session`, as the page does (join, then read the stream)."""
    message = gp.queue_join(demo.local_url, fn_index, [], session=session, timeout=60)
    assert message.get("success"), message


# -- the upload folder -------------------------------------------------------------------------------------


def test_the_upload_folder_stays_under_its_cap_oldest_first(served):
    """Six 15 MB uploads into a 64 MB folder: after each, the folder holds at most 64 MB, the newest upload
    is there, and the first ones went first."""
    demo, folder = served
    stored = []
    with httpx.Client(base_url=demo.local_url, timeout=60) as client:
        for n in range(6):
            data = os.urandom(15 * MB)
            answer = client.post("gradio_api/upload", files={"files": (f"u{n}.png", data, "image/png")})
            assert answer.status_code == 200
            stored.append(Path(answer.json()[0]))
            assert folder_bytes(folder) <= FOLDER_MB * MB
            assert stored[-1].exists()
    assert not stored[0].exists() and not stored[1].exists()
    assert stored[-2].exists()


def folder_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())
