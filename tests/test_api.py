"""The named endpoints `/classify` and `/analyze`, called like any outside client would, offline.

One app for the module: the two endpoints in a `gr.Blocks` of their own (so these tests do not depend on the
page's layout), launched on 127.0.0.1 at a free port. Its default model is a local folder, as given by
`python app.py --model DIR`: a copy of the bundled model whose head always says "heart", so a test can tell
which model answered. Every bad value must come back as exactly one sentence, and the server must print no
traceback and log no exception for any request in this module (`clean_server_log`, tests/browser.py).

Expected sentences and numbers are written out here from the bundled model's own config.json (depth 6,
4 heads, patch sizes 8 to 32), not taken from the code under test.
"""

from __future__ import annotations

import base64
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import gradio_protocol as gp  # noqa: E402

BUNDLED = ROOT / "assets" / "bundled"
STAR = ROOT / "assets" / "examples" / "shape_star.png"
META = json.loads((BUNDLED / "config.json").read_text())
DEPTH, HEADS, LABELS = META["config"]["depth"], META["config"]["heads"], META["labels"]
REGISTRY_KEYS = ["bundled", "flexivit-b", "vit-b16", "deit-tiny", "deit-small", "dino-s8", "dino-s16", "dino-b8",
                 "dino-b16", "dinov2-s", "dinov2-b", "dinov2-reg-s", "dinov2-reg-b",
                 "clip-b16", "clip-b32", "siglip-b16", "chinese-clip-b16"]
FILE_META = {"_type": "gradio.FileData"}
pytestmark = [pytest.mark.server, pytest.mark.usefixtures("clean_server_log")]  # one app of its own (below)
NOT_AN_UPLOAD = ("Send the image as a file upload (gradio_client: handle_file('picture.png')), not a URL or a path "
                 "on the server.")


@pytest.fixture(scope="module")
def heart_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled model with its head replaced: weights 0, bias 30 for "heart", so softmax says heart, ~1."""
    import torch
    from safetensors.torch import load_file, save_file

    folder = tmp_path_factory.mktemp("heart-model")
    shutil.copy(BUNDLED / "config.json", folder / "config.json")
    state = load_file(str(BUNDLED / "model.safetensors"))
    state["head.weight"] = torch.zeros_like(state["head.weight"])
    state["head.bias"] = torch.zeros_like(state["head.bias"])
    state["head.bias"][LABELS.index("heart")] = 30.0
    save_file(state, str(folder / "model.safetensors"))
    return folder


@pytest.fixture(scope="module")
def app(heart_folder: Path) -> Any:
    import gradio as gr

    from vitdemo.app.api import register_endpoints
    from vitdemo.app.models import choose_startup
    from vitdemo.app.service import Engine

    engine = Engine(choose_startup(str(heart_folder)))
    with gr.Blocks(analytics_enabled=False) as demo:
        register_endpoints(engine, {"concurrency_id": "model", "concurrency_limit": 1})
    demo.queue()
    demo.launch(prevent_thread_lock=True, quiet=True, server_name="127.0.0.1", server_port=None)
    demo.vitdemo_engine = engine
    yield demo
    demo.close()


@pytest.fixture(scope="module")
def client(app: Any) -> Client:
    return Client(app.local_url, verbose=False, download_files=False)


def refusal(call: Any) -> str:
    """The one message a refused request gets (`call` must raise AppError with it)."""
    with pytest.raises(AppError) as info:
        call()
    return str(info.value)


def analyze(client: Client, image: Any = None, patch_size: Any = None, method: Any = "attention",
            layer: Any = None, head: Any = "mean", model: Any = "", target: Any = "") -> tuple:
    return client.predict(handle_file(STAR) if image is None else image, patch_size, method, layer, head, model,
                          target, api_name="/analyze")


def classify(client: Client, image: Any = None, patch_size: Any = None, model: Any = "") -> dict:
    return client.predict(handle_file(STAR) if image is None else image, patch_size, model, api_name="/classify")


def raw_call(app: Any, endpoint: str, data: list[Any]) -> tuple[str, Any]:
    """POST `data` to /gradio_api/call/<endpoint> as it is, bypassing gradio_client's uploads; → (event, payload)."""
    return gp.call(app.local_url, endpoint, data, timeout=60)


