"""`python -m vitdemo figure`: every format it writes, the map it draws, and how it refuses bad arguments.

The map is checked against one worked out here from the stored attentions (the class token's row, and
rollout written out as Abnar & Zuidema define it), not with the library's functions: in the figure's main
panel, drawn at opacity 1, the brightest patch is that map's argmax and the patches' brightness ranks as the
map does (inferno's lightness rises monotonically); so do the small multiples, one per layer.
"""

from __future__ import annotations

import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vitdemo.__main__ import main

ROOT = Path(__file__).resolve().parents[1]
STAR = ROOT / "assets" / "examples" / "shape_star.png"
DEPTH = 6  # the bundled model: 6 layers of 4 heads, 6×6 patches of 16 px at its native size


@pytest.fixture(scope="module")
def analysis():
    import vitdemo

    return vitdemo.analyze(vitdemo.load("bundled"), Image.open(STAR).convert("RGB"))


def figure_command(*args: str) -> int:
    try:
        return main(["figure", *map(str, args)])
    except SystemExit as exc:  # argparse's own errors
        return int(exc.code)


@pytest.mark.parametrize("suffix", ["png", "svg", "pdf", "gif"])
def test_the_command_writes_each_format(tmp_path, capsys, suffix):
    out = tmp_path / f"star.{suffix}"
    assert figure_command(STAR, "--method", "rollout", "--layer", "3", "--out", out) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    data = out.read_bytes()
    if suffix == "png":
        picture = Image.open(out)
        assert picture.format == "PNG" and picture.width >= 1600
        assert "rollout" in picture.text["Title"].lower() and "layers 1–3 of 6" in picture.text["Title"]
        assert "vitdemo-bundled" in picture.text["Description"] and "16 px" in picture.text["Description"]
    elif suffix == "svg":
        root = ET.fromstring(data)
        assert root.tag.rsplit("}", 1)[-1] == "svg"
        images = root.findall(".//{http://www.w3.org/2000/svg}image")
        assert len(images) == 3 + 1 + DEPTH  # 3 panels, the colour bar, the layers
    elif suffix == "pdf":
        assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
        assert len(re.findall(rb"/Type\s*/Page\b(?!s)", data)) >= 1
    else:
        animation = Image.open(out)
        assert animation.format == "GIF" and animation.n_frames == DEPTH
        sizes = set()
        for frame in range(animation.n_frames):
            animation.seek(frame)
            sizes.add(animation.size)
        assert len(sizes) == 1


