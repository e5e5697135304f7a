"""Where checkpoints come from (hub cache, folders, "bundled"), what they say about themselves (labels,
preprocessing, layout), how they fail, and the precision they run in."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import vitdemo
from vitdemo import checkpoint, layouts, layouts_timm, loading
from vitdemo.config import ViTConfig
from vitdemo.device import cpu_has_native_bf16
from vitdemo.labels import imagenet_labels
from vitdemo.loading import CheckpointError, CheckpointNotFound


def logits(model: vitdemo.ViT, seed: int = 0) -> torch.Tensor:
    images = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        return model(images, output_attentions=False).logits


def copy_folder(src: Path, dst: Path, *names: str) -> Path:
    dst.mkdir(parents=True, exist_ok=True)
    for name in names:
        (dst / name).write_bytes((src / name).read_bytes())
    return dst


# --------------------------------------------------------------------------------------------------------
# Hub repos, through huggingface_hub's cache with the hub offline


def test_hub_repo_loads_from_the_local_cache(hf_vit, hub_cache):
    hub_cache.add("tiny-org/tiny-vit", [hf_vit.path / "config.json", hf_vit.path / "model.safetensors"])
    model = vitdemo.load("tiny-org/tiny-vit", device="cpu", precision="fp32")
    expected = loading.load_folder(hf_vit.path)
    torch.testing.assert_close(logits(model), logits(expected), atol=0, rtol=0)
    assert model.source == "tiny-org/tiny-vit"


def test_hub_revision_picks_that_snapshot(hf_vit, make_hf_checkpoint, hub_cache):
    other = make_hf_checkpoint("vit", seed=1)
    hub_cache.add("tiny-org/tiny-vit", [hf_vit.path / "config.json", hf_vit.path / "model.safetensors"])
    commit = hub_cache.add("tiny-org/tiny-vit", [other.path / "config.json", other.path / "model.safetensors"],
                           revision="v2")
    main = logits(vitdemo.load("tiny-org/tiny-vit", device="cpu", precision="fp32"))
    for source in ("tiny-org/tiny-vit@v2", f"tiny-org/tiny-vit@{commit}"):
        tagged = logits(vitdemo.load(source, device="cpu", precision="fp32"))
        torch.testing.assert_close(tagged, logits(loading.load_folder(other.path)), atol=0, rtol=0)
        assert not torch.allclose(tagged, main)


def test_uncached_repo_offline_says_so(hub_cache):
    with pytest.raises(CheckpointNotFound, match="not in the local Hugging Face cache.*HF_HUB_OFFLINE"):
        vitdemo.load("tiny-org/never-downloaded", device="cpu")


def test_hub_repo_with_only_bin_weights_loads(hf_vit, hub_cache, tmp_path):
    bin_file = tmp_path / "pytorch_model.bin"
    torch.save(load_file(str(hf_vit.path / "model.safetensors")), bin_file)
    hub_cache.add("tiny-org/bin-only", [hf_vit.path / "config.json", bin_file])
    model = vitdemo.load("tiny-org/bin-only", device="cpu", precision="fp32")
    torch.testing.assert_close(logits(model), logits(loading.load_folder(hf_vit.path)), atol=0, rtol=0)


def test_safetensors_win_over_bin(hf_vit, make_hf_checkpoint, tmp_path):
    """With both present the .bin is never read (here it holds other weights, so reading it would show)."""
    folder = copy_folder(hf_vit.path, tmp_path / "both", "config.json", "model.safetensors")
    other = load_file(str(make_hf_checkpoint("vit", seed=1).path / "model.safetensors"))
    torch.save(other, folder / "pytorch_model.bin")
    torch.testing.assert_close(logits(loading.load_folder(folder)), logits(loading.load_folder(hf_vit.path)))


def test_sharded_safetensors_load_through_their_index(hf_vit, tmp_path):
    from safetensors.torch import save_file

    folder = copy_folder(hf_vit.path, tmp_path / "sharded", "config.json")
    state = load_file(str(hf_vit.path / "model.safetensors"))
    keys = sorted(state)
    shards = {"model-00001-of-00002.safetensors": keys[::2], "model-00002-of-00002.safetensors": keys[1::2]}
    for name, part in shards.items():
        save_file({k: state[k] for k in part}, str(folder / name))
    weight_map = {k: name for name, part in shards.items() for k in part}
    (folder / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    torch.testing.assert_close(logits(loading.load_folder(folder)), logits(loading.load_folder(hf_vit.path)))


def test_bin_with_python_objects_is_refused_without_running_them(hf_vit, tmp_path):
    marker = tmp_path / "code-ran"

    class Payload:
        def __reduce__(self):
            return (Path.touch, (marker,))

    folder = copy_folder(hf_vit.path, tmp_path / "evil", "config.json")
    with open(folder / "pytorch_model.bin", "wb") as f:
        pickle.dump({"cls_token": Payload()}, f, protocol=2)
    with pytest.raises(CheckpointError, match="never unpickles"):
        loading.load_folder(folder)
    assert not marker.exists()


# --------------------------------------------------------------------------------------------------------
# Local folders and "bundled"


def test_missing_folder_and_missing_config_are_clear(tmp_path):
    with pytest.raises(CheckpointNotFound, match="no such folder"):
        vitdemo.load(str(tmp_path / "nowhere"))
    with pytest.raises(CheckpointNotFound, match="no config.json"):
        vitdemo.load(tmp_path)


def test_unknown_layout_lists_the_supported_ones(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(CheckpointError, match="timm.*vitdemo"):
        vitdemo.load(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"hello": "world"}))
    with pytest.raises(CheckpointError, match="supported: transformers"):
        vitdemo.load(tmp_path)


def test_weights_that_do_not_fit_the_config_name_the_tensor(hf_vit, tmp_path):
    folder = copy_folder(hf_vit.path, tmp_path / "bad", "config.json", "model.safetensors")
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "intermediate_size": 96}))
    with pytest.raises(CheckpointError, match=r"mlp\.fc1\.weight.*\(128, 64\).*\(96, 64\)"):
        vitdemo.load(folder)


def test_tensors_our_vit_lacks_are_an_error(hf_vit, timm_state, timm_folder, tmp_path):
    """DeiT III's LayerScale has no place in our ViT: loading it must fail, not silently drop it."""
    state = timm_state(hf_vit.path)
    state["blocks.0.ls1.gamma"] = torch.ones(64)
    folder = timm_folder(tmp_path / "ls", state, "vit_small_patch8_32", dict(embed_dim=64, depth=2, num_heads=4,
                                                                              mlp_ratio=2.0))
    with pytest.raises(CheckpointError, match=r"blocks\.0\.ls1\.gamma"):
        vitdemo.load(folder)


