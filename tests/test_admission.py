"""The explorer's server functions under attack, over Gradio's raw protocol against a real server (bundled model).

Gradio serves a `gr.HTML`'s server functions on `/gradio_api/component_server`, outside its queue. These tests
speak that route (and upload, queue/join, queue/data) by hand, as a script would:
- heavy calls made at once run one at a time, or are refused with the busy sentence; a server function waits
  for queued model work (one limit for both: `admission.Gate`). Overlap is measured from the times each call
  spent inside the heavy function, recorded there, not from wall time;
- a key is answered only for the session it was shown to: another session, an empty one and an unknown one
  get the "analysis gone" sentence (`grants.Grants`);
- the key the browser sees is no content hash: it differs between two instances for the same image.
"""

from __future__ import annotations

import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from vitdemo.app.i18n import ENGLISH, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from gradio_protocol import Page  # noqa: E402

STAR = ROOT / "assets" / "examples" / "shape_star.png"
TRIANGLE = ROOT / "assets" / "examples" / "shape_triangle.png"
HEAVY_S = 0.4  # added to each heavy call, so that calls running at once would overlap by much more than jitter
BUSY = text("admission.busy", ENGLISH)
GONE = text("errors.analysis_gone", ENGLISH)

pytestmark = [pytest.mark.server, pytest.mark.slow]


def launched(**env: str):
    """The app on the bundled model, served on a free local port, built with `env` set."""
    from vitdemo.app import build_app, launch_options

    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        demo = build_app("bundled")
    demo.launch(prevent_thread_lock=True, quiet=True, server_name="127.0.0.1", **launch_options())
    return demo


@pytest.fixture(scope="module")
def app():
    demo = launched(VITDEMO_CONCURRENCY="1", VITDEMO_BUSY_SECONDS="3")
    yield demo
    demo.close()


def maps(method: str, key: list, extra) -> tuple[str, list]:
    """(server function, arguments) for a method's maps: relevance and LeGrad for a class, rollout with a
    discard ratio (the explorer's `maps` call: [key, method, class label, discard ratio])."""
    label, discard = (extra, 0) if isinstance(extra, str) else ("", extra)
    return "maps", [key, method, label, discard]


def analysed(app, image: Path = STAR, page: Page | None = None, patch: int | None = None) -> tuple[Page, list]:
    """A page (a fresh session unless given) that uploaded `image` and got its analysis: (page, key shown)."""
    page = page or Page(app.local_url)
    values = {"input-image": page.upload(image), "model": "bundled"}
    if patch:
        values["patch-size"] = patch
    out = page.run("ui_update", values, trigger="input-image")
    return page, out["explorer"]["key"]


class Entries:
    """Wraps a function to record when each call entered and left it, and adds `HEAVY_S` to each."""

    def __init__(self, fn, pause: float = HEAVY_S):
        self.fn, self.pause, self.spans, self.lock = fn, pause, [], threading.Lock()
        self.entered = threading.Event()

    def __call__(self, *args, **kwargs):
        start = time.perf_counter()
        self.entered.set()
        try:
            time.sleep(self.pause)
            return self.fn(*args, **kwargs)
        finally:
            with self.lock:
                self.spans.append((start, time.perf_counter()))

    def most_at_once(self) -> int:
        events = sorted([(s, 1) for s, _ in self.spans] + [(e, -1) for _, e in self.spans])
        inside = most = 0
        for _, step in events:
            inside += step
            most = max(most, inside)
        return most


def test_eight_concurrent_heavy_calls_run_one_at_a_time_or_are_refused(app, monkeypatch):
    from vitdemo.explain import payload

    page, key = analysed(app)
    heavy = Entries(payload.map_stack)
    monkeypatch.setattr(payload, "map_stack", heavy)
    calls = [maps("relevance", key, "star"), maps("legrad", key, "circle"), maps("rollout", key, 0.5)] * 3
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda c: page.call("explorer", *c), calls[:8]))
    refused = [a for a in answers if isinstance(a, dict) and a.get("error")]
    served = [a for a in answers if not (isinstance(a, dict) and a.get("error"))]
    assert all(a["error"] == BUSY for a in refused), refused
    assert len(heavy.spans) == len(served) >= 1 and len(served) + len(refused) == 8
    assert heavy.most_at_once() == 1, heavy.spans


