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
from ..constants import FLEXIVIT_PATCH_SIZES
from ..settings import BUNDLED_DIR, settings
from .i18n import ENGLISH, Message, catalogue, text
from .validation import echo

logger = logging.getLogger(__name__)

BUNDLED = "bundled"
DEFAULT_HUB_MODEL = "flexivit-b"  # the default whenever it is cached or the hub is reachable
PROBE_TIMEOUT_S = 3.0


IMAGENET_1K = "ImageNet-1k"
APACHE = "Apache-2.0"
REGISTERS = 4  # DINOv2 with registers: the released models carry 4


@dataclass(frozen=True)
class Facts:
    """What the picker tells about a model before it loads: the one table every such line is written from.

    Sizes are the fp32 weights (`model.safetensors`), parameters × 4 bytes, the parameter counts taken from
    transformers' models built with each repo's published config (tests/test_model_info.py rebuilds them).
    A loaded model's own config is the truth for patch, tokens and classes (`model_info.facts_of`).
    """

    family: str
    patch: tuple[int, ...]  # the patch sizes it was trained at
    tokens: tuple[str, ...]  # the tokens before the patches, as `ViTConfig.token_types` names them
    classes: int  # 0: no classifier (self-supervised backbones)
    classes_name: str = ""  # what the classes are ("ImageNet-1k"), when there are classes
    licence: str = APACHE
    download_mb: float = 0.0  # 0: nothing to download (bundled, a local folder)
    prompts: bool = False  # an image–text model: its classes are the prompts typed (CLIP, SigLIP, Chinese-CLIP)


CLASS_ONLY = ("class",)
MIT = "MIT"
WITH_REGISTERS = ("class",) + ("register",) * REGISTERS


@dataclass(frozen=True)
class ModelEntry:
    """One model the picker offers: `key` is what the picker and the API take, `source` what `vitdemo.load` takes."""

    key: str
    source: str
    title: str
    blurb: str = ""
    facts: Facts | None = None  # None: read from the model's config (the command line's own model)

    @property
    def on_hub(self) -> bool:
        return self.source != BUNDLED and not Path(self.source).exists()


def _dino(key: str, source: str, title: str, patch: int, mb: float) -> ModelEntry:
    return ModelEntry(key, source, title, "Self-supervised (DINO, Caron et al. 2021): no classifier; its class-token "
                      "attention outlines objects.", Facts("DINO", (patch,), CLASS_ONLY, 0, download_mb=mb))


def _image_text(key: str, source: str, title: str, blurb: str, family: str, patch: int, mb: float,
                tokens: tuple[str, ...] = CLASS_ONLY, licence: str = MIT) -> ModelEntry:
    return ModelEntry(key, source, title, blurb, Facts(family, (patch,), tokens, 0, licence=licence,
                                                       download_mb=mb, prompts=True))


