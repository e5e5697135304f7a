"""Input components that hand what was sent to our own checks instead of converting it themselves.

`gr.Image` opens every upload with PIL before the event function runs, so an SVG, a PDF or a truncated
JPEG fails inside Gradio with a vague "Error". `upload_image` returns a `gr.Image` (same front end: upload,
webcam, clipboard; same API schema) whose preprocessing only passes on the file path, or the bytes of a
webcam/clipboard data URL, so `vitdemo.app.uploads.decode_image` decides, with a message that says what was
wrong and what is accepted. Only files that came in as uploads (Gradio's upload folder) or are the app's
own examples are read: an API client that names a URL or a path on the server is told to upload the file.

`gr.Number` likewise fails on a string (`patch_size="abc"`) or rounds a fraction (`layer=2.5`) before the
event function runs, and a failure there reaches the client as a bare error with a traceback in the log.
`raw_number`, `raw_choice` and `raw_text` keep their component's API schema but pass the value on as it
came, for `validation` to accept or refuse with one sentence. Gradio also acts on a request before any
component does (it fetches the files a request names); `check_first` gets there before it.

These replace the instance's methods rather than subclassing: Gradio writes a `.pyi` stub next to the
source of every Component subclass at import time, which a package should not do to itself.
"""

from __future__ import annotations

import base64
import binascii
import logging
import types
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import gradio as gr
from gradio.context import Context
from gradio_client import handle_file

from ..settings import EXAMPLES_DIR
from .draw import drawing_or_bytes
from .errors import refusal
from .i18n import Message, current_language, localized
from .uploads import ACCEPTED_DESCRIPTION, MAX_FILE_BYTES
from .validation import UserError, whole

BASE64_SLACK = 4 / 3 + 0.01  # base64 text is 4/3 the size of its bytes
EXAMPLE_IMAGE = EXAMPLES_DIR / "shape_star.png"  # the API page's example: on disk, so the snippet runs offline
Check = Callable[[Any], Any]  # a raw request value -> the value Gradio may process (or raises gr.Error)
_CHECKS: weakref.WeakKeyDictionary[gr.Blocks, dict[int, Check]] = weakref.WeakKeyDictionary()
NOT_AN_UPLOAD = Message("errors.not_an_upload")
logger = logging.getLogger(__name__)
IMAGE_SCHEMA_NOTE = "An image file, uploaded: handle_file('picture.png') in gradio_client. URLs and paths on the " \
                    "server are refused."


def upload_image(**kwargs: Any) -> gr.Image:
    """A `gr.Image(type="filepath", **kwargs)` whose value reaches the event function undecoded.

    Inside a `gr.Blocks`, requests naming a URL or a server path are refused before Gradio acts on them
    (`admit_upload`). Its API example is a picture shipped with the app (Gradio's default is a URL on
    GitHub, which fails offline and which this app refuses anyway).
    """
    image = gr.Image(type="filepath", **kwargs)
    image.preprocess = types.MethodType(raw_upload, image)  # type: ignore[method-assign]
    if Context.root_block is not None:
        check_first(image, admit_upload)
    _set_example(image, example_file(EXAMPLE_IMAGE))
    schema = {**image.api_info(), "additional_description": IMAGE_SCHEMA_NOTE}
    image.api_info = lambda: schema  # type: ignore[method-assign]
    return image


def example_file(path: Path) -> dict[str, Any]:
    """`handle_file(path)` with `url` set too: the API page writes a file example as `handle_file('<url>')`."""
    return {**handle_file(str(path)), "url": str(path)}


def raw_upload(_: gr.Image, payload: gr.data_classes.ImageData | None) -> str | bytes | None:
    """The upload's path in Gradio's upload folder, or the bytes of a data URL; None when nothing was sent."""
    if payload is None:
        return None
    if payload.url and payload.url.startswith("data:"):
        return drawing_or_bytes(data_url_bytes(payload.url), payload.orig_name)  # the sketchpad's: draw.py
    if not payload.path:
        raise refusal(Message("errors.no_image"))
    if not is_upload(payload.path):
        raise refusal(NOT_AN_UPLOAD)
    return payload.path


def is_upload(path: str) -> bool:
    """Is `path` a file Gradio received as an upload, or one of the app's examples (which the page sends)?

    Resolved first, so `..` and symbolic links cannot lead out of those folders.
    """
    from gradio.utils import get_upload_folder

    return _inside(path, Path(get_upload_folder())) or is_example(path)


def is_example(path: str) -> bool:
    """Is `path` one of the app's example pictures?"""
    return _inside(path, EXAMPLES_DIR)


def _inside(path: str, folder: Path) -> bool:
    if "://" in path:
        return False
    try:
        return Path(path).resolve().is_relative_to(folder.resolve())
    except (OSError, RuntimeError, ValueError):
        return False


