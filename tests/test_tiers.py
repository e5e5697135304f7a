"""The suite's tiers hold: every collected test that serves an app or drives Chromium carries its mark, so the
inner loop (`-m "not browser and not server and not slow"`) starts neither."""

from __future__ import annotations

import pytest

from tests import tiers


@pytest.mark.parametrize(("marks", "fixtures", "launched", "missing"), [
    ((), ("tmp_path",), False, []),
    ((), ("app", "tmp_path"), False, ["server"]),
    ((), ("client", "app"), False, ["server"]),  # a fixture built on the app
    (("server",), ("app",), False, []),
    ((), ("tmp_path",), True, ["server"]),  # launched a server itself, or through a fixture of another name
    ((), ("new_page", "browser", "app"), False, ["server", "browser"]),
    (("browser", "server", "slow"), ("new_page", "browser", "app"), False, []),
])
def test_the_marks_a_test_needs(marks, fixtures, launched, missing):
    assert tiers.missing_marks(marks, fixtures, launched) == missing


def test_a_fixture_seen_serving_counts_by_its_name(monkeypatch):
    monkeypatch.setattr(tiers, "SERVER_FIXTURES", {"app_url"})
    assert tiers.missing_marks((), ("app_url",)) == ["server"]


def test_every_collected_test_carries_the_marks_of_what_it_uses(request):
    unmarked = {item.nodeid: missing for item in request.session.items
                if (missing := tiers.missing_marks((m.name for m in item.iter_markers()),
                                                   getattr(item, "fixturenames", ())))}
    assert not unmarked, unmarked