REGISTRY: dict[str, ModelEntry] = {e.key: e for e in (
    ModelEntry(BUNDLED, BUNDLED, "Bundled shapes ViT (offline)",
               "A small ViT trained by this project on synthetic shapes, 96 px, patch sizes 8–32. Always available.",
               Facts("ViT (vitdemo)", (8, 12, 16, 24, 32), CLASS_ONLY, 11, "shapes")),
    ModelEntry("flexivit-b", "timm/flexivit_base.1200ep_in1k", "FlexiViT-B (ImageNet)",
               "Trained for every patch size from 8 to 48: the model this demo is about.",
               Facts("FlexiViT", FLEXIVIT_PATCH_SIZES, CLASS_ONLY, 1000, IMAGENET_1K, download_mb=346.4)),
    ModelEntry("vit-b16", "google/vit-base-patch16-224", "ViT-B/16 (ImageNet)",
               "The original ViT-Base at patch 16; other patch sizes go through PI-resize.",
               Facts("ViT", (16,), CLASS_ONLY, 1000, IMAGENET_1K, download_mb=346.3)),
    ModelEntry("deit-tiny", "timm/deit_tiny_patch16_224.fb_in1k", "DeiT-Tiny (ImageNet, fast)",
               "5M parameters: quick on a CPU.", Facts("DeiT", (16,), CLASS_ONLY, 1000, IMAGENET_1K, download_mb=22.9)),
    ModelEntry("deit-small", "timm/deit_small_patch16_224.fb_in1k", "DeiT-Small (ImageNet)",
               "22M parameters: a good CPU compromise.",
               Facts("DeiT", (16,), CLASS_ONLY, 1000, IMAGENET_1K, download_mb=88.2)),
    _dino("dino-s8", "facebook/dino-vits8", "DINO ViT-S/8 (self-supervised)", 8, 86.7),
    _dino("dino-s16", "facebook/dino-vits16", "DINO ViT-S/16 (self-supervised)", 16, 86.7),
    _dino("dino-b8", "facebook/dino-vitb8", "DINO ViT-B/8 (self-supervised)", 8, 343.2),
    _dino("dino-b16", "facebook/dino-vitb16", "DINO ViT-B/16 (self-supervised)", 16, 343.2),
    ModelEntry("dinov2-s", "facebook/dinov2-small-imagenet1k-1-layer", "DINOv2-S/14 (ImageNet linear head)",
               "Self-supervised DINOv2 with a linear ImageNet head on [class token; mean of patches].",
               Facts("DINOv2", (14,), CLASS_ONLY, 1000, IMAGENET_1K, download_mb=91.3)),
    ModelEntry("dinov2-b", "facebook/dinov2-base-imagenet1k-1-layer", "DINOv2-B/14 (ImageNet linear head)",
               "Self-supervised DINOv2 with a linear ImageNet head on [class token; mean of patches].",
               Facts("DINOv2", (14,), CLASS_ONLY, 1000, IMAGENET_1K, download_mb=352.5)),
    ModelEntry("dinov2-reg-s", "facebook/dinov2-with-registers-small", "DINOv2-S/14 with registers",
               "4 register tokens take over the high-norm artifact tokens (Darcet et al. 2024); no classifier.",
               Facts("DINOv2 with registers", (14,), WITH_REGISTERS, 0, download_mb=88.2)),
    ModelEntry("dinov2-reg-b", "facebook/dinov2-with-registers-base", "DINOv2-B/14 with registers",
               "4 register tokens take over the high-norm artifact tokens (Darcet et al. 2024); no classifier.",
               Facts("DINOv2 with registers", (14,), WITH_REGISTERS, 0, download_mb=346.3)),
    _image_text("clip-b16", "openai/clip-vit-base-patch16", "CLIP ViT-B/16 (type what to look for)",
                "OpenAI's CLIP image tower: type what to look for; the prompts compete (softmax).", "CLIP", 16, 598.5),
    _image_text("clip-b32", "openai/clip-vit-base-patch32", "CLIP ViT-B/32 (type what to look for)",
                "OpenAI's CLIP at patch 32: a 7×7 grid, fast; the prompts compete (softmax).", "CLIP", 32, 605.1),
    _image_text("siglip-b16", "google/siglip-base-patch16-224", "SigLIP B/16 (type what to look for)",
                "No class token: an attention probe pools the patches, and each prompt is scored on its own "
                "(sigmoid).", "SigLIP", 16, 812.6, tokens=(), licence=APACHE),
    _image_text("chinese-clip-b16", "OFA-Sys/chinese-clip-vit-base-patch16", "Chinese-CLIP ViT-B/16 (type in Chinese)",
                "CLIP trained on Chinese captions: type 猫 or 红色的汽车.", "Chinese-CLIP", 16, 753.1),
)}
def title_of(entry: ModelEntry, lang: str = ENGLISH) -> str:
    """The model's name as the reader reads it: "models.title.<key>" in `lang` (strings/models.py), else the
    registry's title (a folder or hub id given on the command line has no translation)."""
    key = f"models.title.{entry.key}"
    return text(key, lang) if key in catalogue()[ENGLISH] else entry.title


