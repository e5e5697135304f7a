"""How long `python -m vitdemo figure` takes, per format, in a fresh process as a user runs it (target: ≤ 3 s
for the bundled model), and where the time goes.

    python benchmarks/bench_figure.py                # 3 rounds per format, ~1 min on 2 cores
    python benchmarks/bench_figure.py --rounds 5 --image assets/examples/cat.jpg

The formats run interleaved (round-robin) so background load hits all alike; the table gives the median and
the best wall time of the whole command (interpreter start to exit). The breakdown then times each stage
once in this process: importing torch and vitdemo, the command's argument checks, loading the model, the
forward pass, importing matplotlib, and drawing + writing each format (maps already computed).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere
FORMATS = ("png", "svg", "pdf", "gif")


def command_times(image: Path, rounds: int, method: str) -> dict[str, list[tuple[float, float]]]:
    """(wall, CPU) seconds of the whole command per format, the formats interleaved round by round.

    CPU time (user + system of the child) moves less with background load than wall time does."""
    times: dict[str, list[tuple[float, float]]] = {fmt: [] for fmt in FORMATS}
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(rounds):
            for fmt in FORMATS:
                out = Path(folder) / f"figure.{fmt}"
                before, started = _child_cpu(), time.perf_counter()
                subprocess.run([sys.executable, "-m", "vitdemo", "figure", str(image), "--method", method,
                                "--out", str(out)], check=True, env=env, capture_output=True)
                times[fmt].append((time.perf_counter() - started, _child_cpu() - before))
    return times


def _child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def breakdown(image: Path, method: str) -> list[tuple[str, float]]:
    """(stage, seconds) of one figure in this process, each stage once (the first import is the cold one)."""
    stages = []
    started = time.perf_counter()
    import torch  # noqa: F401  (vitdemo imports it lazily: count it here)

    import vitdemo
    stages.append(("import torch + vitdemo", time.perf_counter() - started))
    started = time.perf_counter()
    from vitdemo.app import validation

    validation.method(method), validation.fraction("0.6", "opacity"), validation.layer(None, 6)
    stages.append(("check the arguments (vitdemo.app.validation)", time.perf_counter() - started))
    started = time.perf_counter()
    model = vitdemo.load("bundled")
    stages.append(("load the bundled model", time.perf_counter() - started))
    from PIL import Image

    started = time.perf_counter()
    analysis = vitdemo.analyze(model, Image.open(image).convert("RGB"))
    stages.append(("forward pass (analyze)", time.perf_counter() - started))
    started = time.perf_counter()
    import matplotlib.figure  # noqa: F401

    from vitdemo.explain.figure import FigureView, figure_bytes
    stages.append(("import matplotlib", time.perf_counter() - started))
    view = FigureView(method=method)
    for fmt in FORMATS:
        started = time.perf_counter()
        figure_bytes(analysis, fmt, view, title="vitdemo-bundled")
        stages.append((f"draw + encode {fmt}", time.perf_counter() - started))
    return stages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--image", type=Path, default=ROOT / "assets" / "examples" / "shape_star.png")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--method", default="rollout")
    args = parser.parse_args()
    print(f"load average at the start: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)")
    times = command_times(args.image, args.rounds, args.method)
    print(f"\n`python -m vitdemo figure {args.image.name} --method {args.method} --out figure.FMT`, bundled model, "
          f"{args.rounds} rounds, wall time of the whole process\n")
    print("| format | wall median (s) | wall best (s) | CPU median (s) | target ≤ 3 s wall |\n|---|---|---|---|---|")
    for fmt, values in times.items():
        walls, cpus = [w for w, _ in values], [c for _, c in values]
        median = statistics.median(walls)
        print(f"| {fmt} | {median:.2f} | {min(walls):.2f} | {statistics.median(cpus):.2f} | "
              f"{'met' if median <= 3.0 else '**not met**'} |")
    print("\nWhere the time goes (one figure in this process):\n\n| stage | s |\n|---|---|")
    for stage, seconds in breakdown(args.image, args.method):
        print(f"| {stage} | {seconds:.2f} |")
    print(f"\nload average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
