"""Talking to the running app the way any API user does: which values /analyze accepts, what a good reply
looks like, and a varied set of images to send.

The API takes plain numbers and strings (its parameters are the same for every model), so the values worth
sending are read from the served model's own config: its offered patch sizes, layers and heads.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gradio_client import Client

ROOT = Path(__file__).resolve().parent.parent
SHAPE_SIZES = ((40, 40), (96, 96), (224, 224), (320, 180), (150, 600), (1600, 400), (800, 800))
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".gif"}


def new_client(url: str, download_dir: str) -> Client:
    """A quiet client (no analytics: the machine may be offline) that saves returned images in `download_dir`."""
    return Client(url, verbose=False, analytics_enabled=False, download_files=download_dir)


@dataclass
class Choices:
    """Values of /analyze's view parameters worth sending for one model."""

    patch_sizes: list[int]
    methods: list[str]
    layers: list[int]
    heads: list[str]


def example_images(out_dir: Path) -> list[Path]:
    """The app's example photos plus generated shapes of many sizes and aspect ratios, as files."""
    from vitdemo.data.shapes import render_sample

    images = sorted(p for p in (ROOT / "assets" / "examples").glob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    for i, (width, height) in enumerate(SHAPE_SIZES):
        sample = render_sample(seed=7, index=i, image_size=min(max(width, height), 256))  # then stretched
        path = out_dir / f"shape_{i}_{width}x{height}.png"
        sample.image.resize((width, height)).save(path)
        images.append(path)
    return images


def model_choices(model: str) -> Choices:
    """The patch sizes, layers and heads that `model` (a key the app knows, or a folder) offers."""
    import vitdemo
    from vitdemo import methods
    from vitdemo.constants import HEAD_FUSIONS

    config = vitdemo.load(model, device="cpu", precision="fp32").config
    return Choices(patch_sizes=list(config.offered_patch_sizes()), methods=list(methods.names()),
                   layers=list(range(1, config.depth + 1)),
                   heads=[*HEAD_FUSIONS, *map(str, range(1, config.heads + 1))])  # counted from 1, as the API


def check_label(result: object) -> object:
    """A gr.Label reply: a dict with a top label and confidences."""
    if not (isinstance(result, dict) and "label" in result):
        raise ValueError(f"/classify returned {type(result).__name__}, not label confidences")
    return result


def check_analysis(result: object) -> object:
    """(grid image, attention image, label confidences), the images as files that exist."""
    if not (isinstance(result, (tuple, list)) and len(result) == 3):
        raise ValueError(f"/analyze returned {type(result).__name__}, not (grid, attention, label)")
    grid, attention, label = result
    for image in (grid, attention):
        if not (isinstance(image, str) and Path(image).is_file()):
            raise ValueError(f"/analyze returned no image file: {image!r}")
    return check_label(label)
