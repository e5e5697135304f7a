"""The explorer bundle's size with and without the token matrix's query·key scores (issue 23 item 6).

    python -m benchmarks.payload_size            # bundled model at patch 8, 16, 32 and a random ViT-B/16
    python -m benchmarks.payload_size --skip-vitb

Models load at the app's default precision ("auto": bf16 on this CPU), as the page gets them.
"before" is the bundle without its `tokens` entry (what it was before the scores were added; nothing else
changed), "after" the bundle as sent; both as the JSON the page receives; and the time to build each, in
process (the median of 9 fresh analyses; the scores' share is `token_scores`). The scores ride in the bundle only
while their float32 bytes fit `payload.MAX_SCORE_BYTES`; the row says which.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
IMAGE = ROOT / "assets" / "examples" / "shape_star.png"


def build_ms(model, patch: int, scores: bool, repeat: int = 9) -> float:
    """Median time to build the bundle of a fresh analysis (its views not yet cached), in ms."""
    from PIL import Image

    import vitdemo
    from vitdemo.explain import payload

    times = []
    for _ in range(repeat):
        analysis = vitdemo.analyze(model, Image.open(IMAGE).convert("RGB"), patch_size=patch)
        start = time.perf_counter()
        payload.explorer_payload(analysis, key=("k",), scores=scores)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def sizes(model, label: str, patch: int) -> list[str]:
    from PIL import Image

    import vitdemo
    from vitdemo.explain import payload

    analysis = vitdemo.analyze(model, Image.open(IMAGE).convert("RGB"), patch_size=patch)
    bundle = payload.explorer_payload(analysis, key=("k",))
    after = len(json.dumps(bundle))
    before = len(json.dumps({k: v for k, v in bundle.items() if k != "tokens"}))
    tokens = bundle["tokens"]
    raw = analysis.depth * analysis.heads * tokens["count"] ** 2 * 4
    shipped = "in the bundle" if tokens["scores"] else "on request"
    return [label, str(patch), str(tokens["count"]), f"{raw / 1e6:.2f} MB", shipped, f"{before / 1e6:.3f} MB",
            f"{after / 1e6:.3f} MB", f"{(after - before) / 1e3:+.1f} kB",
            f"{build_ms(model, patch, False):.0f} / {build_ms(model, patch, True):.0f} ms"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-vitb", action="store_true")
    args = parser.parse_args(argv)
    import vitdemo
    from vitdemo.explain import payload

    rows = [sizes(vitdemo.load("bundled"), "bundled (96 px)", p) for p in (8, 16, 32)]
    if not args.skip_vitb:
        import transformers

        with tempfile.TemporaryDirectory() as folder:
            transformers.ViTForImageClassification(transformers.ViTConfig(num_labels=1000)).save_pretrained(folder)
            model = vitdemo.load(folder)
            rows += [sizes(model, "ViT-B/16 random (224 px)", p) for p in (16, 8)]
    print(f"MAX_SCORE_BYTES = {payload.MAX_SCORE_BYTES:,}\n")
    print("| model | patch | tokens | scores, float32 bytes | scores sent | bundle before | bundle after | added "
          "| build before / after (median of 9) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