# The model each one is best compared with, side by side: the same family with and without what changes the maps.
PARTNERS = {"dinov2-s": "dinov2-reg-s", "dinov2-reg-s": "dinov2-s", "dinov2-b": "dinov2-reg-b",
            "dinov2-reg-b": "dinov2-b", "vit-b16": "dino-b16", "dino-b16": "vit-b16", "dino-s16": "deit-small",
            "deit-small": "dino-s16", "dino-s8": "dino-s16", "dino-b8": "dino-b16", "deit-tiny": "deit-small",
            "flexivit-b": "vit-b16", "clip-b16": "siglip-b16", "siglip-b16": "clip-b16",
            "clip-b32": "clip-b16", "chinese-clip-b16": "clip-b16"}


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
    raise ValueError(Message("errors.unknown_model", sent=echo(name), choices=", ".join(known)))


def register(source: str) -> ModelEntry:
    """An entry for a model given by --model / VITDEMO_MODEL: a registered key or hub id, else a new one.

    A local folder is keyed and titled by its folder's name (`folder_key`): the key is what the page's
    picker, the API and /config show, and a path on the server is nobody else's business. The entry's
    `source` keeps the path, on the server only.
    """
    try:
        return resolve(source)
    except ValueError:
        if not _is_path(source):
            return ModelEntry(source, source, source)  # a hub id
        key = folder_key(source)
        return ModelEntry(key, source, key)


def _is_path(source: str) -> bool:
    """A folder on this machine, or what can only be one (absolute, ~, ./): never a hub id."""
    return Path(source).exists() or source.startswith(("/", "~", ".")) or "\\" in source


def folder_key(source: str) -> str:
    """The key shown for a model folder: its name, with "-folder" when a registered model has that key."""
    name = Path(source).expanduser().resolve().name or "folder"
    return f"{name}-folder" if name in REGISTRY else name


def without_paths(text: str, entry: ModelEntry) -> str:
    """`text` (a library's error message, say) with a folder model's path replaced by its key."""
    if entry.on_hub or entry.source == BUNDLED:
        return text
    for path in sorted({entry.source, str(Path(entry.source).expanduser().resolve())}, key=len, reverse=True):
        text = text.replace(path, entry.key)
    return text


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
    how = Message("messages.startup.as_requested" if requested else "messages.startup.default")
    if wanted.key == BUNDLED:
        return Startup(bundled, Message("messages.startup.bundled_requested"))
    if is_cached(wanted):
        where = Message("messages.startup.in_cache") if wanted.on_hub else Message("messages.startup.from_folder",
                                                                                  folder=wanted.title)
        return Startup(wanted, Message("messages.startup.running", title=wanted.title, how=how, where=where))
    if hub_offline():
        return Startup(bundled, Message("messages.startup.offline", title=wanted.title))
    return Startup(bundled, Message("messages.startup.checking", title=wanted.title), pending=wanted)


def settle_pending(startup: Startup, probe: HubProbe | None) -> Startup:
    """Once the probe has answered: keep `pending` if the hub is reachable, else say we stay offline."""
    if startup.pending is None:
        return startup
    reachable = probe.result() if probe else False
    if reachable is None:
        return startup
    if reachable:
        return Startup(startup.entry, Message("messages.startup.downloading", title=startup.pending.title),
                       startup.pending)
    return Startup(startup.entry, Message("messages.startup.unreachable", title=startup.pending.title))


def _vitdemo_meta(entry: ModelEntry) -> dict | None:
    """The config.json of a vitdemo-format folder (the bundled model), or None for any other format."""
    folder = BUNDLED_DIR if entry.source == BUNDLED else Path(entry.source)
    try:
        meta = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError):
        return None
    return meta if meta.get("format") == "vitdemo" else None


def peek_config(entry: ModelEntry) -> ViTConfig | None:
    """The config of a vitdemo-format folder (the bundled model), read without importing torch.

    Building the page needs only the offered patch sizes; importing torch and loading weights can then
    happen while the page is already being served. Other formats return None (load the model instead).
    """
    meta = _vitdemo_meta(entry)
    return ViTConfig.from_dict(meta["config"]) if meta else None


def peek_labels(entry: ModelEntry) -> list[str] | None:
    """The class names of a vitdemo-format folder, read the same way (None for other formats)."""
    meta = _vitdemo_meta(entry)
    return list(meta.get("labels") or []) if meta else None
