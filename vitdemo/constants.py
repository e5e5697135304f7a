"""Names and sizes that the library, the app and the command line share, free of torch.

The page is built before torch is imported (it costs ~1.5 s of cold start), so the vocabulary its controls
offer cannot come from the modules that compute; it lives here, once, and those modules import it too.
The explanation methods have a table of their own (`vitdemo.methods`), which also needs no torch.
"""

from __future__ import annotations

FLEXIVIT_PATCH_SIZES = (8, 10, 12, 15, 16, 20, 24, 30, 40, 48)  # big_vision's training sizes (240 px)
HEAD_FUSIONS = ("mean", "max", "min")  # how a map fuses the heads, besides one head by index
COLORMAPS = ("inferno", "viridis", "magma", "plasma", "turbo", "jet", "gray")  # matplotlib names
DEFAULT_COLORMAP = "inferno"
LOGIT_LENS = "logit-lens"  # the logit lens's view, figure method and file-name part (no method of the table)
MAX_DISCARD = 0.95  # the largest share of weak links rollout may drop: beyond it too little is left to follow