def picture(file: dict) -> bytes:
    return Image.open(file["path"]).convert("RGB").tobytes()


# A long value is echoed by its first characters only.
FIVE_THOUSAND = pytest.param("9" * 5000, "'" + "9" * 22 + "…", id="5000-digits")


# -- one clear sentence for every bad value ---------------------------------------------------------------


@pytest.mark.parametrize("sent, shown", [
    ("inf", "'inf'"), ("1e400", "'1e400'"), FIVE_THOUSAND, ("nan", "'nan'"),
    ("abc", "'abc'"), (2.5, "2.5"), (7, "7"), (1e308, "1e+308"),
])
def test_bad_patch_size_gets_one_sentence(client, sent, shown):
    expected = f"patch_size must be a whole number from 8 to 32 for this model (trained at 8, 12, 16, 24, 32), " \
               f"not {shown}."
    assert refusal(lambda: classify(client, patch_size=sent)) == expected
    assert refusal(lambda: analyze(client, patch_size=sent)) == expected


@pytest.mark.parametrize("sent, shown", [
    ("inf", "'inf'"), ("1e400", "'1e400'"), FIVE_THOUSAND, ("nan", "'nan'"),
    ("x", "'x'"), (2.5, "2.5"), ("2.5", "'2.5'"), (0, "0"), (DEPTH + 1, str(DEPTH + 1)), (-1, "-1"),
    (1e308, "1e+308"),
])
def test_bad_layer_gets_one_sentence_with_the_models_range(client, sent, shown):
    assert refusal(lambda: analyze(client, layer=sent)) == f"layer must be a whole number from 1 to {DEPTH}, " \
                                                           f"not {shown}."


@pytest.mark.parametrize("sent, shown", [
    ("inf", "'inf'"), ("1e400", "'1e400'"), FIVE_THOUSAND, ("nan", "'nan'"),
    ("median", "'median'"), (1.5, "1.5"), (0, "0"), ("0", "'0'"), (HEADS + 1, str(HEADS + 1)), (-1, "-1"),
])
def test_bad_head_gets_one_sentence(client, sent, shown):
    assert refusal(lambda: analyze(client, head=sent)) == f"head must be a head number from 1 to {HEADS} or " \
                                                          f"one of mean, max, min, not {shown}."


def test_bad_method_and_target_get_one_sentence(client):
    assert refusal(lambda: analyze(client, method="gradcam")) == \
        "method must be one of attention, rollout, relevance, legrad, not 'gradcam'."
    assert refusal(lambda: analyze(client, method="relevance", target="dog", model="bundled")) == \
        f"target must be one of the model's classes ({', '.join(LABELS[:5])}, …), not 'dog'."


def test_unknown_model_gets_the_list_of_models(client, heart_folder):
    expected = f"model must be one of {', '.join(REGISTRY_KEYS + [heart_folder.name])}, not 'someone/huge-model'."
    assert refusal(lambda: classify(client, model="someone/huge-model")) == expected
    assert refusal(lambda: analyze(client, model="someone/huge-model")) == expected


def test_known_model_that_cannot_run_offline_says_so(client):
    message = refusal(lambda: classify(client, model="vit-b16"))
    assert message.startswith("ViT-B/16 (ImageNet) is not downloaded and the app is offline"), message


def test_a_file_where_a_value_belongs_is_refused(client):
    assert refusal(lambda: analyze(client, head=handle_file(STAR))) == "head must be a number or a name, not a file."



def test_a_huge_integer_is_described_not_printed():
    """JSON cannot carry one past 4300 digits (the server refuses the body), but an in-process caller can:
    Python will not even print such an int, so the message gives its length."""
    from vitdemo.app import validation

    with pytest.raises(validation.UserError) as info:
        validation.layer(10**5000, DEPTH)
    assert str(info.value) == f"layer must be a whole number from 1 to {DEPTH}, not a number of about 5001 digits."

# -- images must be uploads -------------------------------------------------------------------------------


