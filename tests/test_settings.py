"""Settings come from one module, read when asked (so a changed variable takes effect), and a bad value is
refused with a sentence naming the variable. And no test ever sees the developer's own Hugging Face cache."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from vitdemo.settings import BUNDLED_DIR, ROOT, SettingsError, settings


def test_defaults_without_any_variable() -> None:
    now = settings({})
    assert (now.model, now.device, now.precision, now.concurrency) == (None, None, "auto", None)
    assert (now.queue_size, now.cache_items, now.cache_mb, now.max_models) == (64, 32, 1024.0, 2)
    assert (now.picture_dir, now.picture_files, now.sessions, now.upload_mb) == (None, 512, 1024, 1024)
    assert now.busy_seconds == 5.0
    assert (now.hub_offline, now.zero_gpu, now.host, now.port) == (False, False, "127.0.0.1", 7860)


def test_values_are_read_when_asked_not_at_import(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VITDEMO_MAX_MODELS", "5")
    monkeypatch.setenv("VITDEMO_PRECISION", " BF16 ")
    monkeypatch.setenv("VITDEMO_PICTURE_DIR", "/srv/pictures")
    now = settings()
    assert (now.max_models, now.precision, now.picture_dir) == (5, "bf16", Path("/srv/pictures"))
    from vitdemo.app.pool import ModelPool

    assert ModelPool(loader=lambda source: source).capacity == 5


@pytest.mark.parametrize(("name", "value", "expected"), [
    ("VITDEMO_CONCURRENCY", "lots", "VITDEMO_CONCURRENCY must be a whole number of at least 1, not 'lots'."),
    ("VITDEMO_CONCURRENCY", "0", "VITDEMO_CONCURRENCY must be a whole number of at least 1, not '0'."),
    ("VITDEMO_CACHE_MB", "inf", "VITDEMO_CACHE_MB must be a positive number, not 'inf'."),
    ("VITDEMO_BUSY_SECONDS", "0", "VITDEMO_BUSY_SECONDS must be a positive number, not '0'."),
    ("VITDEMO_PRECISION", "fp8", "VITDEMO_PRECISION must be one of auto, fp32, bf16, fp16, not 'fp8'."),
])
def test_a_bad_value_names_the_variable(name: str, value: str, expected: str) -> None:
    with pytest.raises(SettingsError) as caught:
        settings({name: value})
    assert str(caught.value) == expected


def test_truthy_offline_flag_and_paths() -> None:
    assert settings({"HF_HUB_OFFLINE": "TRUE"}).hub_offline and not settings({"HF_HUB_OFFLINE": "0"}).hub_offline
    assert BUNDLED_DIR == ROOT / "assets" / "bundled" and (BUNDLED_DIR / "config.json").is_file()


def test_tests_run_on_an_empty_hub_cache_of_their_own(empty_hub_cache: Path) -> None:
    import huggingface_hub.constants as constants

    assert constants.HF_HUB_CACHE == os.environ["HF_HUB_CACHE"] == str(empty_hub_cache)
    assert list(empty_hub_cache.iterdir()) == []
    assert not str(empty_hub_cache).startswith(str(Path.home() / ".cache"))
