"""The upload folder: its cap (oldest files first, kept and half-written files never), the start-up removal of
what earlier instances left, and the cleanup a SIGTERM runs (app.py in a subprocess)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from vitdemo.app.disk import UploadFolder, remove_leftovers

ROOT = Path(__file__).resolve().parents[1]
HOUR = 3600.0


def put(folder: Path, relative: str, size: int, age_s: float) -> Path:
    path = folder / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    stamp = time.time() - age_s
    os.utime(path, (stamp, stamp))
    return path


def test_prune_takes_the_oldest_files_until_the_folder_fits(tmp_path):
    files = [put(tmp_path, f"sha{n}/upload.png", 100, age_s=100 - n) for n in range(10)]  # files[0] oldest
    kept = put(tmp_path, "example/cat.jpg", 100, age_s=1000)  # the oldest of all, but Gradio keeps it
    arriving = put(tmp_path, "tmpupload", 100, age_s=0)  # an upload still being streamed to the top level
    folder = UploadFolder(tmp_path, cap_bytes=10_000, keep=lambda: {str(kept)})
    assert folder.prune(target=700) == 700
    assert [f.exists() for f in files] == [False] * 5 + [True] * 5
    assert kept.exists() and arriving.exists()
    assert not (tmp_path / "sha0").exists()  # emptied hash folders go too


def test_make_room_keeps_the_folder_plus_whats_coming_under_the_cap(tmp_path):
    for n in range(8):
        put(tmp_path, f"sha{n}/u.png", 1000, age_s=100 - n)
    folder = UploadFolder(tmp_path, cap_bytes=5000)
    counted = folder.make_room(2500)
    assert on_disk(tmp_path) <= 2500 and counted == on_disk(tmp_path) + 2500
    put(tmp_path, "sha-new/u.png", 2500, age_s=0.5)  # what that request saved
    folder.done(2500)
    # Within the second the folder is not listed again: every body counts as saved whole, so the next one
    # must make room again all the same.
    folder.make_room(2500)
    assert on_disk(tmp_path) <= 2500
    folder.done(2500)


def test_make_room_keeps_room_for_every_request_in_flight(tmp_path):
    for n in range(8):
        put(tmp_path, f"sha{n}/u.png", 1000, age_s=100 - n)
    folder = UploadFolder(tmp_path, cap_bytes=6000)
    folder.make_room(2000)  # one upload arriving ...
    folder.make_room(2000)  # ... and another, before the first is done: both must fit
    assert on_disk(tmp_path) <= 6000 - 2 * 2000


def on_disk(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def test_leftovers_older_than_the_cache_age_go_at_start_up(tmp_path):
    old_upload = put(tmp_path, "sha-old/photo.jpg", 10, age_s=2 * HOUR)
    old_picture = put(tmp_path, "vitdemo-pictures-old/abc/star_p16.png", 10, age_s=2 * HOUR)
    recent = put(tmp_path, "sha-new/photo.jpg", 10, age_s=60)  # maybe another instance's, still in use
    kept = put(tmp_path, "sha-example/cat.jpg", 10, age_s=2 * HOUR)
    assert remove_leftovers(tmp_path, HOUR, keep={str(kept)}) == 2
    assert not old_upload.exists() and not old_picture.exists()
    assert not (tmp_path / "vitdemo-pictures-old").exists()
    assert recent.exists() and kept.exists()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.server
@pytest.mark.slow
def test_app_removes_leftovers_at_start_and_cleans_up_on_sigterm(tmp_path):
    folder = tmp_path / "gradio"
    old_upload = put(folder, "sha-old/photo.jpg", 10, age_s=2 * HOUR)
    old_pictures = put(folder, "vitdemo-pictures-old/abc/star_p16.png", 10, age_s=2 * HOUR)
    others = put(folder, "sha-other/photo.jpg", 10, age_s=60)  # another instance's: not ours to delete
    port = free_port()
    env = {**os.environ, "GRADIO_TEMP_DIR": str(folder), "HF_HUB_OFFLINE": "1", "VITDEMO_DEVICE": "cpu",
           "GRADIO_SERVER_PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1"}
    process = subprocess.Popen([sys.executable, "app.py", "--model", "bundled"], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}/"
        wait_until_served(base, process)
        assert not old_upload.exists() and not old_pictures.exists() and others.exists()
        uploaded = httpx.post(base + "gradio_api/upload", files={"files": ("mine.png", b"png" * 100, "image/png")},
                              timeout=30).json()[0]
        assert Path(uploaded).exists()
        ours = [p for p in folder.glob("vitdemo-pictures-*") if p.name != "vitdemo-pictures-old"]
        assert len(ours) == 1
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 128 + signal.SIGTERM, output[-2000:]
    assert not Path(uploaded).exists() and not ours[0].exists()
    assert others.exists()


def wait_until_served(base: str, process: subprocess.Popen, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read()[-2000:]
        try:
            if httpx.get(base + "config", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)  # polling the server's state: it has no other way to say it is up
    raise AssertionError("app.py did not serve within the time limit")
