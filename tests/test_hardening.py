"""Issue 21's low items, attacked as the attack pass did: with the raw Gradio protocol (benchmarks/gradio_protocol.py).

One app for the module: the whole page, served on 127.0.0.1 with default settings, its model a local folder (a
copy of the bundled model named "shapes-folder", as given by `python app.py --model DIR`). What must hold:
- a model value the page never offers, sent through `queue/join`, gets one short sentence, not its whole self
  back, and no traceback in the log;
- the folder's path on the server appears nowhere in `/config` nor in what the app says; its name stands in;
- every malformed value sent to an event, a server function or an endpoint gets one sentence;
- every input refuses a URL or a server path as the image input does.
Expected sentences are written out here, from the bundled model's config.json and the registry's keys.
"""

from __future__ import annotations

import base64
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import gradio_protocol as gp  # noqa: E402

pytestmark = [pytest.mark.server, pytest.mark.usefixtures("clean_server_log")]
BUNDLED = ROOT / "assets" / "bundled"
STAR = ROOT / "assets" / "examples" / "shape_star.png"
FOLDER_NAME = "shapes-folder"
KEYS = ["bundled", "flexivit-b", "vit-b16", "deit-tiny", "deit-small", "dino-s8", "dino-s16", "dino-b8", "dino-b16",
        "dinov2-s", "dinov2-b", "dinov2-reg-s", "dinov2-reg-b",
        "clip-b16", "clip-b32", "siglip-b16", "chinese-clip-b16", FOLDER_NAME]
NOT_AN_UPLOAD = ("Send the image as a file upload (gradio_client: handle_file('picture.png')), not a URL or a path "
                 "on the server.")
FILE = {"_type": "gradio.FileData"}


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("models") / FOLDER_NAME
    shutil.copytree(BUNDLED, path)
    return path


@pytest.fixture(scope="module")
def app(folder: Path) -> Any:
    from vitdemo.app import build_app, launch_options

    demo = build_app(str(folder))
    demo.launch(prevent_thread_lock=True, quiet=True, server_name="127.0.0.1", server_port=None, **launch_options())
    yield demo
    demo.close()


@pytest.fixture(scope="module")
def page(app: Any) -> dict[str, Any]:
    """The page's /config, and the ids of its components by elem_id."""
    config = gp.page_config(app.local_url)
    return {"config": config, "ids": {c.get("props", {}).get("elem_id"): c["id"] for c in config["components"]}}


def join(app: Any, page: dict, api_name: str | None = None, values: dict[str, Any] | None = None,
         session: str | None = None, **how: Any) -> dict[str, Any]:
    """`queue/join` the event named `api_name` (or found by `how`) with the page's values, some replaced."""
    dep = gp.dependency(page["config"], api_name=api_name, **how)
    data = gp.values_for(page["config"], dep, {page["ids"][k]: v for k, v in (values or {}).items()})
    return gp.queue_join(app.local_url, dep["id"], data, session=session)


def upload(app: Any, path: Path = STAR) -> dict[str, Any]:
    return gp.upload(app.local_url, path.name, path.read_bytes())


def analysed_key(app: Any, page: dict, session: str) -> list[Any]:
    """The key of the explorer's analysis after the page's one event, in `session`."""
    answer = join(app, page, "ui_update", {"input-image": upload(app)}, session=session)
    dep = gp.dependency(page["config"], api_name="ui_update")
    bundle = answer["output"]["data"][dep["outputs"].index(page["ids"]["explorer"])]
    return (bundle.get("value") or bundle)["key"]


def one_sentence(text: Any) -> bool:
    return isinstance(text, str) and 0 < len(text) <= 300 and text.rstrip().endswith((".", "。")) and \
        "Traceback" not in text and "\n" not in text


# -- 1. the page's model value, checked like the API's ----------------------------------------------------


@pytest.mark.parametrize("api_name, elem_id", [("ui_update", "model"), ("run", "models-second")])
def test_a_model_value_not_offered_gets_one_short_sentence(app, page, api_name, elem_id):
    sent = "x" * (2 * 2**20)  # 2 MB: it used to come back whole, in Gradio's "not in the list of choices"
    answer = join(app, page, api_name, {elem_id: sent})
    assert gp.error_of(answer) == f"model must be one of {', '.join(KEYS)}, not '{'x' * 22}…."
    assert len(json.dumps(answer)) < 2000


