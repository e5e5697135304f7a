"""The synthetic shapes dataset: determinism, masks that match the pixels, coverage of
classes, sizes, styles (filled, outlined, hand-drawn) and palettes (colour, ink on paper);
and the independent renderer later tests use for generalisation."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from PIL import Image
from simple_renderer import SIMPLE_SHAPES, render_simple

from vitdemo.data.shapes import SHAPE_LABELS, STYLES, ShapesDataset, render_sample, render_shape, shape_samples

SAMPLES = 240  # enough to hit every class and background kind many times, in about a second


def _dilate(mask: np.ndarray, steps: int = 1) -> np.ndarray:
    """4-neighbour binary dilation, without pulling in scipy for one test."""
    out = mask.copy()
    for _ in range(steps):
        grown = out.copy()
        grown[1:] |= out[:-1]
        grown[:-1] |= out[1:]
        grown[:, 1:] |= out[:, :-1]
        grown[:, :-1] |= out[:, 1:]
        out = grown
    return out


def _difference(a: Image.Image, b: Image.Image) -> np.ndarray:
    """Per-pixel sum of absolute RGB differences, as an H×W int array."""
    return np.abs(np.asarray(a, np.int32) - np.asarray(b, np.int32)).sum(axis=-1)


def test_labels_include_the_required_classes() -> None:
    assert len(SHAPE_LABELS) >= 10
    assert len(set(SHAPE_LABELS)) == len(SHAPE_LABELS)
    assert {"circle", "square", "triangle", "star"} <= set(SHAPE_LABELS)


def test_same_seed_and_index_give_identical_samples_in_any_order() -> None:
    dataset = pickle.loads(pickle.dumps(ShapesDataset(50, seed=3)))  # as a spawned DataLoader worker gets it
    later_first = [dataset[i] for i in (41, 7)]
    again = [render_sample(3, i) for i in (41, 7)]
    for a, b in zip(later_first, again):
        assert a.image.tobytes() == b.image.tobytes()
        assert np.array_equal(a.mask, b.mask)
        assert a.label == b.label


def test_different_seeds_give_different_images() -> None:
    for index in range(5):
        assert render_sample(0, index).image.tobytes() != render_sample(1, index).image.tobytes()


def test_sample_types_and_shapes() -> None:
    for size in (64, 96, 160):
        sample = render_sample(0, 5, image_size=size)
        assert sample.image.mode == "RGB" and sample.image.size == (size, size)
        assert sample.mask.dtype == bool and sample.mask.shape == (size, size)
        assert sample.name == SHAPE_LABELS[sample.label]


def test_mask_covers_exactly_the_drawn_object() -> None:
    """Compared with the same scene rendered without the object: inside the mask every
    pixel changed clearly; outside it, only the antialiased rim (coverage under one half)
    and the odd faint sliver changed. Filled, outlined and hand-drawn objects alike."""
    for index in range(SAMPLES):
        sample = render_sample(11, index)
        without = render_sample(11, index, with_object=False)
        assert np.array_equal(sample.mask, without.mask)
        changed = _difference(sample.image, without.image)
        inside = changed[sample.mask]
        assert inside.min() >= 12 and np.median(inside) >= 60, f"sample {index} ({sample.name}) blends in"
        away = changed[~_dilate(sample.mask)]
        stray = np.count_nonzero(away)
        assert stray <= max(0.01 * sample.mask.sum(), 8), f"sample {index}: {stray} changed pixels away from the mask"
        # and those are faint (coverage under one half), e.g. where a crescent's outline meets itself at a horn
        assert away.max(initial=0) < 0.6 * np.median(inside), f"sample {index}: a strong change outside the mask"


def test_every_class_appears_and_object_sizes_span_3_to_50_percent() -> None:
    samples = list(shape_samples(SAMPLES, seed=5))
    assert {s.label for s in samples} == set(range(len(SHAPE_LABELS)))
    filled = np.array([s.mask.mean() for s in samples if s.style == "filled"])
    assert filled.min() >= 0.015 and filled.max() <= 0.55  # 3-50%, less what an occluder hides
    assert (filled < 0.06).sum() >= 5 and (filled > 0.3).sum() >= 5, "small and large objects both occur"
    for s in samples:
        if s.style != "filled":  # an outline's mask is its ink: far less than the area it encloses
            assert 0.002 <= s.mask.mean() <= 0.3, f"{s.name} ({s.style})"


def test_styles_and_palettes_all_occur() -> None:
    samples = list(shape_samples(SAMPLES, seed=6))
    assert {s.style for s in samples} == set(STYLES)
    for style in STYLES:
        share = np.mean([s.style == style for s in samples])
        assert abs(share - STYLES[style] / sum(STYLES.values())) < 0.1, style
    assert 0.3 <= np.mean([s.ink_on_paper for s in samples]) <= 0.5


def test_ink_on_paper_is_dark_on_light() -> None:
    for sample in shape_samples(120, seed=7):
        if not sample.ink_on_paper:
            continue
        luma = np.asarray(sample.image.convert("L"), np.float32)
        assert np.median(luma[~_dilate(sample.mask, 2)]) >= 190, f"sample {sample.name}: paper is not light"
        assert np.median(luma[sample.mask]) <= 110, f"sample {sample.name}: ink is not dark"


def test_outlined_circles_are_hollow() -> None:
    """The centre of an outlined or hand-drawn circle is paper, not ink: an outline, not a disc."""
    seen = 0
    for index in range(len(SHAPE_LABELS) * 60):
        if index % len(SHAPE_LABELS) != SHAPE_LABELS.index("circle"):
            continue
        sample = render_sample(8, index)
        if sample.style == "filled":
            continue
        ys, xs = np.nonzero(sample.mask)
        cy, cx = (ys.min() + ys.max()) // 2, (xs.min() + xs.max()) // 2
        assert not sample.mask[cy - 1 : cy + 2, cx - 1 : cx + 2].any(), f"sample {index} ({sample.style})"
        seen += 1
    assert seen >= 15


def test_hand_drawn_outlines_differ_from_each_other() -> None:
    """Two hand-drawn samples are never the same stroke: the wobble is drawn per sample (deterministically)."""
    masks = [s.mask for s in shape_samples(200, seed=9) if s.style == "hand-drawn"]
    assert len(masks) >= 30
    assert len({m.tobytes() for m in masks}) == len(masks)


def test_objects_contrast_with_their_surroundings() -> None:
    for sample in shape_samples(60, seed=2):
        pixels = np.asarray(sample.image, np.float32)
        rim = _dilate(sample.mask, 4) & ~_dilate(sample.mask, 1)
        gap = np.linalg.norm(pixels[sample.mask].mean(axis=0) - pixels[rim].mean(axis=0))
        assert gap >= 60, f"{sample.name} is hard to see (mean colour gap {gap:.0f})"


def test_render_shape_draws_the_named_class() -> None:
    image, mask = render_shape("star", np.random.default_rng(0))
    assert image.size == (96, 96) and 0.0 < mask.mean() < 0.55
    with pytest.raises(ValueError):
        render_shape("dodecahedron", np.random.default_rng(0))


def test_dataset_bounds() -> None:
    dataset = ShapesDataset(3)
    assert len(dataset) == 3 and dataset.labels == SHAPE_LABELS
    with pytest.raises(IndexError):
        dataset[3]
    assert len(list(dataset)) == 3  # iteration stops at the IndexError


@pytest.mark.parametrize("name", SIMPLE_SHAPES)
def test_simple_renderer_draws_each_shape(name: str) -> None:
    image = render_simple(name, seed=4)
    assert image.mode == "RGB" and image.size == (96, 96)
    assert image.tobytes() == render_simple(name, seed=4).tobytes()
    pixels = np.asarray(image, np.float32).reshape(-1, 3)
    assert np.linalg.norm(pixels.max(axis=0) - pixels.min(axis=0)) > 100  # a visible shape, not a blank
    assert name in SHAPE_LABELS  # the generalisation check needs the bundled model to know it


# --- the training curriculum's easier scenes (EasierPicks) -------------------------------------------------


def test_easiest_scenes_are_large_filled_shapes() -> None:
    samples = [render_sample(7, i, difficulty=0.0) for i in range(120)]
    assert {s.style for s in samples} == {"filled"}
    # the top 35% of the log-area range [ln 0.03, ln 0.5]: from 0.5 * (0.03 / 0.5) ** 0.35 = 18.7% of the image
    areas = np.array([s.mask.mean() for s in samples])
    assert np.median(areas) >= 0.187 and areas.min() >= 0.10, areas.min()  # clutter may hide a little


def test_half_difficulty_mixes_styles_by_hand_worked_shares() -> None:
    samples = [render_sample(8, i, difficulty=0.5) for i in range(400)]
    shares = {style: np.mean([s.style == style for s in samples]) for style in STYLES}
    # half the non-filled picks stay filled: filled 0.45 + 0.55 / 2, outlined 0.25 / 2, hand-drawn 0.30 / 2
    assert abs(shares["filled"] - 0.725) < 0.07 and abs(shares["outlined"] - 0.125) < 0.05, shares
    assert abs(shares["hand-drawn"] - 0.15) < 0.05, shares


def test_a_ramp_ends_in_exactly_the_full_distribution() -> None:
    ramped = ShapesDataset(40, seed=3, easy_ramp=20)
    for i in (20, 25, 39):  # past the ramp: the very same images as without one
        assert np.array_equal(np.asarray(ramped[i].image), np.asarray(render_sample(3, i).image))
    assert np.array_equal(np.asarray(ramped[0].image), np.asarray(render_sample(3, 0, difficulty=0.0).image))
    assert ramped[10].style == render_sample(3, 10, difficulty=0.5).style
    with pytest.raises(ValueError):
        render_sample(3, 0, difficulty=1.5)
    with pytest.raises(ValueError):
        ShapesDataset(4, easy_ramp=-1)
