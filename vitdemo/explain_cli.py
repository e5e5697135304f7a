"""`python -m vitdemo explain DIR --out OUT`: every image under DIR explained, one map each, one table.

For a folder, not an upload at a time (issue 26): every file under DIR (recursively) gets its map as a PNG
under OUT and a row in `OUT/results.csv` (`vitdemo.batch.files`: file, label, probability, error, top-5, the
method's deletion and insertion AUCs). Images go through the model in batches (`--batch-size`), the next
batch decoded while this one runs; a file that cannot be read is a row with one sentence and the run goes
on; a second run with the same OUT skips the files already explained. The last line is "N explained,
M failed" (this run's files), the exit status 0 once the run went through the folder, 2 for a refused
command line (one line on stderr, as `figure` does: the same checks, `vitdemo.app.validation`).
`--layer` counts from 1, as the page, the API and `figure` do.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from .figure_cli import DEFAULT_MODEL, _refuse

DEFAULT_BATCH = 16


def add_explain_arguments(parser: argparse.ArgumentParser) -> None:
    from . import methods
    from .app.choices import method_choices

    parser.add_argument("folder", metavar="DIR", help="the folder of pictures, read recursively")
    parser.add_argument("--out", required=True, metavar="OUT", help="where the maps (OUT/<file>.png) and "
                        "OUT/results.csv go; a second run with the same OUT skips what is done")
    parser.add_argument("--model", default=DEFAULT_MODEL, help="a hub id, a local folder or 'bundled' (default: "
                        "%(default)s, which works offline)")
    parser.add_argument("--patch-size", default=None, metavar="P", help="pixels per patch side (default: the "
                        "model's own)")
    parser.add_argument("--method", default="attention", help=f"{', '.join(method_choices())}; class methods "
                        "explain the top-1 (default: %(default)s)")
    chained = ", ".join(m.name for m in methods.rows() if m.chains_layers)
    parser.add_argument("--layer", default=None, metavar="L", help=f"counted from 1, as on the page; for {chained} "
                        "the last layer accumulated (default: the last)")
    parser.add_argument("--no-scores", action="store_true", help="leave out the deletion and insertion AUCs (about "
                        "nine forwards per image: without them the run goes at the forward's speed); their "
                        "columns stay, empty")
    parser.add_argument("--batch-size", default=str(DEFAULT_BATCH), metavar="B", help="images per forward "
                        "(default: %(default)s)")
    parser.error = lambda message: sys.exit(_refuse(f"{parser.prog}: {message}"))  # type: ignore[method-assign]


def run_explain(args: argparse.Namespace, argv: object = None) -> int:
    """Check the command line, load the model, explain what is not done yet; "N explained, M failed"."""
    from .app import validation

    folder, out = Path(args.folder), Path(args.out)
    try:
        if not folder.is_dir():
            raise ValueError(f"{args.folder}: no such folder")
        method = validation.method(args.method)
        batch = validation.whole(args.batch_size, "batch size", 1, 4096)
    except ValueError as exc:
        return _refuse(str(exc))
    import vitdemo

    from . import methods
    from .batch.run import Job

    try:
        model = vitdemo.load(args.model)
        config = model.config
        patch = validation.patch_size_of(args.patch_size, config)
        layer = validation.layer_index(validation.layer(args.layer, config.depth), config.depth)
        if methods.method(method).needs_class and not config.num_classes:
            raise ValueError(f"{method} explains a class, and this model has no classifier: use attention or "
                             "rollout")
    except (ValueError, OSError) as exc:
        return _refuse(str(exc))
    job = Job(method, layer, patch, args.model, faithfulness=not args.no_scores)
    explained, failed = explain_folder(model, folder, out, job, batch)
    print(f"{explained} explained, {failed} failed")
    return 0


def explain_folder(model: Any, folder: Path, out: Path, job: Any, batch: int, progress: bool = True) -> tuple[int, int]:
    """(explained, failed) of this run over `folder`, skipping the files `out` already holds."""
    from tqdm import tqdm

    from .batch import files

    paths = {files.name_of(path, folder): path for path in files.images_under(folder, out)}
    done = {name: row for name, row in files.finished(out, job.settings()).items() if name in paths}
    files.start_table(out, done.values())
    if done:
        print(f"{len(done)} already explained in {out / files.RESULTS}: skipped", file=sys.stderr)
    todo = [(name, path) for name, path in paths.items() if name not in done]
    explained = failed = 0
    with tqdm(total=len(todo), unit="img", disable=not progress, file=sys.stderr) as bar:
        for rows in batches_explained(model, list(files.chunks(todo, batch)), job, out):
            files.append_rows(out, rows)
            failed += sum(1 for row in rows if row["error"])
            explained += sum(1 for row in rows if not row["error"])
            bar.update(len(rows))
    return explained, failed


def batches_explained(model: Any, chunks: list[list[tuple[str, Path]]], job: Any, out: Path) -> Iterator[list[dict]]:
    """Each chunk's rows in turn, the next chunk's files decoded (a thread) while this one runs on the model."""
    with ThreadPoolExecutor(max_workers=1) as reader:
        pending = reader.submit(read_chunk, chunks[0]) if chunks else None
        for i in range(len(chunks)):
            items = pending.result()
            pending = reader.submit(read_chunk, chunks[i + 1]) if i + 1 < len(chunks) else None
            yield rows_of(model, items, job, out)


def read_chunk(chunk: list[tuple[str, Path]]) -> list[tuple[str, Any]]:
    """[(name, picture or the sentence that says why there is none)]."""
    from .batch.run import decoded

    return [(name, decoded(path)) for name, path in chunk]


def rows_of(model: Any, items: list[tuple[str, Any]], job: Any, out: Path) -> list[dict]:
    """The rows of one decoded chunk: the unreadable files' errors, then the batch's (one forward)."""
    from .batch.run import error_row, explain_batch

    good = [(name, image) for name, image in items if not isinstance(image, str)]
    rows = [error_row(name, job, image) for name, image in items if isinstance(image, str)]
    try:
        rows += explain_batch(model, good, job, out) if good else []
    except (RuntimeError, ValueError) as exc:  # the batch's forward: out of memory, an odd model
        rows += [error_row(name, job, f"the model could not run on it: {exc}") for name, _ in good]
    order = {name: i for i, (name, _) in enumerate(items)}
    return sorted(rows, key=lambda row: order[row["file"]])  # the table in the folder's order