def test_image_given_as_a_url_is_refused_without_fetching(client):
    # Port 9 (discard) on loopback: if the server tried to fetch it, the request would fail another way.
    for url in ("http://127.0.0.1:9/cat.png", "https://example.com/cat.png"):
        assert refusal(lambda u=url: classify(client, image=handle_file(u))) == NOT_AN_UPLOAD
        assert refusal(lambda u=url: analyze(client, image=handle_file(u))) == NOT_AN_UPLOAD


@pytest.mark.parametrize("payload", [
    {"path": "/etc/hostname", "meta": FILE_META},  # what a client sends for a file: Gradio would refuse it
    {"path": "/etc/hostname"},  # no file marker: Gradio passes it through to the component
    {"path": "/tmp/gradio/../../etc/hostname", "meta": FILE_META},  # climbs out of the upload folder
    {"url": "http://127.0.0.1:9/cat.png", "path": "http://127.0.0.1:9/cat.png", "meta": FILE_META},
    "cat.jpg", 5,
], ids=["server-path", "server-path-unmarked", "dot-dot", "url", "a-string", "a-number"])
def test_image_given_as_a_server_path_is_refused(app, payload):
    event, answer = raw_call(app, "classify", [payload, None, ""])
    assert (event, answer["error"]) == ("error", NOT_AN_UPLOAD)


def test_example_picture_by_its_server_path_is_served(app):
    """What the API page's curl snippet sends: the example's path, marked as a file."""
    event, answer = raw_call(app, "analyze", [{"path": str(STAR), "meta": FILE_META}, None, "attention", None,
                                               "mean", "bundled", ""])
    assert event == "complete" and answer[2]["label"] == "star"


def test_a_data_url_image_is_still_accepted(app):
    """What a webcam or clipboard capture may send: the picture inline, no file on the server involved."""
    data = "data:image/png;base64," + base64.b64encode(STAR.read_bytes()).decode()
    event, answer = raw_call(app, "classify", [{"url": data, "meta": FILE_META}, None, "bundled"])
    assert event == "complete" and answer[0]["label"] == "star"


def test_request_with_too_few_values_gets_one_sentence(app):
    event, answer = raw_call(app, "classify", [])
    assert (event, answer["error"]) == ("error", "/classify takes 4 values (image, patch_size, model, prompts), not 0.")


# -- one API, one numbering -------------------------------------------------------------------------------


def test_classify_takes_the_model(client, heart_folder):
    import vitdemo
    from vitdemo.explain import analyze as reference

    default = classify(client)
    assert default["label"] == "heart" and default["confidences"][0]["confidence"] > 0.99
    assert classify(client, model=heart_folder.name)["label"] == "heart", "the folder's key, as the UI shows it"
    assert classify(client, model=str(heart_folder))["label"] == "heart", "its path, as given on the command line"
    bundled = classify(client, model="bundled")
    expected = reference(vitdemo.load("bundled"), Image.open(STAR).convert("RGB")).top(5)
    assert [(c["label"], pytest.approx(c["confidence"], abs=1e-4)) for c in bundled["confidences"]] == expected


def test_analyze_takes_the_model(client, heart_folder):
    assert analyze(client)[2]["label"] == "heart"
    assert analyze(client, model=heart_folder.name)[2]["label"] == "heart"
    assert analyze(client, model="bundled")[2]["label"] == "star"


def test_layers_count_from_one_and_empty_is_the_last(client):
    first = picture(analyze(client, model="bundled", layer=1)[1])
    second = picture(analyze(client, model="bundled", layer=2)[1])
    last = picture(analyze(client, model="bundled", layer=DEPTH)[1])
    assert picture(analyze(client, model="bundled")[1]) == last, "empty = the last layer"
    assert picture(analyze(client, model="bundled", layer=float(DEPTH))[1]) == last, "6.0 is a whole number"
    assert picture(analyze(client, model="bundled", layer="1")[1]) == first
    assert len({first, second, last}) == 3


