"""Run the vitdemo app: `python app.py [--model KEY|HUB_ID|FOLDER] [--host 127.0.0.1] [--port 7860] [--share]`.

The same file is the Hugging Face Space's entry point (`app_file: app.py`). Settings also come from the
environment: VITDEMO_MODEL, GRADIO_SERVER_NAME, GRADIO_SERVER_PORT (Spaces sets the last two). Without any,
the app binds to 127.0.0.1 only: it is for this machine unless you say otherwise.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import platform
import signal
import sys

M_ARENA_MAX = -8  # glibc's mallopt parameter number (malloc.h)
MALLOC_ARENAS = 2


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> bool:
    """Cap glibc's malloc arenas; True if capped. A no-op off glibc Linux, or when MALLOC_ARENA_MAX is set.

    Why: glibc gives each thread that allocates concurrently an arena of its own (up to 8 per core), and each
    arena keeps freed memory for reuse rather than returning it. Gradio serves every request from a pool of
    worker threads, so under load the resident memory grows with the number of threads that ever allocated.
    With two arenas the app held ~40 MB less after the load test's warm-up, at the same throughput (see
    `benchmarks/load_test.py`). It must run before the threads start allocating.
    """
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc" or "MALLOC_ARENA_MAX" in os.environ:
        return False
    try:
        return ctypes.CDLL("libc.so.6").mallopt(M_ARENA_MAX, arenas) == 1
    except (OSError, AttributeError):
        return False


limit_malloc_arenas()  # before the imports below and before any thread: see the docstring

from vitdemo.app import build_app, serve  # noqa: E402  (imports neither gradio nor torch: they load in main())


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from vitdemo.settings import settings  # the one place that reads the environment

    now = settings()
    parser = argparse.ArgumentParser(description="Interactive Vision Transformer demo.")
    parser.add_argument("--model", default=now.model,
                        help="bundled, flexivit-b, vit-b16, deit-tiny, deit-small, a hub id or a local folder "
                             "(default: $VITDEMO_MODEL, else FlexiViT-B when cached or reachable, else bundled)")
    parser.add_argument("--host", default=now.host,
                        help="address to bind (default: $GRADIO_SERVER_NAME or 127.0.0.1; 0.0.0.0 for everyone)")
    parser.add_argument("--port", type=int, default=now.port, help="port (default: $GRADIO_SERVER_PORT or 7860)")
    parser.add_argument("--share", action="store_true", help="also open a public gradio.live link")
    return parser.parse_args(argv)


def exit_on_sigterm() -> None:
    """Make SIGTERM (what `docker stop`, systemd and Spaces send) exit like Ctrl-C does, through `serve`'s
    cleanup: Python's default for it is to die at once, leaving uploads and pictures on disk for good."""
    def stop(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    exit_on_sigterm()
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no phoning home (and no wait for it offline)
    # Gradio imports IPython (~0.5 s) only for its notebook magics and carries on without it: a server needs none.
    sys.modules.setdefault("IPython", None)  # type: ignore[arg-type]
    try:
        serve(build_app(args.model), server_name=args.host, server_port=args.port, share=args.share)
    except SystemExit as stop:  # SIGTERM, after `serve`'s cleanup ran
        exit_now(stop.code)


def exit_now(code: object) -> None:
    """Exit with `code` without tearing the interpreter down.

    Why: a SIGTERM may come while the model's warm-up thread is still inside torch's C++ code (loading,
    a pseudo-inverse); the interpreter's teardown then destroys objects that thread uses, and the C++ runtime
    aborts ("terminate called without an active exception", status -6) instead of exiting 143. Everything
    worth doing at exit (closing the server, removing this instance's files) has run by now.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code if isinstance(code, int) else 1)


if __name__ == "__main__":
    main()
