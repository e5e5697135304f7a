"""Issue 26 item 2: `python -m vitdemo explain DIR --out OUT` over a folder with a nested folder, a file that is
text and a PNG cut short, then again with the same OUT.

Expected values come from the library on each image alone (`vitdemo.analyze`, `Analysis.faithfulness`, the
one-image deletion/insertion of explain/faithfulness.py) and from the bundled config.json (depth 6): the
command batches images through the model, the library does not, so agreement checks the batching.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import vitdemo
from vitdemo.__main__ import main
from vitdemo.batch.curves import batched_aucs
from vitdemo.explain import render
from vitdemo.explain.faithfulness import perturbation_curves

pytestmark = pytest.mark.slow  # the bundled model on a few images, several times: tens of seconds on a busy CPU

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "assets" / "examples"
DEPTH = json.loads((ROOT / "assets" / "bundled" / "config.json").read_text())["config"]["depth"]


@pytest.fixture(scope="module")
def model():
    return vitdemo.load("bundled")  # as the command loads it (bf16 where the CPU has it)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    images = tmp_path / "images"
    (images / "nested" / "deeper").mkdir(parents=True)
    shutil.copy(EXAMPLES / "shape_star.png", images / "star.png")
    shutil.copy(EXAMPLES / "shape_triangle.png", images / "nested" / "triangle.png")
    shutil.copy(EXAMPLES / "cat.jpg", images / "nested" / "deeper" / "cat.jpg")
    (images / "nested" / "notes.jpg").write_text("not a picture")
    (images / "cut.png").write_bytes((EXAMPLES / "shape_star.png").read_bytes()[:300])
    (images / ".hidden.png").write_bytes((EXAMPLES / "shape_star.png").read_bytes())  # left out
    return images


def run(capsys, *argv: str) -> tuple[int, list[str], str]:
    code = main(["explain", *argv])
    said = capsys.readouterr()
    return code, said.out.strip().splitlines(), said.err


def table(out: Path) -> dict[str, dict[str, str]]:
    with (out / "results.csv").open(newline="", encoding="utf-8") as handle:
        return {row["file"]: row for row in csv.DictReader(handle)}


def test_a_folder_with_a_broken_file_and_a_nested_folder_then_a_second_run(folder, tmp_path, capsys, model):
    out = tmp_path / "out"
    code, lines, err = run(capsys, str(folder), "--out", str(out), "--method", "rollout", "--batch-size", "2")
    assert code == 0 and lines[-1] == "3 explained, 2 failed", (lines, err)
    assert "img/s" in err or "s/img" in err  # tqdm's rate
    rows = table(out)
    assert set(rows) == {"star.png", "nested/triangle.png", "nested/deeper/cat.jpg", "nested/notes.jpg", "cut.png"}
    for name in ("nested/notes.jpg", "cut.png"):
        error = rows[name]["error"]
        assert error.endswith(".") and error.count(". ") == 0 and "\n" not in error, error  # one sentence
        assert rows[name]["label"] == "" and not (out / f"{name}.png").exists()
    assert "damaged or incomplete" in rows["cut.png"]["error"]
    for name, shape in (("star.png", "star"), ("nested/triangle.png", "triangle"), ("nested/deeper/cat.jpg", None)):
        row, image = rows[name], Image.open(folder / name)
        alone = vitdemo.analyze(model, image)
        top = alone.top(5)
        assert row["error"] == "" and row["label"] == top[0][0] and (shape is None or row["label"] == shape)
        assert float(row["probability"]) == pytest.approx(top[0][1], abs=2e-6)
        assert row["top5"].split("; ")[0].split("=")[0] == top[0][0] and len(row["top5"].split("; ")) == 5
        settings = (row["method"], row["layer"], row["patch_size"], row["model"])
        assert settings == ("rollout", str(DEPTH), "16", "bundled")
        reference = alone.faithfulness("rollout")
        assert float(row["deletion_auc"]) == pytest.approx(reference.deletion_auc, abs=2e-5)
        assert float(row["insertion_auc"]) == pytest.approx(reference.insertion_auc, abs=2e-5)
        drawn = np.asarray(Image.open(out / row["map"]).convert("RGB"), dtype=np.int16)
        expected = np.asarray(render.overlay(alone, alone.attention_map("rollout")), dtype=np.int16)
        assert row["map"] == f"{name}.png" and drawn.shape == expected.shape
        assert np.abs(drawn - expected).max() <= 2  # the same map, to float rounding at colour boundaries

    stamps = {name: (out / f"{name}.png").stat().st_mtime_ns for name in ("star.png", "nested/triangle.png")}
    code, lines, err = run(capsys, str(folder), "--out", str(out), "--method", "rollout", "--batch-size", "2")
    assert code == 0 and lines[-1] == "0 explained, 2 failed", (lines, err)
    assert "3 already explained" in err
    assert {name: (out / f"{name}.png").stat().st_mtime_ns for name in stamps} == stamps
    assert set(table(out)) == set(rows) and len(table(out)) == 5  # no row twice

    code, lines, _ = run(capsys, str(folder), "--out", str(out), "--method", "attention", "--layer", "1")
    assert code == 0 and lines[-1] == "3 explained, 2 failed"  # other settings: explained again
    row = table(out)["star.png"]
    assert (row["method"], row["layer"]) == ("attention", "1")
    alone = vitdemo.analyze(model, Image.open(folder / "star.png"))
    drawn = np.asarray(Image.open(out / "star.png.png").convert("RGB"), dtype=np.int16)
    first = np.asarray(render.overlay(alone, alone.attention_map("attention", layer=0)), dtype=np.int16)
    assert np.abs(drawn - first).max() <= 2  # --layer 1 is the library's layer 0


def test_a_class_method_explains_the_top1(folder, tmp_path, capsys, model):
    out = tmp_path / "out"
    (folder / "nested" / "deeper" / "cat.jpg").unlink()
    code, lines, _ = run(capsys, str(folder), "--out", str(out), "--method", "relevance", "--batch-size", "4")
    assert code == 0 and lines[-1] == "2 explained, 2 failed"
    row = table(out)["nested/triangle.png"]
    alone = vitdemo.analyze(model, Image.open(folder / "nested" / "triangle.png"))
    assert float(row["deletion_auc"]) == pytest.approx(alone.faithfulness("relevance").deletion_auc, abs=2e-5)
    drawn = np.asarray(Image.open(out / row["map"]).convert("RGB"), dtype=np.int16)
    expected = np.asarray(render.overlay(alone, alone.attention_map("relevance")), dtype=np.int16)
    assert np.abs(drawn - expected).max() <= 2


@pytest.mark.parametrize(("argv", "said"), [
    (["--layer", "7"], "error: layer must be a whole number from 1 to 6, not '7'."),
    (["--layer", "0"], "error: layer must be a whole number from 1 to 6, not '0'."),
    (["--method", "magic"], "error: method must be one of"),
    (["--batch-size", "0"], "error: batch size must be a whole number from 1 to 4096, not '0'."),
])
def test_a_bad_command_line_is_one_line_and_status_2(folder, tmp_path, capsys, argv, said):
    code, lines, err = run(capsys, str(folder), "--out", str(tmp_path / "out"), *argv)
    assert code == 2 and err.strip().startswith(said) and len(err.strip().splitlines()) == 1, err


def test_batched_curves_equal_each_images_own(model):
    """Three images, random maps and different classes: the same AUCs as the library's one-image curves."""
    rng = np.random.default_rng(3)
    images = [Image.open(EXAMPLES / name) for name in ("shape_star.png", "shape_triangle.png", "cat.jpg")]
    inputs = torch.cat([vitdemo.analyze(model, image).inputs for image in images])
    maps = [rng.random((6, 6)).astype(np.float32) for _ in images]
    targets = [3, 2, 7]
    with torch.inference_mode():
        wholes = model(inputs, 16, output_attentions=False).logits.softmax(-1)
    got = batched_aucs(model, inputs, 16, maps, targets, [float(wholes[i, t]) for i, t in enumerate(targets)],
                       batch_size=5)
    for i, (deletion, insertion) in enumerate(got):
        own = perturbation_curves(model, inputs[i:i + 1], 16, {"m": maps[i]}, targets[i])["m"]
        assert deletion == pytest.approx(own.deletion_auc, abs=1e-5)
        assert insertion == pytest.approx(own.insertion_auc, abs=1e-5)


def test_no_scores_leaves_the_auc_columns_empty_and_keeps_the_rest(folder, tmp_path, capsys, model):
    out = tmp_path / "out"
    code, lines, _ = run(capsys, str(folder), "--out", str(out), "--no-scores")
    assert code == 0 and lines[-1] == "3 explained, 2 failed"
    row = table(out)["star.png"]
    assert row["deletion_auc"] == "" and row["insertion_auc"] == ""
    alone = vitdemo.analyze(model, Image.open(folder / "star.png"))
    assert row["label"] == alone.top(1)[0][0]
    assert float(row["probability"]) == pytest.approx(alone.top(1)[0][1], abs=2e-5)
