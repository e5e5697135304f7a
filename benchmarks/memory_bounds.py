"""Peak memory of one upload through the app's path, for the worst shapes and modes the app accepts.

    python benchmarks/memory_bounds.py [--models bundled vit-b16] [--cases all] [--precision fp32]

Each case is a file written to a temporary folder, padded with trailing bytes to just under the upload
limit (decoders ignore bytes after the image's end, but the server holds all of them while decoding). Each
case then runs in a fresh process: the app's `Engine` loads the model and analyses a small picture (so the
model, torch's pools and the lazy imports are in place), then the peak is reset (`/proc/self/clear_refs`)
and the case goes through `Engine.decode` + `Engine.analysis`, as an /analyze request does. The table
reports the peak resident memory (VmHWM) minus the resident memory just before: what this one upload
costs the server. A fresh process per case, because memory freed by one case stays mapped and would be
reused by the next, hiding part of its cost.

"vit-b16" is a random ViT-B/16 built from transformers' `ViTConfig()` defaults and written with
`save_pretrained`, loaded the way the app loads a folder. tests/test_resources.py asserts the bundled
model's rows (≤ 300 MB) with the same code.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from vitdemo.app.uploads import DECODE_BUDGET, MAX_FILE_BYTES, MAX_PIXELS  # noqa: E402
from vitdemo.preprocessing import MAX_ASPECT_RATIO  # noqa: E402

ORIENTATION = 0x0112  # EXIF: 6 means "stored sideways, turn 90° clockwise to view"
MB = 2**20


@dataclass(frozen=True)
class Case:
    """One upload: what it is, and how to write it (mode, size, format, EXIF orientation)."""

    name: str
    mode: str
    size: tuple[int, int]
    fmt: str
    orientation: int = 1
    transparency: int | None = None  # a palette index drawn transparent (P images)
    params: tuple[tuple[str, object], ...] = ()  # more for PIL's save: lossless, progressive, strip_size ...


def largest(per_pixel: int, ratio: tuple[int, int] = (4, 3), reserve: int = 0) -> tuple[int, int]:
    """The largest `ratio`-shaped size whose decode estimate (`per_pixel` bytes each, plus `reserve` bytes)
    fits the budget."""
    pixels = min(MAX_PIXELS, (DECODE_BUDGET - reserve) // per_pixel)
    unit = int((pixels / (ratio[0] * ratio[1])) ** 0.5)
    return ratio[0] * unit, ratio[1] * unit


def _at_limit_ratio() -> tuple[int, int]:
    """The widest accepted shape (10:1) at the most pixels accepted (50 MP)."""
    short = int((MAX_PIXELS / MAX_ASPECT_RATIO) ** 0.5)
    return int(short * MAX_ASPECT_RATIO), short


CASES = (
    Case(f"{MAX_ASPECT_RATIO:g}:1 at {MAX_PIXELS / 1e6:g} MP, JPEG", "RGB", _at_limit_ratio(), "JPEG"),
    Case("50 MP photo (8160×6120), JPEG", "RGB", (8160, 6120), "JPEG"),
    Case("50 MP photo stored sideways (EXIF 6), JPEG", "RGB", (8160, 6120), "JPEG", orientation=6),
    Case("50 MP CMYK, JPEG", "CMYK", (8160, 6120), "JPEG"),
    Case("50 MP grey, PNG", "L", (8160, 6120), "PNG"),
    Case("50 MP RGB, PNG", "RGB", (8160, 6120), "PNG"),
    Case("largest RGB PNG stored sideways accepted", "RGB", largest(8), "PNG", orientation=6),
    Case("largest RGBA accepted, PNG", "RGBA", largest(8), "PNG"),
    Case("largest grey + alpha accepted, PNG", "LA", largest(12), "PNG"),
    Case("largest palette + transparency accepted, PNG", "P", largest(9), "PNG", transparency=0),
    Case("largest 16-bit grey accepted, PNG", "I;16", largest(8), "PNG"),
    Case("largest float32 grey accepted, TIFF", "F", largest(12), "TIFF"),
    Case("40000×1 strip, PNG (refused)", "L", (40_000, 1), "PNG"),
    Case("3×20000 strip, PNG (refused)", "L", (3, 20_000), "PNG"),
    # Every other accepted format at the most pixels its estimate lets through (issue 21), and beyond it:
    Case("49 MP WebP (7000×7000, the attack's file; refused)", "RGB", (7000, 7000), "WEBP"),
    Case("largest WebP accepted", "RGB", largest(16, reserve=MAX_FILE_BYTES), "WEBP"),
    Case("largest lossless WebP with alpha accepted", "RGBA", largest(20, reserve=MAX_FILE_BYTES), "WEBP",
         params=(("lossless", True),)),
    Case("50 MP GIF", "P", (8160, 6120), "GIF"),
    Case("largest GIF with transparency accepted", "P", largest(9), "GIF", transparency=0),
    Case("50 MP BMP, RLE-compressed palette", "P", (8160, 6120), "BMP-RLE8"),
    Case("largest 24-bit BMP under 20 MB", "RGB", (3040, 2290), "BMP"),
    Case("largest TIFF in one strip accepted", "RGB", largest(8), "TIFF",
         params=(("compression", "tiff_adobe_deflate"), ("strip_size", 2**31))),
    Case("50 MP progressive JPEG, 4:4:4 (refused)", "RGB", (8160, 6120), "JPEG",
         params=(("progressive", True), ("subsampling", 0))),
    Case("largest progressive JPEG accepted, 4:4:4", "RGB", largest(7), "JPEG",
         params=(("progressive", True), ("subsampling", 0))),
    Case("50 MP progressive JPEG, 4:2:0", "RGB", (8160, 6120), "JPEG", params=(("progressive", True),)),
)
# The ones tests/test_resources.py runs: the widest accepted shape, the largest photo both ways, the
# costliest conversion per pixel, a refused strip, and the costliest case of every other format.
TESTED = tuple(case for case in CASES if case.name.startswith(("10:1", "50 MP photo", "largest float32", "40000")))
PER_FORMAT = tuple(case for case in CASES if case.name.startswith((
    "49 MP WebP", "largest WebP", "largest lossless WebP", "largest GIF", "50 MP BMP", "largest 24-bit BMP",
    "largest TIFF in one strip", "largest progressive JPEG", "50 MP progressive JPEG, 4:2:0")))


def write_case(case: Case, folder: Path) -> Path:
    """The upload as a file in `folder`, padded with zero bytes after the image to 1 KB under the limit."""
    path = folder / f"case_{CASES.index(case)}.{case.fmt.lower()}"
    if case.fmt == "BMP-RLE8":
        path.write_bytes(rle8_bmp(case.size))
        return _padded(path)
    if case.mode == "P":
        image = Image.new("P", case.size, 1)
        image.putpalette([255, 0, 0, 0, 0, 255])
    else:
        image = Image.new(case.mode, case.size, _colour(case.mode))
    params: dict[str, object] = dict(case.params)
    if case.orientation != 1:
        exif = Image.Exif()
        exif[ORIENTATION] = case.orientation
        params["exif"] = exif
    if case.transparency is not None:
        params["transparency"] = case.transparency
    if case.fmt == "JPEG":
        params["quality"] = 90
    if case.fmt == "TIFF":
        params["compression"] = "tiff_adobe_deflate"
    image.save(path, case.fmt, **params)
    del image
    return _padded(path)


def _padded(path: Path) -> Path:
    with open(path, "ab") as file:
        file.truncate(max(path.stat().st_size, MAX_FILE_BYTES - 1024))
    return path


def rle8_bmp(size: tuple[int, int]) -> bytes:
    """A palette BMP compressed with RLE8, every row runs of 255 pixels of one colour: a 50 MP picture in a
    few hundred KB (PIL reads such files but does not write them)."""
    width, height = size
    row = bytearray()
    for start in range(0, width, 255):
        row += bytes([min(255, width - start), 1])
    rows = bytes(row + b"\x00\x00") * height + b"\x00\x01"  # end of line each row, end of bitmap
    palette = bytes([200, 120, 40, 0, 40, 120, 200, 0]) + bytes(4 * 254)
    offset = 14 + 40 + len(palette)
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 8, 1, len(rows), 2835, 2835, 256, 0)
    return b"BM" + struct.pack("<IHHI", offset + len(rows), 0, 0, offset) + info + palette + rows


def _colour(mode: str) -> object:
    return {"RGB": (40, 120, 200), "RGBA": (40, 120, 200, 128), "LA": (90, 128), "CMYK": (10, 60, 0, 20),
            "F": 0.5, "I;16": 30000}.get(mode, 128)


def measure(model: str, path: Path, precision: str | None = None, timeout_s: float = 300.0) -> dict:
    """Run one upload in a fresh process (see the module docstring); its JSON report as a dict."""
    done = subprocess.run([sys.executable, __file__, "--child", model, str(path)], capture_output=True,
                          text=True, timeout=timeout_s, cwd=ROOT, env=_child_env(precision))
    if done.returncode != 0:
        raise RuntimeError(f"measuring {path.name} on {model} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _child_env(precision: str | None) -> dict[str, str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "VITDEMO_DEVICE": "cpu", "PYTHONPATH": str(ROOT)}
    if precision:
        env["VITDEMO_PRECISION"] = precision
    return env


def status_mb(field: str, pid: int | str = "self") -> float:
    """One memory line of /proc/<pid>/status (VmRSS, VmHWM), in MB."""
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) / 1024 for line in status if line.startswith(field + ":"))


def peak_resettable(pid: int | str = "self") -> bool:
    """Reset the peak (VmHWM) of process `pid` to its resident memory now; → whether this kernel allows it,
    which every measurement needs."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as file:
            file.write("5")
        return True
    except OSError:
        return False


