"""What an analysis holds, and that the app's cache counts all of it (issue 21, item 1).

Relevance used to keep each class's attention gradients, (layers, heads, T, T) like the attentions, and the
cache's size never saw them. Now a class adds only its maps ((layers, rows, cols) per head setting), the
gradients of the last class asked are the only stack kept, every computed view is in a store bounded by
bytes, and `Analysis.nbytes` counts everything, which the cache measures again on every use. Expected bytes
are worked out from the shapes (float32: 4 bytes a value).
"""

from __future__ import annotations

import gc
import threading
import tracemalloc

import numpy as np
import torch
from PIL import Image

from vitdemo.app.cache import AnalysisCache, AnalysisKey, analysis_nbytes
from vitdemo.config import ViTConfig
from vitdemo.explain import analyze, backprop, payload
from vitdemo.explain.memo import Memo, held_bytes
from vitdemo.model import ViT

SMALL = dict(image_size=32, patch_size=8, dim=32, depth=3, heads=4, mlp_dim=64, num_classes=6)
FUSIONS = 3  # relevance chains the layers, so the explorer asks it for mean, max and min only


def small_model(seed: int = 0) -> ViT:
    torch.manual_seed(seed)
    return ViT(ViTConfig(**SMALL)).eval()


def photo(width: int, height: int, seed: int = 0) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8))


def shapes(a) -> tuple[int, int, int, int]:
    """(layers, heads, tokens, patches) of an analysis."""
    rows, cols = a.grid
    return SMALL["depth"], SMALL["heads"], rows * cols + 1, rows * cols


def test_held_bytes_counts_each_memory_block_once():
    base = np.zeros((10, 10), np.float32)  # 400 bytes
    shared = torch.from_numpy(base)  # the same 400 bytes
    tensor = torch.zeros(3, 5, dtype=torch.bfloat16)  # 30 bytes
    assert held_bytes(base) == 400
    assert held_bytes(base[2:4]) == 400, "a view keeps its whole base alive"
    assert held_bytes(base, base[1], shared, shared[3:], {"a": [base.T]}) == 400
    assert held_bytes(tensor[1], tensor[0]) == 30
    floats = torch.zeros(6)
    assert held_bytes(floats.numpy()[2:], floats) == 24, "an array made from a tensor is the tensor's memory"
    assert held_bytes((base, tensor), np.ones(7, np.int64)) == 400 + 30 + 56
    assert held_bytes(lambda: base, "text", 3.5, None) == 0


def test_the_view_store_drops_the_least_recently_used_beyond_its_bytes():
    memo = Memo(max_bytes=1000)
    first = memo.get("a", lambda: np.zeros(100, np.float32))  # 400 bytes
    memo.get("b", lambda: np.zeros(100, np.float32))
    assert memo.get("a", lambda: None) is first and memo.nbytes == 800
    memo.get("c", lambda: np.zeros(100, np.float32))  # 1200 > 1000: "b", used least recently, goes
    assert "b" not in memo and "a" in memo and memo.nbytes == 800
    memo.get("huge", lambda: np.zeros(1000, np.float32))  # 4000 bytes alone: it stays, the others go
    assert len(memo) == 1 and memo.nbytes == 4000


def test_relevance_for_each_new_class_adds_its_maps_not_a_gradient_stack():
    a = analyze(small_model(seed=1), photo(56, 40), patch_size=8, keep_aspect=True)
    layers, heads, tokens, patches = shapes(a)
    maps = FUSIONS * layers * patches * 4  # one (layers, rows, cols) float32 map per head fusion
    stack = layers * heads * tokens * tokens * 4
    d, mlp = SMALL["dim"], SMALL["mlp_dim"]
    replayed_tape = layers * tokens * (3 * d + d + mlp) * 4  # qkv, mid, hidden per block (fp32 replays them)
    held = [a.nbytes()]
    for target in range(SMALL["num_classes"]):
        payload.map_stack(a, "relevance", target=target)  # what the explorer's relevance function sends
        held.append(a.nbytes())
    first, *others = np.diff(held)
    assert stack + maps <= first <= stack + maps + replayed_tape, "the first class: its maps, one stack, the tape"
    assert others == [maps] * (len(held) - 2), "every further class: its maps, and nothing of size T×T"
    payload.map_stack(a, "legrad", target=2)
    assert a.nbytes() - held[-1] == layers * heads * tokens * 4 + maps, "LeGrad keeps its rows and its maps"


def test_relevance_for_many_classes_leaves_memory_flat():
    # Measured outside the code's own counting: numpy reports its allocations to tracemalloc.
    a = analyze(small_model(seed=2), photo(96, 64), patch_size=4, keep_aspect=True)
    layers, heads, tokens, patches = shapes(a)
    stack = layers * heads * tokens * tokens * 4
    maps = FUSIONS * layers * patches * 4
    payload.map_stack(a, "relevance", target=0)
    gc.collect()
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        for target in range(1, SMALL["num_classes"]):
            payload.map_stack(a, "relevance", target=target)
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - start
    finally:
        tracemalloc.stop()
    classes = SMALL["num_classes"] - 1
    assert stack > 50 * maps, "the test needs a stack much larger than the maps to tell them apart"
    # Each class's maps and the Python objects that hold them (~2 KB); not its gradients (the last class's are
    # kept as torch tensors, which tracemalloc does not see: their bytes are checked in the test above).
    assert grown <= classes * (maps + 4096), (grown, stack, maps)


