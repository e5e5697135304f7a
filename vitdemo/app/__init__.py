"""The Gradio app: `build_app(model=None)` returns the demo, `launch_options()` the arguments to launch it with.

    from vitdemo.app import build_app, launch_options, serve
    serve(build_app("bundled"), server_port=7860)      # launch, then load the model while the page is served
    build_app("bundled").launch(**launch_options())    # also works: the model loads on first use

`zerogpu` is imported first, before anything can import torch: on a ZeroGPU Space the `spaces` package must
come before CUDA is touched. Everything else (gradio, torch) loads on first use, which keeps the app's cold
start short.
"""

from __future__ import annotations

from typing import Any

from . import zerogpu  # noqa: F401  (must precede torch: see the module docstring)


def build_app(model: str | None = None, **kwargs: Any) -> Any:
    """The `gr.Blocks` demo (see `vitdemo.app.ui.build_app`)."""
    from .ui import build_app as build

    return build(model, **kwargs)


def launch_options() -> dict[str, Any]:
    """Keyword arguments for `demo.launch()`: theme, CSS, upload size limit, example paths."""
    from .ui import launch_options as options

    return options()


def serve(demo: Any, **launch_kwargs: Any) -> None:
    """Launch `demo` with `launch_options()`, load its default model in the background, block until closed.

    The page is served first and torch + the weights load afterwards, so the cold start to a served page
    does not include them. Before the launch, files earlier instances left in the upload folder (older than
    the cache age) are removed; at the end, however it comes (Ctrl-C, or a SIGTERM that `app.py` turns into
    `SystemExit`), the server is closed, which deletes the files this instance made, and so is its picture
    folder (see `disk.py`). Once a model has loaded (the default one now, any other when a visitor picks it),
    its example pictures are analysed in the background (`example_sets.Warmer`), so a first click on one is
    answered from the cache.
    """
    from pathlib import Path

    from gradio.utils import get_upload_folder

    from ..settings import settings
    from . import example_sets
    from .disk import kept_files, remove_leftovers

    remove_leftovers(Path(get_upload_folder()), settings().cache_seconds, keep=kept_files(demo))
    try:
        demo.launch(prevent_thread_lock=True, **{**launch_options(), **launch_kwargs})
        engine = demo.vitdemo_engine
        demo.vitdemo_handlers.warmer = example_sets.Warmer(engine)
        demo.vitdemo_handlers.warmer.warm(engine.entry(), after=engine.warm_up())
        demo.block_thread()
    finally:
        demo.close()
        demo.vitdemo_pictures.remove()
