"""The model picker's facts (#model-info, the dropdown's choices) and the side-by-side tab's server side.

The download sizes are checked against transformers' own models built (on the meta device: no memory, no
weights) with each repo's published shapes; the bundled model's facts against its config.json read here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from vitdemo.app import model_info
from vitdemo.app.i18n import CHINESE, catalogue
from vitdemo.app.models import REGISTRY, choose_startup
from vitdemo.app.service import Engine
from vitdemo.app.side_by_side import SideBySide, browser_strings, partner, second_offered

ROOT = Path(__file__).resolve().parents[1]
BUNDLED_META = json.loads((ROOT / "assets" / "bundled" / "config.json").read_text())
SMALL, BASE = dict(hidden_size=384, num_attention_heads=6, intermediate_size=1536), {}
TINY = dict(hidden_size=192, num_attention_heads=3, intermediate_size=768)
DINOV2 = dict(image_size=518, patch_size=14)


def hub_shapes(key: str):
    """transformers' model for the repo behind `key`, with that repo's published config (meta device)."""
    import transformers as tf

    vit = {"vit-b16": (BASE, 16), "deit-tiny": (TINY, 16),
           "deit-small": (SMALL, 16), "flexivit-b": (dict(BASE, image_size=240), 16)}
    dino = {"dino-s8": (SMALL, 8), "dino-s16": (SMALL, 16), "dino-b8": (BASE, 8), "dino-b16": (BASE, 16)}
    dinov2 = {"dinov2-s": (SMALL, True, False), "dinov2-b": (BASE, True, False),
              "dinov2-reg-s": (SMALL, False, True), "dinov2-reg-b": (BASE, False, True)}
    clip_text = dict(hidden_size=512, intermediate_size=2048, num_attention_heads=8, vocab_size=49408,
                     max_position_embeddings=77)
    image_text = {  # each repo's published config.json, the values that differ from transformers' defaults
        "clip-b16": lambda: tf.CLIPModel(tf.CLIPConfig(text_config=clip_text, vision_config=dict(patch_size=16))),
        "clip-b32": lambda: tf.CLIPModel(tf.CLIPConfig(text_config=clip_text, vision_config=dict(patch_size=32))),
        "siglip-b16": lambda: tf.SiglipModel(tf.SiglipConfig(text_config=dict(vocab_size=32000,
                                                                              max_position_embeddings=64))),
        "chinese-clip-b16": lambda: tf.ChineseCLIPModel(tf.ChineseCLIPConfig(
            text_config=dict(vocab_size=21128, max_position_embeddings=512, type_vocab_size=2),
            vision_config=dict(patch_size=16))),
    }
    if key in image_text:
        return image_text[key]()
    if key in vit:
        shape, patch = vit[key]
        return tf.ViTForImageClassification(tf.ViTConfig(**shape, patch_size=patch, num_labels=1000))
    if key in dino:
        shape, patch = dino[key]
        return tf.ViTModel(tf.ViTConfig(**shape, patch_size=patch), add_pooling_layer=False)
    shape, head, registers = dinov2[key]
    shape = {k: v for k, v in shape.items() if k != "intermediate_size"}  # DINOv2 says mlp_ratio (4)
    if registers:
        return tf.Dinov2WithRegistersModel(tf.Dinov2WithRegistersConfig(**shape, **DINOV2))
    return tf.Dinov2ForImageClassification(tf.Dinov2Config(**shape, **DINOV2, num_labels=1000))


@pytest.mark.parametrize("key", [k for k in REGISTRY if k != "bundled"])
def test_download_sizes_are_the_fp32_weights_of_each_repo(key):
    with torch.device("meta"):
        params = sum(p.numel() for p in hub_shapes(key).parameters())
    if key == "flexivit-b":  # timm's FlexiViT keeps no position slot for the class token (no_embed_class)
        params -= 768
    assert REGISTRY[key].facts.download_mb == pytest.approx(params * 4 / 1e6, abs=0.05)


@pytest.fixture
def engine() -> Engine:
    return Engine(choose_startup("bundled"))


def test_the_bundled_models_facts_come_from_its_config(engine):
    config, labels = BUNDLED_META["config"], BUNDLED_META["labels"]
    sizes = config["native_patch_sizes"]
    line = model_info.info(engine, "bundled")
    assert f"patch {min(sizes)}–{max(sizes)} px ({len(sizes)} trained)" in line
    assert "tokens: class, then patches" in line
    assert f"{len(labels)} classes ({', '.join(labels[:4])}, …)" in line
    assert "licence Apache-2.0" in line and "ships with the app" in line


def test_a_registry_model_not_cached_says_it_needs_a_download_with_its_size(engine, monkeypatch):
    line = model_info.info(engine, "dinov2-reg-s")
    assert line.startswith("**DINOv2 with registers** · patch 14 px · tokens: class + 4 registers, then patches")
    assert "no classifier" in line and "not downloaded (about 88 MB) and offline: cannot run here" in line
    choices = dict((key, label) for label, key in model_info_choices(engine))
    assert choices["dinov2-reg-s"] == "DINOv2-S/14 with registers (not downloaded) · 88 MB"
    assert choices["bundled"] == REGISTRY["bundled"].title

    monkeypatch.setenv("HF_HUB_OFFLINE", "0")  # the hub reachable: the same facts, and the size of the download
    assert model_info.info(engine, "vit-b16").endswith("1,000 ImageNet-1k classes · licence Apache-2.0 · "
                                                      "downloads about 346 MB before it runs")
    choices = dict((key, label) for label, key in model_info_choices(engine))
    assert choices["dino-s8"] == "DINO ViT-S/8 (self-supervised) · download 87 MB"


def model_info_choices(engine):
    from vitdemo.app.choices import model_choices

    return model_choices(engine)


def test_the_facts_are_in_chinese_for_a_chinese_reader(engine):
    line = model_info.info(engine, "dinov2-reg-s", CHINESE)
    assert "图像块 14 像素" in line and "类别标记 + 4 个寄存器标记" in line and "许可证 Apache-2.0" in line
    assert "尚未下载（约 88 MB）" in line


def test_a_cached_model_says_so_and_a_loaded_one_reports_its_own_config(hub_cache):
    import transformers

    folder = hub_cache.root.parent / "dino-like"
    transformers.ViTModel(transformers.ViTConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                                 intermediate_size=64, image_size=32, patch_size=16),
                          add_pooling_layer=False).save_pretrained(folder)
    hub_cache.add("facebook/dino-vits8", [folder / "config.json", folder / "model.safetensors"])
    engine = Engine(choose_startup("bundled"))
    before = model_info.info(engine, "dino-s8")
    assert "patch 8 px" in before and before.endswith("in the local cache"), "the table, before it loads"
    engine.model("dino-s8")
    after = model_info.info(engine, "dino-s8")
    assert "patch 16 px" in after and "no classifier" in after, "the loaded config is the truth"


def test_side_by_side_pairs_registers_with_none_and_refuses_the_same_model(engine):
    assert partner(engine, "bundled") is None, "offline, nothing else can run"
    engine.available = lambda: ["bundled", "dinov2-s", "dinov2-reg-s", "vit-b16"]
    assert partner(engine, "dinov2-s") == "dinov2-reg-s" and partner(engine, "dinov2-reg-s") == "dinov2-s"
    assert partner(engine, "deit-tiny") == "bundled", "no partner available: the first model that can run"
    side = SideBySide(engine)
    closed = side.value({"tab": "heads", "image": None, "key": None, "models_second": "dinov2-s"}, "en")
    assert closed["bundle"] is None and "error" not in closed
    key = ["digest", "bundled", 16, False]
    same = side.value({"tab": "models", "image": str(ROOT / "assets/examples/shape_star.png"), "key": key,
                       "models_second": "bundled"}, "en")
    assert same["bundle"] is None and same["error"] == "Pick a second model other than the one the explorer shows."


def test_the_second_model_picker_shows_only_when_there_is_something_to_pick(engine, monkeypatch):
    assert engine.available() == ["bundled"] and not second_offered(engine), "offline, only the bundled model"
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    assert second_offered(engine), "online: any model can be downloaded"
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    engine.available = lambda: ["bundled", "dinov2-s"]
    assert second_offered(engine), "offline, a downloaded model to compare with"


def test_the_browser_gets_every_side_by_side_template_in_the_readers_language():
    english, chinese = browser_strings("en"), browser_strings(CHINESE)
    expected = {k for k in catalogue()["en"] if k.startswith("models.js.")}
    assert set(english) == set(chinese) == expected
    assert chinese["models.js.kind.register"] != english["models.js.kind.register"]


def test_a_folder_outside_the_registry_says_what_it_knows_then_its_config(tmp_path):
    import transformers

    folder = tmp_path / "deit-like"
    transformers.DeiTForImageClassificationWithTeacher(transformers.DeiTConfig(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, image_size=32, patch_size=8,
        num_labels=3)).save_pretrained(folder)
    engine = Engine(choose_startup(str(folder)))
    assert model_info.info(engine, str(folder)) == (f"**{folder.name}** · a local folder · its family, patch size and "
                                                    "tokens show once it has loaded")
    engine.model(str(folder))  # transformers' LABEL_i are read as "class i" (vitdemo.labels)
    assert model_info.info(engine, str(folder)) == ("**DeiT** · patch 8 px · tokens: class + distillation, then patches"
                                                    " · 3 classes (class 0, class 1, class 2) · licence see the folder"
                                                    " · a local folder")


def test_model_names_are_translated_and_the_english_ones_are_the_registry_titles() -> None:
    english, chinese = catalogue()["en"], catalogue()[CHINESE]
    for key, entry in REGISTRY.items():
        assert english[f"models.title.{key}"] == entry.title  # one name per model, not two that drift apart
        assert chinese[f"models.title.{key}"] != entry.title or key in {"flexivit-b"}
    assert model_info.choice_label(REGISTRY["bundled"], True, CHINESE) == "内置形状 ViT（离线可用）"


def test_the_status_line_and_the_choices_name_the_model_in_the_page_language() -> None:
    from vitdemo.app.callbacks import Handlers
    from vitdemo.app.choices import model_choices

    engine = Engine(choose_startup("bundled"))
    assert "内置形状 ViT（离线可用）" in Handlers(engine).status("bundled", CHINESE)
    assert "Bundled shapes ViT (offline)" in Handlers(engine).status("bundled", "en")
    assert ("内置形状 ViT（离线可用）", "bundled") in model_choices(engine, CHINESE)
