"""vitdemo: a readable Vision Transformer and the tools to see inside it.

    import vitdemo
    model = vitdemo.load("bundled")                 # or a hub id / local folder of a ViT, DeiT or FlexiViT
    x = vitdemo.preprocess(image, model.config, patch_size=12)
    out = model(x, patch_size=12)                   # out.logits, out.attentions (one per layer)
    a = vitdemo.analyze(model, image, patch_size=12)
    a.top(5); a.attention_map(method="rollout")

Names are imported lazily so `import vitdemo` stays cheap (the app, matplotlib and gradio load on use).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "ViT": "model", "ViTOutput": "model", "loss": "model",
    "ViTConfig": "config", "Preprocessing": "config",
    "preprocess": "preprocessing", "model_view": "preprocessing",
    "load": "loading", "CheckpointError": "loading", "CheckpointNotFound": "loading",
    "save": "checkpoint",
    "analyze": "explain", "Analysis": "explain",
    "pick_device": "device",
    "explorer_html": "notebook",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'vitdemo' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
