"""Which models the app offers, which of them can run here and now, and which one it starts with.

The app must start at once on any machine, online or not. So nothing here waits on the network: the bundled
model is always there; a hub model counts as available when its files are in the local Hugging Face cache;
and whether the hub itself is reachable is asked by a background thread with a short timeout (`HubProbe`),
never by the code that serves the page. `HF_HUB_OFFLINE=1` skips the question entirely.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from ..config import ViTConfig
from ..settings import BUNDLED_DIR, settings

logger = logging.getLogger(__name__)

BUNDLED = "bundled"
DEFAULT_HUB_MODEL = "flexivit-b"  # the default whenever it is cached or the hub is reachable
PROBE_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class ModelEntry:
    """One model the picker offers: `key` is what the picker and the API take, `source` what `vitdemo.load` takes."""

    key: str
    source: str
    title: str
    blurb: str = ""

    @property
    def on_hub(self) -> bool:
        return self.source != BUNDLED and not Path(self.source).exists()


REGISTRY: dict[str, ModelEntry] = {e.key: e for e in (
    ModelEntry(BUNDLED, BUNDLED, "Bundled shapes ViT (offline)",
               "A small ViT trained by this project on synthetic shapes, 96 px, patch sizes 8–32. Always available."),
    ModelEntry("flexivit-b", "timm/flexivit_base.1200ep_in1k", "FlexiViT-B (ImageNet)",
               "Trained for every patch size from 8 to 48: the model this demo is about."),
    ModelEntry("vit-b16", "google/vit-base-patch16-224", "ViT-B/16 (ImageNet)",
               "The original ViT-Base at patch 16; other patch sizes go through PI-resize."),
    ModelEntry("deit-tiny", "timm/deit_tiny_patch16_224.fb_in1k", "DeiT-Tiny (ImageNet, fast)",
               "5M parameters: quick on a CPU."),
    ModelEntry("deit-small", "timm/deit_small_patch16_224.fb_in1k", "DeiT-Small (ImageNet)",
               "22M parameters: a good CPU compromise."),
)}


def resolve(name: str | None, extra: dict[str, ModelEntry] | None = None) -> ModelEntry:
    """The entry named by key or by source (hub id); ValueError listing the choices otherwise.

    Only registered models are offered through the UI and the API, so a stranger cannot make the server
    download arbitrary repositories; `register` adds the one given on the command line.
    """
    known = {**REGISTRY, **(extra or {})}
    name = (name or "").strip()
    if name in known:
        return known[name]
    for entry in known.values():
        if name == entry.source:
            return entry
    raise ValueError(f"Unknown model {name!r}. Choose one of: {', '.join(known)}.")


def register(source: str) -> ModelEntry:
    """An entry for a model given by --model / VITDEMO_MODEL: a registered key or hub id, else a new one."""
    try:
        return resolve(source)
    except ValueError:
        title = Path(source).name if Path(source).exists() else source
        return ModelEntry(source, source, title)


def hub_offline() -> bool:
    """True when the user said the hub is off limits (HF_HUB_OFFLINE=1), read now rather than at import."""
    return settings().hub_offline


def is_cached(entry: ModelEntry) -> bool:
    """Can `entry` load without the network? Bundled and local folders always can; hub ids if cached."""
    if entry.source == BUNDLED:
        return True
    if not entry.on_hub:
        return Path(entry.source).is_dir()
    from huggingface_hub import try_to_load_from_cache

    try:
        config = try_to_load_from_cache(entry.source, "config.json")
        weights = [try_to_load_from_cache(entry.source, name) for name in ("model.safetensors", "pytorch_model.bin")]
    except Exception as exc:  # a malformed id or cache folder: treat as not cached, never crash the app
        logger.info("cache lookup for %s failed: %r", entry.source, exc)
        return False
    return isinstance(config, str) and any(isinstance(w, str) for w in weights)


class HubProbe:
    """Asks once, in a daemon thread, whether the Hugging Face Hub answers within `timeout` seconds."""

    def __init__(self, repo_id: str, timeout: float = PROBE_TIMEOUT_S):
        self.repo_id, self.timeout = repo_id, timeout
        self._done = threading.Event()
        self._reachable = False
        self._thread = threading.Thread(target=self._run, name="hub-probe", daemon=True)

    def start(self) -> HubProbe:
        if hub_offline():
            self._done.set()
        else:
            self._thread.start()
        return self

    def result(self, wait: float = 0.0) -> bool | None:
        """True or False once known, None while still asking (after waiting up to `wait` seconds)."""
        return self._reachable if self._done.wait(wait) else None

    def _run(self) -> None:
        try:
            from huggingface_hub import constants
            from huggingface_hub.utils import get_session

            response = get_session().head(f"{constants.ENDPOINT}/api/models/{self.repo_id}", timeout=self.timeout)
            self._reachable = response.status_code < 500
        except Exception as exc:  # DNS failure, refused, timeout, proxy error: all mean "not reachable"
            logger.info("hub not reachable: %r", exc)
        finally:
            self._done.set()


@dataclass
class Startup:
    """The model the app serves first, why (shown in the UI), and one to switch to if the hub answers."""

    entry: ModelEntry
    reason: str
    pending: ModelEntry | None = None


def choose_startup(requested: str | None) -> Startup:
    """Pick the first model without waiting for the network; `pending` is decided later by the probe."""
    bundled = REGISTRY[BUNDLED]
    wanted = register(requested) if requested else REGISTRY[DEFAULT_HUB_MODEL]
    how = "as requested" if requested else "the default"
    if wanted.key == BUNDLED:
        return Startup(bundled, "Running the bundled shapes model, as requested.")
    if is_cached(wanted):
        where = "found in the local cache" if wanted.on_hub else f"from {wanted.source}"
        return Startup(wanted, f"Running {wanted.title}, {how} ({where}).")
    if hub_offline():
        return Startup(bundled, f"Offline (HF_HUB_OFFLINE=1) and {wanted.title} is not downloaded: "
                                "running the bundled shapes model.")
    return Startup(bundled, f"{wanted.title} is not downloaded yet; checking the Hugging Face Hub. "
                            "Meanwhile: the bundled shapes model.", pending=wanted)


def settle_pending(startup: Startup, probe: HubProbe | None) -> Startup:
    """Once the probe has answered: keep `pending` if the hub is reachable, else say we stay offline."""
    if startup.pending is None:
        return startup
    reachable = probe.result() if probe else False
    if reachable is None:
        return startup
    if reachable:
        return Startup(startup.entry, f"Downloading {startup.pending.title} from the Hugging Face Hub…",
                       startup.pending)
    return Startup(startup.entry, f"The Hugging Face Hub is unreachable and {startup.pending.title} is not "
                                  "downloaded: running the bundled shapes model (works offline).")


def peek_config(entry: ModelEntry) -> ViTConfig | None:
    """The config of a vitdemo-format folder (the bundled model), read without importing torch.

    Building the page needs only the offered patch sizes; importing torch and loading weights can then
    happen while the page is already being served. Other formats return None (load the model instead).
    """
    folder = BUNDLED_DIR if entry.source == BUNDLED else Path(entry.source)
    try:
        meta = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError):
        return None
    return ViTConfig.from_dict(meta["config"]) if meta.get("format") == "vitdemo" else None
