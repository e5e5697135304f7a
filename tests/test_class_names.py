"""Issue 26 item 4: the bundled model's eleven class names in the reader's language, the model's own labels kept.

The Chinese names are written out here by hand (the issue's 圆、正方形、三角形 …), not read from the table
under test; the label order is the bundled config.json's. The library keeps the model's labels; only what a
person reads (top-5, summary, the explorer's bundle of names, the API asked for Chinese) is translated.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import httpx
import pytest
from PIL import Image

import vitdemo
from vitdemo import class_names
from vitdemo.app import i18n, views
from vitdemo.explain import payload as P
from vitdemo.labels import imagenet_labels

ROOT = Path(__file__).resolve().parents[1]
STAR = ROOT / "assets" / "examples" / "shape_star.png"
LABELS = json.loads((ROOT / "assets" / "bundled" / "config.json").read_text())["labels"]
CHINESE_NAMES = ["圆", "正方形", "三角形", "星形", "五边形", "十字", "圆环", "菱形", "心形", "月牙", "箭头"]
FILE_META = {"_type": "gradio.FileData"}


@pytest.fixture(scope="module")
def analysis():
    return vitdemo.analyze(vitdemo.load("bundled", precision="fp32"), Image.open(STAR), patch_size=16)


def test_the_bundled_labels_read_in_chinese_on_a_chinese_page_and_as_themselves_otherwise():
    assert class_names.CHINESE == i18n.CHINESE
    assert class_names.shown_all(LABELS, i18n.CHINESE) == CHINESE_NAMES
    assert class_names.shown_all(LABELS, i18n.ENGLISH) == LABELS
    assert class_names.translations(LABELS) == {"zh-CN": dict(zip(LABELS, CHINESE_NAMES, strict=True))}
    assert class_names.shown("ring", ["ring", "star"], i18n.CHINESE) == "圆环"  # a head fine-tuned on some shapes


def test_labels_of_other_models_stay_as_they_are_even_where_a_shape_name_occurs():
    imagenet = imagenet_labels()
    assert class_names.translations(imagenet) == {}
    assert class_names.shown("star", ["star", "galaxy"], i18n.CHINESE) == "star"
    assert class_names.shown_all(["class 0", "class 1"], i18n.CHINESE) == ["class 0", "class 1"]


def test_a_chinese_name_is_taken_for_its_label():
    assert class_names.label_of("圆", LABELS) == "circle"
    assert class_names.label_of("circle", LABELS) == "circle"
    assert class_names.label_of(None, LABELS) is None
    assert class_names.label_of("圆", imagenet_labels()) == "圆"  # left for validation to refuse


def test_top5_summary_and_bundle_in_the_readers_language_the_library_keeps_its_labels(analysis):
    assert analysis.labels == LABELS and analysis.top(1)[0][0] == "star"
    english = views.top_labels(analysis, lang=i18n.ENGLISH)
    chinese = views.top_labels(analysis, lang=i18n.CHINESE)
    by_name = dict(zip(LABELS, CHINESE_NAMES, strict=True))
    assert list(chinese) == [by_name[label] for label in english] and list(chinese)[0] == "星形"
    assert list(chinese.values()) == list(english.values())
    listed = "圆, 正方形, 三角形, 星形, 五边形, 十字, 圆环, 菱形, 心形, 月牙, 箭头"
    assert listed in views.known_classes(analysis, i18n.CHINESE)
    assert "circle, square, triangle, star" in views.known_classes(analysis, i18n.ENGLISH)
    bundle = P.explorer_payload(analysis)
    assert bundle["top"][0][0] == "star"  # the key of the class maps, the target and the file names
    assert bundle["names"]["zh-CN"]["star"] == "星形" and set(bundle["names"]) == {"zh-CN"}
    assert bundle["name"].startswith("star_")


def test_the_model_line_names_the_bundled_classes_in_the_readers_language():
    from vitdemo.app.model_info import classifier_text
    from vitdemo.app.models import Facts

    facts = Facts(family="ViT", patch=(16,), tokens=("class",), classes=len(LABELS))
    assert "圆, 正方形, 三角形, 星形, …" in classifier_text(facts, list(LABELS), i18n.CHINESE)
    assert "circle, square, triangle, star, …" in classifier_text(facts, list(LABELS), i18n.ENGLISH)


def call(app, endpoint: str, data: list, language: str | None) -> tuple[str, object]:
    """POST to /gradio_api/call/<endpoint> with (or without) an Accept-Language header, as a client would."""
    base, headers = app.local_url.rstrip("/"), ({"Accept-Language": language} if language else {})
    started = httpx.post(f"{base}/gradio_api/call/{endpoint}", json={"data": data}, headers=headers, timeout=120)
    started.raise_for_status()
    stream = httpx.get(f"{base}/gradio_api/call/{endpoint}/{started.json()['event_id']}", headers=headers,
                       timeout=120).text
    lines = stream.splitlines()
    event = next(line[len("event: "):] for line in lines if line.startswith("event: "))
    return event, json.loads(next(line[len("data: "):] for line in lines if line.startswith("data: ")))


@pytest.mark.server
def test_the_api_names_classes_in_chinese_when_asked(app):
    image = {"url": "data:image/png;base64," + base64.b64encode(STAR.read_bytes()).decode(), "meta": FILE_META}
    event, english = call(app, "classify", [image, None, "bundled"], None)
    assert event == "complete" and english[0]["label"] == "star"
    event, chinese = call(app, "classify", [image, None, "bundled"], "zh-CN,zh;q=0.9")
    assert event == "complete" and chinese[0]["label"] == "星形"
    assert [c["label"] for c in chinese[0]["confidences"]][:2] == [
        dict(zip(LABELS, CHINESE_NAMES, strict=True))[c["label"]] for c in english[0]["confidences"][:2]]
    by_name = call(app, "analyze", [image, None, "relevance", None, "mean", "bundled", "圆"], "zh-CN")
    by_label = call(app, "analyze", [image, None, "relevance", None, "mean", "bundled", "circle"], None)
    assert by_name[0] == by_label[0] == "complete"
    assert by_name[1][2]["label"] == "星形" and by_label[1][2]["label"] == "star"
