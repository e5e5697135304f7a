"""Shared fixtures: an offline hub with an empty cache in every test, small random transformers ViT/DeiT
checkpoints, a timm-layout writer and a local Hugging Face cache; the served app, Chromium and the page
factory of tests/browser.py; and the check that keeps the suite's tiers honest.

The tiers: `-m "not browser and not server and not slow"` is the inner loop. A test that starts a Gradio server
(in a fixture of any scope, or itself) must be marked `server`, one that uses Chromium `browser`: the check
below fails it otherwise, so the inner loop never starts either by accident.

The hub is switched off before anything imports huggingface_hub (it reads HF_HUB_OFFLINE once, at import).
transformers is imported only inside the fixtures that need it: it costs several seconds.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import torch

from tests import tiers
from tests.browser import app, bundled_app, chromium, clean_server_log, new_page, page, shots  # noqa: F401 (fixtures; chromium: `browser`)

os.environ["HF_HUB_OFFLINE"] = "1"
# Never the developer's own Hugging Face cache: a cached ViT-B/16 there would change what the app offers and
# starts with. An empty cache for the whole run (module-scoped apps start before any per-test fixture) ...
_EMPTY_HUB = tempfile.mkdtemp(prefix="vitdemo-tests-hf-")
os.environ["HF_HOME"] = _EMPTY_HUB
os.environ["HF_HUB_CACHE"] = os.path.join(_EMPTY_HUB, "hub")
if "huggingface_hub" in sys.modules:  # imported before us (by a plugin): it has read the variables already
    sys.modules["huggingface_hub"].constants.HF_HUB_OFFLINE = True
    sys.modules["huggingface_hub"].constants.HF_HUB_CACHE = os.environ["HF_HUB_CACHE"]

# A ViT small enough for exact comparisons in milliseconds: 4×4 patches of 8 px, 2 layers of 4 heads.
SMALL_VIT = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128,
                 image_size=32, patch_size=8, num_labels=10)


class HFCheckpoint(NamedTuple):
    model: Any  # the transformers model (eval mode, eager attention): the numerical reference
    path: Path  # the folder `save_pretrained` wrote


def randomize_(model: torch.nn.Module, seed: int = 0, std: float = 0.15) -> torch.nn.Module:
    """Give every parameter random values: default inits (zero biases, unit LayerNorms, near-uniform
    attention) would hide mapping mistakes such as swapped biases or LayerNorms."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=gen)
            p.copy_(1 + 0.1 * noise if "layernorm" in name and name.endswith("weight") else std * noise)
    return model


def small_transformers_model(kind: str = "vit", seed: int = 0, **config: Any) -> Any:
    """A random `ViTForImageClassification` ("vit") or `DeiTForImageClassificationWithTeacher` ("deit")."""
    import transformers

    config_class, model_class = {
        "vit": (transformers.ViTConfig, transformers.ViTForImageClassification),
        "deit": (transformers.DeiTConfig, transformers.DeiTForImageClassificationWithTeacher),
    }[kind]
    model = model_class(config_class(**{**SMALL_VIT, **config}, attn_implementation="eager"))
    return randomize_(model, seed).eval()


@pytest.fixture(scope="session")
def make_hf_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., HFCheckpoint]:
    """`make_hf_checkpoint(kind="vit", seed=0, **config)` → a saved small random model (cached per arguments)."""
    made: dict[str, HFCheckpoint] = {}

    def make(kind: str = "vit", seed: int = 0, **config: Any) -> HFCheckpoint:
        key = json.dumps([kind, seed, config], sort_keys=True)
        if key not in made:
            model = small_transformers_model(kind, seed, **config)
            path = tmp_path_factory.mktemp(f"hf-{kind}")
            model.save_pretrained(path)
            made[key] = HFCheckpoint(model, path)
        return made[key]

    return make


@pytest.fixture(scope="session")
def hf_vit(make_hf_checkpoint: Callable[..., HFCheckpoint]) -> HFCheckpoint:
    return make_hf_checkpoint("vit")


@pytest.fixture(scope="session")
def hf_deit(make_hf_checkpoint: Callable[..., HFCheckpoint]) -> HFCheckpoint:
    return make_hf_checkpoint("deit")