def test_bundled_loads_the_vitdemo_folder_and_says_when_missing(tmp_path, monkeypatch):
    monkeypatch.setattr(loading, "BUNDLED_DIR", tmp_path / "assets" / "bundled")
    with pytest.raises(CheckpointNotFound, match="bundled model is missing"):
        vitdemo.load("bundled")
    config = ViTConfig(image_size=32, patch_size=8, dim=64, depth=2, heads=4, mlp_dim=128, num_classes=3)
    original = vitdemo.ViT(config, ["cat", "dog", "fish"]).eval()
    checkpoint.save(original, tmp_path / "assets" / "bundled")
    model = vitdemo.load("bundled", device="cpu", precision="fp32")
    assert model.labels == ["cat", "dog", "fish"]
    torch.testing.assert_close(logits(model), logits(original))


# --------------------------------------------------------------------------------------------------------
# What a checkpoint says about itself: architecture, labels, preprocessing


def test_timm_architecture_names_give_the_registry_shapes():
    base = layouts_timm.timm_args({"architecture": "vit_base_patch16_224"})
    assert (base["embed_dim"], base["depth"], base["num_heads"], base["patch_size"]) == (768, 12, 12, 16)
    deit = layouts_timm.timm_args({"architecture": "deit_tiny_distilled_patch16_224"})
    assert (deit["embed_dim"], deit["num_heads"], deit["distilled"]) == (192, 3, True)
    flexi = layouts_timm.timm_args({"architecture": "flexivit_base"})
    assert flexi["no_embed_class"] and flexi["flexi"]
    large = layouts_timm.timm_args({"architecture": "vit_large_patch14_224", "model_args": {"depth": 2}})
    assert (large["embed_dim"], large["depth"], large["patch_size"]) == (1024, 2, 14)
    with pytest.raises(CheckpointError, match="unknown timm architecture"):
        layouts_timm.timm_args({"architecture": "resnet50"})
    with pytest.raises(CheckpointError, match="global_pool"):
        layouts_timm.timm_args({"architecture": "vit_base_patch16_224", "model_args": {"global_pool": "avg"}})


def test_imagenet_labels_are_1000_distinct_names():
    names = imagenet_labels()
    assert len(names) == len(set(names)) == 1000
    assert (names[0], names[134], names[517], names[999]) == ("tench", "crane (bird)", "crane (machine)",
                                                             "toilet tissue")


