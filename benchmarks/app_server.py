"""Start `python app.py` as its own process on a free loopback port, wait for the page, and stop it again.

The load test, the app benchmark and the load smoke test all need the app as users meet it: a separate
process (so its resident memory and cold start are its own, not the harness's), bound to 127.0.0.1 only,
offline, and always stopped at the end even when the harness fails.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

try:
    import psutil
except ImportError:  # not a dependency: /proc has the same number on Linux
    psutil = None

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app.py"


@dataclass
class AppServer:
    """A running app: where it answers, its process id, and how long it took to serve its first page."""

    url: str
    pid: int
    startup_s: float
    log: Path


RELEVANT_ENV = ("OMP_NUM_THREADS", "MALLOC_ARENA_MAX", "VITDEMO_PRECISION", "VITDEMO_DEVICE", "VITDEMO_CONCURRENCY",
                "VITDEMO_CACHE_ITEMS", "VITDEMO_CACHE_MB")


def shown_command(script: str, argv: list[str]) -> str:
    """The command line as typed, with the environment variables that change the numbers in front."""
    env = [f"{name}={os.environ[name]}" for name in RELEVANT_ENV if name in os.environ]
    return " ".join([*env, "python", script, *argv])


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def app_environment(port: int, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a loopback-only, offline app: no hub, no analytics, no share links."""
    env = dict(os.environ)
    env.update(GRADIO_SERVER_NAME="127.0.0.1", GRADIO_SERVER_PORT=str(port), HF_HUB_OFFLINE="1",
               GRADIO_ANALYTICS_ENABLED="False", PYTHONUNBUFFERED="1")
    env.update(extra or {})
    return env


def page_served(url: str) -> bool:
    """True once GET `url` answers 200."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return False


@contextlib.contextmanager
def running_app(args: list[str] | None = None, env: dict[str, str] | None = None, timeout_s: float = 120.0,
                app_file: Path = APP) -> Iterator[AppServer]:
    """`python app.py ARGS` on a free port until the block ends; `startup_s` is spawn → first 200 on "/"."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    with tempfile.TemporaryDirectory(prefix="vitdemo-app-") as tmp:
        log = Path(tmp) / "app.log"
        with open(log, "wb") as out:
            start = time.perf_counter()
            process = subprocess.Popen([sys.executable, str(app_file), "--port", str(port), *(args or [])], cwd=ROOT,
                                       env=app_environment(port, env), stdout=out, stderr=subprocess.STDOUT)
            try:
                startup = wait_until_served(process, url, start, timeout_s, log)
                yield AppServer(url, process.pid, startup, log)
            except Exception:
                print(f"--- app.py log (last lines) ---\n{tail(log)}\n---", file=sys.stderr)
                raise
            finally:
                stop(process)


def wait_until_served(process: subprocess.Popen, url: str, start: float, timeout_s: float, log: Path) -> float:
    """Seconds from `start` until `url` is served; raises with the app's log if it dies or times out."""
    while time.perf_counter() - start < timeout_s:
        if page_served(url):
            return time.perf_counter() - start
        if process.poll() is not None:
            raise RuntimeError(f"app.py exited with {process.returncode} before serving:\n{tail(log)}")
        time.sleep(0.05)
    raise TimeoutError(f"app.py did not serve {url} within {timeout_s:.0f} s:\n{tail(log)}")


def stop(process: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL after 10 s: the app must never outlive the harness."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def tail(log: Path, lines: int = 40) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else ""


def thread_count(pid: int) -> int:
    """Threads of process `pid` (/proc/PID/status): each thread that runs torch may hold its own thread pool."""
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("Threads:"))


def rss_mb(pid: int) -> float:
    """Resident memory of process `pid` in MB (psutil when installed, else /proc/PID/status VmRSS)."""
    if psutil is not None:
        return psutil.Process(pid).memory_info().rss / 2**20
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) / 1024 for line in status if line.startswith("VmRSS:"))