def timm_state_from_hub_files(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a transformers ViT/DeiT folder under timm's names, written out independently of
    vitdemo's own mapping so the tests do not check the code against itself."""
    from safetensors.torch import load_file

    hub = load_file(str(path / "model.safetensors"))
    p = "deit" if any(k.startswith("deit.") for k in hub) else "vit"
    out = {"cls_token": hub[f"{p}.embeddings.cls_token"], "pos_embed": hub[f"{p}.embeddings.position_embeddings"],
           "patch_embed.proj.weight": hub[f"{p}.embeddings.patch_embeddings.projection.weight"],
           "patch_embed.proj.bias": hub[f"{p}.embeddings.patch_embeddings.projection.bias"]}
    if f"{p}.embeddings.distillation_token" in hub:
        out["dist_token"] = hub[f"{p}.embeddings.distillation_token"]
    depth = 1 + max(int(k.split(".")[3]) for k in hub if ".encoder.layer." in k)
    for i in range(depth):
        layer = f"{p}.encoder.layer.{i}."
        for part in ("weight", "bias"):
            out[f"blocks.{i}.norm1.{part}"] = hub[layer + f"layernorm_before.{part}"]
            out[f"blocks.{i}.attn.qkv.{part}"] = torch.cat(
                [hub[layer + f"attention.attention.{n}.{part}"] for n in ("query", "key", "value")])
            out[f"blocks.{i}.attn.proj.{part}"] = hub[layer + f"attention.output.dense.{part}"]
            out[f"blocks.{i}.norm2.{part}"] = hub[layer + f"layernorm_after.{part}"]
            out[f"blocks.{i}.mlp.fc1.{part}"] = hub[layer + f"intermediate.dense.{part}"]
            out[f"blocks.{i}.mlp.fc2.{part}"] = hub[layer + f"output.dense.{part}"]
    for part in ("weight", "bias"):
        out[f"norm.{part}"] = hub[f"{p}.layernorm.{part}"]
        out[f"head.{part}"] = hub.get(f"classifier.{part}", hub.get(f"cls_classifier.{part}"))
        if f"distillation_classifier.{part}" in hub:
            out[f"head_dist.{part}"] = hub[f"distillation_classifier.{part}"]
    return out


def write_timm_folder(folder: Path, state: dict[str, torch.Tensor], architecture: str,
                      model_args: dict[str, Any] | None = None, pretrained_cfg: dict[str, Any] | None = None,
                      **top_level: Any) -> Path:
    """A folder like a timm hub repo: `config.json` (architecture, model_args, pretrained_cfg) + safetensors."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    num_classes = state["head.weight"].shape[0]
    side = math.isqrt(state["pos_embed"].shape[1]) * state["patch_embed.proj.weight"].shape[-1]
    pretrained = {"input_size": [3, side, side], "interpolation": "bicubic", "crop_pct": 0.9,
                  "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5], "num_classes": num_classes,
                  "first_conv": "patch_embed.proj", "classifier": "head", **(pretrained_cfg or {})}
    config = {"architecture": architecture, "num_classes": num_classes, "num_features": state["cls_token"].shape[-1],
              "global_pool": "token", "pretrained_cfg": pretrained, **top_level}
    if model_args:
        config["model_args"] = model_args
    (folder / "config.json").write_text(json.dumps(config, indent=2))
    save_file({k: v.contiguous() for k, v in state.items()}, str(folder / "model.safetensors"))
    return folder


@pytest.fixture(scope="session")
def timm_folder() -> Callable[..., Path]:
    """`timm_folder(folder, state, architecture, model_args=None, pretrained_cfg=None, **top_level)`."""
    return write_timm_folder


@pytest.fixture(scope="session")
def timm_state() -> Callable[[Path], dict[str, torch.Tensor]]:
    """`timm_state(hf_checkpoint.path)`: that transformers checkpoint's tensors under timm's names."""
    return timm_state_from_hub_files


class HubCache:
    """A Hugging Face hub cache laid out as huggingface_hub writes it, for offline loading by repo id."""

    def __init__(self, root: Path):
        self.root = root

    def add(self, repo_id: str, files: Iterable[Path], revision: str = "main", commit: str | None = None) -> str:
        """Put `files` in the snapshot `commit` of `repo_id` and point `refs/<revision>` at it; → commit."""
        commit = commit or hashlib.sha1(f"{repo_id}@{revision}".encode()).hexdigest()
        repo = self.root / ("models--" + repo_id.replace("/", "--"))
        snapshot = repo / "snapshots" / commit
        snapshot.mkdir(parents=True, exist_ok=True)
        for f in files:
            shutil.copy(f, snapshot / Path(f).name)
        (repo / "refs").mkdir(exist_ok=True)
        (repo / "refs" / revision).write_text(commit)
        return commit


@pytest.fixture(autouse=True)
def empty_hub_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """... and a fresh empty one for each test, with the hub offline: what one test caches, no other sees.
    (Beside the test's `tmp_path`, not in it: tests that list their `tmp_path` must not find it there.)"""
    import huggingface_hub.constants as constants

    root = tmp_path_factory.mktemp("hf-cache")
    monkeypatch.setenv("HF_HUB_CACHE", str(root))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(root))  # read at import; the variable alone is too late
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    return root


@pytest.fixture
def hub_cache(empty_hub_cache: Path) -> HubCache:
    """This test's empty hub cache, to fill with repos for offline loading by repo id."""
    return HubCache(empty_hub_cache)


# --------------------------------------------------------------------------------------------------------
# The tiers (tests/tiers.py): a test that serves an app carries the `server` mark, one using Chromium `browser`.


def _check_marks(item: pytest.Item, launched: bool) -> None:
    missing = tiers.missing_marks((m.name for m in item.iter_markers()), getattr(item, "fixturenames", ()), launched)
    if missing:
        pytest.fail(tiers.refusal(item.nodeid, missing), pytrace=False)


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(fixturedef: pytest.FixtureDef, request: pytest.FixtureRequest) -> Any:
    before = tiers.launches()
    result = yield
    if tiers.launches() > before:
        tiers.SERVER_FIXTURES.add(fixturedef.argname)
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Any:
    _check_marks(item, launched=False)  # before its fixtures start anything
    before = tiers.launches()
    result = yield
    _check_marks(item, tiers.launches() > before)
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    before = tiers.launches()
    result = yield
    _check_marks(item, tiers.launches() > before)
    return result
