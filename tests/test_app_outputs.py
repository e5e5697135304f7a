"""Output pictures are written once under a content hash, atomically, so concurrent users never read a
half-written file (the cause of empty downloads under load); the folder is the instance's own, inside
Gradio's cache (so Gradio serves it without a second copy), bounded, and cleaned of staging files."""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PIL import Image

from vitdemo.app.outputs import STAGING_PREFIX, PictureStore, download_name


def _pictures(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*/*") if p.is_file())


def test_many_threads_writing_the_same_picture_get_one_complete_file(tmp_path: Path) -> None:
    tmp_path = tmp_path / "pictures"
    store = PictureStore(tmp_path)
    image = Image.new("RGB", (300, 200), (200, 30, 40))
    with ThreadPoolExecutor(16) as pool:
        paths = list(pool.map(lambda _: store.file(image, "png", "star_p16_attention_layer6"), range(64)))
    assert len(set(paths)) == 1
    assert [p.name for p in _pictures(tmp_path)] == ["star_p16_attention_layer6.png"]  # no temp files left
    with Image.open(paths[0]) as reread:
        assert reread.size == (300, 200) and reread.convert("RGB").getpixel((10, 10)) == (200, 30, 40)


def test_different_pictures_get_different_files_and_prune_keeps_the_newest(tmp_path: Path) -> None:
    tmp_path = tmp_path / "pictures"
    store = PictureStore(tmp_path)
    paths = [store.file(Image.new("RGB", (8, 8), (i, 0, 0)), "png") for i in range(6)]
    assert len(set(paths)) == 6
    for age, path in enumerate(reversed(paths)):  # the first written is the oldest
        os.utime(path, (time.time() - 100 * age, time.time() - 100 * age))
    assert store.prune(keep=2) == 4
    assert [str(p) for p in _pictures(tmp_path)] == sorted(paths[-2:])
    assert len(list(tmp_path.iterdir())) == 2  # the emptied hash folders went too


def test_prune_removes_staging_files_left_by_a_crash_but_not_a_write_in_progress(tmp_path: Path) -> None:
    tmp_path = tmp_path / "pictures"
    store = PictureStore(tmp_path)
    store.file(Image.new("RGB", (8, 8)), "png")
    folder = next(tmp_path.iterdir())
    old, fresh = folder / f"{STAGING_PREFIX}old.png", folder / f"{STAGING_PREFIX}new.png"
    old.write_bytes(b"half"), fresh.write_bytes(b"half")
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    store.prune()
    assert not old.exists() and fresh.exists()


def test_each_instance_gets_its_own_folder_inside_gradios_cache(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))
    monkeypatch.delenv("VITDEMO_PICTURE_DIR", raising=False)
    one, two = PictureStore(), PictureStore()
    assert one.folder != two.folder
    assert one.folder.parent == two.folder.parent == tmp_path / "gradio"
    one.file(Image.new("RGB", (8, 8)), "png")
    two.prune(keep=0)  # one instance's pruning never touches the other's pictures
    assert len(_pictures(one.folder)) == 1


def test_download_names_are_safe_file_names() -> None:
    assert download_name("star_p16_rollout_layer6", ".png") == "star_p16_rollout_layer6.png"
    assert download_name("../../etc/passwd", ".png") == "etc_passwd.png"
    assert download_name("猫 cat/p16", ".jpg") == "cat_p16.jpg"
    assert download_name("", ".png") == "picture.png"
