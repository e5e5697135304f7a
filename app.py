"""Run the vitdemo app: `python app.py [--model KEY|HUB_ID|FOLDER] [--host 127.0.0.1] [--port 7860] [--share]`.

The same file is the Hugging Face Space's entry point (`app_file: app.py`). Settings also come from the
environment: VITDEMO_MODEL, GRADIO_SERVER_NAME, GRADIO_SERVER_PORT (Spaces sets the last two). Without any,
the app binds to 127.0.0.1 only: it is for this machine unless you say otherwise.
"""

from __future__ import annotations

import argparse
import os
import sys

from vitdemo.app import build_app, serve  # imports neither gradio nor torch: they load in main()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Interactive Vision Transformer demo.")
    parser.add_argument("--model", default=os.environ.get("VITDEMO_MODEL"),
                        help="bundled, flexivit-b, vit-b16, deit-tiny, deit-small, a hub id or a local folder "
                             "(default: $VITDEMO_MODEL, else FlexiViT-B when cached or reachable, else bundled)")
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
                        help="address to bind (default: $GRADIO_SERVER_NAME or 127.0.0.1; 0.0.0.0 for everyone)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
                        help="port (default: $GRADIO_SERVER_PORT or 7860)")
    parser.add_argument("--share", action="store_true", help="also open a public gradio.live link")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no phoning home (and no wait for it offline)
    # Gradio imports IPython (~0.5 s) only for its notebook magics and carries on without it: a server needs none.
    sys.modules.setdefault("IPython", None)  # type: ignore[arg-type]
    serve(build_app(args.model), server_name=args.host, server_port=args.port, share=args.share)


if __name__ == "__main__":
    main()