def admit_upload(payload: Any) -> Any:
    """The image payload of a request as Gradio may process it; a URL or a server path is refused first.

    Gradio moves every file named in a request into its cache before any component sees it: it downloads a
    URL, and refuses a path on the server with a bare error and a traceback in the log (the app's own
    examples included). So this sees the raw request value first (`upload_image` sets that up with
    `check_first`). Uploads and data URLs pass unchanged; an example is passed without its file marker, so
    Gradio leaves it where it is and `raw_upload` reads it (that is what lets the API page's example run with
    curl too).
    """
    if payload is None:
        return None
    if not isinstance(payload, dict):
        raise refusal(NOT_AN_UPLOAD)
    url, path = payload.get("url"), payload.get("path")
    if isinstance(url, str) and url.startswith("data:") and not path:
        return payload
    if not isinstance(path, str) or not is_upload(path):
        raise refusal(NOT_AN_UPLOAD)
    if is_example(path):
        return {k: v for k, v in payload.items() if k != "meta"}
    return payload


def example_index(count: int) -> Check:
    """A check for an examples table's value: None (no example clicked yet: every other control's event sends
    it too) or the index of one of its `count` samples (Gradio's own code fails on anything else with a
    traceback)."""
    def check(value: Any) -> int | None:
        if value is None:
            return None
        try:
            return whole(value, "example", 0, count - 1)
        except UserError as exc:
            raise refusal(exc.args[0]) from None
    return check


def no_file(name: str) -> Check:
    """A check for a parameter that takes a number or a name: refuse a file (Gradio would try to fetch it)."""
    def check(value: Any) -> Any:
        if _names_a_file(value):
            raise refusal(Message("errors.not_a_file", name=name))
        return value
    return check


def _names_a_file(value: Any) -> bool:
    if isinstance(value, dict):
        meta = value.get("meta")
        return (isinstance(meta, dict) and meta.get("_type") == "gradio.FileData") or any(
            _names_a_file(v) for v in value.values())
    return isinstance(value, list) and any(_names_a_file(v) for v in value)


