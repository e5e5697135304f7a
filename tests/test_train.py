"""`vitdemo train`: the loss goes down, checkpoints resume exactly, the CLI documents every option, and
fine-tuning an image folder with a broken file warns instead of crashing. All with tiny models."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import fields, replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from vitdemo import checkpoint
from vitdemo.config import ViTConfig
from vitdemo.data.folder import SkippedImageWarning
from vitdemo.data.masks import patch_cover
from vitdemo.model import ViT
from vitdemo.train import aids as train_aids
from vitdemo.train import loop as train

TINY = train.TrainOptions(
    image_size=32, patch_size=8, patch_sizes=(8, 16), dim=32, depth=1, heads=2, mlp_ratio=2.0, batch_size=8,
    lr=3e-3, warmup=2, workers=0, val_samples=0, val_fraction=0.0, precision="fp32", label_smoothing=0.0)


def write_folder(root: Path, per_class: int = 8) -> Path:
    """Two easy classes, mostly-red and mostly-blue noise images, in a one-sub-folder-per-class layout."""
    rng = np.random.default_rng(0)
    for name, channel in (("blue", 2), ("red", 0)):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 120, (40, 48, 3), dtype=np.uint8)
            pixels[..., channel] += 120
            Image.fromarray(pixels).save(root / name / f"{i}.png")
    return root


def test_a_few_steps_lower_the_loss(tmp_path: Path) -> None:
    data = write_folder(tmp_path / "images")
    result = train.train(replace(TINY, data=str(data), out=str(tmp_path / "run"), epochs=6))
    losses = [row["loss"] for row in result.history]
    assert losses[-1] < 0.5 * losses[0], losses
    saved = checkpoint.load_vitdemo_dir(tmp_path / "run")
    assert saved.labels == ["blue", "red"]
    assert saved.config.patch_sizes == (8, 16)
    assert checkpoint.read_meta(tmp_path / "run")["training"]["step"] == result.step == 6 * 2


def test_shapes_training_runs_and_validates(tmp_path: Path) -> None:
    opts = replace(TINY, out=str(tmp_path / "run"), epochs=1, steps_per_epoch=2, val_samples=11)
    result = train.train(opts)
    assert result.step == 2 and 0.0 <= result.history[0]["val_accuracy"] <= 1.0
    assert checkpoint.load_vitdemo_dir(tmp_path / "run").labels[:4] == ["circle", "square", "triangle", "star"]


@pytest.mark.parametrize("stop", ["ctrl-c", "time limit"])
def test_resume_continues_exactly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stop: str) -> None:
    data = write_folder(tmp_path / "images")
    opts = replace(TINY, data=str(data), epochs=2)
    straight = train.train(replace(opts, out=str(tmp_path / "straight")))

    out = tmp_path / "stopped"
    if stop == "ctrl-c":
        real_step, calls = train._Loop.train_step, []

        def step_then_interrupt(self, *args):  # Ctrl-C arrives during the third step, mid-epoch
            if len(calls) == 2:
                raise KeyboardInterrupt
            calls.append(1)
            return real_step(self, *args)

        monkeypatch.setattr(train._Loop, "train_step", step_then_interrupt)
        with pytest.raises(KeyboardInterrupt):
            train.train(replace(opts, out=str(out)))
        monkeypatch.undo()
        assert train.load_train_state(out)["step"] == 2
    else:
        first = train.train(replace(opts, out=str(out), max_minutes=0.0))  # stops after its first step
        assert first.stopped_early and train.load_train_state(out)["step"] == 1
    assert not (out / ".staging").exists()

    resumed = train.train(replace(opts, out=str(out), resume=True))
    assert resumed.step == straight.step == 4
    for (name, a), b in zip(straight.model.state_dict().items(), resumed.model.state_dict().values()):
        torch.testing.assert_close(a, b, msg=name)


def test_resume_restores_the_training_only_silhouette_head(tmp_path: Path) -> None:
    opts = replace(TINY, epochs=2, steps_per_epoch=2, silhouette_loss=1.0, token_loss=0.5, silhouette_steps=2)
    straight = train.train(replace(opts, out=str(tmp_path / "straight")))
    train.train(replace(opts, out=str(tmp_path / "stopped"), max_minutes=0.0))
    assert "silhouette_head" in train.load_train_state(tmp_path / "stopped")
    resumed = train.train(replace(opts, out=str(tmp_path / "stopped"), resume=True))
    for (name, a), b in zip(straight.model.state_dict().items(), resumed.model.state_dict().values()):
        torch.testing.assert_close(a, b, msg=name)
    assert set(checkpoint.load_vitdemo_dir(tmp_path / "stopped").state_dict()) == set(straight.model.state_dict())


def test_easy_steps_ramp_the_training_draws_but_never_the_held_out_ones() -> None:
    opts = replace(TINY, easy_steps=3, val_samples=11, epochs=2, steps_per_epoch=5)
    source, held_out, _ = train.sources(opts)
    assert source.pairs.dataset.easy_ramp == 3 * opts.batch_size  # draws, one per image of the first 3 steps
    assert held_out.pairs.dataset.easy_ramp == 0  # validation measures the full distribution
    assert source.pairs.dataset[0].style == "filled"  # difficulty 0: every early image is a filled shape
    assert train.sources(TINY)[0].pairs.dataset.easy_ramp == 0  # off by default


def test_patch_cover_is_the_share_of_object_pixels_per_cell() -> None:
    mask = torch.zeros(1, 8, 8, dtype=torch.bool)
    mask[0, :4, :4] = True  # the top-left patch of a 2×2 grid
    mask[0, 4, 4] = True  # one pixel of the bottom-right patch's top-left cell
    cover = patch_cover(mask, (2, 2), sub=2)
    assert cover.shape == (1, 4, 4)
    torch.testing.assert_close(cover[0, 0], torch.ones(4))
    torch.testing.assert_close(cover[0, 3], torch.tensor([0.25, 0.0, 0.0, 0.0]))
    assert cover[0, 1:3].sum() == 0


def test_mimetic_init_starts_attention_near_identity() -> None:
    model = ViT(ViTConfig(image_size=32, patch_size=8, dim=32, depth=1, heads=2, mlp_dim=64, num_classes=3))
    qkv = model.blocks[0].attn.qkv.weight.detach()
    assert abs(float(torch.trace(qkv[:16].T @ qkv[32:48]))) < 1.0  # default init: no preference
    train_aids.mimetic_init_(model, torch.Generator().manual_seed(0))
    qkv, proj = model.blocks[0].attn.qkv.weight.detach(), model.blocks[0].attn.proj.weight.detach()
    assert float(torch.trace(qkv[:16].T @ qkv[32:48])) > 5.0  # head 0: q·k rewards a token like itself
    assert float(torch.trace(proj @ qkv[64:])) < -5.0  # values come back subtracted: x − mean of look-alikes


def test_compute_balance_draws_coarse_patch_sizes_more_often() -> None:
    sizes = (8, 16, 32)  # at 32 px: 17, 5 and 2 tokens with the class token
    uniform = replace(TINY, patch_sizes=sizes, compute_balance=0.0)
    balanced = replace(TINY, patch_sizes=sizes, compute_balance=1.0)
    assert train.patch_size_weights(uniform, list(sizes)) == [1.0, 1.0, 1.0]
    weights = train.patch_size_weights(balanced, list(sizes))
    assert [w * t for w, t in zip(weights, (17, 5, 2))] == pytest.approx([1.0, 1.0, 1.0])  # equal compute
    draws = [train.batch_patch_size(balanced, 0, step) for step in range(3000)]
    assert draws.count(32) > 5 * draws.count(8)  # expected 8.5×
    assert draws == [train.batch_patch_size(balanced, 0, step) for step in range(3000)]  # a function of the step


def test_help_lists_every_option() -> None:
    text = subprocess.run([sys.executable, "-m", "vitdemo", "train", "--help"], capture_output=True, text=True,
                          check=True, cwd=Path(__file__).parent.parent).stdout
    options = [f.name for f in fields(train.TrainOptions) if f.name != "command"]
    missing = [name for name in options if "--" + name.replace("_", "-") not in text]
    assert not missing, missing


def test_fine_tuning_a_folder_with_a_broken_file_warns(tmp_path: Path) -> None:
    base = ViT(ViTConfig(image_size=32, patch_size=8, dim=32, depth=1, heads=2, mlp_dim=64, num_classes=5))
    checkpoint.save(base, tmp_path / "base")
    data = write_folder(tmp_path / "images", per_class=4)
    (data / "red" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 definitely not a jpeg")

    opts = replace(TINY, data=str(data), out=str(tmp_path / "tuned"), init=str(tmp_path / "base"), epochs=1,
                   lr=1e-6, image_size=None)
    with pytest.warns(SkippedImageWarning, match="broken.jpg"):
        result = train.train(opts)

    tuned = checkpoint.load_vitdemo_dir(tmp_path / "tuned")
    assert tuned.labels == ["blue", "red"] and tuned.head.out_features == 2
    assert tuned.config.image_size == 32 and result.step == 1  # 8 good images, batch 8
    # the backbone starts from --init: a tiny learning rate leaves it next to the base weights
    torch.testing.assert_close(tuned.blocks[0].mlp.fc1.weight, base.blocks[0].mlp.fc1.weight, atol=1e-4, rtol=0)
