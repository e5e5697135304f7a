"""The page's wiring (vitdemo/app/page.py, ui.py), checked on the built app without a server or a browser.

The page's components are one typed `Page`: every component the browser tests find by elem_id is a field of it,
of the class the field names; a handler bound to a name that is no field fails while the page is built; and every
listener of the model control is attached by one function, `ui._wire_model`.
"""

from __future__ import annotations

import dataclasses

import gradio as gr
import pytest

from vitdemo.app import ui
from vitdemo.app.page import UnknownComponent

# Every elem_id of a component the browser tests (tests/test_e2e_*.py, tests/browser.py) find, read off their
# selectors by hand; layout containers (#header, #tour, #draw-panel) and the explorer's own HTML (#explorer-layer)
# are no components and left out.
BROWSER_ELEM_IDS = (
    "status", "tour-start", "input-image", "webcam-error", "draw", "model", "model-info", "patch-size", "patch-hint",
    "keep-aspect", "summary", "explorer", "download-figure", "labels", "examples", "tabs", "tab-heads",
    "heads-gallery", "compare-sizes", "compare-button", "compare-gallery", "models-compare", "tour-progress",
    "tour-back", "tour-next", "tour-free", "tour-why", "tour-shape", "tour-block", "tour-label", "tour-picture",
    "tour-code",
)
# What a model change does, worked out from the page's behaviour: the one update event (model, patch, image…),
# the facts line under the picker, and the side-by-side tab's second model.
MODEL_LISTENERS = {"update", "info_line", "proposed"}


@pytest.fixture(scope="module")
def built() -> tuple[gr.Blocks, range]:
    """The bundled app, and the ids of the events `ui._wire_model` attached (recorded around its call)."""
    made: list[range] = []
    real = ui._wire_model

    def recording(demo: gr.Blocks, *args, **kwargs) -> None:
        before = len(demo.fns)
        real(demo, *args, **kwargs)
        made.append(range(before, len(demo.fns)))

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ui, "_wire_model", recording)
        demo = ui.build_app("bundled")
    assert len(made) == 1
    return demo, made[0]


def elem_id(component: object) -> str | None:
    shown = component.dataset if isinstance(component, gr.helpers.Examples) else component
    return getattr(shown, "elem_id", None)


def test_every_component_the_browser_tests_find_is_a_typed_field_of_the_page(built):
    demo, _ = built
    page = demo.vitdemo_page
    by_id = {elem_id(component): (name, component) for name, component in page.items()}
    missing = [wanted for wanted in BROWSER_ELEM_IDS if wanted not in by_id]
    assert not missing
    for wanted in BROWSER_ELEM_IDS:
        name, component = by_id[wanted]
        shown = component.dataset if isinstance(component, gr.helpers.Examples) else component
        assert shown._id in demo.blocks and demo.blocks[shown._id] is shown, wanted  # on this page, not a copy
    assert isinstance(page.model, gr.Dropdown) and isinstance(page.patch, gr.Radio)
    assert isinstance(page.key, gr.State) and isinstance(page.explorer, gr.HTML)


def test_a_component_of_another_class_than_its_field_is_refused(built):
    with pytest.raises(TypeError, match="'model' is a Textbox, not a Dropdown"):
        dataclasses.replace(built[0].vitdemo_page, model=gr.Textbox())


def test_binding_a_name_the_page_lacks_fails_while_the_page_is_built(built, monkeypatch):
    page = built[0].vitdemo_page

    def handler(values: dict) -> dict:
        return {}

    with pytest.raises(UnknownComponent, match="'imagee'"):
        ui.bind(handler, page, ["imagee"], ["summary"])
    with pytest.raises(UnknownComponent, match="'sumary'"):
        ui.bind(handler, page, ["image"], ["sumary"])
    monkeypatch.setattr(ui, "UPDATE_OUTPUTS", ui.UPDATE_OUTPUTS + ("patch_hnit",))
    with pytest.raises(UnknownComponent, match="'patch_hnit'"):
        ui.build_app("bundled")  # a typo in the wiring: the app is not built, rather than failing on a click


def test_every_listener_of_the_model_control_is_attached_in_one_function(built):
    demo, wired_there = built
    model = demo.vitdemo_page.model
    listening = {index: fn for index, fn in demo.fns.items()
                 if any(target == model._id for target, _ in fn.targets)}
    assert {fn.name for fn in listening.values()} == MODEL_LISTENERS
    assert len(listening) == len(MODEL_LISTENERS)
    assert set(listening) <= set(wired_there)
    assert any(index not in wired_there for index in demo.fns)  # the other events are wired elsewhere



def test_an_analysis_starts_a_server_event_only_through_the_follow_up_state(built):
    """Issue 23's ≤ 4 requests per stroke: what the update writes (the explorer, the key, the top-5, the
    summary) starts no server event of its own (before: the facts line and the side-by-side on the explorer's
    change, the tour on the key's); the one follow-up is `redraw`, on the `followup` state."""
    demo, _ = built
    page = demo.vitdemo_page
    written = {page.component(name)._id: name for name in ui.UPDATE_OUTPUTS + ("model_info",)}
    started = {(written[target], fn.name) for fn in demo.fns.values() if fn.fn is not None
               for target, event in fn.targets if target in written and event == "change"}
    assert started == {("model", "info_line"), ("model", "proposed")}, "only a changed model, not each analysis"
    following = [fn.name for fn in demo.fns.values() for target, event in fn.targets
                 if target == page.followup._id]
    assert following == ["redraw"]
