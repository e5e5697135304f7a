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

from .uploads import ImageInputError

logger = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])
ERROR_SECONDS = 12  # how long an error toast stays: long enough to read a two-line message


def refusal(message: str) -> gr.Error:
    """The `gr.Error` for a request we will not serve: shown long enough to read, and no traceback in the log
    (a bad value from a user is not a bug; Gradio prints one for every `gr.Error` unless told not to)."""
    return gr.Error(message, duration=ERROR_SECONDS, print_exception=False)


def shown_to_user(fn: F) -> F:
    """Decorate an event function so its user errors become `gr.Error` toasts (and API error messages)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except (ImageInputError, ValueError) as exc:  # UserError is a ValueError
            raise refusal(str(exc)) from None
        except Exception as exc:
            logger.exception("unexpected error in %s", fn.__name__)
            raise gr.Error(f"Something went wrong on our side ({type(exc).__name__}); please try another "
                           "image or setting.", duration=ERROR_SECONDS) from exc

    return wrapper  # type: ignore[return-value]
