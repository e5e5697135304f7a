"""A classroom at once: N concurrent gradio_client users against a freshly started app, bounded in count and time.

    python benchmarks/load_test.py [--users 8] [--requests 300] [--seconds 120] [--warmup 400] [--model bundled]
                                   [--fresh 1000] [--fresh-chunks 4] [--cache-seconds 60] [--sessions 256]

The script starts `python app.py` itself on a free 127.0.0.1 port (offline) and stops it at the end. Each
user holds its own `gradio_client.Client` and sends a seeded mix of requests on varied images (the bundled
examples plus generated shapes from 40 px to 1600 px, square, wide and tall):

* `/classify` on an image at some patch size;
* `/analyze` of a random image, patch size, method, layer and head (a forward pass, unless someone analysed
  that image at that patch size recently and the app's cache still holds it);
* a *view switch*: `/analyze` of the image the user analysed last, same patch size, another method, layer
  or head (the app's forward cache answers it; only the view is re-rendered).

It reports throughput, p50/p95 client-side latency per kind, errors (must be 0: any exception or a reply
of the wrong shape), and the server's resident memory and thread count after its first request, after an
untimed warm-up by the same crowd (`--warmup` requests: the forward cache, Gradio's worker threads and the
allocator's pools fill up there, by design; after 100 the cache's mix of small and large analyses was still
settling and the next 300 requests added 25–39 MB, after 400 they add 2–12 MB) and after the measured
requests. The growth over the measured requests is the leak check: ≤ 50 MB over 300. The measured run stops
at `--requests` or `--seconds`, whichever comes first.

Then `--fresh` more requests (default 1,000), each from a new session (`Client.reset_session`), as a
public Space sees them: strangers who come once. Whatever the app keeps per session (Gradio's session
state, up to `VITDEMO_SESSIONS` of them, ~125 KB each) grows here, so this growth is the session check:
≤ 40 MB; a checkpoint after each of `--fresh-chunks` parts shows whether it levels off. The app runs with
its own temporary folder (TMPDIR), so the disk it writes (Gradio's upload and output cache, and the picture
folder) is measured too, at every checkpoint; `--cache-seconds` sets `VITDEMO_CACHE_SECONDS` (how old a
cached file may get: 60 shows the pruning within one run). Exit status 1 if there were errors or
memory grew more than `--max-growth-mb` or `--max-fresh-growth-mb`.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import random
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gradio_client import handle_file

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app_client import Choices, check_analysis, check_label, example_images, model_choices, new_client  # noqa: E402
from app_server import rss_mb, running_app, shown_command, thread_count  # noqa: E402

KINDS = ("classify", "analyze", "view switch")
MIX = (0.3, 0.3, 0.4)  # share of each kind; a view switch needs an analysed image, else it analyses one


@dataclass
class Sample:
    kind: str
    seconds: float
    error: str | None = None


class Budget:
    """Hands out at most `count` request slots until `deadline`, shared by all users."""

    def __init__(self, count: int, seconds: float) -> None:
        self.left, self.deadline, self.lock = count, time.perf_counter() + seconds, threading.Lock()

    def take(self) -> bool:
        with self.lock:
            if self.left <= 0 or time.perf_counter() >= self.deadline:
                return False
            self.left -= 1
            return True


class User:
    """One simulated person: a seeded sequence of classify, analyze and view-switch requests."""

    def __init__(self, url: str, seed: int, images: list[Path], choices: Choices, download_dir: str,
                 fresh_sessions: bool = False) -> None:
        self.client = new_client(url, download_dir)
        self.rng, self.images, self.choices = random.Random(seed), images, choices
        self.fresh_sessions = fresh_sessions  # a new session for every request: a stranger who comes once
        self.last: tuple[Path, object, str, object, object] | None = None  # image, patch, method, layer, head
        self.samples: list[Sample] = []

    def run(self, budget: Budget) -> None:
        while budget.take():
            if self.fresh_sessions:
                self.client.reset_session()
            kind = self.rng.choices(KINDS, MIX)[0]
            if kind == "view switch" and self.last is None:
                kind = "analyze"
            self.samples.append(timed(kind, self.request(kind)))

    def request(self, kind: str) -> Callable[[], object]:
        pick = self.rng.choice
        if kind == "classify":
            image, patch = pick(self.images), pick(self.choices.patch_sizes)
            return lambda: check_label(self.client.predict(handle_file(str(image)), patch, api_name="/classify"))
        if kind == "analyze":
            view = (pick(self.images), pick(self.choices.patch_sizes), pick(self.choices.methods),
                    pick(self.choices.layers), pick(self.choices.heads))
        else:
            view = self.other_view()
        self.last = view
        image, patch, method, layer, head = view
        return lambda: check_analysis(self.client.predict(handle_file(str(image)), patch, method, layer, head,
                                                          api_name="/analyze"))

    def other_view(self) -> tuple:
        """The last analysed image at the same patch size, with a different method, layer or head."""
        image, patch, method, layer, head = self.last
        control = self.rng.choice(("method", "layer", "head"))
        pool = {"method": self.choices.methods, "layer": self.choices.layers, "head": self.choices.heads}[control]
        current = {"method": method, "layer": layer, "head": head}[control]
        value = self.rng.choice([v for v in pool if v != current] or [current])
        changed = {"method": method, "layer": layer, "head": head, control: value}
        return image, patch, changed["method"], changed["layer"], changed["head"]


def timed(kind: str, call: Callable[[], object]) -> Sample:
    start = time.perf_counter()
    try:
        call()
    except Exception as error:  # noqa: BLE001 - every failure is a counted error, whatever its type
        return Sample(kind, time.perf_counter() - start, f"{type(error).__name__}: {error}"[:300])
    return Sample(kind, time.perf_counter() - start)


def run_users(url: str, images: list[Path], choices: Choices, users: int, requests: int, seconds: float,
              download_dir: str, first_seed: int = 0, fresh_sessions: bool = False) -> tuple[list[Sample], float]:
    """All users at once until the shared budget runs out; the samples and the wall time they took."""
    crowd = [User(url, seed, images, choices, download_dir, fresh_sessions)
             for seed in range(first_seed, first_seed + users)]
    budget = Budget(requests, seconds)
    threads = [threading.Thread(target=user.run, args=(budget,), daemon=True) for user in crowd]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [s for user in crowd for s in user.samples], time.perf_counter() - start


def warm_up(url: str, images: list[Path], download_dir: str) -> None:
    """One request of each endpoint, so the model is loaded before the memory baseline is read."""
    client = new_client(url, download_dir)
    check_label(client.predict(handle_file(str(images[0])), None, api_name="/classify"))
    check_analysis(client.predict(handle_file(str(images[0])), None, "attention", None, "mean", "",
                                  api_name="/analyze"))  # layer None: the last one


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    return ordered[min(len(ordered), max(1, math.ceil(q / 100 * len(ordered)))) - 1]


def report(samples: list[Sample], wall_s: float) -> list[str]:
    """The markdown table: one row per kind and one for all requests."""
    rows = ["| requests | count | errors | p50 (ms) | p95 (ms) | throughput (req/s) |", "|---|---|---|---|---|---|"]
    for kind in (*KINDS, "all"):
        group = [s for s in samples if kind in ("all", s.kind)]
        if not group:
            continue
        ok = [s.seconds * 1000 for s in group if s.error is None] or [float("nan")]
        errors = sum(s.error is not None for s in group)
        rows.append(f"| {kind} | {len(group)} | {errors} | {percentile(ok, 50):.0f} | {percentile(ok, 95):.0f} "
                    f"| {len(group) / wall_s:.2f} |")
    return rows


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=8, help="concurrent clients (default 8)")
    parser.add_argument("--requests", type=int, default=300, help="stop after this many requests (default 300)")
    parser.add_argument("--seconds", type=float, default=120, help="stop after this long (default 120)")
    parser.add_argument("--model", default="bundled", help="passed to app.py --model (default: bundled)")
    parser.add_argument("--images", type=int, default=None,
                        help="use only the first N images (1 = a classroom all on the same example)")
    parser.add_argument("--warmup", type=int, default=400,
                        help="untimed requests first, so caches and allocator pools fill (default 400)")
    parser.add_argument("--max-growth-mb", type=float, default=50, help="fail above this RSS growth (default 50)")
    parser.add_argument("--fresh", type=int, default=1000,
                        help="then this many requests, each from a new session (default 1000; 0 skips)")
    parser.add_argument("--fresh-seconds", type=float, default=900, help="time limit of those (default 900)")
    parser.add_argument("--max-fresh-growth-mb", type=float, default=40,
                        help="fail above this RSS growth over the fresh-session requests (default 40)")
    parser.add_argument("--fresh-chunks", type=int, default=4, help="checkpoints within those (default 4)")
    parser.add_argument("--cache-seconds", type=int, default=None,
                        help="VITDEMO_CACHE_SECONDS for the app (default: the app's own, 3600)")
    parser.add_argument("--sessions", type=int, default=None,
                        help="VITDEMO_SESSIONS for the app (default: the app's own, 256)")
    return parser.parse_args(argv)


@dataclass
class Point:
    """The server at one checkpoint: resident memory, threads, and the disk under its temporary folder."""

    label: str
    rss_mb: float
    threads: int
    gradio_mb: float
    other_mb: float


def disk_mb(folder: Path) -> float:
    """Bytes of the regular files under `folder`, in MB (files vanish while the app prunes: skip those)."""
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.stat(os.path.join(root, name), follow_symlinks=False).st_size
    return total / 2**20


def checkpoint(label: str, pid: int, server_tmp: Path) -> Point:
    gradio = disk_mb(server_tmp / "gradio")
    return Point(label, rss_mb(pid), thread_count(pid), gradio, disk_mb(server_tmp) - gradio)


def memory_rows(points: list[Point], growth: list[tuple[str, int, int]]) -> list[str]:
    """The server's memory, threads and disk at each checkpoint, then the growth between pairs of them."""
    rows = ["| server process | resident memory (MB) | threads | Gradio cache (MB) | other temporary files (MB) |",
            "|---|---|---|---|---|"]
    rows += [f"| {p.label} | {p.rss_mb:.0f} | {p.threads} | {p.gradio_mb:.1f} | {p.other_mb:.1f} |" for p in points]
    for label, start, end in growth:
        a, b = points[start], points[end]
        rows.append(f"| growth over {label} | {b.rss_mb - a.rss_mb:+.0f} | {b.threads - a.threads:+d} "
                    f"| {b.gradio_mb - a.gradio_mb:+.1f} | {b.other_mb - a.other_mb:+.1f} |")
    return rows