def test_the_model_value_is_still_taken_by_key(app, page):
    answer = join(app, page, "ui_update", {"model": "bundled", "input-image": upload(app)})
    assert answer["success"], answer
    assert "Bundled shapes ViT" in json.dumps(answer["output"]["data"])  # the status line of the model switched to


# -- 2. no server paths ------------------------------------------------------------------------------------


def test_the_folder_models_path_is_nowhere_in_the_config(app, folder):
    text = httpx.get(f"{gp.base_of(app.local_url)}/config", timeout=30).text
    assert str(folder.parent) not in text and str(folder.resolve().parent) not in text
    config = json.loads(text)
    model = next(c for c in config["components"] if c.get("props", {}).get("elem_id") == "model")
    assert [value for _, value in model["props"]["choices"]] == KEYS
    assert model["props"]["value"] == FOLDER_NAME
    assert f"Running {FOLDER_NAME}, as requested (from {FOLDER_NAME})." in text  # the status line


def test_the_folder_is_named_by_its_name(app):
    event, answer = gp.call(app.local_url, "classify", [upload(app), None, FOLDER_NAME])
    assert event == "complete" and answer[0]["label"] == "star"
    event, answer = gp.call(app.local_url, "classify", [upload(app), None, "someone/huge-model"])
    assert (event, answer["error"]) == ("error", f"model must be one of {', '.join(KEYS)}, not 'someone/huge-model'.")


def test_a_folder_that_fails_to_load_is_named_without_its_path(tmp_path):
    from vitdemo.app.models import choose_startup, register
    from vitdemo.app.service import Engine
    from vitdemo.app.validation import UserError

    broken = tmp_path / "broken-model"
    broken.mkdir()
    (broken / "config.json").write_text("{}")
    engine = Engine(choose_startup("bundled"))
    entry = register(str(broken))
    engine.entries[entry.key] = entry
    with pytest.raises(UserError) as refused:
        engine.model("broken-model")
    assert str(tmp_path) not in str(refused.value) and "broken-model" in str(refused.value)


def test_a_folder_named_like_a_registered_model_gets_its_own_key(tmp_path):
    from vitdemo.app.models import register

    twin = tmp_path / "bundled"
    twin.mkdir()
    entry = register(str(twin))
    assert (entry.key, entry.source) == ("bundled-folder", str(twin))


# -- 3. every user error one sentence ----------------------------------------------------------------------


def test_hidden_patches_that_are_not_pairs_get_a_sentence(app, page):
    session = gp.new_session()
    key = analysed_key(app, page, session)
    for hidden, shown in (([[1]], "[1]"), ([[1, 2, 3]], "[1, 2, 3]"), ([5], "5")):
        answer = gp.server_function(app.local_url, page["ids"]["explorer"], "top_without", [key, hidden], session)
        assert answer.json() == {"error": f"patch must be a [row, col] pair of whole numbers, not {shown}."}


def test_a_server_function_of_no_component_gets_a_sentence(app):
    answer = gp.server_function(app.local_url, 987654, "relevance", [None, None])
    assert (answer.status_code, answer.json()) == (404, {"error": "This page has no such component; please reload it."})


MALFORMED = [None, 5, -1, 1.5, "x", "9" * 300, [], [1], [[1, 2]], {"a": 1}, True, [[[[]]]], {"path": None, "url": None}]
FEW_MALFORMED = [None, -1, 1.5, "9" * 300, [[1, 2]], {"a": 1}, [[[[]]]]]


def distinct_events(config: dict[str, Any]) -> list[dict[str, Any]]:
    """The events with a server function and inputs, one per function and inputs (`refresh_tab` is bound to
    five tabs, for one)."""
    seen, events = set(), []
    for dep in config["dependencies"]:
        name = (dep.get("api_name") or "").rstrip("0123456789").rstrip("_")
        if dep.get("backend_fn") and dep["inputs"] and (name, tuple(dep["inputs"])) not in seen:
            seen.add((name, tuple(dep["inputs"])))
            events.append(dep)
    return events


