"""The admission gate and the session grants on their own (no server; see test_admission.py for the app).

Counts and orders are worked out by hand from the bounds given to each object.
"""

from __future__ import annotations

import threading
import time

import pytest

from vitdemo.app.admission import Busy, Gate
from vitdemo.app.cache import AnalysisKey
from vitdemo.app.grants import Grants


def test_a_bounded_wait_is_refused_once_its_time_is_up():
    gate = Gate(1, wait_s=0.2)
    with gate.slot():
        start = time.perf_counter()
        with pytest.raises(Busy), gate.slot(0.2):
            pass
        assert 0.2 <= time.perf_counter() - start < 1.0


def test_waiters_beyond_the_limit_are_refused_at_once():
    gate = Gate(1, wait_s=5, max_waiting=1)
    held, release = threading.Event(), threading.Event()

    def hold():
        with gate.slot():
            held.set()
            release.wait(10)

    waiter_done = []
    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(10)
    waiter = threading.Thread(target=lambda: waiter_done.append(gate.bounded(lambda: "ran")()))
    waiter.start()
    deadline = time.monotonic() + 5
    while gate._waiting < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    start = time.perf_counter()
    with pytest.raises(Busy):
        gate.bounded(lambda: "ran")()
    assert time.perf_counter() - start < 0.5
    release.set()
    holder.join(10), waiter.join(10)
    assert waiter_done == ["ran"]


def test_queued_work_keeps_its_signature_and_streams_in_its_slot():
    gate = Gate(1, wait_s=0.1)

    def handler(values: dict, lang: str = "en") -> dict:
        return {"lang": lang}

    def stream(n: int):
        yield from range(n)

    import inspect

    wrapped = gate.unbounded(handler)
    assert inspect.signature(wrapped) == inspect.signature(handler) and wrapped({}, lang="zh-CN") == {"lang": "zh-CN"}
    streamed = gate.unbounded(stream)
    assert inspect.isgeneratorfunction(streamed)
    steps = streamed(3)
    assert next(steps) == 0
    with pytest.raises(Busy), gate.slot(0.05):  # the slot is held while the stream is open
        pass
    assert list(steps) == [1, 2]
    with gate.slot(0.05):
        pass


def test_grants_are_per_session_and_bounded():
    grants = Grants(sessions=2, keys_per_session=2)
    a, b, c = (AnalysisKey(name, "bundled", 16) for name in "abc")
    grants.grant("s1", a)
    assert grants.shown("s1", a) and grants.shown("s1", tuple(a)) and not grants.shown("s2", a)
    assert not grants.shown("", a) and not grants.shown(None, a) and not grants.shown("s1", ["a", [1]])
    grants.grant("", a)
    assert len(grants) == 1  # no session, nothing kept
    grants.grant("s1", b), grants.grant("s1", c)  # two keys per session: a, the oldest, goes
    assert [grants.shown("s1", k) for k in (a, b, c)] == [False, True, True]
    grants.grant("s2", a)
    grants.shown("s1", b)  # s1 used again: s2 is now the least recently used
    grants.grant("s3", a)
    assert len(grants) == 2 and grants.shown("s1", b) and not grants.shown("s2", a) and grants.shown("s3", a)
