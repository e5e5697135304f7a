"""vitdemo's own checkpoint format: `model.safetensors` + `config.json`, written by training and by export.

config.json holds {"format": "vitdemo", "version": 1, "config": ViTConfig as a dict, "labels": [...]}
plus anything the writer adds (e.g. training metadata), so a folder is self-describing and needs no code
beyond this file to read. Weights are safetensors: loading never unpickles.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from .config import ViTConfig
from .model import ViT

FORMAT = "vitdemo"
WEIGHTS = "model.safetensors"


def save(model: ViT, out_dir: str | Path, extra: dict[str, Any] | None = None,
         dtype: torch.dtype = torch.float32) -> Path:
    """Write the model to `out_dir` (created if needed); `dtype=torch.float16` halves the file size."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().to("cpu", dtype).contiguous() for k, v in model.state_dict().items()}
    tmp = out / (WEIGHTS + ".tmp")  # write then rename: an interrupted save never leaves a broken file
    save_file(tensors, str(tmp), metadata={"format": "pt"})
    tmp.replace(out / WEIGHTS)
    meta = {"format": FORMAT, "version": 1, "config": model.config.to_dict(), "labels": model.labels}
    meta.update(extra or {})
    (out / "config.json").write_text(json.dumps(meta, indent=2) + "\n")
    return out


def load_vitdemo_dir(path: str | Path) -> ViT:
    """Read a folder written by `save` into a float32 ViT on the CPU (the caller picks device/precision)."""
    path = Path(path)
    meta = json.loads((path / "config.json").read_text())
    with torch.device("meta"):  # no random init to throw away: the weights are assigned, not copied
        model = ViT(ViTConfig.from_dict(meta["config"]), meta.get("labels"))
    state = {k: v.float() for k, v in load_file(str(path / WEIGHTS)).items()}
    model.load_state_dict(state, assign=True)
    return model.eval()


def read_meta(path: str | Path) -> dict[str, Any]:
    return json.loads((Path(path) / "config.json").read_text())
