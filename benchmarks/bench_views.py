"""View-switch and render-all timings for ViT-B/16 (random weights): issue 4's speed targets.

    python -m benchmarks.bench_views [--precision auto|fp32|bf16] [--repeat 7]     # from the repository root

Targets: a view switch (new layer, head, method, colormap, opacity or clicked patch: map + overlay picture)
≤ 50 ms; rendering all default views of a fresh analysis (patch grid, class-token attention overlay,
per-head gallery of the last layer, top-5) ≤ 0.5× the forward pass. Switches are timed uncached (the map
cache is emptied first), which is the worst case. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
from PIL import Image

from vitdemo.config import ViTConfig
from vitdemo.device import inference_dtype, pick_device
from vitdemo.explain import Analysis, analyze, patch_at, render
from vitdemo.model import ViT, ViTOutput
from vitdemo.preprocessing import preprocess

PHOTO = Path(__file__).resolve().parents[1] / "assets" / "textures" / "brick.png"


def timings_ms(run: Callable[[], object], repeat: int, setup: Callable[[], object] = lambda: None) -> list[float]:
    """Wall-clock milliseconds of `run` over `repeat` calls, `setup` (untimed) before each."""
    times = []
    for _ in range(repeat):
        setup()
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    return times


def switches(a: Analysis) -> dict[str, Callable[[], object]]:
    """Each view control the app offers, as the work one change of it costs: a map and its picture."""
    click = patch_at(a, a.view.width * 0.3, a.view.height * 0.6)
    return {
        "layer (attention, layer 6)": lambda: render.overlay(a, a.attention_map("attention", layer=5)),
        "head (attention, head 3)": lambda: render.overlay(a, a.attention_map("attention", head=3)),
        "head fusion (max)": lambda: render.overlay(a, a.attention_map("attention", head="max")),
        "method (rollout)": lambda: render.overlay(a, a.attention_map("rollout")),
        "rollout, discard 0.9": lambda: render.overlay(a, a.attention_map("rollout", discard_ratio=0.9)),
        "colormap (viridis)": lambda: render.overlay(a, a.attention_map(), cmap="viridis"),
        "opacity (0.3)": lambda: render.overlay(a, a.attention_map(), opacity=0.3),
        "smooth overlay": lambda: render.overlay(a, a.attention_map(), smooth=True),
        "clicked patch": lambda: render.mark_patch(render.overlay(a, a.patch_attention(*click)), a, *click),
        "gallery layer (layer 1)": lambda: render.head_gallery(a, 0),
    }


def default_views(a: Analysis) -> object:
    """What the app shows right after an analysis."""
    return (render.patch_grid(a), render.overlay(a, a.attention_map()), render.head_gallery(a, -1), a.top(5))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    device = pick_device()
    dtype = inference_dtype(device, args.precision)
    torch.manual_seed(0)
    model = ViT(ViTConfig(name="ViT-B/16 (random weights)")).eval().to(device, dtype)
    image = Image.open(PHOTO).convert("RGB")
    x = preprocess(image, model.config).to(device)

    def forward() -> None:
        with torch.inference_mode():
            model(x, output_attentions=True)

    forward(), analyze(model, image)  # warm-up
    forward_ms = timings_ms(forward, args.repeat)
    analyze_ms = timings_ms(lambda: analyze(model, image), args.repeat)
    a = analyze(model, image)
    default_views(a)  # warm-up: matplotlib colormaps, fonts
    fresh: list[Analysis] = []
    render_ms = timings_ms(lambda: default_views(fresh[-1]), args.repeat,
                           setup=lambda: fresh.append(Analysis(model, a.view, a.inputs, _stored_output(a))))
    rows = [("forward pass (with attentions)", forward_ms, ""), ("analyze (forward + store)", analyze_ms, "")]
    for name, run in switches(a).items():
        rows.append((f"switch: {name}", timings_ms(run, args.repeat, setup=a.clear_cache), "≤ 50 ms"))
    relevance_first = timings_ms(lambda: a.attention_map("relevance"), 1)
    relevance_next = timings_ms(lambda: a.attention_map("relevance", target=1), 1)
    rows += [("relevance, first request (forward + backward)", relevance_first, ""),
             ("relevance, another target (backward only)", relevance_next, ""),
             ("render all default views", render_ms, f"≤ {0.5 * statistics.median(forward_ms):.0f} ms (0.5× forward)")]
    print(f"ViT-B/16, random weights, {device.type} {str(dtype).removeprefix('torch.')}, "
          f"{torch.get_num_threads()} threads, median of {args.repeat}\n")
    print("| measurement | median ms | max ms | target |\n|---|---:|---:|---|")
    for name, times, target in rows:
        print(f"| {name} | {statistics.median(times):.1f} | {max(times):.1f} | {target} |")
    ratio = statistics.median(render_ms) / statistics.median(forward_ms)
    print(f"\nrender all default views / forward pass = {ratio:.2f} (target ≤ 0.5)")


def _stored_output(a: Analysis) -> ViTOutput:
    """`a`'s forward output again (no block records: rendering needs none), so a fresh Analysis (empty cache)
    needs no new forward."""
    return ViTOutput(a.logits[None], tuple(torch.from_numpy(t)[None] for t in a.attentions), a.grid, a.patch_size,
                     {k: v[None] for k, v in a.intermediates.items()})


if __name__ == "__main__":
    main()
