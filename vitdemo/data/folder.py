"""Train on your own pictures: a dataset over a folder with one sub-folder per class.

Why so defensive: user folders contain thumbnails, half-copied files, ``.txt`` notes and
files with the wrong extension. One bad file must never stop a training run, so every
file is fully decoded once at scan time (a JPEG cut short passes ``verify()`` and only
fails on decode), failures are skipped with a ``SkippedImageWarning`` naming the file,
and loading is guarded again in case a file changes after the scan.

Why ``warnings`` rather than ``logging``: callers (the app, tests) can turn the warnings
into messages, errors or silence with the standard filters, and each skipped file is
reported once without any logging configuration.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from PIL import Image, ImageOps

from ..preprocessing import rgb_on_white


class SkippedImageWarning(UserWarning):
    """A file in an image folder could not be used and was left out."""


class ImageFolder:
    """``root/<class name>/**/<image>`` as a map-style dataset of ``(RGB image, label)``.

    Labels index ``labels``, the class folder names in sorted order. Every non-hidden file
    under a class folder is tried, whatever its extension; the unusable ones are listed in
    ``skipped``. Raises ``ValueError`` when ``root`` is not a folder, has no class folders
    or holds no usable image.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise ValueError(f"image folder {self.root} does not exist or is not a directory")
        self.labels: list[str] = _class_names(self.root)
        if not self.labels:
            raise ValueError(f"{self.root} has no class sub-folders; expected {self.root}/<class name>/<images>")
        self.samples: list[tuple[Path, int]] = []
        self.skipped: list[Path] = []
        for label, name in enumerate(self.labels):
            for path in _candidate_files(self.root / name):
                problem = _problem_with(path)
                if problem is None:
                    self.samples.append((path, label))
                else:
                    self._skip(path, problem)
        if not self.samples:
            raise ValueError(f"{self.root} holds no readable images (skipped {len(self.skipped)} files)")

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[Image.Image, int]:
        """The image at ``index``; if it became unreadable since the scan, the next
        readable one (with its own label) so that a training loop keeps going."""
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} images")
        for offset in range(len(self.samples)):
            path, label = self.samples[(index + offset) % len(self.samples)]
            try:
                return _load_rgb(path), label
            except Exception as error:  # as broad as _problem_with, for the same reason
                if path not in self.skipped:
                    self._skip(path, f"no longer readable: {error}")
        raise ValueError(f"none of the {len(self.samples)} images in {self.root} is readable any more")

    def _skip(self, path: Path, problem: str) -> None:
        self.skipped.append(path)
        warnings.warn(f"skipping {path}: {problem}", SkippedImageWarning, stacklevel=3)


def _class_names(root: Path) -> list[str]:
    """Sorted names of the visible sub-folders: sorted so labels do not depend on the OS."""
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def _candidate_files(folder: Path) -> list[Path]:
    """Every file below ``folder`` except hidden ones (``.DS_Store``, editor temp files),
    which are noise rather than images someone forgot to fix; sorted for a stable order."""
    return sorted(
        path
        for path in folder.rglob("*")
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(folder).parts)
    )


def _problem_with(path: Path) -> str | None:
    """Why ``path`` cannot be used as an image, or ``None`` when it decodes fully.

    Catches ``Exception`` on purpose: on bad input Pillow raises OSError, SyntaxError,
    ValueError, struct.error, DecompressionBombError and more, and any of them means
    "skip this file"."""
    try:
        if path.stat().st_size == 0:
            return "empty file"
        with Image.open(path) as image:
            image.verify()  # cheap structural check (PNG checksums, headers)
        _load_rgb(path)  # full decode: catches truncated JPEGs, which verify() lets through
    except Exception as error:
        return f"{type(error).__name__}: {error}"
    return None


def _load_rgb(path: Path) -> Image.Image:
    """Decode ``path`` as an upright RGB image: EXIF rotation applied (phone photos),
    transparency flattened onto white and deep greys scaled, as the app does for uploads."""
    with Image.open(path) as opened:
        image = ImageOps.exif_transpose(opened)
        image.load()
    return rgb_on_white(image)