def test_heads_count_from_one_head_1_is_the_librarys_head_0(app, client):
    """/analyze's head 1 is `Analysis.attention_map(head=0)`: its picture is that map drawn over the view, computed
    here straight from the library (the API's default colours: inferno at opacity 0.6), and head 4 the last."""
    import numpy as np

    import vitdemo
    from vitdemo.explain import analyze as reference
    from vitdemo.explain import render

    analysis = reference(vitdemo.load("bundled"), Image.open(STAR).convert("RGB"))

    def drawn(index: int) -> np.ndarray:
        picture = render.overlay(analysis, analysis.attention_map("attention", layer=-1, head=index), "inferno", 0.6)
        return np.asarray(picture.convert("RGB"), dtype=np.int16)

    def served(head: Any) -> np.ndarray:
        file = analyze(client, model="bundled", head=head)[1]
        return np.asarray(Image.open(file["path"]).convert("RGB"), dtype=np.int16)

    for head, index in ((1, 0), ("1", 0), (HEADS, HEADS - 1)):
        answer = served(head)
        assert np.abs(answer - drawn(index)).max() <= 2, f"head={head!r} is not the library's head {index}"
        others = [np.abs(answer - drawn(i)).max() for i in range(HEADS) if i != index]
        assert min(others) > 20, f"head={head!r} looks like another head too: {others}"
    info = client.view_api(return_format="dict", print_info=False)["named_endpoints"]["/analyze"]["parameters"]
    assert "head counted from 1" in json.dumps(next(p for p in info if p["parameter_name"] == "head"))
    described = next(d["api_description"] for d in app.get_config_file()["dependencies"]
                     if d.get("api_name") == "analyze")
    assert "head counted from 1" in described, described


def test_layer_range_is_refused_at_both_ends(client):
    for layer in (0, DEPTH + 1):
        message = refusal(lambda layer=layer: analyze(client, model="bundled", layer=layer))
        assert f"from 1 to {DEPTH}" in message, message


def test_target_chooses_the_class_relevance_explains(client):
    top1 = picture(analyze(client, method="relevance", model="bundled")[1])
    star = picture(analyze(client, method="relevance", model="bundled", target="star")[1])
    circle = picture(analyze(client, method="relevance", model="bundled", target="circle")[1])
    assert star == top1, "the bundled model's top-1 for the star is star"
    assert circle != star


def test_api_info_lists_every_model_and_its_example_runs_offline(app, client, heart_folder):
    info = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    params = {name: info[name]["parameters"] for name in ("/classify", "/analyze")}
    assert [p["parameter_name"] for p in params["/classify"]] == ["image", "patch_size", "model", "prompts"]
    assert [p["parameter_name"] for p in params["/analyze"]] == [
        "image", "patch_size", "method", "layer", "head", "model", "target", "prompts"]
    keys = REGISTRY_KEYS + [heart_folder.name]
    for endpoint in params.values():
        model = next(p for p in endpoint if p["parameter_name"] == "model")
        assert model["type"]["enum"] == keys
        image = endpoint[0]["example_input"]
        assert not str(image.get("url", "")).startswith("http") and not image["path"].startswith("http")
        assert Path(image["path"]).is_file()
    descriptions = {d.get("api_name"): d.get("api_description") or "" for d in app.get_config_file()["dependencies"]}
    for name in ("classify", "analyze"):
        assert all(key in descriptions[name] for key in keys), descriptions[name]
    examples = [p["example_input"] for p in params["/analyze"]]
    grid, attention, labels = client.predict(handle_file(examples[0]["path"]), *examples[1:], api_name="/analyze")
    assert Path(grid["path"]).is_file() and labels["label"] == "star"



# -- what the model computes: heads switched off, each head's effect, the sanity check (issue 24) ----------


@pytest.fixture(scope="module")
def star_analysis(app: Any) -> Any:
    """The library's analysis of the star on the app's bundled model (its precision), for expected numbers."""
    from vitdemo.explain import analyze as library_analyze

    return library_analyze(app.vitdemo_engine.model("bundled"), Image.open(STAR).convert("RGB"))


