"""The load test's machinery on a tiny budget: 2 concurrent gradio_client users, 5 requests each, 0 errors.

The full run (`python benchmarks/load_test.py`: 8 users, 300 requests, a separate app process) is a benchmark;
this keeps its parts honest in the suite. It talks to the run's in-process app on the bundled model (served
once for every server test, tests/browser.py); the expected choices are read from the bundled config.json.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from app_client import example_images, model_choices  # noqa: E402
from app_server import rss_mb  # noqa: E402
from load_test import KINDS, Budget, percentile, report, run_users, warm_up  # noqa: E402

BUNDLED = json.loads((ROOT / "assets" / "bundled" / "config.json").read_text())["config"]


@pytest.mark.server
@pytest.mark.slow
def test_two_users_five_requests_each_without_errors(app: Any, tmp_path: Path):
    app_url = app.local_url
    images = example_images(tmp_path)
    choices = model_choices("bundled")
    assert choices.patch_sizes == BUNDLED["patch_sizes"]
    assert choices.layers == list(range(1, BUNDLED["depth"] + 1))  # counted from 1, as on the page
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
