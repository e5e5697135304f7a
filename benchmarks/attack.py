"""Replay of issue 21's attacks on a served app: server memory, refusals and latency, next to the issue's numbers.

    python benchmarks/attack.py [--quick] [--flood-seconds 60] [--flood-mb 3000] [--upload-cap-mb MB]
                                [--formats WEBP,JPEG,PNG,GIF,TIFF]

The script writes a random ViT-B/16 in transformers layout (`save_pretrained`, 10 classes "c0".."c9"; --quick: a
ViT-Ti-sized one, 192 wide with 3 heads) into a temporary folder, starts `python app.py --model FOLDER` on a free
127.0.0.1 port with default settings (app_server.py), replays each attack with the raw Gradio protocol
(gradio_protocol.py), stops the app and prints one markdown row per attack: what the issue measured before
the fixes, what this run measures, the target and whether it is met. Memory is the server's own, from
/proc/<pid>/status: VmRSS before and after, VmHWM (the peak, reset through /proc/<pid>/clear_refs before each
attack). Every loop is bounded in count and time and talks to loopback only.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import gradio_protocol as gp  # noqa: E402
from app_server import running_app, shown_command  # noqa: E402
from memory_bounds import (  # noqa: E402
    Case,  # noqa: E402
    peak_resettable,
    status_mb,
)

from vitdemo.settings import settings  # noqa: E402

CLASSES = [f"c{i}" for i in range(10)]
FORMATS = {"WEBP": Case("49 MP WebP", "RGB", (7000, 7000), "WEBP"), "JPEG": Case("49 MP JPEG", "RGB", (7000, 7000),
           "JPEG"), "PNG": Case("49 MP PNG", "RGB", (7000, 7000), "PNG"), "GIF": Case("49 MP GIF", "P", (7000, 7000),
           "GIF"), "TIFF": Case("49 MP TIFF", "RGB", (7000, 7000), "TIFF")}
MB = 2**20


def random_vit(folder: Path, quick: bool) -> Path:
    """A random ViT-B/16 (quick: ViT-Ti-sized) classifier with 10 named classes, written with `save_pretrained`."""
    import torch
    from transformers import ViTConfig, ViTForImageClassification

    torch.manual_seed(0)
    size = dict(hidden_size=192, num_attention_heads=3, intermediate_size=768) if quick else {}
    config = ViTConfig(**size, num_labels=len(CLASSES), id2label=dict(enumerate(CLASSES)),
                       label2id={c: i for i, c in enumerate(CLASSES)})
    ViTForImageClassification(config).save_pretrained(folder)
    return folder


class Server:
    """The app under attack: its address, process and page config, and its memory as the kernel counts it."""

    def __init__(self, app: object, model: Path, uploads: Path):
        self.url, self.pid, self.log, self.model, self.uploads = app.url, app.pid, app.log, model, uploads
        self.config = gp.page_config(self.url)
        self.ids = {c.get("props", {}).get("elem_id"): c["id"] for c in self.config["components"]}

    def status(self, field: str) -> float:
        return status_mb(field, self.pid)

    def reset_peak(self) -> float:
        peak_resettable(self.pid)
        return self.status("VmRSS")

    def memory(self, before: float) -> str:
        peak = max(0.0, self.status("VmHWM") - before)
        return f"RSS {before:,.0f} → {self.status('VmRSS'):,.0f} MB, peak +{peak:,.0f} MB"

    def dep(self, **how: object) -> dict:
        return gp.dependency(self.config, **how)

    def analysed(self, session: str, image: dict, patch: int) -> list:
        """The explorer's analysis key after the page's one event (`ui_update`) on `image` at `patch`."""
        dep = self.dep(api_name="ui_update")
        values = gp.values_for(self.config, dep, {self.ids["input-image"]: image, self.ids["patch-size"]: patch})
        answer = gp.queue_join(self.url, dep["id"], values, session=session, timeout=600)
        bundle = answer["output"]["data"][dep["outputs"].index(self.ids["explorer"])]
        return (bundle.get("value") or bundle)["key"] if isinstance(bundle, dict) else None


def noise_png(seed: int = 0) -> bytes:
    import io

    import numpy as np
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (224, 224, 3), dtype=np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


def relevance_api(s: Server, image: dict) -> tuple[str, float]:
    """8 classes' relevance on an analysis that exists (one attention request made it): what they add."""
    gp.call(s.url, "analyze", [image, 8, "attention", None, "mean", "", ""], timeout=900)
    before, start = s.reset_peak(), time.perf_counter()
    refused = sum(gp.call(s.url, "analyze", [image, 8, "relevance", None, "mean", "", c], timeout=900)[0] != "complete"
                  for c in CLASSES[:8])
    growth = s.status("VmRSS") - before
    return f"{s.memory(before)}, {refused} refused, {time.perf_counter() - start:.0f} s", growth


