"""One way of counting: people read rows, columns, heads and layers from 1, the library indexes from 0.

The conversion happens at the app's boundary (`vitdemo.numbering`, used by `validation` for what the page and
the API send); these cases are written out by hand: the API's head 1 is the library's head 0, layer 6 of a
6-layer model is index 5, and an empty layer is the last.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from vitdemo import numbering
from vitdemo.app import validation

STAR = Path(__file__).resolve().parents[1] / "assets" / "examples" / "shape_star.png"


def test_the_first_row_column_head_and_layer_are_shown_as_1():
    assert [numbering.shown(i) for i in (0, 1, 5)] == [1, 2, 6]
    assert [numbering.index(n) for n in (1, 2, 6)] == [0, 1, 5]
    assert numbering.shown_head(0) == 1 and numbering.shown_head("mean") == "mean"
    assert numbering.head_index(1) == 0 and numbering.head_index("max") == "max"


@pytest.mark.parametrize("sent, library", [(1, 0), ("1", 0), (4.0, 3), ("4", 3), ("mean", "mean"), (" MAX ", "max"),
                                           ("", "mean"), (None, "mean")])
def test_a_head_sent_counted_from_1_is_the_librarys_index(sent, library):
    assert validation.head_index(validation.head(sent, 4)) == library


@pytest.mark.parametrize("sent", [0, "0", 5, -1])
def test_head_0_and_past_the_last_are_refused_naming_the_parameter(sent):
    with pytest.raises(validation.UserError) as info:
        validation.head(sent, 4)
    assert str(info.value) == f"head must be a head number from 1 to 4 or one of mean, max, min, not {sent!r}."


@pytest.mark.parametrize("sent, index, shown", [(1, 0, 1), (6, 5, 6), (None, 5, 6)])
def test_a_layer_counted_from_1_is_the_librarys_index(sent, index, shown):
    assert validation.layer_index(validation.layer(sent, 6), 6) == index
    assert validation.layer_number(validation.layer(sent, 6), 6) == shown


def test_a_views_file_name_counts_rows_columns_heads_and_layers_from_1():
    from vitdemo.app.views import file_name

    # The library's patch (0, 0), head 0 and layer 0, as a View holds them: patch 1-1, head 1, layer 1.
    view = validation.View(method="attention", layer=1, head=1, patch=(0, 0))
    assert file_name("star_p16", "map", view.method, view.layer, view.head, None, view.patch) == \
        "star_p16_patch1-1_layer1_head1"


@pytest.mark.slow
def test_the_figure_download_of_head_1_is_the_librarys_head_0_and_named_head1(tmp_path):
    """"Download figure" sends #explorer's data-view, which counts heads from 1: head 1 is drawn as the library's
    head 0, and the file is named for head 1 and layer 1 as the page showed them."""
    import json

    import numpy as np
    from PIL import Image

    from vitdemo.app.figure_download import FigureDownloads
    from vitdemo.app.models import choose_startup
    from vitdemo.app.outputs import PictureStore
    from vitdemo.app.service import Engine
    from vitdemo.explain.figure import FigureView, picture

    engine = Engine(choose_startup("bundled"))
    analysed = engine.analysis(Image.open(STAR).convert("RGB"))
    engine.grants.grant("reader", analysed.key)
    sent = {"method": "attention", "layer": 1, "head": 1, "cmap": "inferno", "opacity": 0.6, "patch": None,
            "query": 0, "key": list(analysed.key)}
    out = FigureDownloads(engine, PictureStore(tmp_path)).download({"figure_view": json.dumps(sent)}, lang="en",
                                                                    session="reader")
    path = out["figure_file"]
    assert path.endswith("/figure_bundled_star_p16_attention_layer1_head1.png"), path
    title = engine.entry("bundled").title
    expected = picture(analysed.analysis, FigureView(method="attention", layer=0, head=0), title)
    assert np.array_equal(np.asarray(Image.open(path).convert("RGB")), np.asarray(expected))
