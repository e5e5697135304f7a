"""Fuzz the upload path for longer than the test suite does.

Usage:
    python benchmarks/fuzz_uploads.py --seconds 600          # the documented long run
    python benchmarks/fuzz_uploads.py --seconds 60 --seed 7 --save-failures /tmp/upload-failures

The inputs come from the same hypothesis strategies as tests/test_uploads.py (see tests/bad_inputs.py):
random bytes, format signatures followed by noise, and valid PNG/JPEG/GIF/WebP/BMP/TIFF/MPO files with
random flips, inserts, deletions and truncations. Every input is checked against the contract the app
relies on: `decode_image` returns an RGB image or raises `ImageInputError` with a short message, and
takes under --max-seconds. Anything else is a failure. The run prints the number of examples, the
failures (must be 0) and the slowest decodes, and exits with status 1 if anything failed.

Hypothesis runs in batches that only generate (no shrinking, no example database), so a failure is recorded
and the run goes on. Batch i uses seed `--seed + i`, so a run can be repeated. libtiff's own messages
about corrupt TIFFs (one line each, written by C code to stderr) are silenced during the run.
"""

from __future__ import annotations

import argparse
import contextlib
import heapq
import os
import sys
import time
import warnings
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # runnable from anywhere: vitdemo and the shared corpus

import hypothesis  # noqa: E402
from bad_inputs import fuzz_uploads  # noqa: E402
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from PIL import Image  # noqa: E402

from vitdemo.app.uploads import ImageInputError, decode_image  # noqa: E402

BATCH = 500  # examples per hypothesis run; small enough to stop close to the time limit
REFUSAL_KINDS = ("not an image", "damaged", "too large", "no pixels", "empty", "colour mode")


@dataclass
class Tally:
    """What the fuzz run saw: outcomes, failures with their inputs, and the slowest decodes."""

    examples: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    failures: list[tuple[str, bytes]] = field(default_factory=list)
    slowest: list[tuple[float, int, str]] = field(default_factory=list)  # a min-heap of the top 5

    def record(self, data: bytes, outcome: str, seconds: float, problem: str | None) -> None:
        self.examples += 1
        self.outcomes[outcome] += 1
        if problem is not None:
            self.failures.append((problem, data))
        heapq.heappush(self.slowest, (seconds, len(data), outcome))
        if len(self.slowest) > 5:
            heapq.heappop(self.slowest)


def check(data: bytes, tally: Tally, max_seconds: float) -> None:
    """Decode one input and record whether it kept the contract."""
    start = time.perf_counter()
    problem = None
    try:
        image = decode_image(data)
        outcome = "decoded"
        if type(image) is not Image.Image or image.mode != "RGB":
            problem = f"returned {image!r}"
    except ImageInputError as error:
        message = str(error)
        outcome = "refused: " + next((kind for kind in REFUSAL_KINDS if kind in message), message[:40])
        if len(message) > 300 or "\n" in message:
            problem = f"unfriendly message: {message!r}"
    except Exception as error:  # exactly the bug this script hunts for
        outcome, problem = "crashed", f"{type(error).__name__}: {error}"
    seconds = time.perf_counter() - start
    if problem is None and seconds > max_seconds:
        problem = f"took {seconds:.2f} s"
    tally.record(data, outcome, seconds, problem)


def run_batch(seed: int, tally: Tally, max_seconds: float) -> None:
    """One hypothesis run of BATCH examples, generation only, with a fixed seed."""

    @hypothesis.seed(seed)
    @settings(max_examples=BATCH, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(fuzz_uploads())
    def batch(data: bytes) -> None:
        check(data, tally, max_seconds)

    batch()


@contextlib.contextmanager
def c_stderr_silenced() -> Iterator[None]:
    """Point file descriptor 2 at /dev/null: libtiff writes there directly, bypassing sys.stderr."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def report(tally: Tally, seconds: float, save_to: Path | None) -> None:
    print(f"upload fuzz: {tally.examples} examples in {seconds:.0f} s, {len(tally.failures)} failures")
    for outcome, count in tally.outcomes.most_common():
        print(f"  {outcome:28s} {count:8d}  ({count / max(tally.examples, 1):.1%})")
    print("slowest decodes:")
    for took, size, outcome in sorted(tally.slowest, reverse=True):
        print(f"  {took * 1000:8.1f} ms  {size:7d} bytes  {outcome}")
    for number, (problem, data) in enumerate(tally.failures):
        if number < 10:
            print(f"FAILURE {number}: {problem} (input of {len(data)} bytes, starts {data[:16]!r})")
        if save_to is not None:
            save_to.mkdir(parents=True, exist_ok=True)
            (save_to / f"failure-{number:03d}.bin").write_bytes(data)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=600.0, help="how long to fuzz (default 600)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first batch (default 0)")
    parser.add_argument("--max-seconds", type=float, default=2.0,
                        help="a single decode slower than this is a failure (default 2)")
    parser.add_argument("--save-failures", type=Path, help="write each failing input to this folder")
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # PIL warns about broken EXIF and huge headers; we count outcomes instead

    tally, start, batch = Tally(), time.perf_counter(), 0
    next_progress = start + 30
    with c_stderr_silenced():
        while time.perf_counter() - start < args.seconds:
            run_batch(args.seed + batch, tally, args.max_seconds)
            batch += 1
            if time.perf_counter() > next_progress:
                print(f"  ... {tally.examples} examples, {len(tally.failures)} failures", flush=True)
                next_progress += 30
    report(tally, time.perf_counter() - start, args.save_failures)
    return 1 if tally.failures else 0


if __name__ == "__main__":
    sys.exit(main())