def relevance_explorer(s: Server, image: dict) -> tuple[str, float]:
    session = gp.new_session()
    key = s.analysed(session, image, 8)
    before, start = s.reset_peak(), time.perf_counter()
    answers = [gp.server_function(s.url, s.ids["explorer"], "maps", [key, "relevance", c, 0], session, timeout=900)
               for c in CLASSES[:8]]
    refused = sum(a.status_code != 200 or "error" in a.json() for a in answers)
    growth = s.status("VmRSS") - before
    return f"{s.memory(before)}, {refused} refused, {time.perf_counter() - start:.0f} s", growth


def faithfulness(s: Server, image: dict, count: int) -> tuple[str, bool]:
    """`count` faithfulness calls at once; met when they ran one at a time (the first answers about as fast as a
    lone call) or were refused."""
    session = gp.new_session()
    key = s.analysed(session, image, 16)

    def one(_: int) -> tuple[float, bool]:
        start = time.perf_counter()
        answer = gp.server_function(s.url, s.ids["explorer"], "faithfulness", key, session, timeout=900)
        return time.perf_counter() - start, answer.status_code != 200 or "error" in answer.json()

    lone = one(0)[0]
    with ThreadPoolExecutor(count) as pool:
        results = list(pool.map(one, range(count)))
    served = sorted(t for t, refused in results if not refused)
    refused = count - len(served)
    met = not served or served[0] <= 2 * lone
    shown = f"fastest {served[0]:.1f} s, slowest {served[-1]:.1f} s" if served else "none served"
    return f"lone call {lone:.1f} s; {shown}; {refused}/{count} refused", met


def big_body(s: Server, route: str, mb: int) -> tuple[str, float]:
    filler = "A" * (mb * MB)
    if route == "component_server":
        body = json.dumps({"session_hash": "", "component_id": s.ids["explorer"], "fn_name": "maps",
                           "data": [filler, "rollout", None, 0]})
        target = f"{s.url.rstrip('/')}/{gp.API}/component_server"
    else:
        body = json.dumps({"data": [None, filler], "fn_index": s.dep(api_name="ui_update")["id"],
                           "session_hash": gp.new_session()})
        target = f"{s.url.rstrip('/')}/{gp.API}/queue/join"
    before = s.reset_peak()
    try:
        status = httpx.post(target, content=body, timeout=300, headers={"content-type": "application/json"}).status_code
    except httpx.HTTPError as exc:
        status = type(exc).__name__
    peak = s.status("VmHWM") - before
    return f"HTTP {status}, peak +{peak:,.0f} MB", peak


def encoded(case: Case) -> bytes:
    """`case` as a file: one flat colour, so a 49-megapixel picture is a small file (WebP: ~100 KB)."""
    import io

    from PIL import Image

    picture = Image.new(case.mode, case.size, 1 if case.mode == "P" else (40, 120, 200))
    if case.mode == "P":
        picture.putpalette([255, 0, 0, 40, 120, 200])
    params = {"JPEG": {"quality": 90}, "TIFF": {"compression": "tiff_adobe_deflate"}}.get(case.fmt, {})
    buffer = io.BytesIO()
    picture.save(buffer, case.fmt, **params)
    return buffer.getvalue()


def upload_format(s: Server, case: Case) -> tuple[str, float]:
    content = encoded(case)
    image = gp.upload(s.url, f"upload.{case.fmt.lower()}", content)
    before, start = s.reset_peak(), time.perf_counter()
    event, payload = gp.call(s.url, "classify", [image, None, ""], timeout=600)
    peak = s.status("VmHWM") - before
    outcome = "classified" if event == "complete" else f"refused ({str(payload)[:40]}…)"
    seconds = time.perf_counter() - start
    return f"{len(content) / 1024:,.0f} KB file: peak +{peak:,.0f} MB, {outcome}, {seconds:.1f} s", peak


