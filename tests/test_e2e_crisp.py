"""The explorer as it shows on screen at 1×, 2× and on a phone (issue 23): every patch-grid line visible in
the screenshot's device pixels, a ticked box that looks ticked, and the colour bar's labels inside their panel.

What is counted is the screenshot (what the reader sees), not the canvas: a canvas drawn at 384 px and shown
at 325 CSS px loses lines in the browser's resampling, which no reading of the canvas would notice.
Needs /usr/bin/chromium (tests/browser.py); never `playwright install`.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from tests.browser import MARKS

pytestmark = MARKS
SCREENS = {"desktop": (1280, 800), "phone": (390, 844)}


@pytest.fixture
def open_page(new_page):
    """open_page(screen, scale) → a page of the app at that viewport and devicePixelRatio, first map painted."""
    return lambda screen, scale: new_page(*SCREENS[screen], scale=scale)


# A patch grid (kind "grid") or a map with "Grid lines on the map" at opacity 0 (kind "map") repainted with the
# analysis' view replaced by opaque black and the patch size by `patch` (a grid of view size // patch cells):
# only the white grid lines show. The map is sampled at patch 8 from a bundle of patch 16: its values are
# never seen at opacity 0.
PAINT_LINES_ONLY = """([patch, selector, kind]) => {
  const V = window.vitdemo, d = V.decoded, p = d.payload;
  const black = new ImageData(d.base.width, d.base.height);
  for (let i = 3; i < black.data.length; i += 4) black.data[i] = 255;
  const grid = [Math.floor(p.size[1] / patch), Math.floor(p.size[0] / patch)];
  const lines = {...d, base: black, baseCanvas: null, payload: {...p, patch, grid}};
  const canvas = document.querySelector(selector), view = {...V.view, indices: false, order: false, patch: null};
  canvas.scrollIntoView();
  if (kind === 'grid') V.paintGrid(canvas, lines, view);
  else V.paintMap(canvas, lines, {...view, method: V.core.baseMethod(p.schema), query: 0, grid: true, opacity: 0},
                  V.lutsFrom(V.colormaps));
  return grid;
}"""


def shown(page, selector: str) -> np.ndarray:
    """The element as the screen shows it, one array cell per device pixel (grey levels)."""
    png = page.locator(selector).screenshot(animations="disabled")
    return np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=np.float32)


def bright_runs(profile: np.ndarray) -> int:
    """How many separate runs of bright values (a line a few device pixels wide is one run)."""
    bright = profile > 100
    return int(bright[0]) + int(np.count_nonzero(bright[1:] & ~bright[:-1]))


@pytest.mark.parametrize(("screen", "scale"), [("desktop", 1), ("desktop", 2), ("phone", 2)])
def test_every_patch_grid_line_shows_at_patch_16_and_8(open_page, shots, screen, scale):
    page = open_page(screen, scale)
    size = page.evaluate("""() => { const c = document.querySelector('#explorer .vx-grid');
        return [c.width, c.getBoundingClientRect().width * devicePixelRatio]; }""")
    assert abs(size[0] - size[1]) < 1, f"the grid canvas has {size[0]} pixels for {size[1]:.1f} device pixels"
    if scale == 2 and screen == "desktop":
        page.locator("#explorer").screenshot(path=str(shots / "explorer_dpr2.png"))  # to look at by eye
    for patch, canvas in [(16, ".vx-grid"), (8, ".vx-grid"), (16, ".vx-map"), (8, ".vx-map")]:
        rows, cols = page.evaluate(PAINT_LINES_ONLY, [patch, f"#explorer {canvas}", canvas[4:]])
        picture = shown(page, f"#explorer {canvas}")
        # A vertical line is bright the whole height; elsewhere a column is bright only where it crosses the
        # horizontal lines (under half of it), so the column means tell the vertical lines apart.
        vertical, horizontal = bright_runs(picture.mean(axis=0)), bright_runs(picture.mean(axis=1))
        assert (vertical, horizontal) == (cols + 1, rows + 1), (
            f"{canvas}, patch {patch} at {scale}× on the {screen}: {vertical} vertical and {horizontal} "
            f"horizontal lines show for a {rows}×{cols} grid (expected {cols + 1} and {rows + 1}, borders included)")


def test_the_comparisons_patch_grids_are_drawn_in_device_pixels(open_page):
    """The Compare tab's grids: each canvas has one pixel per device pixel it is shown on (at 1×, a 384 px
    grid in a 320 px card lost lines), and in a card every line of the grid shows."""
    page = open_page("desktop", 1)
    page.get_by_role("tab", name="Compare patch sizes").click()
    page.wait_for_function("() => document.querySelectorAll('#compare-gallery figure').length >= 2 && "
                           "document.querySelectorAll('#compare-gallery canvas').length >= 4")
    sizes = page.evaluate("""() => [...document.querySelectorAll('#compare-gallery figure')].map((figure) => {
        const grid = figure.querySelector('canvas');
        return [grid.width, grid.getBoundingClientRect().width * devicePixelRatio]; })""")
    for backing, device in sizes:
        assert abs(backing - device) < 1, f"a compared grid has {backing} pixels for {device:.1f} device pixels"
    grid = page.evaluate(PAINT_LINES_ONLY, [16, "#compare-gallery figure canvas", "grid"])  # the first card's
    picture = shown(page, "#compare-gallery figure >> nth=0 >> canvas >> nth=0")
    assert (bright_runs(picture.mean(axis=0)), bright_runs(picture.mean(axis=1))) == (grid[1] + 1, grid[0] + 1)


@pytest.mark.parametrize("screen", ["desktop", "phone"])
def test_a_ticked_display_box_looks_ticked(open_page, screen):
    page = open_page(screen, 1)
    page.locator(".vx-display summary").click()
    box = page.locator(".vx-smooth")
    box.scroll_into_view_if_needed()
    box.set_checked(False)
    unticked = shown(page, ".vx-smooth")
    box.set_checked(True)
    page.wait_for_function("() => document.querySelector('.vx-smooth').checked")
    ticked = shown(page, ".vx-smooth")
    # Ink: pixels well darker than the light page. An unticked box is its outline (about a quarter of its
    # pixels); a ticked one is filled in (most of them), the tick aside.
    ink = {name: float((picture < 200).mean()) for name, picture in (("ticked", ticked), ("unticked", unticked))}
    assert ink["ticked"] > 0.5 and ink["ticked"] > 1.5 * ink["unticked"], f"the ticked box does not look ticked: {ink}"
    box.set_checked(False)


@pytest.mark.parametrize("screen", ["desktop", "phone"])
def test_the_colour_bars_labels_show_whole_inside_the_map_panel(open_page, screen):
    page = open_page(screen, 1)
    inside = page.evaluate("""() => {
      const figure = document.querySelector('#explorer .vx-map').closest('figure').getBoundingClientRect();
      return [...document.querySelectorAll('#explorer .vx-low, #explorer .vx-high')].map((label) => {
        const box = label.getBoundingClientRect();
        return [label.textContent, box.left >= figure.left - 0.5 && box.right <= figure.right + 0.5 && box.width > 0,
                label.scrollWidth <= label.clientWidth + 1];
      });
    }""")
    assert len(inside) == 2 and inside[1][0].endswith("%"), inside
    for text, within, whole in inside:
        assert within and whole, f"the colour bar's label {text!r} is cut off on the {screen} screen"