def child(model: str, path: str) -> None:
    """The measured process: warm up, reset the peak, one upload through `Engine`, print JSON."""
    from vitdemo.app.models import choose_startup
    from vitdemo.app.service import Engine
    from vitdemo.app.uploads import ImageInputError

    engine = Engine(choose_startup(model))
    with tempfile.TemporaryDirectory() as tmp:
        warm = Path(tmp) / "warm.png"
        Image.new("RGB", (320, 240), (200, 30, 30)).save(warm)
        engine.analysis(engine.decode(str(warm)))
    gc.collect()
    before = status_mb("VmRSS")
    with open("/proc/self/clear_refs", "w") as file:
        file.write("5")
    start = time.perf_counter()
    try:
        image = engine.decode(path)
        engine.analysis(image)
        outcome = f"decoded at {image.width}×{image.height}"
    except ImageInputError as error:
        outcome = f"refused: {str(error).split(' Accepted:')[0]}"
    seconds = time.perf_counter() - start
    print(json.dumps({"growth_mb": status_mb("VmHWM") - before, "before_mb": before, "seconds": seconds,
                      "outcome": outcome, "precision": str(engine.model().dtype).replace("torch.", "")}))


def random_vit_b16(folder: Path) -> Path:
    """A random ViT-B/16 from transformers' `ViTConfig()` defaults, written with `save_pretrained`."""
    import torch
    from transformers import ViTConfig, ViTForImageClassification

    torch.manual_seed(0)
    ViTForImageClassification(ViTConfig()).save_pretrained(folder)
    return folder