def sessions(s: Server, image: dict, count: int = 1000) -> tuple[str, bool]:
    """A visitor with an analysis on the recipe tab; then `count` requests from new sessions; is its state kept?"""
    opened = s.dep(target=s.ids["tab-recipe"], event="select")
    refresh = next(d for d in s.config["dependencies"] if d.get("trigger_after") == opened["id"])
    table = refresh["outputs"].index(s.ids["recipe-table"])
    visitor = gp.new_session()
    s.analysed(visitor, image, 16)
    gp.queue_join(s.url, opened["id"], [], session=visitor)

    def recipe_shown() -> bool:
        values = gp.values_for(s.config, refresh, {s.ids["input-image"]: image})
        answer = gp.queue_join(s.url, refresh["id"], values, session=visitor, timeout=600)
        return "|" in str(answer["output"]["data"][table])

    shown_before = recipe_shown()
    before, start = s.reset_peak(), time.perf_counter()
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: gp.queue_join(s.url, opened["id"], [], session=gp.new_session()), range(count)))
    kept = recipe_shown()
    return (f"state {'kept' if kept else 'LOST'} (shown before: {shown_before}); {s.memory(before)}; "
            f"{time.perf_counter() - start:.0f} s"), kept


def folder_bytes(folder: Path) -> int:
    """The folder's size, each file once: a file renamed while the folder is walked (Gradio moves every
    upload from the folder's top into a folder named by its hash) would otherwise be counted twice."""
    sizes = {}
    for root, _, names in os.walk(folder):
        for name in names:
            with contextlib.suppress(OSError):  # removed meanwhile
                stat = os.lstat(os.path.join(root, name))
                sizes[stat.st_ino] = stat.st_size
    return sum(sizes.values())


def folder_mb(folder: Path) -> float:
    return folder_bytes(folder) / MB if folder.exists() else 0.0


def upload_flood(s: Server, seconds: float, limit_mb: float) -> tuple[str, float]:
    """Uploads of 20 MB of random bytes for `seconds` or `limit_mb` sent, whichever comes first."""
    content, sent, peak, done = random.Random(0).randbytes(20 * MB), 0, 0.0, threading.Event()

    def watch() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, folder_mb(s.uploads))
            done.wait(0.5)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    start, refused = time.perf_counter(), 0
    while time.perf_counter() - start < seconds and sent < limit_mb:
        unique = sent.to_bytes(8, "big") + content[8:]  # Gradio keeps one file per content: each must differ
        answer = httpx.post(f"{s.url.rstrip('/')}/{gp.API}/upload", files={"files": ("x.png", unique)}, timeout=60)
        refused += answer.status_code != 200
        sent += 20
    done.set()
    watcher.join()
    peak = max(peak, folder_mb(s.uploads))
    return (f"{sent:,} MB sent in {time.perf_counter() - start:.0f} s, {refused} refused; upload folder peak "
            f"{peak:,.0f} MB, now {folder_mb(s.uploads):,.0f} MB"), peak


def model_echo(s: Server, mb: int = 10) -> tuple[str, int, bool]:
    log_before = s.log.read_text(errors="replace")
    dep = s.dep(api_name="ui_update")
    values = gp.values_for(s.config, dep, {s.ids["model"]: "x" * (mb * MB)})
    answer = gp.queue_join(s.url, dep["id"], values, timeout=300)
    size = len(json.dumps(answer))
    traceback = "Traceback" in s.log.read_text(errors="replace")[len(log_before):]
    error = str(gp.error_of(answer))
    return f"{mb} MB sent, {size:,} B answered ({error[:50]!r}…), traceback logged: {traceback}", size, traceback


def folder_in_config(s: Server) -> tuple[str, bool]:
    text = httpx.get(f"{s.url.rstrip('/')}/config", timeout=30).text
    found = str(s.model) in text or str(s.model.resolve()) in text
    return f"folder path in /config: {'yes' if found else 'no'}", found


