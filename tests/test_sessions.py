"""`SessionHolder` on its own (the served test is in test_limits.py): which sessions stay when many come.

A tiny page with one `gr.State` stands in for the app; writing a State value is what Gradio does when an
event returns one (`SessionState.__setitem__`), so the tests do exactly that.
"""

from __future__ import annotations

import gradio as gr
import pytest

from vitdemo.app.sessions import SessionHolder


@pytest.fixture
def page() -> tuple[gr.Blocks, int]:
    with gr.Blocks(analytics_enabled=False) as demo:
        state = gr.State(None)
        gr.Textbox()
    demo.state_session_capacity = 3
    return demo, state._id


def holder_for(demo: gr.Blocks, newcomers: int = 4) -> SessionHolder:
    holder = SessionHolder(newcomers=newcomers)
    holder.set_blocks(demo)
    return holder


def test_sessions_without_state_never_push_out_a_visitor(page):
    demo, state = page
    holder = holder_for(demo)
    holder["visitor"][state] = "analysis-key"
    for n in range(1000):
        assert holder[f"stranger-{n}"] is not None
    assert "visitor" in holder.session_data and holder["visitor"].state_data[state] == "analysis-key"
    assert len(holder.newcomers) == 4  # the strangers push out only one another
    assert len(holder.time_last_used) == 5  # nothing kept for the ones pushed out


def test_a_newcomer_becomes_a_visitor_when_state_is_written(page):
    demo, state = page
    holder = holder_for(demo)
    session = holder["new"]
    assert "new" in holder and "new" not in holder.session_data
    session[state] = 1
    assert "new" in holder.session_data and "new" not in holder.newcomers
    assert holder["new"] is session


def test_reading_a_state_default_does_not_make_a_visitor(page):
    """Gradio reads (and copies) a State's default for any request that names it: that is not state."""
    demo, state = page
    holder = holder_for(demo)
    assert holder["reader"][state] is None
    assert "reader" not in holder.session_data


def test_visitors_beyond_capacity_go_least_recently_used_first(page):
    demo, state = page
    holder = holder_for(demo)
    for name in ("a", "b", "c"):
        holder[name][state] = name
    holder["a"]  # used again: b is now the least recently used
    holder["d"][state] = "d"
    assert list(holder.session_data) == ["c", "a", "d"]
    assert "b" not in holder
