"""The load test's machinery on a tiny budget: 2 concurrent gradio_client users, 5 requests each, 0 errors.

The full run (`python benchmarks/load_test.py`: 8 users, 300 requests, a separate app process) is a benchmark;
this keeps its parts honest in the suite. The app runs in-process on a small random model to stay fast.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

from app_client import example_images, model_choices  # noqa: E402
from app_server import free_port, rss_mb  # noqa: E402
from load_test import KINDS, Budget, percentile, report, run_users, warm_up  # noqa: E402

from vitdemo.checkpoint import save  # noqa: E402
from vitdemo.config import ViTConfig  # noqa: E402
from vitdemo.model import ViT  # noqa: E402


@pytest.fixture(scope="module")
def small_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    config = ViTConfig(image_size=48, patch_size=16, dim=32, depth=2, heads=2, mlp_dim=64, num_classes=5,
                       patch_sizes=(8, 16), name="smoke")
    return save(ViT(config), tmp_path_factory.mktemp("smoke-model"))


@pytest.fixture(scope="module")
def app_url(small_model_dir: Path):
    from vitdemo.app import build_app, launch_options

    demo = build_app(str(small_model_dir))
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, **launch_options())
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.close()


@pytest.mark.slow  # ~15 s on 2 busy cores: starting Gradio is most of it
def test_two_users_five_requests_each_without_errors(app_url: str, small_model_dir: Path, tmp_path: Path):
    images = example_images(tmp_path)
    choices = model_choices(str(small_model_dir))
    assert choices.patch_sizes == [8, 16] and choices.layers == [1, 2]  # counted from 1, as on the page
    warm_up(app_url, images, str(tmp_path))
    samples, wall_s = run_users(app_url, images, choices, users=2, requests=10, seconds=60,
                                download_dir=str(tmp_path))
    assert [s.error for s in samples if s.error] == []
    assert len(samples) == 10 and {s.kind for s in samples} <= set(KINDS)
    table = report(samples, wall_s)
    assert table[-1].startswith("| all | 10 | 0 |")
    assert rss_mb(os.getpid()) > 10  # the memory probe reads this process too


def test_budget_stops_at_the_count_and_at_the_deadline():
    budget = Budget(3, seconds=60)
    assert [budget.take() for _ in range(5)] == [True, True, True, False, False]
    assert Budget(100, seconds=0).take() is False


def test_percentile_is_nearest_rank():
    values = list(range(1, 101))
    assert percentile(values, 50) == 50 and percentile(values, 95) == 95 and percentile([7.0], 95) == 7.0