def test_one_backward_serves_every_head_fusion_of_a_class(monkeypatch):
    a = analyze(small_model(seed=3), photo(40, 32))
    backwards = []
    real = backprop.attention_gradients
    monkeypatch.setattr(backprop, "attention_gradients", lambda *args: backwards.append(args[-1]) or real(*args))
    payload.map_stack(a, "relevance", target=1)
    a.attention_map("relevance", layer=1, head="max", target=1)
    assert backwards == [1]
    payload.map_stack(a, "relevance", target=4)
    assert backwards == [1, 4]


def test_the_views_of_one_analysis_are_bounded_however_many_are_asked(monkeypatch):
    a = analyze(small_model(seed=4), photo(32, 32))
    layers, _, _, patches = shapes(a)
    one = layers * patches * 4  # a rollout by layer: (layers, rows, cols) float32
    monkeypatch.setattr(a._views, "max_bytes", 5 * one)
    before = a.nbytes()
    ratios = [i / 100 for i in range(40)]  # a discard ratio is any number a request sends
    kept = [a.maps_by_layer("rollout", discard_ratio=r) for r in ratios]
    assert a.nbytes() - before == 5 * one
    assert a.maps_by_layer("rollout", discard_ratio=ratios[-1]) is kept[-1], "the recent ones are kept"
    again = a.maps_by_layer("rollout", discard_ratio=ratios[0])
    assert again is not kept[0] and np.array_equal(again, kept[0]), "the old ones are computed again"


def test_the_cache_evicts_older_analyses_when_a_stored_one_grows():
    model = small_model(seed=5)
    old, grown = (analyze(model, photo(64, 48, seed=s), patch_size=8, keep_aspect=True) for s in (1, 2))
    keys = [AnalysisKey(str(s), "m", 8) for s in (1, 2)]
    cache = AnalysisCache(max_items=10, max_bytes=analysis_nbytes(old) + analysis_nbytes(grown))
    cache.put(keys[0], old)
    cache.put(keys[1], grown)
    assert cache.get(keys[0]) is old and cache.get(keys[1]) is grown, "both fit when stored"
    for target in range(3):  # relevance after storing: a gradient stack, the tape and maps
        payload.map_stack(grown, "relevance", target=target)
    assert cache.get(keys[1]) is grown, "the one in use stays"
    assert cache.get(keys[0]) is None, "its growth pushed the older analysis out"


def test_an_analysis_counts_its_forward_exactly():
    a = analyze(small_model(seed=6), photo(32, 32))
    layers, heads, tokens, patches = shapes(a)
    d, p = SMALL["dim"], SMALL["patch_size"]
    attentions = layers * heads * tokens * tokens * 4
    # Stages: the patches' pixels, their embeddings, then (T, D) with the class token, with positions, after
    # each block and encoded; the class token's output and the head's input are views of "encoded", the
    # stage "logits" is the analysis's logits: each counted once.
    stages = (patches * 3 * p * p + patches * d + (3 + layers) * tokens * d) * 4
    inputs, logits = 3 * 32 * 32 * 4, 2 * SMALL["num_classes"] * 4  # the input; logits and probabilities
    picture = 32 * 32 * 4  # PIL keeps RGB in 4 bytes a pixel
    # The backward's block records: qkv, mid and fc1's output per block; their inputs, outputs and attentions
    # are the stages and attentions above (float32 needs no copy).
    records = layers * tokens * (3 * d + d + SMALL["mlp_dim"]) * 4
    assert a.nbytes() == attentions + stages + records + inputs + logits + picture


def test_a_bf16_analysis_counts_its_block_records_once():
    a = analyze(small_model(seed=6).to(torch.bfloat16), photo(32, 32))
    layers, heads, tokens, patches = shapes(a)
    d, p, mlp, classes = SMALL["dim"], SMALL["patch_size"], SMALL["mlp_dim"], SMALL["num_classes"]
    attentions = layers * heads * tokens * tokens * 4
    # float32 copies of every stage (the views of "encoded" become their own), and the records in bf16
    stages = (patches * 3 * p * p + patches * d + (3 + layers) * tokens * d + 2 * d + classes) * 4
    records = layers * tokens * (3 * d + d + mlp) * 2  # qkv, mid, hidden per block
    tokens_in_bf16 = (1 + layers) * tokens * d * 2  # block 0's input, then each block's output (the next's input)
    inputs, logits, picture = 3 * 32 * 32 * 4, 2 * classes * 4, 32 * 32 * 4
    forward = attentions + stages + records + tokens_in_bf16 + inputs + logits + picture
    assert a.nbytes() == forward
    a.attention_map("relevance", target=1)
    gradients = layers * heads * tokens * tokens * 2  # kept in the model's dtype
    assert a.nbytes() == forward + gradients + patches * 4


def test_concurrent_requests_for_different_classes_each_get_their_own_class():
    # One kept slot of gradients, several requests at once: each must read its own class's, never another's.
    model = small_model(seed=7)
    image = photo(40, 32)
    expected = {t: analyze(model, image).maps_by_layer("relevance", target=t) for t in range(SMALL["num_classes"])}
    shared = analyze(model, image)
    start = threading.Barrier(SMALL["num_classes"])
    got: dict[int, np.ndarray] = {}

    def ask(target: int) -> None:
        start.wait()
        got[target] = shared.maps_by_layer("relevance", target=target)

    threads = [threading.Thread(target=ask, args=(t,)) for t in range(SMALL["num_classes"])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(np.array_equal(got[t], expected[t]) for t in expected)
    assert not np.allclose(expected[0], expected[1]), "the classes' maps differ, or the test says nothing"