def test_default_name_says_what_the_figure_shows(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert figure_command(STAR, "--method", "attention", "--layer", "2", "--patch-size", "24") == 0
    written = tmp_path / "shape_star_p24_attention_layer2.png"
    assert written.exists() and Image.open(written).width >= 1600


def test_main_panel_and_small_multiples_show_the_analysis_map(tmp_path, analysis):
    from vitdemo.explain.figure import FigureView, build

    out = tmp_path / "rollout.png"
    assert figure_command(STAR, "--method", "rollout", "--layer", "3", "--opacity", "1", "--out", out) == 0
    picture = Image.open(out)
    layout = build(analysis, FigureView(method="rollout", layer=2, opacity=1.0), title="vitdemo-bundled")
    by_layer = [rollout_by_hand(analysis.attentions[: n + 1]) for n in range(DEPTH)]
    for label, expected in [("map", by_layer[2])] + [(f"layer {n + 1}", m) for n, m in enumerate(by_layer)]:
        brightness = cell_brightness(panel(picture, layout, label), analysis.grid)
        assert_brightest_is_argmax(brightness, expected.reshape(analysis.grid), label)


def test_attention_map_of_one_head(tmp_path, analysis):
    from vitdemo.explain.figure import FigureView, build, headline

    out = tmp_path / "head.png"
    # The command counts from 1, as the page does: --layer 4 --head 2 is the library's layer 3, head 1.
    assert figure_command(STAR, "--layer", "4", "--head", "2", "--opacity", "1", "--out", out) == 0
    expected = analysis.attentions[3][1][0, 1:].reshape(analysis.grid)  # library layer 3, head 1, class token's row
    layout = build(analysis, FigureView(layer=3, head=1, opacity=1.0), title="vitdemo-bundled")
    assert headline(analysis, FigureView(layer=3, head=1)) == "Attention · layer 4 of 6 · head 2"
    assert_brightest_is_argmax(cell_brightness(panel(Image.open(out), layout, "map"), analysis.grid), expected)


def test_the_figure_commands_help_says_layers_and_heads_count_from_1():
    import argparse

    from vitdemo.figure_cli import add_figure_arguments

    parser = argparse.ArgumentParser()
    add_figure_arguments(parser)
    text = " ".join(parser.format_help().split())
    assert "--layer and --head count from 1" in text and "or a head counted from 1" in text, text
    # The help and a refusal list the same methods: every one the command accepts, the logit lens included.
    assert "--method METHOD attention, rollout, relevance, legrad, logit-lens (" in text, text


@pytest.mark.parametrize(("args", "says"), [
    (["--method", "saliency"], "method must be one of attention, rollout, relevance, legrad, logit-lens, not "),
    (["--layer", "7"], "layer must be a whole number from 1 to 6"),
    (["--layer", "0"], "layer must be a whole number from 1 to 6"),
    (["--head", "5"], "head must be a head number from 1 to 4"),
    (["--head", "0"], "head must be a head number from 1 to 4"),
    (["--out", "star.jpg"], "must end in .png, .svg, .pdf or .gif"),
    (["--patch-size", "5"], "patch_size must be a whole number from 8 to 32"),
    (["--layer", "two"], "layer must be a whole number"),
])
def test_bad_arguments_are_one_line_and_exit_2(tmp_path, capsys, monkeypatch, args, says):
    monkeypatch.chdir(tmp_path)  # where a figure without --out would go
    assert figure_command(STAR, *args) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and captured.err.startswith("error: ") and says in captured.err
    assert not list(tmp_path.iterdir())


@pytest.mark.slow
def test_missing_file_in_a_real_process(tmp_path):
    """The real command line: exit status 2, one line on stderr, no traceback, nothing written."""
    result = subprocess.run([sys.executable, "-m", "vitdemo", "figure", str(tmp_path / "nope.png"), "--out",
                             str(tmp_path / "x.png")], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 2
    assert result.stderr == f"error: {tmp_path / 'nope.png'}: no such file\n"
    assert not (tmp_path / "x.png").exists()


def test_missing_image_argument_is_one_line(capsys):
    assert figure_command() == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "required: IMAGE" in err


# -- helpers -------------------------------------------------------------------------------------------------


def rollout_by_hand(attentions: np.ndarray) -> np.ndarray:
    """Abnar & Zuidema's rollout of the class token over the patches, written out: per layer the heads'
    mean plus the identity (the residual), each row normalised, multiplied from the first layer up."""
    tokens = attentions.shape[-1]
    joint = np.eye(tokens)
    for layer in attentions:
        mixed = layer.astype(np.float64).mean(axis=0) + np.eye(tokens)
        joint = (mixed / mixed.sum(axis=-1, keepdims=True)) @ joint
    return joint[0, 1:]


def panel(picture: Image.Image, layout, label: str) -> np.ndarray:
    """The pixels of the axes labelled `label` in `picture`, located on `layout`, a figure built the same way."""
    layout.canvas.draw()
    assert picture.size == layout.canvas.get_width_height()
    ax = next(a for a in layout.axes if a.get_label() == label)
    box = ax.get_window_extent()  # display pixels, origin at the bottom left
    top, bottom = picture.height - round(box.y1), picture.height - round(box.y0)
    return np.asarray(picture.convert("RGB"))[top:bottom, round(box.x0):round(box.x1)]


def cell_brightness(pixels: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """(rows, cols): the mean luminance of the middle half of each patch's block of pixels."""
    rows, cols = grid
    height, width = pixels.shape[:2]
    luminance = pixels.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    out = np.zeros(grid)
    for r in range(rows):
        for c in range(cols):
            y0, y1 = (r + 0.25) * height / rows, (r + 0.75) * height / rows
            x0, x1 = (c + 0.25) * width / cols, (c + 0.75) * width / cols
            out[r, c] = luminance[int(y0):int(np.ceil(y1)), int(x0):int(np.ceil(x1))].mean()
    return out


def assert_brightest_is_argmax(brightness: np.ndarray, expected: np.ndarray, label: str = "map") -> None:
    """The brightest patch is the map's argmax (or, where the two largest values are within 1% of each other,
    one of them: a colormap has 256 steps), and brightness ranks the patches as the map does."""
    brightest = np.unravel_index(np.argmax(brightness), expected.shape)
    argmax = np.unravel_index(np.argmax(expected), expected.shape)
    assert brightest == argmax or expected[brightest] >= 0.99 * expected.max(), (label, brightest, argmax)
    assert rank_correlation(brightness.ravel(), expected.ravel()) > 0.95, label


def rank_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rho (ties broken by order, enough for continuous maps)."""
    ranks_a, ranks_b = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ranks_a, ranks_b)[0, 1])


def test_the_figures_title_says_layer_with_a_space(analysis):
    """Issue 23 saw "layer6" in a figure: the title (and the PNG's Title) reads "layer 6 of 6"; only the file
    name joins the words (`star_p16_attention_layer6`, the download-name rule shared with the page)."""
    from vitdemo.explain.figure import FigureView, headline

    assert headline(analysis, FigureView(method="attention", layer=5, head="mean")) == (
        f"Attention · layer 6 of {DEPTH} · mean of 4 heads")
    assert headline(analysis, FigureView(method="rollout", layer=2, head="mean")).startswith("Rollout · layers 1–3 of")


def test_chinese_text_prints_through_a_cjk_font_where_one_is_installed():
    """A Chinese prompt or class name in a figure: no "Glyph … missing" (empty boxes) once the fallback is on.
    CI and the Space install fonts-wqy-zenhei (.ci/run, packages.txt); without a CJK font there is nothing to
    check."""
    import warnings

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from vitdemo.explain.fonts import with_cjk_fallback

    if not with_cjk_fallback():
        pytest.skip("no CJK font installed here")
    figure = Figure(figsize=(2, 1))
    figure.text(0.1, 0.5, "红色的汽车 · star 91%")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        FigureCanvasAgg(figure).draw()
