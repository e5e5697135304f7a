"""Turn the app's own user-facing errors into `gr.Error`, so the person sees the message and the app keeps serving.

Bad uploads (`ImageInputError`) and every refused value (`validation.UserError`: unknown models, patch sizes,
layers, heads, ...) carry a message written for the user. Anything else is a bug: it
is logged with its traceback and the user gets a short apology instead of a stack trace.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import gradio as gr

from .i18n import current_language, language, localized, localized_error, text
from .uploads import ImageInputError

logger = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])
ERROR_SECONDS = 12  # how long an error toast stays: long enough to read a two-line message


def refusal(message: str) -> gr.Error:
    """The `gr.Error` for a request we will not serve: shown long enough to read, and no traceback in the log
    (a bad value from a user is not a bug; Gradio prints one for every `gr.Error` unless told not to).

    A `Message` is said in the language of the request being served (`i18n.current_language`: Gradio calls
    these places without a `gr.Request`): English for API clients, unless their request asks for Chinese."""
    lang = current_language()
    return gr.Error(localized(message, lang), duration=ERROR_SECONDS, print_exception=False,
                    title=text("messages.title.error", lang))


def shown_to_user(fn: F) -> F:
    """Decorate an event function so its user errors become `gr.Error` toasts (and API error messages), in the
    request's language (English unless it asks for Chinese: see `refusal`)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except (ImageInputError, ValueError) as exc:  # UserError is a ValueError
            raise refusal(localized_error(exc, current_language())) from None
        except Exception as exc:
            logger.exception("unexpected error in %s", fn.__name__)
            lang = current_language()
            raise gr.Error(text("messages.our_side", lang, kind=type(exc).__name__), duration=ERROR_SECONDS,
                           title=text("messages.title.error", lang)) from exc

    return wrapper  # type: ignore[return-value]


async def unknown_component(request: Any, exc: KeyError) -> Any:
    """The answer to a `component_server` call naming a component the page does not have: Gradio looks the id
    up in a dict and would end in a bare 500 with a traceback. A KeyError on any other route is not ours to
    word: it is raised again, for the server's usual 500. (A FastAPI exception handler: see `ui.launch_options`.)"""
    from fastapi.responses import JSONResponse

    if not request.url.path.rstrip("/").endswith("/component_server"):
        raise exc
    return JSONResponse({"error": text("errors.no_component", language(request))}, status_code=404)
