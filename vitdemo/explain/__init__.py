"""Explanations: what one forward pass tells about an image, and the pictures of it.

- `maps`: the math (head fusion, rollout, relevance) on stored attention arrays; numpy only.
- `legrad`: LeGrad (Bousselham et al. 2024), gradients of each layer's class score on its attention.
- `faithfulness`: deletion and insertion curves (Petsiuk et al. 2018): does a map rank what the model uses?
- `analysis`: `analyze(model, image)` → `Analysis`, one forward kept for every view of it.
- `render`: heatmaps, patch grids and galleries as PIL images (the API, downloads, the walkthrough).
- `recipe`: every stage of the forward pass on the user's image, with its shape and a picture.
- `probing`: the ViT paper's Fig. 7 (embedding filters, position similarity, attention distance).

The methods' table is `vitdemo.methods`.
`from vitdemo import explain; explain.rollout(...)` keeps working: the map functions and the analysis are
re-exported here.
"""

from ..constants import HEAD_FUSIONS
from .analysis import Analysis, analyze, forward_with_everything, model_inputs, patch_at
from .faithfulness import Faithfulness, random_map
from .maps import (
    as_distribution,
    discard_lowest,
    fuse_heads,
    mass_mask,
    patch_boundaries,
    relevance,
    rollout,
)

__all__ = ["HEAD_FUSIONS", "Analysis", "Faithfulness", "analyze", "as_distribution", "discard_lowest",
           "forward_with_everything", "fuse_heads", "mass_mask", "model_inputs", "patch_at", "patch_boundaries",
           "random_map", "relevance", "rollout"]