def run(s: Server, args: argparse.Namespace) -> list[tuple[str, str, str, str, object]]:
    image = gp.upload(s.url, "noise.png", noise_png())
    rows = []
    now, growth = relevance_api(s, image)
    rows.append(("8 relevance classes, patch 8, /analyze API", "1,412 → 4,477 MB", now, "≤ +400 MB", growth <= 400))
    now, growth = relevance_explorer(s, gp.upload(s.url, "noise1.png", noise_png(seed=1)))  # a new analysis
    rows.append(("8 relevance classes, patch 8, explorer server function", "16 threads × 45 s: 13 GB, kept", now,
                 "≤ +400 MB", growth <= 400))
    for count in (8, 12):
        now, met = faithfulness(s, image, count)
        rows.append((f"{count} concurrent faithfulness calls", "12 at once, ≈ 40 s each (3.4 s alone), 0 refused"
                     if count == 12 else "(not measured)", now, "one at a time or refused", met))
    for route, before in (("component_server", "+1.8 GB (100 MB)"), ("queue/join", "+301 MB (100 MB)")):
        for mb in (60, 100):
            now, peak = big_body(s, route, mb)
            rows.append((f"{mb} MB body to {route}", before, now, "refused, ≤ +150 MB", peak <= 150 and "HTTP 2"
                         not in now))
    for name in args.formats.split(","):
        now, peak = upload_format(s, FORMATS[name])
        before = "+749 MB (104 KB file)" if name == "WEBP" else "190–240 MB (JPEG/PNG/GIF/TIFF)"
        rows.append((f"upload: {FORMATS[name].name}", before, now, "≤ +300 MB", peak <= 300))
    now, kept = sessions(s, image)
    rows.append(("1,000 random-session requests, then the visitor's state", "evicted after 70 (64 kept)", now,
                 "kept", kept))
    cap = args.upload_cap_mb or getattr(settings(), "upload_mb", None)  # VITDEMO_UPLOAD_MB, as the app reads it
    now, peak = upload_flood(s, args.flood_seconds, args.flood_mb)
    rows.append((f"upload flood ({args.flood_seconds:.0f} s, loopback)", "no cap (~200 MB/s kept 3,600 s)", now,
                 f"under the cap ({f'{cap:,.0f} MB' if cap else 'none given'})", bool(cap) and peak <= cap))
    now, size, traceback = model_echo(s)
    rows.append(("invalid model value on the page (queue/join)", "10 MB in, 10 MB out, traceback", now,
                 "short sentence, no traceback", size < 2000 and not traceback))
    now, found = folder_in_config(s)
    rows.append(("folder model's path in /config", "yes", now, "no", not found))
    return rows


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a ViT-Ti-sized model instead of ViT-B/16")
    parser.add_argument("--flood-seconds", type=float, default=60.0)
    parser.add_argument("--flood-mb", type=float, default=3000.0, help="stop the upload flood after this much")
    parser.add_argument("--upload-cap-mb", type=float, default=None,
                        help="the cap to compare with (default: VITDEMO_UPLOAD_MB's)")
    parser.add_argument("--formats", default=",".join(FORMATS), help="upload formats to try: " + ",".join(FORMATS))
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    command = shown_command("benchmarks/attack.py", sys.argv[1:] if argv is None else argv)
    with tempfile.TemporaryDirectory(prefix="vitdemo-attack-") as tmp:
        folder = random_vit(Path(tmp) / "vit-b16", args.quick)
        server_tmp = Path(tmp) / "server-tmp"
        server_tmp.mkdir()
        env = {"TMPDIR": str(server_tmp), "GRADIO_TEMP_DIR": str(server_tmp / "gradio")}
        with running_app(["--model", str(folder)], env=env, timeout_s=300) as app:
            rows = run(Server(app, folder, server_tmp / "gradio"), args)
    print(f"`{command}` ({'ViT-Ti-sized' if args.quick else 'ViT-B/16'}, random, 10 classes)\n")
    print("| attack | before (issue 21) | measured now | target | met? |\n|---|---|---|---|---|")
    for attack, before, now, target, met in rows:
        print(f"| {attack} | {before} | {now} | {target} | {'yes' if met else 'NO'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
