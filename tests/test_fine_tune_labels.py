"""`--init` with a checkpoint that already has the run's labels keeps its head (training continues the same
task, as the bundled model was retrained on broader shapes); with other labels the head starts from zero."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import torch

from vitdemo import checkpoint
from vitdemo.config import ViTConfig
from vitdemo.model import ViT
from vitdemo.train import loop as train

LABELS = ["circle", "square", "triangle"]


def _saved(tmp_path: Path) -> tuple[Path, ViT]:
    torch.manual_seed(0)
    config = ViTConfig(image_size=32, patch_size=8, dim=32, depth=1, heads=2, mlp_dim=64, num_classes=len(LABELS),
                       native_patch_sizes=(8, 16), patch_sizes=(8, 16), name="tiny")
    model = ViT(config, LABELS)
    checkpoint.save(model, tmp_path / "base")
    return tmp_path / "base", model


def test_same_labels_keep_the_trained_head(tmp_path: Path) -> None:
    base, model = _saved(tmp_path)
    opts = replace(train.TrainOptions(), init=str(base), patch_sizes=(8, 16))
    tuned = train.fine_tune_model(opts, list(LABELS))
    assert torch.equal(tuned.head.weight, model.head.weight) and torch.equal(tuned.head.bias, model.head.bias)
    assert tuned.labels == LABELS and tuned.config.name == "tiny"


def test_other_labels_get_a_fresh_zero_head(tmp_path: Path) -> None:
    base, _ = _saved(tmp_path)
    opts = replace(train.TrainOptions(), init=str(base), patch_sizes=(8, 16))
    tuned = train.fine_tune_model(opts, ["red", "blue"])
    assert tuned.head.weight.shape == (2, 32) and not tuned.head.weight.any()
    assert tuned.labels == ["red", "blue"] and tuned.config.name.endswith("-finetuned")
