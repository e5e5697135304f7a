"""Replay issue 21's request-level attacks on the served app, on loopback, in bounded loops; print a table.

    python benchmarks/attack_requests.py [--before] [--sessions 1000]

What this adds to benchmarks/attack.py (the one replay of issue 21, whose table BENCHMARKS.md reports): the
server in this process, so that a body's cost is measured without a second process and one session's memory
with tracemalloc; bodies sent chunked and to the upload route too; sessions that create nothing but a
session; and `--before`, Gradio's own behaviour side by side. The upload flood and the per-format uploads are
attack.py's rows (and memory_bounds.py's `--cases formats`), not repeated here.

The app (bundled model, its own upload folder) is launched in this process on 127.0.0.1 with the app's
launch options, or with `--before` without the app's server limits (Gradio's own holder, no body limit, no
folder cap), to show what the limits change side by side. Rows:
- a 60 MB body to component_server, queue/join and upload, declared (Content-Length) or chunked: the status
  and this process's peak resident memory growth while the server handled it (VmHWM, reset through
  /proc/self/clear_refs; the body is built before the reset and sent from it without a copy);
- `--sessions` requests with made-up session ids after a visitor's event: is the visitor's state still
  kept? Once for requests that create nothing but a session (component_server), once for requests that
  each run the page's cheapest state-writing event (a tab's select); and the memory one kept session costs
  (tracemalloc over 200 sessions holding a visitor's state).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import tempfile
import time
import tracemalloc
import uuid
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

MB = 2**20
BODY_MB = 60

import gradio_protocol as gp  # noqa: E402
from memory_bounds import peak_resettable, status_mb  # noqa: E402


def reset_peak() -> float:
    """The resident memory now, the peak (VmHWM) started again from it."""
    gc.collect()
    peak_resettable()
    return status_mb("VmRSS")


def launch(folder: Path, before: bool) -> Any:
    os.environ["GRADIO_TEMP_DIR"] = str(folder)
    from vitdemo.app import build_app, launch_options

    demo = build_app("bundled")
    options = launch_options()
    if before:
        options.pop("app_kwargs")
    demo.launch(prevent_thread_lock=True, quiet=True, server_name="127.0.0.1", **options)
    return demo


def send_raw(demo: Any, path: str, body: memoryview, chunked: bool, timeout: float = 120.0) -> int | str:
    """POST `body` to `path`, declared (Content-Length) or chunked, sent without a copy; → the status, or what
    went wrong."""
    framing = {"Transfer-Encoding": "chunked"} if chunked else {"Content-Length": str(len(body))}
    parts = gp.chunked(body) if chunked else gp.slices(body)
    try:
        return gp.raw_exchange(demo.server_name, demo.server_port, gp.post_head(path, framing), parts, timeout)[0]
    except OSError as error:
        return type(error).__name__


def body_rows(demo: Any) -> list[tuple[str, str, str]]:
    body = memoryview(b'{"data": "' + b"A" * (BODY_MB * MB - 12) + b'"}')
    rows = []
    for path, chunked in (("/gradio_api/component_server", False), ("/gradio_api/component_server", True),
                          ("/gradio_api/queue/join", False), ("/gradio_api/upload", False)):
        before = reset_peak()
        status = send_raw(demo, path, body, chunked)
        time.sleep(0.5)  # let the server finish whatever it does with the body after answering
        growth = status_mb("VmHWM") - before
        kind = "chunked" if chunked else "Content-Length"
        rows.append((f"{BODY_MB} MB body to {path} ({kind})", str(status), f"+{growth:.0f} MB peak"))
    return rows


def tab_event(demo: Any, name: str) -> tuple[int, int]:
    """(fn_index, State id) of the page's event that opens tab `name`: no inputs, writes the `tab` State."""
    tab = next(c for c in demo.blocks.values() if type(c).__name__ == "State" and c.value == "heads")
    index = next(i for i, fn in demo.fns.items() if fn.fn is not None and not fn.inputs
                 and [b._id for b in fn.outputs] == [tab._id] and fn.fn() == name)
    return index, tab._id


def visitor_kept(demo: Any, visitor: str, state_id: int) -> bool:
    holder = demo.app.state_holder
    return visitor in holder.session_data and holder.session_data[visitor].state_data.get(state_id) == "recipe"


def session_rows(demo: Any, count: int) -> list[tuple[str, str, str]]:
    opens_recipe, state_id = tab_event(demo, "recipe")
    rows = []
    with httpx.Client(base_url=demo.local_url, timeout=60) as client:
        for what in ("nothing but a session (component_server)", "the cheapest state-writing event (a tab)"):
            visitor = "visitor-" + uuid.uuid4().hex
            gp.queue_join(demo.local_url, opens_recipe, [], session=visitor, timeout=60)
            start = time.perf_counter()
            for _ in range(count):
                session = uuid.uuid4().hex
                if what.startswith("nothing"):
                    client.post("gradio_api/component_server", json={"session_hash": session, "fn_name": "x",
                                                                     "component_id": state_id, "data": None})
                else:
                    gp.queue_join(demo.local_url, opens_recipe, [], session=session, timeout=60)
            seconds = time.perf_counter() - start
            kept = "kept" if visitor_kept(demo, visitor, state_id) else "EVICTED"
            rows.append((f"{count} made-up sessions making {what}, then the visitor", kept,
                         f"{seconds:.1f} s; capacity {demo.state_session_capacity}"))
    rows.append(("memory per kept session (visitor's state, tracemalloc over 200)", "",
                 f"{session_kb(demo, state_id):.0f} KB"))
    return rows


def session_kb(demo: Any, state_id: int, count: int = 200) -> float:
    holder = demo.app.state_holder
    tracemalloc.start()
    start = tracemalloc.take_snapshot()
    made = []
    for n in range(count):
        session = holder[f"measure-{n}-{uuid.uuid4().hex}"]
        session[state_id] = "recipe"
        made.append(session)
    grown = sum(stat.size_diff for stat in tracemalloc.take_snapshot().compare_to(start, "filename"))
    tracemalloc.stop()
    return grown / count / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", action="store_true", help="launch without the app's server limits")
    parser.add_argument("--sessions", type=int, default=1000)
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with tempfile.TemporaryDirectory(prefix="vitdemo-attack-") as tmp:
        demo = launch(Path(tmp), args.before)
        try:
            rows = body_rows(demo)
            rows += session_rows(demo, args.sessions)
        finally:
            demo.close()
    command = " ".join(["python", "benchmarks/attack_requests.py", *(sys.argv[1:] if argv is None else argv)])
    print(f"`{command}`\n\n| attack | outcome | cost |\n|---|---|---|")
    for row in rows:
        print("| " + " | ".join(cell.replace("|", "/") for cell in row) + " |")
    print(json.dumps({"rows": rows}), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
