"""`vitdemo.load`: a hub repo id, a local folder or "bundled" → a ViT on the chosen device and precision.

Files come through huggingface_hub (its cache, revisions, offline mode and progress bars), and only the
files a ViT needs are fetched: configs and safetensors, or `.bin` weights when a repo has no safetensors.
Nothing is ever unpickled: `.bin` files go through `torch.load(weights_only=True)`, which refuses anything
but tensors and plain containers, and no code from a repo is run (there is no `trust_remote_code`).
"""

from __future__ import annotations

import json
import pickle
import re
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file

from . import layouts, layouts_clip, timm_registry
from .checkpoint import load_vitdemo_dir
from .device import inference_dtype, pick_device
from .model import ViT
from .settings import BUNDLED_DIR

CONFIG_FILES = ["config.json", "preprocessor_config.json"]
TOKENIZER_FILES = ["tokenizer.json", "tokenizer_config.json", "vocab.json", "merges.txt", "vocab.txt",
                   "special_tokens_map.json", "spiece.model"]  # an image–text model's text side
SAFETENSORS = ("model.safetensors", "model.safetensors.index.json", "model-*-of-*.safetensors")
PICKLED = ("pytorch_model.bin", "pytorch_model.bin.index.json", "pytorch_model-*-of-*.bin")
HUB_ID = re.compile(r"^(?P<repo>[\w.-]+(?:/[\w.-]+)?)(?:@(?P<revision>[\w./-]+))?$")
PRECISION_NAMES = {torch.float32: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}
CheckpointError = layouts.CheckpointError


class CheckpointNotFound(FileNotFoundError):
    """No checkpoint at that source: a missing folder, an uncached repo while offline, or an unknown repo."""


def load(source: str | Path, device: str | torch.device | None = None, precision: str | None = None, *,
         cache_dir: str | Path | None = None, tqdm_class: type | None = None) -> ViT:
    """Load a ViT, DeiT, FlexiViT, DINO or DINOv2 checkpoint for inference (eval mode) on `device` in `precision`.

    `source`: a hub repo id (`"google/vit-base-patch16-224"`, optionally `"repo@revision"`), a local folder
    (transformers, timm or vitdemo layout), or `"bundled"` (the model trained for this demo). `device`:
    see `device.pick_device` (None: $VITDEMO_DEVICE, else cuda, mps, cpu); `precision`: "auto", "fp32",
    "bf16" or "fp16" (None: $VITDEMO_PRECISION, else "auto").
    `tqdm_class` receives huggingface_hub's download progress (e.g. a UI progress bar).

    The returned model also carries `.source` (as given) and `.precision` (the name of the dtype chosen).
    """
    model = load_folder(resolve(source, cache_dir=cache_dir, tqdm_class=tqdm_class))
    dev = pick_device(device)
    dtype = inference_dtype(dev, precision)
    model = model.to(dev, dtype).eval()
    model.source = str(source)
    model.precision = PRECISION_NAMES[dtype]
    return model


def resolve(source: str | Path, cache_dir: str | Path | None = None, tqdm_class: type | None = None) -> Path:
    """The local folder holding `source`'s files, downloading (or finding in the hub cache) a repo's."""
    if str(source) == "bundled":
        if not (BUNDLED_DIR / "config.json").is_file():
            raise CheckpointNotFound(f"the bundled model is missing: expected a vitdemo checkpoint in {BUNDLED_DIR} "
                                     "(config.json + model.safetensors, written by the training script)")
        return BUNDLED_DIR
    path = Path(source).expanduser()
    if path.is_dir():
        return path
    match = HUB_ID.match(str(source))
    if match is None or str(source).startswith((".", "/", "~")) or path.exists():
        raise CheckpointNotFound(f"{source!s}: no such folder, and not a hub repo id such as 'org/name' or "
                                 "'org/name@revision'")
    return download(match["repo"], match["revision"], cache_dir, tqdm_class)


def download(repo_id: str, revision: str | None = None, cache_dir: str | Path | None = None,
             tqdm_class: type | None = None) -> Path:
    """The snapshot folder of `repo_id` with its configs and weights: safetensors, else `.bin` files."""
    folder = _snapshot(repo_id, revision, [*CONFIG_FILES, *TOKENIZER_FILES, *SAFETENSORS], cache_dir, tqdm_class)
    if not any(folder.glob("*.safetensors")):
        folder = _snapshot(repo_id, revision, [*CONFIG_FILES, *TOKENIZER_FILES, *PICKLED], cache_dir, tqdm_class)
    return folder


def _snapshot(repo_id: str, revision: str | None, patterns: list[str], cache_dir: str | Path | None,
              tqdm_class: type | None) -> Path:
    from huggingface_hub import snapshot_download  # imported on use: it costs ~0.3 s at `import vitdemo`
    from huggingface_hub.errors import LocalEntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError

    name = repo_id + (f"@{revision}" if revision else "")
    try:
        return Path(snapshot_download(repo_id, revision=revision, allow_patterns=patterns, cache_dir=cache_dir,
                                      tqdm_class=tqdm_class))
    except LocalEntryNotFoundError as error:
        raise CheckpointNotFound(f"{name}: no such local folder, and the repo is not in the local Hugging Face "
                                 "cache while the hub is unreachable (or HF_HUB_OFFLINE=1): download it once with "
                                 "network access, or pass a checkpoint folder") from error
    except RevisionNotFoundError as error:
        raise CheckpointNotFound(f"{name}: the repo has no revision {revision!r}") from error
    except RepositoryNotFoundError as error:
        raise CheckpointNotFound(f"{name}: no such model repo on the hub (or it is private or gated)") from error


