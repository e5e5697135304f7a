"""Output pictures are written once under a content hash, atomically, so concurrent users never read a
half-written file (the cause of empty downloads under load), and the folder stays bounded."""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PIL import Image

from vitdemo.app.outputs import picture_file, prune


def test_many_threads_writing_the_same_picture_get_one_complete_file(tmp_path: Path) -> None:
    image = Image.new("RGB", (300, 200), (200, 30, 40))
    with ThreadPoolExecutor(16) as pool:
        paths = list(pool.map(lambda _: picture_file(image, "png", tmp_path), range(64)))
    assert len(set(paths)) == 1
    files = [p for p in tmp_path.iterdir() if p.is_file()]
    assert [p.name for p in files] == [Path(paths[0]).name]  # no temp files left behind
    with Image.open(paths[0]) as reread:
        assert reread.size == (300, 200) and reread.convert("RGB").getpixel((10, 10)) == (200, 30, 40)


def test_different_pictures_get_different_files_and_prune_keeps_the_newest(tmp_path: Path) -> None:
    paths = [picture_file(Image.new("RGB", (8, 8), (i, 0, 0)), "png", tmp_path) for i in range(6)]
    assert len(set(paths)) == 6
    for age, path in enumerate(reversed(paths)):  # the first written is the oldest
        os.utime(path, (time.time() - 100 * age, time.time() - 100 * age))
    prune(tmp_path, keep=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(Path(p).name for p in paths[-2:])