def test_a_server_function_waits_for_queued_model_work(app, monkeypatch):
    page, key = analysed(app)
    engine = app.vitdemo_engine
    forward = Entries(engine._analyse, pause=1.0)
    monkeypatch.setattr(engine, "_analyse", forward)
    from vitdemo.explain import payload

    heavy = Entries(payload.map_stack, pause=0.0)
    monkeypatch.setattr(payload, "map_stack", heavy)
    with ThreadPoolExecutor(1) as pool:
        queued = pool.submit(analysed, app, TRIANGLE, page)  # a new image: a forward pass in the queue
        assert forward.entered.wait(60)
        answer = page.call("explorer", *maps("relevance", key, "star"))
        queued.result()
    assert "error" not in answer
    (forward_start, forward_end), (call_start, _) = forward.spans[0], heavy.spans[0]
    assert call_start >= forward_end > forward_start


def test_a_server_function_answers_busy_after_its_wait(monkeypatch):
    demo = launched(VITDEMO_CONCURRENCY="1", VITDEMO_BUSY_SECONDS="0.5")
    try:
        page, key = analysed(demo)
        engine = demo.vitdemo_engine
        forward = Entries(engine._analyse, pause=3.0)
        monkeypatch.setattr(engine, "_analyse", forward)
        with ThreadPoolExecutor(1) as pool:
            queued = pool.submit(analysed, demo, TRIANGLE, page)
            assert forward.entered.wait(60)
            start = time.perf_counter()
            answer = page.call("explorer", *maps("relevance", key, "star"))
            answered = time.perf_counter()
            queued.result()
        assert answer == {"error": BUSY}
        assert answered - start >= 0.5 and answered < forward.spans[0][1]  # its wait, not till the forward's end
    finally:
        demo.close()


def test_a_key_is_answered_only_for_the_session_it_was_shown_to(app):
    mine, key = analysed(app)
    other, own = analysed(app, patch=8)  # another visitor, with an analysis of its own
    assert own != key
    assert "error" not in mine.call("explorer", *maps("relevance", key, "star"))
    assert "error" not in other.call("explorer", *maps("relevance", own, "star"))
    for session in (other.session, "", "not-a-session", mine.session.upper()):
        for fn, args in (maps("relevance", key, "star"), ("faithfulness", key), ("top_without", [key, [[0, 0]]]),
                         ("patch_row", [key, 0, 0, 0]), ("ablate", [key, [[1, 1]]]), ("head_effects", [key, ""]),
                         ("sanity", key), ("score_matrix", [key, 0, 0])):
            assert mine.call("explorer", fn, args, session=session) == {"error": GONE}, (session, fn)
    assert mine.call("heads-gallery", *maps("relevance", key, "star"), session=other.session) == {"error": GONE}
    assert mine.call("heads-gallery", "ablate", [key, [[1, 1]]], session=other.session) == {"error": GONE}
    assert "error" not in mine.call("heads-gallery", "ablate", [key, [[1, 1]]])


def test_the_key_differs_between_two_instances_for_the_same_image(app):
    from vitdemo.app.cache import image_digest
    from vitdemo.app.uploads import decode_image

    second = launched(VITDEMO_CONCURRENCY="1")
    try:
        first_page, first = analysed(app)
        second_page, other = analysed(second)
        assert first[1:] == other[1:] and first[0] != other[0]
        assert image_digest(decode_image(str(STAR))) not in (first[0], other[0])  # no plain content hash
        again_page, again = analysed(app)  # within one instance the cache still finds the same picture
        assert again == first
        # a key of one instance names nothing on the other, even for a page that analysed the same image there
        assert second_page.call("explorer", *maps("relevance", first, "star")) == {"error": GONE}
    finally:
        second.close()

