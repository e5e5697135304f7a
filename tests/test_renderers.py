"""The test-only renderers (tests/renderers): independent of vitdemo, deterministic, and drawing what they say.

These renderers are the yardstick for "does the model know shapes or only its generator", so they must not
share code with `vitdemo.data`, and their masks must be the drawn objects.
"""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest
from renderers import CLASSES
from renderers.mouse import render_mouse
from renderers.plain import render_plain

RENDERERS = {"plain": render_plain, "mouse": render_mouse}


def test_renderers_import_nothing_from_vitdemo() -> None:
    for path in (Path(__file__).parent / "renderers").glob("*.py"):
        tree = ast.parse(path.read_text())
        modules = [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
        modules += [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
        assert not [m for m in modules if m.startswith("vitdemo")], f"{path.name} imports vitdemo"


@pytest.mark.parametrize("renderer", RENDERERS)
@pytest.mark.parametrize("name", CLASSES)
def test_each_class_is_drawn_deterministically(renderer: str, name: str) -> None:
    drawing = RENDERERS[renderer](name, seed=3)
    again = RENDERERS[renderer](name, seed=3)
    assert drawing.image.mode == "RGB" and drawing.image.size == (96, 96) and drawing.label == name
    assert drawing.image.tobytes() == again.image.tobytes() and np.array_equal(drawing.mask, again.mask)
    assert drawing.image.tobytes() != RENDERERS[renderer](name, seed=4).image.tobytes()


def test_plain_objects_cover_3_to_25_percent_and_stand_out() -> None:
    areas = []
    for seed in range(8):
        for name in CLASSES:
            drawing = render_plain(name, seed)
            pixels = np.asarray(drawing.image, np.float32)
            inside, outside = pixels[drawing.mask].mean(axis=0), pixels[~drawing.mask].mean(axis=0)
            assert np.linalg.norm(inside - outside) > 60, f"{name}/{seed} blends in"
            areas.append(drawing.mask.mean())
    assert min(areas) >= 0.02 and max(areas) <= 0.27
    assert np.mean(np.array(areas) < 0.08) > 0.2, "small objects are common"


def test_mouse_drawings_are_dark_outlines_on_light_paper() -> None:
    for seed in range(4):
        for name in CLASSES:
            drawing = render_mouse(name, seed)
            luma = np.asarray(drawing.image.convert("L"), np.float32)
            ink = luma < 128
            assert 0.005 < ink.mean() < 0.2, f"{name}/{seed}: an outline, not a filled shape"
            assert np.median(luma[~drawing.mask]) > 220, f"{name}/{seed}: paper is light"
            assert ink[~drawing.mask].mean() < 0.01, f"{name}/{seed}: the ink lies within the object's mask"
            assert drawing.mask.mean() > 1.3 * ink.mean(), f"{name}/{seed}: the mask includes what the ink bounds"