def table(rows: list[tuple[str, Case, dict]]) -> list[str]:
    lines = ["| model | upload | file (MB) | outcome | peak growth (MB) | seconds |", "|---|---|---:|---|---:|---:|"]
    for model, case, result in rows:
        lines.append(f"| {model} ({result['precision']}) | {case.name} | {result['file_mb']:.0f} "
                     f"| {result['outcome']} | {result['growth_mb']:.0f} | {result['seconds']:.1f} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", nargs=2, metavar=("MODEL", "FILE"), help=argparse.SUPPRESS)
    parser.add_argument("--models", nargs="+", default=["bundled", "vit-b16"], choices=["bundled", "vit-b16"])
    parser.add_argument("--cases", default="all", help="'all', 'tested', 'formats', or comma-separated case numbers")
    parser.add_argument("--precision", choices=["auto", "fp32", "bf16"], default=None,
                        help="VITDEMO_PRECISION for the measured processes (default: the app's, auto)")
    parser.add_argument("--max-growth-mb", type=float, default=300, help="exit 1 above this on bundled")
    args = parser.parse_args(argv)
    if args.child:
        child(*args.child)
        return 0
    if not peak_resettable():
        print("this kernel does not let a process reset its peak memory (/proc/self/clear_refs)", file=sys.stderr)
        return 2
    picked = _pick(args.cases)
    rows: list[tuple[str, Case, dict]] = []
    with tempfile.TemporaryDirectory(prefix="vitdemo-memory-") as tmp:
        folder = Path(tmp)
        sources = {"bundled": "bundled"}
        if "vit-b16" in args.models:
            sources["vit-b16"] = str(random_vit_b16(folder / "vit-b16"))
        for case in picked:
            path = write_case(case, folder)
            for name in args.models:
                result = measure(sources[name], path, args.precision)
                result["file_mb"] = path.stat().st_size / MB
                rows.append((name, case, result))
                print(f"{name}: {case.name}: +{result['growth_mb']:.0f} MB ({result['outcome']})", file=sys.stderr)
            path.unlink()
    command = " ".join(["python", "benchmarks/memory_bounds.py", *(sys.argv[1:] if argv is None else argv)])
    print("\n".join([f"`{command}`", "", f"decode budget {DECODE_BUDGET / MB:.0f} MB; file limit "
                     f"{MAX_FILE_BYTES / MB:.0f} MB", "", *table(rows)]))
    worst = max((r["growth_mb"] for m, _, r in rows if m == "bundled"), default=0.0)
    return 1 if worst > args.max_growth_mb else 0


def _pick(spec: str) -> list[Case]:
    if spec == "all":
        return list(CASES)
    if spec == "tested":
        return list(TESTED)
    if spec == "formats":
        return list(PER_FORMAT)
    return [CASES[int(n)] for n in spec.split(",")]

if __name__ == "__main__":
    sys.exit(main())
