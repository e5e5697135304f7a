"""The folder side of the folder command: which files to read, where each map goes, and the results table.

Every non-hidden file under DIR is a candidate whatever its suffix (a photo named `.jpeg.bak` is still a
photo; a `.txt` becomes an error row saying it is no image), except anything under OUT when OUT lies inside
DIR. Files are named by their path relative to DIR with "/" (the same on every system), and each map is
written at that path plus ".png" under OUT (`a/b.jpg` → `OUT/a/b.jpg.png`), so two files that differ only
in suffix keep two maps.

`results.csv` is appended to after every batch, so an interrupted run keeps what it finished; a new run
rewrites it with the finished rows only (a file that failed is tried again: it may have been fixed).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from pathlib import Path

RESULTS = "results.csv"
TOP = 5
COLUMNS = ("file", "label", "probability", "error", "top5", "model", "method", "layer", "patch_size",
           "deletion_auc", "insertion_auc", "map")
SETTINGS = ("model", "method", "layer", "patch_size")  # a row is done for a run with the same settings only
Row = dict[str, str]


def images_under(folder: Path, out: Path) -> list[Path]:
    """Every non-hidden file under `folder`, recursively, in sorted order, leaving out `out` and what it holds."""
    out = out.resolve()
    found = []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if any(part.startswith(".") for part in relative.parts) or not path.is_file():
            continue
        if path.resolve() == out or out in path.resolve().parents:
            continue
        found.append(path)
    return found


def name_of(path: Path, folder: Path) -> str:
    """The file's name in the table: its path under `folder`, with "/"."""
    return path.relative_to(folder).as_posix()


def map_path(out: Path, name: str) -> Path:
    """Where the map of the file named `name` is written."""
    return out / f"{name}.png"


def finished(out: Path, settings: Row) -> dict[str, Row]:
    """{file: row} of the files a previous run explained with the same `settings` (model, method, layer, patch
    size) whose map is still there; the others are explained again (and their maps rewritten)."""
    table = out / RESULTS
    if not table.is_file():
        return {}
    with table.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return {row["file"]: row for row in rows
            if row.get("file") and not row.get("error") and map_path(out, row["file"]).is_file()
            and all(row.get(key) == settings[key] for key in SETTINGS)}


def start_table(out: Path, kept: Iterable[Row]) -> None:
    """Rewrite the table with its header and the `kept` rows (the finished ones)."""
    out.mkdir(parents=True, exist_ok=True)
    with (out / RESULTS).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(kept)


def append_rows(out: Path, rows: Iterable[Row]) -> None:
    """Add `rows` to the table, flushed at once (an interrupted run keeps them)."""
    with (out / RESULTS).open("a", newline="", encoding="utf-8") as handle:
        csv.DictWriter(handle, COLUMNS, extrasaction="ignore").writerows(rows)


def top5_text(top: Iterable[tuple[str, float]]) -> str:
    """The top-5 in one cell: "star=0.9123; circle=0.0312; …" (labels as the model has them)."""
    return "; ".join(f"{label}={p:.4f}" for label, p in top)


def chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]