def test_labels_come_from_the_checkpoint():
    config = {"model_type": "vit", "id2label": {"1": "dog", "0": "cat"}}
    assert layouts.hf_labels(config, 2) == ["cat", "dog"]
    assert layouts.hf_labels({"id2label": {str(i): f"LABEL_{i}" for i in range(3)}}, 3) == ["class 0", "class 1",
                                                                                             "class 2"]
    synsets = [f"n{i:08d}" for i in range(1000)]
    assert layouts_timm.timm_labels({"label_names": synsets}, 1000) == imagenet_labels()
    assert layouts_timm.timm_labels({"pretrained_cfg": {}}, 1000)[134] == "crane (bird)"
    described = {"pretrained_cfg": {"label_names": ["a", "b"], "label_descriptions": {"a": "apple", "b": "bee"}}}
    assert layouts_timm.timm_labels(described, 2) == ["apple", "bee"]


def test_preprocessing_follows_the_source_library():
    vit = layouts.hf_preprocessing({"image_mean": [0.5] * 3, "image_std": [0.5] * 3, "resample": 2,
                                    "size": {"height": 224, "width": 224}}, "vit", 224)
    assert (vit.squash, vit.crop_pct, vit.interpolation, vit.mean) == (True, 1.0, "bilinear", (0.5, 0.5, 0.5))
    deit = layouts.hf_preprocessing({"crop_size": 224, "do_center_crop": True, "resample": 3, "size": 256,
                                     "image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225]},
                                    "deit", 224)
    assert (deit.crop_pct, deit.interpolation, deit.std) == (0.875, "bicubic", (0.229, 0.224, 0.225))
    timm = layouts_timm.timm_preprocessing({"crop_pct": 0.95, "interpolation": "bilinear", "mean": [0.1, 0.2, 0.3],
                                       "std": [0.4, 0.5, 0.6]}, "flexivit_base")
    assert (timm.crop_pct, timm.interpolation, timm.mean, timm.squash) == (0.95, "bilinear", (0.1, 0.2, 0.3), False)


def test_loaded_model_carries_config_labels_and_preprocessing(hf_deit, tmp_path):
    folder = copy_folder(hf_deit.path, tmp_path / "deit", "config.json", "model.safetensors")
    config = json.loads((folder / "config.json").read_text())
    labels = {str(i): f"thing {i}" for i in range(10)}
    (folder / "config.json").write_text(json.dumps({**config, "id2label": labels}))
    (folder / "preprocessor_config.json").write_text(json.dumps({"size": 40, "crop_size": 32, "do_center_crop": True,
                                                                 "resample": 3}))
    model = vitdemo.load(folder, device="cpu", precision="fp32")
    assert model.labels == [f"thing {i}" for i in range(10)]
    assert (model.config.image_size, model.config.patch_size, model.config.heads) == (32, 8, 4)
    assert model.config.preprocessing.crop_pct == pytest.approx(0.8)


# --------------------------------------------------------------------------------------------------------
# Device and precision


def test_auto_precision_is_bf16_where_the_cpu_computes_it_natively(hf_vit):
    model = vitdemo.load(hf_vit.path, device="cpu", precision="auto")
    native = cpu_has_native_bf16()
    assert model.dtype == (torch.bfloat16 if native else torch.float32)
    assert model.precision == ("bf16" if native else "fp32")
    assert model.device.type == "cpu" and not model.training


def test_bf16_agrees_with_fp32(hf_vit):
    fp32 = vitdemo.load(hf_vit.path, device="cpu", precision="fp32")
    bf16 = vitdemo.load(hf_vit.path, device="cpu", precision="bf16")
    assert bf16.dtype == torch.bfloat16
    images = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        exact, fast = fp32(images), bf16(images)
    assert torch.nn.functional.cosine_similarity(fast.logits.float(), exact.logits, dim=-1).min() >= 0.99
    for a, b in zip(fast.attentions, exact.attentions):
        assert torch.corrcoef(torch.stack([a.float().flatten(), b.flatten()]))[0, 1] >= 0.99


def test_precision_and_device_default_to_the_environment(hf_vit, monkeypatch):
    monkeypatch.setenv("VITDEMO_DEVICE", "cpu")
    monkeypatch.setenv("VITDEMO_PRECISION", "bf16")
    assert vitdemo.load(hf_vit.path).dtype == torch.bfloat16
    monkeypatch.setenv("VITDEMO_PRECISION", "fp32")
    assert vitdemo.load(hf_vit.path).precision == "fp32"


# --------------------------------------------------------------------------------------------------------
# A hub cache holding only model.safetensors: what `timm.create_model(..., pretrained=True)` leaves

TINY = dict(hidden_size=192, num_hidden_layers=12, num_attention_heads=3, intermediate_size=768,  # vit_tiny
            image_size=224, patch_size=16, layer_norm_eps=1e-6)


@pytest.fixture(scope="module")
def tiny_vit(tmp_path_factory):
    """A transformers ViT with timm's vit_tiny shapes (the registry's, which the repo id must give)."""
    import transformers
    from conftest import randomize_, timm_state_from_hub_files

    config = transformers.ViTConfig(**TINY, num_labels=1000, attn_implementation="eager")
    model = randomize_(transformers.ViTForImageClassification(config), std=0.05).eval()
    path = tmp_path_factory.mktemp("vit-tiny")
    model.save_pretrained(path)
    return model, timm_state_from_hub_files(path), path


def test_timm_weights_without_config_load_by_repo_id(tiny_vit, hub_cache, tmp_path):
    from safetensors.torch import save_file

    reference, state, _ = tiny_vit
    save_file({k: v.contiguous() for k, v in state.items()}, str(tmp_path / "model.safetensors"))
    hub_cache.add("timm/vit_tiny_patch16_224.augreg_in21k_ft_in1k", [tmp_path / "model.safetensors"])
    model = vitdemo.load("timm/vit_tiny_patch16_224.augreg_in21k_ft_in1k", device="cpu", precision="fp32")
    assert (model.config.dim, model.config.depth, model.config.heads, model.config.image_size) == (192, 12, 3, 224)
    pre = model.config.preprocessing  # timm's vit `_cfg`: bicubic, crop_pct 0.9, Inception mean and std
    assert (pre.crop_pct, pre.interpolation, pre.mean, pre.squash) == (0.9, "bicubic", (0.5, 0.5, 0.5), False)
    assert model.labels == imagenet_labels()
    images = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(model(images).logits, reference(images).logits, atol=1e-4, rtol=0)


def test_headless_timm_weights_load_without_a_classifier(tiny_vit, hub_cache, tmp_path):
    """timm's DINO weights (`.dino`, num_classes=0) have no head: no classifier, ImageNet's mean and std."""
    from safetensors.torch import save_file

    reference, state, _ = tiny_vit
    headless = {k: v.contiguous() for k, v in state.items() if not k.startswith("head.")}
    save_file(headless, str(tmp_path / "model.safetensors"))
    hub_cache.add("timm/vit_tiny_patch16_224.dino", [tmp_path / "model.safetensors"])
    model = vitdemo.load("timm/vit_tiny_patch16_224.dino", device="cpu", precision="fp32")
    assert model.config.num_classes == 0 and model.labels == []
    assert model.config.preprocessing.mean == (0.485, 0.456, 0.406)
    # Resampled as timm does by default; DINO's original +0.1 is recorded for position_resampling="original".
    assert (model.config.position_resampling, model.config.pos_offset) == ("library", 0.1)
    images = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        out = model(images, output_intermediates=True)
        torch.testing.assert_close(out.intermediates["encoded"], reference.vit(images).last_hidden_state,
                                   atol=1e-4, rtol=0)
    assert out.logits.shape == (1, 0)


def test_weights_without_config_under_another_name_are_still_refused(tiny_vit, hub_cache, tmp_path):
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in tiny_vit[1].items()}, str(tmp_path / "model.safetensors"))
    hub_cache.add("timm/resnet50.a1_in1k", [tmp_path / "model.safetensors"])
    with pytest.raises(CheckpointNotFound, match="no config.json"):
        vitdemo.load("timm/resnet50.a1_in1k", device="cpu")


