"""What the model picker says about a model before it runs: the facts line (#model-info) and the choices.

Every fact comes from one place: the registry's `Facts` table (`models.REGISTRY`) for what only the hub repo
knows (licence, download size, what the classes are), and the model's own config wherever it is already at
hand (loaded, or a vitdemo folder read without torch), which is the truth for patch size, token layout and
classes. Nothing here loads a model or asks the network: the line must be there before a download starts.
`shown` is what the page shows (`ui._wire_model` binds it to the model control).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..class_names import shown_all
from .i18n import ENGLISH, text
from .models import BUNDLED, Facts, ModelEntry, hub_offline, is_cached, peek_config, peek_labels, title_of

if TYPE_CHECKING:
    from ..config import ViTConfig
    from .service import Engine

MAX_LISTED_CLASSES = 20  # a model with at most this many classes names them (here and in the result's summary)
LISTED = 4  # class names the line names (the summary under the result lists up to MAX_LISTED_CLASSES)


def family_of(config: ViTConfig) -> str:
    """The family a config's shape gives away, for a model the registry does not know (a command-line folder)."""
    if config.pool == "probe":
        return "SigLIP"
    if config.embed_dim:
        return "CLIP"
    if config.num_registers:
        return "DINOv2 with registers"
    if config.layer_scale:
        return "DINOv2"
    if config.distilled:
        return "DeiT"
    if not config.pos_embed_prefix:
        return "FlexiViT"
    return "ViT"


def facts_of(entry: ModelEntry, config: ViTConfig | None = None) -> Facts | None:
    """The entry's facts, with patch sizes, tokens and classes from `config` when it is known; None for a
    model outside the registry that has not loaded yet (a transformers or timm folder from the command line)."""
    table = entry.facts
    if config is None:
        return table
    return Facts(family=table.family if table else family_of(config),
                 patch=tuple(config.native_patch_sizes), tokens=tuple(config.token_types),
                 classes=config.num_classes, classes_name=table.classes_name if table else "",
                 licence=table.licence if table else "", download_mb=table.download_mb if table else 0.0,
                 prompts=table.prompts if table else (config.pool == "probe" or config.embed_dim > 0))


def known(engine: Engine, entry: ModelEntry) -> tuple[ViTConfig | None, list[str] | None]:
    """(config, class names) of `entry` as far as they are known without loading: from the loaded model, or
    from a vitdemo folder's config.json; (None, None) for a hub model not loaded yet."""
    loaded = engine.pool.peek(entry.key)
    if loaded is not None:
        return loaded.config, list(getattr(loaded, "labels", []) or [])
    return peek_config(entry), peek_labels(entry)


def size(mb: float) -> str:
    return f"{mb:,.0f}" if mb >= 10 else f"{mb:.1f}"


def patch_text(patch: tuple[int, ...], lang: str) -> str:
    if len(patch) == 1:
        return text("models.info.patch_one", lang, patch=patch[0])
    return text("models.info.patch_many", lang, low=min(patch), high=max(patch), count=len(patch))


def tokens_text(tokens: tuple[str, ...], lang: str) -> str:
    """"class + 4 registers, then the patches": the prefix tokens in order, registers counted; SigLIP's
    patches alone."""
    if "class" not in tokens:
        return text("models.info.patches_only", lang)
    parts = [text("models.token.class", lang)]
    if "distillation" in tokens:
        parts.append(text("models.token.distillation", lang))
    registers = tokens.count("register")
    if registers:
        parts.append(text("models.token.registers", lang, count=registers))
    return text("models.info.tokens", lang, prefix=" + ".join(parts))


def classifier_text(facts: Facts, labels: list[str] | None, lang: str) -> str:
    if facts.prompts:
        return text("models.info.prompts", lang)
    if not facts.classes:
        return text("models.info.no_classifier", lang)
    if labels and len(labels) <= MAX_LISTED_CLASSES:  # a handful: name the first few
        named = ", ".join(shown_all(labels, lang)[:LISTED]) + (", …" if len(labels) > LISTED else "")
        return text("models.info.classes_listed", lang, count=facts.classes, labels=named)
    if not facts.classes_name:
        return text("models.info.classes_plain", lang, count=f"{facts.classes:,}")
    return text("models.info.classes", lang, count=f"{facts.classes:,}", name=facts.classes_name)


def download_text(entry: ModelEntry, facts: Facts, available: bool, lang: str) -> str:
    """Where the weights are, and for a hub model not cached how much must come down before it runs."""
    if entry.source == BUNDLED:
        return text("models.download.bundled", lang)
    if not entry.on_hub:
        return text("models.download.local", lang)
    if available:
        return text("models.download.cached", lang)
    if not facts.download_mb:
        return text("models.download.unknown", lang)
    key = "models.download.offline" if hub_offline() else "models.download.needed"
    return text(key, lang, mb=size(facts.download_mb))


def info(engine: Engine, key: str | None, lang: str = ENGLISH) -> str:
    """The Markdown line under the picker: family, patch, token layout, classifier, licence, download."""
    entry = engine.entry(key)
    config, labels = known(engine, entry)
    facts = facts_of(entry, config)
    available = engine.pool.peek(entry.key) is not None or is_cached(entry)
    if facts is None:
        return text("models.info.unknown", lang, title=title_of(entry, lang),
                    download=download_text(entry, Facts("", (), (), 0), available, lang))
    return text("models.info.line", lang, family=facts.family, patch=patch_text(facts.patch, lang),
                tokens=tokens_text(facts.tokens, lang), classifier=classifier_text(facts, labels, lang),
                licence=facts.licence or text("models.info.licence_unknown", lang),
                download=download_text(entry, facts, available, lang))


def choice_label(entry: ModelEntry, available: bool, lang: str = ENGLISH) -> str:
    """A picker choice: the title, and for a model that must be downloaded first, the size of the download
    (offline: that it is not downloaded, so it cannot be picked usefully)."""
    if available or not entry.on_hub:
        return title_of(entry, lang)
    mb = size(entry.facts.download_mb) if entry.facts and entry.facts.download_mb else "?"
    key = "models.choice.offline" if hub_offline() else "models.choice.download"
    return text(key, lang, title=title_of(entry, lang), mb=mb)


def shown(engine: Engine, model: str | None, lang: str = ENGLISH) -> str:
    """#model-info for the model the picker names, in `lang`; "" for a key the engine does not know (never
    offered: say nothing rather than fail)."""
    try:
        return info(engine, model, lang)
    except ValueError:
        return ""
