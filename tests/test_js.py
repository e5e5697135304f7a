"""The JavaScript's unit tests (tests/js/*.test.js, `node --test` from the repository root), run from pytest so
the README's one test command covers them. Node 20 runs them without any npm install; skipped without node."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NODE = shutil.which("node")


@pytest.mark.skipif(NODE is None, reason="node is missing (Node 20 runs the JavaScript tests)")
def test_the_javascript_unit_tests_pass():
    result = subprocess.run([NODE, "--test"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    ran = re.search(r"^# tests (\d+)$", result.stdout, re.MULTILINE)
    assert ran and int(ran.group(1)) >= 9, f"node found too few tests:\n{result.stdout[-2000:]}"
