"""The GPU check script in its small CPU mode: every section runs and reports what it should.

No GPU is needed: `--device cpu --quick` runs the same code paths as the GPU run (families, explorer bundle,
faithfulness, torchrun training, throughput against transformers) on small random models.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
pytestmark = pytest.mark.slow  # the module fixture runs every section of the script once


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> str:
    import gpu_bench

    out = tmp_path_factory.mktemp("gpu") / "gpu_results.md"
    gpu_bench.main(["--device", "cpu", "--quick", "--out", str(out)])
    return out.read_text()


def test_every_family_agrees_with_transformers_in_fp32(report: str) -> None:
    rows = {line.split(" (")[0].strip("| "): line for line in report.splitlines()
            if line.startswith(("| vit (", "| deit (", "| dino (", "| dinov2 (", "| registers (", "| flexivit"))}
    assert set(rows) == {"vit", "deit", "dino", "dinov2", "registers", "flexivit"}
    for family in ("vit", "deit", "dino", "dinov2", "registers"):
        logits, attention = map(float, re.search(r"\| ([\d.e+-]+) / ([\d.e+-]+) \|", rows[family]).groups())
        assert logits < 1e-4 and attention < 1e-4, rows[family]
    assert "finite: True" in rows["flexivit"]
    assert "| 785 |" in rows["dino"] and "| 261 |" in rows["registers"]  # patch 8; 4 registers + class + 16²


def test_explorer_faithfulness_and_training_sections(report: str) -> None:
    assert "| patch 16, 197 tokens (AUCs in [0, 1]: True) |" in report
    assert "| patch 8, 785 tokens (AUCs in [0, 1]: True) |" in report
    training = next(line for line in report.splitlines() if "torch.distributed.run" in line)
    assert "| 0 | True |" in training, training  # exit status 0, checkpoint written


def test_throughput_rows_compare_with_transformers(report: str) -> None:
    rows = [line for line in report.splitlines() if re.match(r"\| [12] \| (fp32|bf16) \| [\d.,]+ \| [\d.,]+ \|", line)]
    assert len(rows) == 4, rows
    for row in rows:
        ours, theirs = (float(v.replace(",", "")) for v in row.split("|")[3:5])
        assert ours > 0 and theirs > 0
    assert "max |Δ| = " in report and "top-1 agreement 100%" in report
