"""The names the controls offer, kept free of torch so the page can be built before torch is imported.

They mirror `vitdemo.explain` (methods, head fusions) and `vitdemo.explain.render` (colormaps); a test checks that
they agree. Importing those modules here would pull in torch and add ~1.5 s to the app's cold start.
"""

from __future__ import annotations

METHODS = ("attention", "rollout", "relevance", "legrad")
HEAD_FUSIONS = ("mean", "max", "min")
COLORMAPS = ("inferno", "viridis", "magma", "plasma", "turbo", "jet", "gray")
DEFAULT_COLORMAP = "inferno"