@pytest.mark.slow
def test_every_event_answers_malformed_values_with_one_sentence(app, page):
    """Each value of `FEW_MALFORMED` in place of each input of each distinct event, and too few values: each
    answer is a success or one sentence, and every toast is one sentence too."""
    session, wrong = gp.new_session(), []
    analysed_key(app, page, session)
    for dep in distinct_events(page["config"]):
        base = gp.values_for(page["config"], dep)
        tries = [base[:i] + [bad] + base[i + 1:] for i in range(len(base)) for bad in FEW_MALFORMED] + [[], base[:-1]]
        for data in tries:
            answer = gp.queue_join(app.local_url, dep["id"], data, session=session)
            texts = [log.get("log") for log in answer.get("logs", [])]
            texts += [] if answer.get("success") else [gp.error_of(answer)]
            wrong += [(dep.get("api_name"), repr(data)[:80], text) for text in texts if not one_sentence(text)]
    assert not wrong, wrong[:10]


@pytest.mark.slow
def test_every_server_function_answers_malformed_values_with_one_sentence(app, page):
    session = gp.new_session()
    key = analysed_key(app, page, session)
    values = MALFORMED + [[key, None], [key, "nope"], [key, [1]], [key, [[1]]], [key, ["a"]], [key, [["a", "b"]]],
                          [key, 5, 5, 5], [key, "x", None, []], [key, 0, 99], [key[:2], 0], [[None] * 4, 1], key]
    wrong = []
    for component in page["config"]["components"]:
        for name in component.get("props", {}).get("server_fns") or component.get("server_fns") or []:
            for value in values:
                answer = gp.server_function(app.local_url, component["id"], name, value, session)
                body = answer.json() if answer.headers.get("content-type", "").startswith("application/json") \
                    else answer.text
                if answer.status_code != 200 or (isinstance(body, dict) and "error" in body
                                                  and not one_sentence(body["error"])):
                    wrong.append((component["props"].get("elem_id"), name, repr(value)[:60], answer.status_code))
    assert not wrong, wrong[:10]


@pytest.mark.slow
@pytest.mark.parametrize("endpoint, count", [("classify", 3), ("analyze", 7)])
def test_every_endpoint_answers_malformed_values_with_one_sentence(app, endpoint, count):
    star = gp.upload(app.local_url, STAR.name, STAR.read_bytes())
    wrong = []
    for i in range(count):
        for bad in MALFORMED + [{"path": "/etc/hostname", "meta": FILE}]:
            data = [star] + [None] * (count - 1)
            data[i] = bad
            event, answer = gp.call(app.local_url, endpoint, data)
            if event != "complete" and not one_sentence((answer or {}).get("error")):
                wrong.append((i, repr(bad)[:40], answer))
    assert not wrong, wrong[:10]


# -- 4. every input refuses URLs and server paths ------------------------------------------------------------


def test_no_event_reads_the_sketchpad(page):
    """The pad's drawings reach the server only as the image input's value (draw.py): no event takes the pad
    itself, so nothing a client sends for it is decoded (its `accept_blobs` server function is bounded apart)."""
    pad = page["ids"]["draw"]
    readers = [dep.get("api_name") for dep in page["config"]["dependencies"] if pad in dep["inputs"]]
    assert readers == []


def test_a_drawing_travels_as_the_image_inputs_data_url(app, page):
    """What sketch.js sends: the image input's value as a PNG data URL named as the pad's drawing, no path."""
    from vitdemo.app.draw import DRAWING_NAME

    url = "data:image/png;base64," + base64.b64encode(STAR.read_bytes()).decode("ascii")
    drawing = {"path": None, "url": url, "orig_name": DRAWING_NAME, "mime_type": "image/png", "meta": FILE}
    answer = join(app, page, "ui_update", {"input-image": drawing})
    assert answer["success"], answer


@pytest.mark.parametrize("api_name, elem_id, value", [
    ("compare", "compare-sizes", [{"url": "http://127.0.0.1:9/x.png", "meta": FILE}]),
    ("download", "figure-view", {"url": "http://127.0.0.1:9/x.png", "path": None, "meta": FILE}),
    ("next", "tour-label", {"path": "/etc/hostname", "meta": FILE}),
])
def test_a_file_slipped_into_any_other_input_is_refused(app, page, api_name, elem_id, value):
    assert gp.error_of(join(app, page, api_name, {elem_id: value})) == NOT_AN_UPLOAD
