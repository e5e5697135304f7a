"""The string tables are complete and used consistently: both languages have every key, fill in the same
{placeholders}, and every key the code asks for exists; messages made far from a request read as English
and render in Chinese; the request's language and the browser's table are what the page gets.

Expected sentences are written out by hand here, never recomposed with the code's templates.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import re
import string
from pathlib import Path

import pytest

from vitdemo.app import strings
from vitdemo.app.i18n import (
    CHINESE,
    ENGLISH,
    catalogue,
    explorer_strings,
    language,
    localized,
    localized_error,
    t,
    text,
    translations,
)

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "vitdemo"
MODULES = [info.name for info in pkgutil.iter_modules(strings.__path__)]
# A literal key passed to t(), text(), Message() (Python) or tr()/V.tr() (JavaScript), and data-t* in HTML.
PY_CALL = re.compile(r"""\b(?:t|text|Message|t_message)\(\s*["']([A-Za-z0-9_]+\.[A-Za-z0-9_.]+)["']""")
JS_CALL = re.compile(r"""\btr\(\s*["'`]([A-Za-z0-9_]+\.[A-Za-z0-9_.]+)["'`]""")
HTML_ATTR = re.compile(r"""data-t(?:-title|-aria)?="([^"]+)\"""")
# Every literal of these namespaces in the app's code is a key (they hold no file names or other dotted words).
OWN_LITERAL = re.compile(r"""["'`]((?:page|messages|errors|explorer)\.[a-z0-9_]+(?:\.[a-z0-9_]+)*)["'`]""")
FILES = re.compile(r"\.(?:css|html|js|py)$")  # explorer.js is a file, not a key


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


def sources(*suffixes: str) -> list[Path]:
    return [p for p in sorted(APP.rglob("*")) if p.suffix in suffixes and "strings" not in p.parts]


@pytest.mark.parametrize("name", MODULES)
def test_every_strings_module_has_the_same_keys_in_both_languages(name):
    module = importlib.import_module(f"vitdemo.app.strings.{name}")
    assert module.EN, f"strings/{name}.py is empty"
    only_en, only_zh = sorted(set(module.EN) - set(module.ZH)), sorted(set(module.ZH) - set(module.EN))
    assert not only_en and not only_zh, f"strings/{name}.py: only in EN {only_en}, only in ZH {only_zh}"
    assert all(isinstance(v, str) and v.strip() for v in [*module.EN.values(), *module.ZH.values()])


@pytest.mark.parametrize("name", MODULES)
def test_both_languages_fill_in_the_same_placeholders(name):
    module = importlib.import_module(f"vitdemo.app.strings.{name}")
    different = {key: (placeholders(module.EN[key]), placeholders(module.ZH[key])) for key in module.EN
                 if placeholders(module.EN[key]) != placeholders(module.ZH.get(key, ""))}
    assert not different, f"strings/{name}.py: {different}"


def test_the_chinese_is_chinese():
    """A Chinese string that is the English one copied over is a translation that was forgotten."""
    english, chinese = catalogue()[ENGLISH], catalogue()[CHINESE]
    def words(template: str) -> bool:
        return bool(re.search("[a-z]{3}", re.sub(r"\{\w*\}", "", template)))

    # a method's name, and model names made only of names ("ViT-B/16（ImageNet）"), read the same in both
    proper = {k for k in english if k.endswith(".legrad") or k.startswith("models.title.")}
    copied = [k for k in english if k not in proper and english[k] == chinese[k] and words(english[k])]
    assert not copied, copied
    untranslated = [k for k in chinese if k not in proper and words(english[k]) and not re.search(r"[\u4e00-\u9fff]",
                                                                                                 chinese[k])]
    assert not untranslated, untranslated


def test_every_key_the_code_asks_for_exists():
    known = set(catalogue()[ENGLISH])
    used: dict[str, set[str]] = {}
    for path in sources(".py"):
        source = path.read_text()
        for key in PY_CALL.findall(source) + OWN_LITERAL.findall(source):
            used.setdefault(key, set()).add(str(path.relative_to(ROOT)))
    for path in sources(".js", ".html"):
        source = path.read_text()
        for key in JS_CALL.findall(source) + HTML_ATTR.findall(source) + OWN_LITERAL.findall(source):
            used.setdefault(key, set()).add(str(path.relative_to(ROOT)))
    assert len(used) > 150, "the scan found almost nothing: has the way keys are written changed?"
    missing = {key: sorted(where) for key, where in used.items() if key not in known and not FILES.search(key)}
    assert not missing, missing


def test_keys_the_code_composes_exist():
    """Keys made from a name at run time: every method, head fusion and token kind the explorer may show, and
    the status line of every registered model (whose English is the registry's own blurb, word for word)."""
    from vitdemo import methods
    from vitdemo.app.explorer import LENSES
    from vitdemo.app.models import REGISTRY
    from vitdemo.constants import HEAD_FUSIONS

    english = catalogue()[ENGLISH]
    for method in methods.rows():
        assert {method.label_key, method.title_key, method.description_key} <= set(english), method.name
    for lens in [*LENSES, "random"]:
        assert f"explorer.method.{lens}" in english and (f"explorer.title.{lens}" in english or lens == "random")
    for fusion in HEAD_FUSIONS:
        assert f"explorer.fusion.{fusion}" in english and f"explorer.fusion_short.{fusion}" in english
    for kind in ("class", "distillation", "register"):
        assert f"explorer.kind.{kind}" in english
    for key, entry in REGISTRY.items():
        assert english[f"messages.blurb.{key}"] == entry.blurb, key


def test_gradios_labels_name_gradios_own_text():
    """strings/gradio.py's English is what the installed Gradio writes: a key it looks up in its own i18n is
    there with that English (its `leaf:`English`` entry), and a fixed label is in its markup as a string
    literal. A Gradio that renames either would leave that label English on a Chinese page."""
    import gradio

    from vitdemo.app.strings import gradio as labels

    assets = Path(gradio.__file__).parent / "templates" / "frontend" / "assets"
    frontend = "".join(path.read_text(errors="replace") for path in assets.glob("*.js"))
    missing = []
    for key, english in labels.EN.items():
        if key.startswith("explorer.gradio."):  # "Thumbnail {index} of {count}": its fixed start, `Thumbnail `
            fixed = english.split("{")[0]
            found = any(f"{q}{fixed}{q if fixed == english else ''}" in frontend for q in "`\"")
        else:
            found = f"{key.rsplit('.', 1)[1]}:`{english}`" in frontend
        if not found:
            missing.append(key)
    assert not missing, missing
    assert labels.ZH["image_editor.clear_canvas"] == "清空画布" and labels.ZH["explorer.gradio.fullscreen"] == "全屏"


def test_a_message_is_its_english_and_renders_in_chinese():
    from vitdemo.app.validation import UserError, whole

    with pytest.raises(UserError) as refused:
        whole("2.5", "layer", 1, 12)
    assert str(refused.value) == "layer must be a whole number from 1 to 12, not '2.5'."
    assert localized_error(refused.value, CHINESE) == "layer 应为 1 到 12 之间的整数，而不是 '2.5'。"
    assert localized_error(refused.value, ENGLISH) == str(refused.value)
    assert localized_error(ValueError("a library's own sentence"), CHINESE) == "a library's own sentence"


def test_an_upload_refusal_in_both_languages():
    from vitdemo.app.uploads import ImageInputError, decode_image

    with pytest.raises(ImageInputError) as refused:
        decode_image(b"")
    assert str(refused.value) == ("The file is empty (0 bytes). Accepted: PNG, JPEG, GIF, WebP, BMP or TIFF, up to 20 "
                                  "MB and 50 megapixels, at most 10:1 wide or tall.")
    assert localized_error(refused.value, CHINESE) == (
        "文件是空的（0 字节）。可接受：PNG、JPEG、GIF、WebP、BMP 或 TIFF，不超过 20 MB、50 百万像素，长宽比最多 10:1。")


def test_the_startup_line_keeps_reading_as_a_str():
    from vitdemo.app.models import choose_startup

    reason = choose_startup("bundled").reason
    assert reason == "Running the bundled shapes model, as requested." and "bundled" in reason
    assert localized(reason, CHINESE) == "按要求运行内置的形状模型。"
    assert localized(3, CHINESE) == 3


def test_text_fills_in_values_in_the_asked_language():
    assert text("messages.pick_sizes", CHINESE, count=1) == "请选两到三个图像块大小来比较（你选了 1 个）。"
    assert text("messages.pick_sizes", ENGLISH, count=1) == "Pick two or three patch sizes to compare (you picked 1)."
    assert text("messages.pick_sizes", "fr", count=1) == text("messages.pick_sizes", ENGLISH, count=1)


@pytest.mark.parametrize(("header", "expected"), [
    ("zh-CN,zh;q=0.9,en;q=0.8", CHINESE), ("zh", CHINESE), ("zh-TW,zh;q=0.9", CHINESE),
    ("en-US,en;q=0.9,zh-CN;q=0.8", ENGLISH), ("fr-FR", ENGLISH), ("", ENGLISH), (None, ENGLISH),
])
def test_the_request_language_follows_the_browsers_first_choice(header, expected):
    class Request:
        headers = {} if header is None else {"accept-language": header}

    assert language(Request()) == expected
    assert language(None) == ENGLISH


def test_static_text_with_values_is_registered_for_every_language():
    i18n = translations()
    first = t("page.image_placeholder", accepted="PNG")
    assert first.key != "page.image_placeholder" and t("page.image_placeholder", accepted="PNG").key == first.key
    tables = i18n.translations_dict
    assert tables[ENGLISH][first.key] == "Drop an image here. PNG."
    assert tables[CHINESE][first.key] == tables["zh"][first.key] == "把图像拖到这里。PNG。"
    assert first.key not in catalogue()[ENGLISH], "the shared catalogue is left as the modules wrote it"
    assert localized(first, CHINESE) == "把图像拖到这里。PNG。"
    with pytest.raises(AssertionError):
        t("page.no_such_key")


def test_the_browser_gets_both_tables_of_its_own_keys():
    from vitdemo.app.explorer import head_script

    shipped = json.loads(explorer_strings())
    assert set(shipped) == {ENGLISH, CHINESE}
    assert shipped[CHINESE]["explorer.back"] == "回到类别标记" and shipped[ENGLISH]["explorer.back"] == \
        "Back to the class token"
    assert all(key.startswith("explorer.") for key in shipped[ENGLISH])
    script = head_script()
    assert "回到类别标记" in script and "window.vitdemo.tr" in script.replace("V.tr", "window.vitdemo.tr")
    body = script.split("window.vitdemo.strings = ", 1)[1].split(";\n", 1)[0]
    assert "</" not in body, "a string must not end the <script> early"


# -- the server's handlers, in both languages (the bundled model, offline) ---------------------------------


@pytest.fixture(scope="module")
def engine():
    from vitdemo.app.models import choose_startup
    from vitdemo.app.service import Engine

    return Engine(choose_startup("bundled"))


def star_controls(engine) -> dict:
    return {"image": str(ROOT / "assets" / "examples" / "shape_star.png"), "model": "bundled",
            "patch": engine.model().config.patch_size, "keep_aspect": False, "key": None, "source": None,
            "active_model": "bundled", "tab": "recipe", "compare_sizes": [8, 16, 32]}


def test_the_handlers_answer_in_the_requests_language(engine):
    from vitdemo.app.callbacks import Handlers

    handlers = Handlers(engine)
    values = star_controls(engine)
    chinese = handlers.update(values, trigger="page", lang=CHINESE)
    english = handlers.update(values, trigger="page", lang=ENGLISH)
    assert "patch 16 px (native) · 6×6 patches + 1 prefix = 37 tokens" in english["summary"]
    assert "图像块 16 像素（原生大小）· 6×6 个图像块 + 1 个前置标记 = 37 个标记" in chinese["summary"]
    assert chinese["status"] == ("**模型：内置形状 ViT（离线可用）。** 本项目在合成形状上训练的小型 ViT，96 像素，"
                                 "图像块大小 8–32，随时可用。 按要求运行内置的形状模型。")
    assert chinese["patch_hint"] == "★ 列出的每个大小都训练过，效果应当差不多。"
    cleared = handlers.update({**values, "image": None}, lang=CHINESE)
    assert cleared["summary"] == "上传或粘贴一张图像、使用摄像头，或选一个示例。"
    with pytest.warns(UserWarning, match="请选两到三个图像块大小来比较（你选了 1 个）"):
        handlers.compare({**values, "compare_sizes": [16]}, lang=CHINESE)


def test_the_recipe_in_chinese_and_its_english_is_the_recipe_modules_own(engine):
    """Every stage's English from the string table is word for word what vitdemo.explain.recipe wrote."""
    from vitdemo.app.cache import AnalysisKey
    from vitdemo.app.callbacks import Handlers
    from vitdemo.explain.recipe import recipe

    handlers = Handlers(engine)
    values = star_controls(engine)
    shown = handlers.update(values, trigger="page", lang=ENGLISH)
    values = {**values, "key": shown["key"], "source": shown["source"]}
    analysis = engine.cached(AnalysisKey(*shown["key"]))
    for stage in recipe(analysis):
        assert text(f"recipe.{stage.kind}.name", ENGLISH, **stage.values) == stage.name
        assert text(f"recipe.{stage.kind}.note", ENGLISH, **stage.values) == stage.note
    table = handlers.recipe(values, CHINESE)["recipe_table"]
    assert table.startswith("| # | 阶段 | 张量形状 | 发生了什么 |")
    assert "| 2 | 切分图像块（unfold） | `36 × 768` | 逐行切成 6×6 = 36 个图像块，每块 16×16×3 = 768 个数 |" in table
    assert "编码器第 6 块" in table and "softmax 给出 'star' 的概率为" in table and "{" not in table


def test_the_api_refuses_in_english_unless_the_request_asks_for_chinese():
    import gradio as gr
    from gradio.context import LocalContext

    from vitdemo.app.errors import shown_to_user
    from vitdemo.app.validation import layer

    @shown_to_user
    def endpoint(value):
        return layer(value, 12)

    class Chinese:
        headers = {"accept-language": "zh-CN,zh;q=0.9"}

    with pytest.raises(gr.Error) as english:
        endpoint("x")
    assert (english.value.message, english.value.title) == ("layer must be a whole number from 1 to 12, not 'x'.",
                                                            "Error")
    token = LocalContext.request.set(Chinese())
    try:
        with pytest.raises(gr.Error) as chinese:
            endpoint("x")
    finally:
        LocalContext.request.reset(token)
    assert (chinese.value.message, chinese.value.title) == ("layer 应为 1 到 12 之间的整数，而不是 'x'。", "错误")
