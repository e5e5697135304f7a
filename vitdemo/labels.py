"""The 1000 ImageNet-1k class names, shipped because timm checkpoints carry none.

`imagenet_labels.txt` holds one name per line in the standard class order (sorted WordNet synset ids, the
order every ImageNet-1k checkpoint uses). Each name is the first WordNet lemma of its class, i.e. the first
synonym of the `id2label` names transformers' ImageNet checkpoints carry ("tench, Tinca tinca" → "tench").
transformers 5 no longer ships that list, so the file was generated from timm's copy of the same lemmas
(`timm/data/_info/imagenet_synsets.txt` + `imagenet_synset_to_lemma.txt`, timm 1.0.31):

    names = [lemma[synset].split(", ")[0] for synset in synsets]

The two classes whose first synonyms collide were made distinct by hand: 134/517 "crane (bird)" /
"crane (machine)" and 638/639 "maillot (tights)" / "maillot (tank suit)". No comment lines: line i is class i.
"""

from __future__ import annotations

import functools
from pathlib import Path

IMAGENET_FILE = Path(__file__).resolve().parent / "imagenet_labels.txt"
IMAGENET_CLASSES = 1000


@functools.lru_cache(maxsize=1)
def _read_imagenet_labels() -> tuple[str, ...]:
    names = tuple(line.strip() for line in IMAGENET_FILE.read_text(encoding="utf-8").splitlines() if line.strip())
    assert len(names) == IMAGENET_CLASSES, f"{IMAGENET_FILE} holds {len(names)} names, not {IMAGENET_CLASSES}"
    return names


def imagenet_labels() -> list[str]:
    """The ImageNet-1k class names, index i = class i (a fresh list: callers may edit it)."""
    return list(_read_imagenet_labels())


def generic_labels(num_classes: int) -> list[str]:
    """Names for a head nobody named: ImageNet's when it has 1000 classes, else "class i"."""
    if num_classes == IMAGENET_CLASSES:
        return imagenet_labels()
    return [f"class {i}" for i in range(num_classes)]