# Values copied from timm's default_cfgs (vision_transformer.py, deit.py at aa4b585) for those tags.
TIMM_TAGS = [
    ("vit_base_patch16_224.augreg2_in21k_ft_in1k", 224, 0.9, (0.5, 0.5, 0.5)),
    ("vit_base_patch16_384.augreg_in21k_ft_in1k", 384, 1.0, (0.5, 0.5, 0.5)),
    ("vit_small_patch16_224.dino", 224, 0.9, (0.485, 0.456, 0.406)),
    ("vit_large_patch16_224.mae", 224, 0.9, (0.485, 0.456, 0.406)),
    ("deit_tiny_patch16_224.fb_in1k", 224, 0.9, (0.485, 0.456, 0.406)),
    ("deit_base_distilled_patch16_384.fb_in1k", 384, 1.0, (0.485, 0.456, 0.406)),
    ("flexivit_base.1200ep_in1k", 240, 0.95, (0.5, 0.5, 0.5)),
]


@pytest.mark.parametrize("name,size,crop_pct,mean", TIMM_TAGS, ids=[t[0] for t in TIMM_TAGS])
def test_repo_id_gives_timms_pretrained_cfg(name, size, crop_pct, mean):
    from vitdemo.timm_registry import config_from_repo_id

    config = config_from_repo_id(f"timm/{name}")
    assert config["architecture"] == name.split(".")[0]
    cfg = config["pretrained_cfg"]
    assert (cfg["input_size"], cfg["crop_pct"], tuple(cfg["mean"]), cfg["interpolation"]) == \
        ([3, size, size], crop_pct, mean, "bicubic")
    assert config_from_repo_id("timm/vit_base_patch16_clip_224.openai") is None  # CLIP: another network