def run_fresh(url: str, pid: int, server_tmp: Path, images: list[Path], choices: Choices,
              args: argparse.Namespace, download_dir: str, points: list[Point]) -> tuple[list[Sample], float]:
    """`args.fresh` requests, each from a new session, in `args.fresh_chunks` parts with a checkpoint after each."""
    fresh: list[Sample] = []
    if args.fresh <= 0:
        return fresh, 0.0
    wall_s, chunks = 0.0, max(1, min(args.fresh_chunks, args.fresh))
    deadline = time.perf_counter() + args.fresh_seconds
    for part in range(chunks):
        count = args.fresh * (part + 1) // chunks - args.fresh * part // chunks
        samples, seconds = run_users(url, images, choices, args.users, count, deadline - time.perf_counter(),
                                     download_dir, first_seed=2000 + 100 * part, fresh_sessions=True)
        fresh += samples
        wall_s += seconds
        points.append(checkpoint(f"after {len(fresh)} more, each from a new session", pid, server_tmp))
    return fresh, wall_s


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    command = shown_command("benchmarks/load_test.py", sys.argv[1:] if argv is None else argv)
    choices = model_choices(args.model)
    with tempfile.TemporaryDirectory(prefix="vitdemo-load-") as tmp:
        server_tmp = Path(tmp) / "server-tmp"  # the app's TMPDIR: Gradio's cache is server_tmp/gradio
        server_tmp.mkdir()
        env = {"TMPDIR": str(server_tmp), "GRADIO_TEMP_DIR": str(server_tmp / "gradio")}
        if args.cache_seconds is not None:
            env["VITDEMO_CACHE_SECONDS"] = str(args.cache_seconds)
        if args.sessions is not None:
            env["VITDEMO_SESSIONS"] = str(args.sessions)
        downloads = Path(tmp) / "client"
        downloads.mkdir()
        with running_app(["--model", args.model], env=env) as app:
            images = example_images(Path(tmp))[: args.images]
            warm_up(app.url, images, str(downloads))
            points = [checkpoint("after the first request", app.pid, server_tmp)]
            warm, _ = run_users(app.url, images, choices, args.users, args.warmup, args.seconds, str(downloads),
                                first_seed=1000)
            points.append(checkpoint(f"after {len(warm)} warm-up requests (not timed)", app.pid, server_tmp))
            samples, wall_s = run_users(app.url, images, choices, args.users, args.requests, args.seconds,
                                        str(downloads))
            points.append(checkpoint(f"after {len(samples)} measured requests", app.pid, server_tmp))
            growth = [("the measured requests", 1, 2)]
            fresh, fresh_s = run_fresh(app.url, app.pid, server_tmp, images, choices, args, str(downloads), points)
            if fresh:
                growth.append((f"the {len(fresh)} fresh-session requests", 2, len(points) - 1))
    errors = [s.error for s in warm + samples + fresh if s.error]
    lines = [f"`{command}`", "", f"{args.users} users, {len(samples)} requests in {wall_s:.1f} s, "
             f"{len(images)} images, app started in {app.startup_s:.1f} s; warm-up errors: "
             f"{sum(s.error is not None for s in warm)}", "", *report(samples, wall_s)]
    if fresh:
        lines += ["", f"{len(fresh)} requests from fresh sessions in {fresh_s:.1f} s "
                  f"({len(fresh) / fresh_s:.2f} req/s), errors: {sum(s.error is not None for s in fresh)}"]
    lines += ["", *memory_rows(points, growth)]
    print("\n".join(lines))
    for error in sorted(set(errors))[:10]:
        print(f"error: {error}", file=sys.stderr)
    measured_growth = points[2].rss_mb - points[1].rss_mb
    fresh_growth = points[-1].rss_mb - points[2].rss_mb if fresh else 0.0
    return 1 if errors or measured_growth > args.max_growth_mb or fresh_growth > args.max_fresh_growth_mb else 0


if __name__ == "__main__":
    sys.exit(main())
