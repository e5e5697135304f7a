"""The Gradio app, launched in-process and driven through `gradio_client` like any outside user, offline.

Endpoints: `/classify` and `/analyze` answer, agree with the model, reuse the stored forward for view
switches, and turn every bad upload or parameter into a clear error while the app keeps serving. Around
them: offline start-up that never waits on the network, the model LRU, the bounded analysis cache, the
command line, and the Space's README front matter.

The app runs the bundled model; set VITDEMO_TEST_MODEL to a checkpoint folder to test against another.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.bad_inputs import bad_input_corpus, good_odd_input_corpus
from tests.browser import app_under_test
from vitdemo.app.cache import AnalysisCache, AnalysisKey
from vitdemo.app.models import REGISTRY, ModelEntry, choose_startup
from vitdemo.app.pool import ModelPool

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CAT = ROOT / "assets" / "examples" / "cat.jpg"


@pytest.fixture(scope="module")
def app(request):
    with app_under_test(request) as demo:
        yield demo


@pytest.fixture(scope="module")
def client(app) -> Client:
    return Client(app.local_url, verbose=False, download_files=False)


@pytest.fixture
def forwards(app, monkeypatch) -> list[AnalysisKey]:
    """Records every forward pass the app runs (the cache starts empty)."""
    engine = app.vitdemo_engine
    engine.cache._items.clear()
    calls: list[AnalysisKey] = []
    real = engine._analyse

    def counting(net, model_key, image, p, keep_aspect, *prompts):
        calls.append((model_key, p))
        return real(net, model_key, image, p, keep_aspect, *prompts)

    monkeypatch.setattr(engine, "_analyse", counting)
    return calls


def confidences(result: dict) -> list[float]:
    return [c["confidence"] for c in result["confidences"]]


def local(file: dict | str) -> Image.Image:
    return Image.open(file["path"] if isinstance(file, dict) else file)


# -- the endpoints ---------------------------------------------------------------------------------------


@pytest.mark.server
def test_classify_returns_the_models_top5(app, client):
    from vitdemo.explain import analyze

    result = client.predict(handle_file(CAT), None, api_name="/classify")
    model = app.vitdemo_engine.model()
    expected = analyze(model, Image.open(CAT).convert("RGB")).top(5)
    assert [c["label"] for c in result["confidences"]] == [label for label, _ in expected]
    assert confidences(result) == pytest.approx([p for _, p in expected], abs=1e-4)
    assert result["label"] == expected[0][0]


@pytest.mark.server
def test_analyze_returns_grid_attention_and_labels_in_that_order(app, client):
    config = app.vitdemo_engine.model().config
    p = config.offered_patch_sizes()[0]
    grid, attention, labels = client.predict(handle_file(CAT), p, "rollout", None, "mean", "", "",
                                              api_name="/analyze")
    grid, attention = local(grid), local(attention)
    assert grid.size == attention.size and grid.format == attention.format == "PNG"
    side = config.image_size // p * p
    scale = grid.width // side
    assert grid.width == side * scale  # whole-number upscale of the model's view
    lines = np.asarray(grid.convert("RGB"))[grid.height // 2, :: p * scale]
    assert (lines == 255).all(), "grid lines fall on every patch boundary"
    assert len(labels["confidences"]) == 5 and sorted(confidences(labels), reverse=True) == confidences(labels)


@pytest.mark.server
def test_pictures_are_stored_once_in_the_instances_folder_with_names_that_say_what_they_show(app, client):
    from gradio.utils import get_upload_folder

    grid, attention, _ = client.predict(handle_file(CAT), 16, "rollout", 2, "mean", "", "", api_name="/analyze")
    label = app.vitdemo_engine.analysis(app.vitdemo_engine.decode(str(CAT)), None, 16).analysis.top(1)[0][0]
    store = app.vitdemo_pictures.folder
    assert store.parent == Path(get_upload_folder()).resolve() and store.name.startswith("vitdemo-pictures-")
    for returned, name in ((grid, f"{label}_p16_grid.png"), (attention, f"{label}_p16_rollout_layer2.png")):
        path = Path(returned["path"] if isinstance(returned, dict) else returned)
        assert path.name == name
        assert path.parent.parent == store, "Gradio serves our file in place: no second copy in its cache"
    assert len(list(store.glob(f"*/{label}_p16_grid.png"))) == 1


@pytest.mark.server
def test_the_cache_and_the_sessions_are_bounded_by_the_settings(app, monkeypatch):
    from vitdemo.app import launch_options

    assert app.delete_cache == (3600, 3600)
    assert launch_options()["state_session_capacity"] == 1024
    monkeypatch.setenv("VITDEMO_SESSIONS", "32")
    assert launch_options()["state_session_capacity"] == 32


@pytest.mark.server
def test_view_switches_reuse_the_stored_forward(app, client, forwards):
    for method, layer, head in [("attention", None, "mean"), ("rollout", 1, "max"), ("attention", 2, "1"),
                                ("relevance", None, "mean")]:
        client.predict(handle_file(CAT), None, method, layer, head, "", api_name="/analyze")
    client.predict(handle_file(CAT), None, api_name="/classify")
    assert len(forwards) == 1
    config = app.vitdemo_engine.model().config
    other = next(p for p in config.offered_patch_sizes() if p != config.patch_size)
    client.predict(handle_file(CAT), other, api_name="/classify")
    assert len(forwards) == 2 and forwards[-1][1] == other


@pytest.mark.server
@pytest.mark.parametrize("name", sorted(bad_input_corpus()))
def test_bad_upload_gets_a_clear_error(client, tmp_path, name):
    path = tmp_path / f"{name}.png"
    path.write_bytes(bad_input_corpus()[name])
    with pytest.raises((AppError, ValueError, Exception)) as info:
        client.predict(handle_file(path), None, api_name="/classify")
    message = str(info.value)
    if name == "oversize_file":  # refused by Gradio's upload limit (max_file_size) before our code runs
        assert "size" in message.lower() or "large" in message.lower() or "413" in message
    else:
        assert isinstance(info.value, AppError)
        assert "Accepted: PNG, JPEG" in message, message


@pytest.mark.server
def test_app_keeps_serving_after_bad_uploads(client, tmp_path):
    for name, data in list(bad_input_corpus().items())[:5]:
        (tmp_path / name).write_bytes(data)
        with pytest.raises(AppError):
            client.predict(handle_file(tmp_path / name), None, api_name="/analyze")
    assert client.predict(handle_file(CAT), None, api_name="/classify")["label"]


@pytest.mark.server
@pytest.mark.parametrize("name", sorted(good_odd_input_corpus()))
def test_odd_but_real_images_are_analysed(client, tmp_path, name):
    path = tmp_path / f"{name}.img"
    path.write_bytes(good_odd_input_corpus()[name])
    grid, attention, labels = client.predict(handle_file(path), None, "attention", None, "mean", "",
                                             api_name="/analyze")
    assert local(grid).size == local(attention).size
    assert len(labels["confidences"]) == 5


@pytest.mark.server
def test_api_page_lists_both_endpoints_with_descriptions(client):
    info = client.view_api(return_format="dict", print_info=False)
    named = info["named_endpoints"]
    assert set(named) == {"/classify", "/analyze", "/ablate", "/head_effects", "/sanity", "/logit_lens", "/figure"}, \
        "UI events stay off the API page (and MCP's tools)"
    assert [p["parameter_name"] for p in named["/analyze"]["parameters"]] == [
        "image", "patch_size", "method", "layer", "head", "model", "target", "prompts"]  # prompts: issue 25
    assert [r["label"] for r in named["/analyze"]["returns"]] == ["grid", "attention", "labels"]
    assert [p["parameter_name"] for p in named["/classify"]["parameters"]] == ["image", "patch_size", "model",
                                                                               "prompts"]
    assert [p["parameter_name"] for p in named["/figure"]["parameters"]] == [
        "image", "patch_size", "method", "layer", "head", "model", "target"]
    assert [r["label"] for r in named["/figure"]["returns"]] == ["figure"]


@pytest.mark.server
def test_endpoint_descriptions_are_published(app):
    config = app.get_config_file()
    descriptions = {d.get("api_name"): d.get("api_description") for d in config["dependencies"]}
    assert "top-5" in descriptions["classify"]
    assert "grid" in descriptions["analyze"] and "relevance" in descriptions["analyze"]


# -- start-up, models, cache ------------------------------------------------------------------------------


def test_offline_start_picks_bundled_at_once_and_says_why(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.perf_counter()
    startup = choose_startup(None)
    assert time.perf_counter() - start < 0.5
    assert startup.entry.key == "bundled" and startup.pending is None
    assert "Offline" in startup.reason and "HF_HUB_OFFLINE" in startup.reason


def test_requested_model_that_is_not_cached_falls_back_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    startup = choose_startup("vit-b16")
    assert startup.entry.key == "bundled" and "ViT-B/16" in startup.reason


def test_page_load_switches_to_the_hub_model_only_when_the_hub_answers():
    from vitdemo.app.models import Startup, settle_pending
    from vitdemo.app.service import Engine

    class Probe:
        def __init__(self, answer):
            self.answer = answer

        def result(self, wait=0.0):
            return self.answer

    flexivit = REGISTRY["flexivit-b"]
    waiting = Startup(REGISTRY["bundled"], "checking", pending=flexivit)
    assert settle_pending(waiting, Probe(None)) is waiting
    assert "unreachable" in settle_pending(waiting, Probe(False)).reason
    online = settle_pending(waiting, Probe(True))
    assert online.pending is flexivit and "Downloading" in online.reason
    engine = Engine(online, pool=ModelPool(lambda source: None))
    assert engine.default_key == "bundled"
    engine.adopt_pending("flexivit-b")
    assert engine.default_key == "flexivit-b" and engine.startup.pending is None


def test_model_pool_keeps_the_most_recent_and_loads_each_once():
    loads, evicted = [], []
    gate = threading.Event()

    def loader(source):
        loads.append(source)
        gate.wait(1)
        return f"model:{source}"

    pool = ModelPool(loader, capacity=2, on_evict=evicted.append)
    entries = {k: ModelEntry(k, k, k) for k in "abc"}
    threads = [threading.Thread(target=pool.get, args=(entries["a"],)) for _ in range(4)]
    for t in threads:
        t.start()
    gate.set()
    for t in threads:
        t.join()
    assert loads == ["a"]
    pool.get(entries["b"]), pool.get(entries["a"]), pool.get(entries["c"])
    assert pool.loaded() == ["a", "c"] and evicted == ["b"]


def test_analysis_cache_is_bounded_by_bytes_and_forgets_unloaded_models():
    cache = AnalysisCache(max_items=10, max_bytes=100, sizeof=lambda v: v)
    for i in range(4):
        cache.put(AnalysisKey(str(i), "m" if i < 3 else "n", 16), 40)
    assert len(cache) == 2 and cache.get(AnalysisKey("3", "n", 16)) == 40
    cache.drop_model("n")
    assert [cache.get(AnalysisKey(str(i), "m", 16)) for i in range(4)] == [None, None, 40, None]


def test_batcher_runs_concurrent_requests_together_and_shares_failures():
    from vitdemo.app.batching import Batcher

    batches: list[list[int]] = []

    def run(group, items):
        batches.append(list(items))
        if group == "broken":
            raise RuntimeError("device lost")
        return [item * 10 for item in items]

    batcher = Batcher(run, wait_s=0.3)
    start = threading.Barrier(4)
    results: dict[int, object] = {}

    def submit(group, item):
        start.wait()
        try:
            results[item] = batcher.submit(group, item)
        except RuntimeError as exc:
            results[item] = exc

    threads = [threading.Thread(target=submit, args=("ok", i)) for i in range(1, 5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {1: 10, 2: 20, 3: 30, 4: 40}
    assert max(batcher.batch_sizes) > 1, "requests that arrive together share a forward"
    start.reset()
    threads = [threading.Thread(target=submit, args=("broken", i)) for i in range(5, 9)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(isinstance(results[i], RuntimeError) for i in range(5, 9)), "every waiter hears of the failure"


def test_registry_offers_the_issue_models():
    assert {e.source for e in REGISTRY.values()} >= {
        "bundled", "timm/flexivit_base.1200ep_in1k", "google/vit-base-patch16-224",
        "timm/deit_tiny_patch16_224.fb_in1k", "timm/deit_small_patch16_224.fb_in1k"}


# -- entry point and Space metadata -----------------------------------------------------------------------


def test_command_line_binds_to_localhost_unless_told(monkeypatch):
    import app as entry

    monkeypatch.delenv("GRADIO_SERVER_NAME", raising=False)
    monkeypatch.delenv("GRADIO_SERVER_PORT", raising=False)
    monkeypatch.delenv("VITDEMO_MODEL", raising=False)
    args = entry.parse_args([])
    assert (args.host, args.port, args.model, args.share) == ("127.0.0.1", 7860, None, False)
    monkeypatch.setenv("GRADIO_SERVER_NAME", "0.0.0.0")
    monkeypatch.setenv("GRADIO_SERVER_PORT", "7999")
    monkeypatch.setenv("VITDEMO_MODEL", "deit-tiny")
    args = entry.parse_args([])
    assert (args.host, args.port, args.model) == ("0.0.0.0", 7999, "deit-tiny")
    assert entry.parse_args(["--model", "bundled", "--port", "1234"]).port == 1234


def test_readme_front_matter_describes_the_space():
    import gradio
    import yaml

    text = (ROOT / "README.md").read_text()
    assert text.startswith("---\n")
    meta = yaml.safe_load(text.split("---\n")[1])
    assert meta["sdk"] == "gradio" and meta["app_file"] == "app.py"
    assert meta["sdk_version"] == gradio.__version__
    assert "timm/flexivit_base.1200ep_in1k" in meta["models"]
    assert any("flexivit_base" in entry for entry in meta["preload_from_hub"])
    assert len(meta["short_description"]) <= 60


@pytest.mark.server
def test_analyze_offers_legrad_and_says_so(app, client):
    _, attention, labels = client.predict(handle_file(CAT), 16, "legrad", None, "mean", "", "", api_name="/analyze")
    depth = app.vitdemo_engine.model().config.depth
    assert Path(attention["path"]).name == f"{labels['label']}_p16_legrad_layer{depth}.png"
    info = client.view_api(return_format="dict", print_info=False)
    assert "'legrad'" in info["named_endpoints"]["/analyze"]["description"]