def data_url_bytes(url: str) -> bytes:
    """The bytes of a base64 `data:` URL (what webcam and clipboard captures may send), size-checked first."""
    header, _, body = url.partition(",")
    if len(body) > MAX_FILE_BYTES * BASE64_SLACK:
        raise refusal(Message("errors.paste_too_large", mb=MAX_FILE_BYTES // 2**20, accepted=ACCEPTED_DESCRIPTION))
    if ";base64" not in header:
        raise refusal(Message("errors.paste_not_base64"))
    try:
        return base64.b64decode(body, validate=False)
    except (binascii.Error, ValueError):
        raise refusal(Message("errors.paste_corrupt")) from None


OPTIONAL: set[int] = set()  # ids of trailing API inputs a request may leave out (they take "")


def optional_trailing(component: gr.components.Component) -> None:
    """Let requests leave `component` out when it is an event's last input(s): a parameter added to an API
    endpoint after clients were written (/classify's and /analyze's `prompts`), which those clients keep working
    without. It takes the empty string, its "not given"."""
    OPTIONAL.add(component._id)


def check_first(component: gr.components.Component, check: Check) -> None:
    """Have `check` see every raw request value for `component` before Gradio processes it (call inside the
    `gr.Blocks`): it returns the value to go on with, or raises `gr.Error`.

    Gradio moves every file a request names into its cache before any component sees the value: it
    downloads a URL (the server fetching whatever a stranger names) and refuses a path on the server with a
    bare error and a traceback in the log; a request with too few values fails the same way. These happen
    in `Blocks.preprocess_data`, for every event, so that method is wrapped, on this app only and once
    (`_check_requests`, which also guards every input that has no check of its own).
    """
    blocks = Context.root_block
    if blocks is None:
        raise RuntimeError("check_first must be called inside a gr.Blocks")
    if blocks not in _CHECKS:
        _CHECKS[blocks] = {}
        _check_requests(blocks, _CHECKS[blocks])
    _CHECKS[blocks][component._id] = check


def _keep_own_preprocess(inputs: Sequence[Any], state: Any) -> None:
    """An event that updates a component (a dict return leaves the outputs it does not name at `gr.skip()`)
    makes Gradio rebuild it for the session from its constructor's arguments, without the preprocessing set
    on the instance here (`upload_image`): the session's copy gets it back before Gradio preprocesses."""
    blocks = getattr(getattr(state, "blocks_config", None), "blocks", {})
    for block in inputs:
        copy = blocks.get(getattr(block, "_id", None))
        if copy is not None and copy is not block and "preprocess" in vars(block):
            copy.preprocess = block.preprocess


def _check_requests(blocks: gr.Blocks, checks: dict[int, Check]) -> None:
    """Wrap `blocks.preprocess_data`: for every event, count the values, run each input's check (its own, or
    `admit_files`), and turn whatever Gradio then fails on into one sentence without a traceback.

    Gradio's own failures on a malformed value (a choice not offered, a string where a number belongs, a
    list where a file belongs) echo the whole value back (10 MB in, 10 MB out) or end as a bare "Error"
    with a traceback in the log; the page never sends such values, so the sentence says to reload it.
    """
    original = blocks.preprocess_data

    async def preprocess_data(block_fn: Any, inputs: list[Any], state: Any, explicit_call: bool = False) -> Any:
        missing = block_fn.inputs[len(inputs):]
        if missing and all(getattr(block, "_id", None) in OPTIONAL for block in missing):
            inputs = [*inputs, *("" for _ in missing)]  # a parameter added later: old clients send without it
        if len(inputs) < len(block_fn.inputs):
            names = ", ".join(str(localized(getattr(block, "label", ""), current_language()) or "?")
                              for block in block_fn.inputs)
            raise refusal(Message("errors.value_count", event=_event_name(block_fn), expected=len(block_fn.inputs),
                                  names=names, count=len(inputs)))
        inputs = [checks.get(getattr(block, "_id", None), admit_files)(value)
                  for block, value in zip(block_fn.inputs, inputs)] + list(inputs[len(block_fn.inputs):])
        _keep_own_preprocess(block_fn.inputs, state)
        try:
            return await original(block_fn, inputs, state, explicit_call)
        except gr.Error as exc:
            if not exc.print_exception:  # one of our own refusals: already one sentence
                raise
            problem = "gr.Error"
        except Exception as exc:  # a bad value, or a bug: the log line names it (cut short: values can be huge)
            problem = f"{type(exc).__name__}: {str(exc)[:160]}"
        logger.warning("refused the values sent to %s (%s)", block_fn.api_name or block_fn.name, problem)
        raise refusal(Message("errors.values_refused", event=_event_name(block_fn))) from None

    blocks.preprocess_data = preprocess_data  # type: ignore[method-assign]


def _event_name(block_fn: Any) -> Any:
    return f"/{block_fn.api_name}" if block_fn.api_name else Message("errors.this_event")


def admit_files(value: Any) -> Any:
    """`value` unchanged when every file it names is an upload (or a data URL); else refused like a URL or a
    server path sent for the image (`admit_upload`).

    The check for every input without one of its own: the sketchpad's layers, or a file slipped into any
    other value. Gradio would fetch a URL named there (its private-address check is the only guard) or
    hand a server path to the component.
    """
    if isinstance(value, dict):
        if ("path" in value or "url" in value) and not _admissible_file(value):
            raise refusal(NOT_AN_UPLOAD)
        for item in value.values():
            admit_files(item)
    elif isinstance(value, list):
        for item in value:
            admit_files(item)
    return value


def _admissible_file(payload: dict[str, Any]) -> bool:
    """A file reference that is an upload, or a data URL with no path; a dict with neither is no file."""
    url, path = payload.get("url"), payload.get("path")
    if path is None and url is None:
        return True
    if path is None:
        return isinstance(url, str) and url.startswith("data:")
    return isinstance(path, str) and is_upload(path) and (url is None or isinstance(url, str))


# -- values the API hands to `validation` unconverted ----------------------------------------------------


def raw_number(example: Any, note: str = "", **kwargs: Any) -> gr.Number:
    """A hidden `gr.Number` for the API (schema: an integer; empty allowed) whose value reaches the event
    function as sent. `example` is the API page's example, `note` what the page says of the parameter."""
    number = gr.Number(**{"value": None, "precision": 0, **kwargs})
    return _pass_through(number, note, example)


def raw_choice(choices: Sequence[str], note: str = "", **kwargs: Any) -> gr.Dropdown:
    """A hidden `gr.Dropdown` for the API: its schema lists `choices` (the first is the page's example), but
    any value reaches the event function, for `validation` to name the choices when it is not one."""
    dropdown = gr.Dropdown(list(choices), allow_custom_value=True, **kwargs)
    return _pass_through(dropdown, note)


def raw_text(example: str = "", note: str = "", **kwargs: Any) -> gr.Textbox:
    """A hidden `gr.Textbox` for the API whose value reaches the event function as sent (a number stays one)."""
    return _pass_through(gr.Textbox(**kwargs), note, example)


_NO_EXAMPLE = object()


def _pass_through(component: Any, note: str, example: Any = _NO_EXAMPLE) -> Any:
    """`component` with preprocessing that changes nothing, `note` in its schema and `example` on the API page."""
    component.preprocess = types.MethodType(_as_sent, component)
    if note:
        schema = {**component.api_info(), "additional_description": note}
        component.api_info = lambda: schema
    if example is not _NO_EXAMPLE:
        _set_example(component, example)
    return component


def _as_sent(_: gr.components.Component, payload: Any) -> Any:
    return payload


def _set_example(component: gr.components.Component, example: Any) -> None:
    """What the API page shows (and our tests send) as this parameter's example."""
    component.example_payload = lambda: example  # type: ignore[method-assign]
    component.example_value = lambda: example  # type: ignore[method-assign]