def load_folder(folder: str | Path, repo_id: str | None = None) -> ViT:
    """A float32 ViT on the CPU from a folder of any supported layout (the caller picks device and dtype).

    A folder with weights and no config.json (what `timm.create_model` leaves in the hub cache) loads when
    its repo id names a timm ViT/DeiT/FlexiViT: `repo_id`, or the one the hub cache's path spells.
    """
    folder = Path(folder)
    meta = read_json(folder / "config.json")
    repo_id = repo_id or hub_repo_id(folder)
    if meta is None and repo_id:
        meta = timm_registry.config_from_repo_id(repo_id)
    if meta is None:
        raise CheckpointNotFound(f"{folder} has no config.json (and its repo id names no timm architecture); "
                                 f"expected a checkpoint folder, one of: {layouts.SUPPORTED}")
    if layouts_clip.is_image_text_config(meta):
        return load_image_text(folder, meta)
    layout = layouts.detect_layout(meta)
    if layout == "vitdemo":
        return load_vitdemo_dir(folder)
    converted = layouts.convert(layout, meta, read_weights(folder), read_json(folder / "preprocessor_config.json"),
                                repo_id)
    return build(converted)


def build(converted: layouts.Converted) -> ViT:
    """The ViT holding `converted`'s tensors: built on the meta device and filled in place, so the weights
    are never allocated twice (a random init of ViT-B would cost 350 MB and a second)."""
    with torch.device("meta"):
        model = ViT(converted.config, converted.labels)
    model.load_state_dict(converted.state_dict, strict=True, assign=True)
    return model.eval()


def load_image_text(folder: Path, meta: dict[str, Any]) -> ViT:
    """A CLIP, SigLIP or Chinese-CLIP checkpoint: vitdemo's image tower, transformers' text tower beside it."""
    from .image_text import ImageTextViT
    from .text_tower import load_text_tower  # imports transformers: only here

    state = read_weights(folder)
    converted = layouts_clip.from_image_text(meta, state, read_json(folder / "preprocessor_config.json"))
    with torch.device("meta"):
        model = ImageTextViT(converted.config, converted.family, layouts_clip.TEMPLATES[converted.family])
    model.load_state_dict(converted.state_dict, strict=True, assign=True)
    model.text = load_text_tower(folder, converted.family, meta, layouts_clip.text_state(state))
    return model.eval()


def hub_repo_id(folder: Path) -> str | None:
    """"org/name" for a snapshot in huggingface_hub's cache (…/models--org--name/snapshots/<commit>), else None."""
    snapshots, repo = folder.resolve().parent, folder.resolve().parent.parent.name
    if snapshots.name != "snapshots" or not repo.startswith("models--"):
        return None
    return repo.removeprefix("models--").replace("--", "/", 1)


def read_json(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def read_weights(folder: Path) -> dict[str, torch.Tensor]:
    """All tensors in `folder`: from safetensors when there are any, else from `.bin` without unpickling."""
    files = weight_files(folder, "model.safetensors", ".safetensors")
    if files:
        return {k: v for f in files for k, v in load_file(str(f)).items()}
    files = weight_files(folder, "pytorch_model.bin", ".bin")
    if files:
        return {k: v for f in files for k, v in read_bin(f).items()}
    raise CheckpointNotFound(f"{folder} holds no weights: expected model.safetensors (or pytorch_model.bin)")


def weight_files(folder: Path, single: str, suffix: str) -> list[Path]:
    """The shards a `<single>.index.json` lists, else `single`, else the one `*suffix` file in the folder."""
    index = read_json(folder / f"{single}.index.json")
    if index is not None:
        return [folder / name for name in sorted(set(index["weight_map"].values()))]
    if (folder / single).is_file():
        return [folder / single]
    candidates = sorted(folder.glob(f"*{suffix}"))
    if len(candidates) > 1:
        raise CheckpointError(f"{folder}: several {suffix} files and no {single}; which holds the model? "
                              f"{', '.join(p.name for p in candidates)}")
    return candidates


def read_bin(path: Path) -> dict[str, torch.Tensor]:
    """A PyTorch `.bin` state dict through `torch.load(weights_only=True)`: tensors only, no code runs."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise CheckpointError(f"{path.name}: refused: it holds Python objects other than tensors, and vitdemo "
                              "never unpickles them (convert the checkpoint to safetensors)") from error
    if isinstance(state, dict) and len(state) == 1 and next(iter(state)) in ("state_dict", "model"):
        state = next(iter(state.values()))
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path.name}: not a state dict of tensors")
    return state
