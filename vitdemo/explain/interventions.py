"""What an analysis learns by running the model again: on fewer tokens (faithfulness curves, hidden patches),
with heads switched off (ablation), or with its weights randomised (the sanity check).

`Analysis` reads its stored forward for every view; these methods are the ones that do not, each a thin
delegate to the module that does the work (faithfulness.py, ablation.py, sanity.py), kept apart so that
analysis.py holds what one forward pass tells. They are `Analysis` methods (it inherits them), reading its
`model`, `inputs`, `grid`, `patch_size`, `labels`, `logits` and `probabilities` and its private helpers
(`_target_index`, `_layer_index`, `_cached`, `_tape`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import torch

from .. import methods
from . import ablation, sanity
from . import faithfulness as perturbation
from .maps import Head


class Interventions:
    """The `Analysis` methods that rerun the model (see the module docstring)."""

    def faithfulness(self, method: str | None = None, *, map: np.ndarray | None = None, steps: int = 10,
                     mode: str = "tokens", target: int | str | None = None, layer: int = -1, head: Head = None,
                     discard_ratio: float = 0.0, blur_sigma: float | None = None) -> perturbation.Faithfulness:
        """Deletion and insertion curves of one map (a method's, or any (rows, cols) `map`): see faithfulness.py.

        The class is `target` (default the top-1), for the map and the curves alike; `layer`, `head` and
        `discard_ratio` choose the method's map as in `attention_map`. ~2·steps forwards on subsets of tokens.
        """
        if (method is None) == (map is None):
            raise ValueError("give either a method or a map")
        target = self._target_index(target)
        if map is not None:
            return self.faithfulness_comparison({"map": map}, random_seed=None, steps=steps, mode=mode,
                                                target=target, blur_sigma=blur_sigma)["map"]
        chosen = self.attention_map(method, layer, head, target, discard_ratio)
        key = ("faithfulness", method, self._layer_index(layer), head, float(discard_ratio), target, steps, mode,
               blur_sigma)
        return self._cached(key, lambda: self.faithfulness_comparison(
            {method: chosen}, random_seed=None, steps=steps, mode=mode, target=target, blur_sigma=blur_sigma)[method])

    def faithfulness_comparison(self, maps: dict[str, np.ndarray] | None = None, *, random_seed: int | None = 0,
                                steps: int = 10, mode: str = "tokens", target: int | str | None = None,
                                blur_sigma: float | None = None) -> dict[str, perturbation.Faithfulness]:
        """{name: Faithfulness} for several maps in one batched set of forwards (what a plot of all needs).

        `maps` default to every method's default map for `target`; `random_seed` adds a "random" map drawn
        with that seed (None: no random map).
        """
        target = self._target_index(target)
        chosen = dict(maps) if maps is not None else {m: self.attention_map(m, target=target) for m in methods.names()}
        if random_seed is not None:
            chosen["random"] = perturbation.random_map(self.grid, random_seed)
        return perturbation.perturbation_curves(
            self.model, self.inputs, self.patch_size, chosen, target, steps=steps, mode=mode, blur_sigma=blur_sigma,
            whole=float(self.probabilities[target]))

    def top_without(self, hidden: Iterable[tuple[int, int]], k: int = 5,
                    mode: str = "tokens") -> list[tuple[str, float]]:
        """`top(k)` with the (row, col) patches in `hidden` removed (as tokens, or blurred): one forward."""
        rows, cols = self.grid
        indices = []
        for row, col in hidden:
            if not (0 <= row < rows and 0 <= col < cols):
                raise ValueError(f"patch ({row}, {col}) is outside the {rows}×{cols} grid")
            indices.append(row * cols + col)
        probs = torch.from_numpy(perturbation.probabilities_without(self.model, self.inputs, self.patch_size,
                                                                     indices, mode))
        values, order = probs.topk(min(k, probs.numel()))
        return [(self.labels[i], float(p)) for p, i in zip(values.tolist(), order.tolist())]

    def ablate(self, heads: Iterable[tuple[int, int]], mode: str = "zero") -> np.ndarray:
        """(classes,) probabilities with the (layer, head) pairs in `heads` (from 0) switched off, each head's
        output zeroed before the output projection (`mode="mean"`: set to its mean over tokens): ablation.py.
        Runs the blocks from the first ablated one on, from the inputs this analysis kept."""
        self._target_index(None)  # refuses a model without a classifier
        logits = ablation.ablated_logits(self.model, self._tape(), heads, mode)
        return self.model.probabilities(logits).numpy()  # SigLIP's: a sigmoid per prompt

    def head_effects(self, target: int | str | None = None, mode: str = "zero") -> np.ndarray:
        """(layers, heads): the target's logit (default the top-1) minus its logit with that one head switched
        off; positive where the head argues for the class. One batch per layer (ablation.py)."""
        target = self._target_index(target)
        return self._cached(("head-effects", target, mode), lambda: float(self.logits[target]) - (
            ablation.head_effect_logits(self.model, self._tape(), target, mode)))

    def sanity(self, method: str) -> list[float]:
        """Spearman correlations of `method`'s map (last layer, heads averaged, the top-1 class) on this model
        and on cascading randomisations of it: head and final norm, then blocks L, L−1, …, 1 (sanity.py)."""
        return self.sanity_comparison([method])[methods.method(method).name]

    def sanity_comparison(self, names: Sequence[str] | None = None) -> dict[str, list[float]]:
        """{method: `sanity(method)`} for several methods (default: every one), each randomised model shared."""
        chosen = tuple(methods.method(name).name for name in (methods.names() if names is None else names))
        measured = self._cached(("sanity", chosen), lambda: sanity.correlations(self, chosen))
        return {name: list(values) for name, values in measured.items()}
