"""Every setting the environment can change, read in one place and when asked, never at import.

Reading at call time means a test or a benchmark that sets a variable sees it take effect, and a bad value
fails with a sentence naming the variable instead of a `ValueError` from deep inside a module import.
Only the standard library is imported here: the app reads its settings before torch or gradio load.

| variable | meaning | default |
|---|---|---|
| VITDEMO_MODEL | the app's first model: key, hub id or folder | FlexiViT-B if cached/reachable, else bundled |
| VITDEMO_DEVICE | cuda, mps, cpu, ... | cuda, then mps, then cpu |
| VITDEMO_PRECISION | auto, fp32, bf16, fp16 | auto |
| VITDEMO_CONCURRENCY | requests served at once | 1 on a CPU, 8 on a GPU |
| VITDEMO_QUEUE_SIZE | requests waiting at most | 64 |
| VITDEMO_BUSY_SECONDS | how long an explorer server function waits for the model before answering "busy" | 5 |
| VITDEMO_CACHE_ITEMS / VITDEMO_CACHE_MB | analyses kept (count / MB they hold, views included) | 32 / 1024 |
| VITDEMO_MAX_MODELS | models kept loaded | 2 |
| VITDEMO_PICTURE_DIR | where output pictures are written | a fresh folder per app instance |
| VITDEMO_PICTURE_FILES | output pictures kept on disk | 512 |
| VITDEMO_CACHE_SECONDS | Gradio's upload cache: files older than this are deleted, checked as often | 3600 |
| VITDEMO_UPLOAD_MB | the upload folder's total size; the oldest files go first beyond it (see app/disk.py) | 1024 |
| VITDEMO_SESSIONS | visitors' sessions whose state is kept (~144 KB each; see app/sessions.py) | 1024 |
| VITDEMO_MCP | serve the API's tools (classify, analyze, figure) over MCP at /gradio_api/mcp/; 0 turns it off | on |
| HF_HUB_OFFLINE | never ask the Hugging Face Hub | off |
| SPACES_ZERO_GPU | set by Hugging Face on ZeroGPU Spaces | off |
| GRADIO_SERVER_NAME / GRADIO_SERVER_PORT | address and port to bind (Spaces sets them) | 127.0.0.1 / 7860 |
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ASSETS_DIR = ROOT / "assets"
BUNDLED_DIR = ASSETS_DIR / "bundled"
EXAMPLES_DIR = ASSETS_DIR / "examples"
TEXTURE_DIR = ASSETS_DIR / "textures"
_TRUTHY = {"1", "true", "yes", "on"}
_FALSY = {"0", "false", "no", "off"}


class SettingsError(ValueError):
    """An environment variable holds a value we cannot use; the message names it and says what is expected."""


@dataclass(frozen=True)
class Settings:
    model: str | None
    device: str | None
    precision: str
    concurrency: int | None  # None: decided by the machine (see `vitdemo.app.zerogpu.gpu_machine`)
    queue_size: int
    busy_seconds: float
    cache_items: int
    cache_mb: float
    max_models: int
    picture_dir: Path | None  # None: a fresh temporary folder per app instance
    picture_files: int
    cache_seconds: int
    upload_mb: int
    sessions: int
    mcp: bool
    hub_offline: bool
    zero_gpu: bool
    host: str
    port: int


def settings(environ: dict[str, str] | None = None) -> Settings:
    """The settings now in force (from `environ`, default `os.environ`)."""
    env = os.environ if environ is None else environ
    picture_dir = env.get("VITDEMO_PICTURE_DIR", "").strip()
    return Settings(
        model=env.get("VITDEMO_MODEL", "").strip() or None,
        device=env.get("VITDEMO_DEVICE", "").strip() or None,
        precision=_choice(env, "VITDEMO_PRECISION", ("auto", "fp32", "bf16", "fp16"), "auto"),
        concurrency=_whole(env, "VITDEMO_CONCURRENCY", None, low=1),
        queue_size=_whole(env, "VITDEMO_QUEUE_SIZE", 64, low=1),
        busy_seconds=_number(env, "VITDEMO_BUSY_SECONDS", 5.0),
        cache_items=_whole(env, "VITDEMO_CACHE_ITEMS", 32, low=1),
        cache_mb=_number(env, "VITDEMO_CACHE_MB", 1024.0),
        max_models=_whole(env, "VITDEMO_MAX_MODELS", 2, low=1),
        picture_dir=Path(picture_dir) if picture_dir else None,
        picture_files=_whole(env, "VITDEMO_PICTURE_FILES", 512, low=16),
        cache_seconds=_whole(env, "VITDEMO_CACHE_SECONDS", 3600, low=60),
        upload_mb=_whole(env, "VITDEMO_UPLOAD_MB", 1024, low=64),
        sessions=_whole(env, "VITDEMO_SESSIONS", 1024, low=1),
        mcp=_switch(env, "VITDEMO_MCP", True),
        hub_offline=env.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUTHY,
        zero_gpu=bool(env.get("SPACES_ZERO_GPU", "").strip()),
        host=env.get("GRADIO_SERVER_NAME", "").strip() or "127.0.0.1",
        port=_whole(env, "GRADIO_SERVER_PORT", 7860, low=1),
    )


def _whole(env: dict[str, str] | os._Environ, name: str, default: int | None, low: int) -> int | None:
    text = env.get(name, "").strip()
    if not text:
        return default
    if not text.isdigit() or int(text) < low:
        raise SettingsError(f"{name} must be a whole number of at least {low}, not {text!r}.")
    return int(text)


def _switch(env: dict[str, str] | os._Environ, name: str, default: bool) -> bool:
    text = env.get(name, "").strip().lower()
    if not text:
        return default
    if text not in _TRUTHY | _FALSY:
        raise SettingsError(f"{name} must be 1 or 0 (on or off), not {text!r}.")
    return text in _TRUTHY


def _number(env: dict[str, str] | os._Environ, name: str, default: float) -> float:
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < float("inf"):
        raise SettingsError(f"{name} must be a positive number, not {text!r}.")
    return value


def _choice(env: dict[str, str] | os._Environ, name: str, allowed: tuple[str, ...], default: str) -> str:
    text = env.get(name, "").strip().lower() or default
    if text not in allowed:
        raise SettingsError(f"{name} must be one of {', '.join(allowed)}, not {text!r}.")
    return text