def test_ablate_counts_layers_and_heads_from_one(client, star_analysis):
    import numpy as np

    top = client.predict(handle_file(STAR), None, f"{DEPTH}.1, {DEPTH}.3", "zero", "bundled", api_name="/ablate")
    expected = star_analysis.ablate([(DEPTH - 1, 0), (DEPTH - 1, 2)])  # the library counts from 0
    order = np.argsort(-expected)[:5]
    assert [c["label"] for c in top["confidences"]] == [LABELS[i] for i in order]
    assert [c["confidence"] for c in top["confidences"]] == pytest.approx(expected[order].tolist(), abs=1e-5)
    mean = client.predict(handle_file(STAR), None, "2.2", "mean", "bundled", api_name="/ablate")
    assert mean["confidences"][0]["confidence"] == pytest.approx(
        float(star_analysis.ablate([(1, 1)], mode="mean").max()), abs=1e-5)


def test_head_effects_and_sanity_come_back_as_json(client, star_analysis):
    import numpy as np

    effects = client.predict(handle_file(STAR), None, "", "bundled", api_name="/head_effects")
    assert effects["target"] == "star" and np.shape(effects["effects"]) == (DEPTH, HEADS)
    assert np.allclose(effects["effects"], star_analysis.head_effects("star"), atol=1e-4)
    sanity = client.predict(handle_file(STAR), None, "", "bundled", api_name="/sanity")
    assert sanity["steps"] == ["head"] + [f"layer {n}" for n in range(DEPTH, 0, -1)]
    assert set(sanity["correlations"]) == {"attention", "rollout", "relevance", "legrad"}
    assert sanity["correlations"]["attention"][0] == pytest.approx(1.0)
    one = client.predict(handle_file(STAR), None, "relevance", "bundled", api_name="/sanity")
    assert one["correlations"] == {"relevance": pytest.approx(sanity["correlations"]["relevance"])}


def test_bad_heads_and_modes_get_one_sentence(client):
    def ablate(heads: Any, mode: Any = "zero") -> str:
        return refusal(lambda: client.predict(handle_file(STAR), None, heads, mode, "bundled", api_name="/ablate"))

    assert ablate(f"{DEPTH + 1}.1") == f"layer must be a whole number from 1 to {DEPTH}, not '{DEPTH + 1}'."
    assert ablate("1.0") == f"head must be a whole number from 1 to {HEADS}, not '0'."
    assert ablate("3").startswith("heads must be a list of layer.head pairs counted from 1")
    assert ablate("1.1", "noise") == "mode must be one of zero, mean, not 'noise'."


def logit_lens(client: Client, patch_size: Any = None, layer: Any = None, model: Any = "") -> dict:
    return client.predict(handle_file(STAR), patch_size, layer, model, api_name="/logit_lens")


def test_logit_lens_reads_every_layer_through_the_head_with_layers_from_one(client):
    """The heart model's head ignores its input (weights 0, bias 30 for heart): whatever a layer's tokens are,
    the lens of every layer and every patch says heart, with probability e^30 / (e^30 + 10) ≈ 1."""
    every = logit_lens(client)
    assert every["depth"] == DEPTH and [entry["layer"] for entry in every["layers"]] == list(range(1, DEPTH + 1))
    rows, cols = every["grid"]
    for entry in every["layers"]:
        assert entry["top"][0][0] == "heart" and entry["top"][0][1] == pytest.approx(1.0, abs=1e-9)
        assert len(entry["top"]) == 5
        assert entry["patches"] == [["heart"] * cols for _ in range(rows)]
        assert all(p == pytest.approx(1.0, abs=1e-9) for row in entry["patch_probabilities"] for p in row)
    second = logit_lens(client, layer=2)
    assert [entry["layer"] for entry in second["layers"]] == [2]
    for layer in (0, DEPTH + 1):
        assert refusal(lambda layer=layer: logit_lens(client, layer=layer)) == (
            f"layer must be a whole number from 1 to {DEPTH}, not {layer}.")


def test_logit_lens_last_layer_is_the_classification(client):
    last = logit_lens(client, layer=DEPTH, model="bundled")["layers"][0]["top"]
    classified = classify(client, model="bundled")["confidences"]
    assert [label for label, _ in last] == [c["label"] for c in classified]
    assert [p for _, p in last] == pytest.approx([c["confidence"] for c in classified], abs=1e-5)
