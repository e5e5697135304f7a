"""What the UI and the API share: decode an upload, pick the model, analyse once, remember the result.

No Gradio here: this is the app's logic as plain Python, so it is tested without a browser and the UI
(`ui.py`, `callbacks.py`) and the named endpoints (`api.py`) stay thin. Errors meant for the person using
the app are `UserError` or `vitdemo.uploads.ImageInputError`; the Gradio layer shows both with `gr.Error`.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any, NamedTuple

from PIL import Image

from ..config import ViTConfig
from ..settings import settings
from .admission import Gate, concurrency
from .batching import Batcher
from .cache import AnalysisCache, AnalysisKey, image_digest
from .grants import Grants
from .i18n import Message
from .models import REGISTRY, ModelEntry, Startup, hub_offline, is_cached, peek_config, resolve, without_paths
from .pool import ModelPool
from .validation import UserError, patch_size_of
from .zerogpu import gpu, gpu_machine

if TYPE_CHECKING:
    from ..explain.analysis import Analysis
    from ..model import ViT

logger = logging.getLogger(__name__)
BATCH_WAIT_S = 0.005  # on a GPU, how long the first request of a batch waits for others to join

# The pool the GPU function reads. ZeroGPU runs `_forward` in a forked worker and pickles its arguments,
# so the function receives a model key rather than a model, and finds the model here.
_POOLS: dict[int, ModelPool] = {}


class Analysed(NamedTuple):
    """An analysis, the cache key it is stored under, whether it came from the cache, and the seconds it took."""

    key: AnalysisKey
    analysis: Analysis
    cached: bool
    seconds: float


@gpu
def _forward(pool_id: int, model_key: str, inputs: Any, patch_size: int) -> list[Any]:
    """One batched forward on the model's device; one ViTOutput per image, on the CPU, batch dim kept at 1."""
    from ..explain.analysis import forward_with_everything, per_image
    from ..model import ViTOutput

    model = _POOLS[pool_id].peek(model_key)
    if model is None:
        raise RuntimeError(f"model {model_key} was unloaded during the request")
    out = forward_with_everything(model, inputs.to(model.device), patch_size)
    stages = {k: v.cpu() for k, v in (out.intermediates or {}).items()}
    attentions = tuple(a.cpu() for a in out.attentions)
    records = [replace(r, attention=None).map(lambda t: t.cpu()) for r in out.records]  # attentions: above
    return per_image(ViTOutput(out.logits.cpu(), attentions, out.grid, out.patch_size, stages, tuple(records)))


def prepare(model: ViT) -> None:
    """Do once, before a user asks, what the first request would otherwise wait for.

    That is the PI-resize matrix of every offered patch size (a pseudo-inverse per size, cached by the model
    code: seconds on a CPU for the larger sizes) and the renderer's colormap (importing matplotlib).
    """
    import torch

    from ..explain import render

    render.colormap_lut(render.DEFAULT_COLORMAP)
    with torch.inference_mode():
        for p in model.config.offered_patch_sizes():
            model.patch_embed.kernel(p)


class Engine:
    """The models on offer, the loaded ones (`ModelPool`), the analyses done (`AnalysisCache`), which session
    was shown which of them (`Grants`) and the gate all model work goes through (`Gate`).

    Analysis keys hash the pixels with a secret of this instance (`salt`): the cache still finds a picture
    two visitors upload, but a key means nothing to another instance and cannot be made from a picture.
    """

    def __init__(self, startup: Startup, pool: ModelPool | None = None, cache: AnalysisCache | None = None):
        self.startup = startup
        self.entries: dict[str, ModelEntry] = {**REGISTRY, startup.entry.key: startup.entry}
        if startup.pending:
            self.entries[startup.pending.key] = startup.pending
        self.default_key = startup.entry.key
        self.cache = cache if cache is not None else AnalysisCache()  # an empty one is falsy
        self.pool = pool or ModelPool()
        self.pool.on_evict = self.cache.drop_model
        _POOLS[id(self.pool)] = self.pool
        self.batcher = Batcher(self._run_batch, wait_s=BATCH_WAIT_S if gpu_machine() else 0.0)
        self.salt = secrets.token_bytes(16)
        self.grants = Grants()
        self.gate = Gate(concurrency(), settings().busy_seconds)

    # -- models ----------------------------------------------------------------------------------------

    def entry(self, name: str | None = None) -> ModelEntry:
        """The entry named by key or hub id; the app's default for None or ""."""
        try:
            return resolve(name or self.default_key, self.entries)
        except ValueError as exc:
            raise UserError(*exc.args) from None  # the same sentence (a Message: see i18n)

    def model(self, name: str | None = None) -> ViT:
        """The loaded model (loading it now if needed: the UI wraps this with download progress)."""
        entry = self.entry(name)
        if self.pool.peek(entry.key) is None and entry.on_hub and hub_offline() and not is_cached(entry):
            raise UserError(Message("messages.not_downloaded_offline", title=entry.title,
                                    available=", ".join(self.entries[k].title for k in self.available())))
        try:
            return self.pool.get(entry)
        except UserError:
            raise
        except Exception as exc:  # network down mid-download, a broken checkpoint: say so, keep serving
            logger.exception("loading %s failed", entry.source)
            raise UserError(Message("messages.could_not_load", title=entry.title,
                                    reason=without_paths(str(exc), entry))) from exc

    def adopt_pending(self, key: str) -> None:
        """The hub model the app was waiting for has loaded: it becomes the default (for the API too)."""
        pending = self.startup.pending
        if pending is not None and pending.key == key:
            self.default_key = key
            self.startup = Startup(pending, Message("messages.startup.downloaded", source=pending.source))

    def available(self) -> list[str]:
        """Keys of the models that can run without the network right now."""
        return [k for k, e in self.entries.items() if self.pool.peek(k) is not None or is_cached(e)]

    def config(self, name: str | None = None) -> ViTConfig:
        """The model's config, from its file when that is enough (no torch import), else from the model."""
        entry = self.entry(name)
        loaded = self.pool.peek(entry.key)
        if loaded is not None:
            return loaded.config
        return peek_config(entry) or self.model(entry.key).config

    def warm_up(self, name: str | None = None) -> threading.Thread:
        """Load a model in the background, so the page can be served while torch and weights load; then
        do what the first request would otherwise wait for (see `prepare`)."""
        def run() -> None:
            try:
                prepare(self.model(name))
            except Exception:  # reported again, to the user, on first use
                logger.exception("warm-up failed")
        thread = threading.Thread(target=run, name="model-warm-up", daemon=True)
        thread.start()
        return thread

    # -- images and analyses ---------------------------------------------------------------------------

    def decode(self, source: Any) -> Image.Image:
        """An upload (path, bytes, PIL or numpy) as an upright RGB image; ImageInputError says what is wrong.
        A drawing from the sketchpad (`draw.Drawing`) is framed as the training shapes are (`vitdemo.framing`)."""
        from ..framing import framed
        from .draw import Drawing
        from .uploads import decode_image

        image = decode_image(source)
        return framed(image) if isinstance(source, Drawing) else image

    def patch_size(self, config: ViTConfig, patch_size: Any) -> int:
        """The patch size to run: the native one for None/0, else any whole size within the offered range.

        The range keeps requests bounded: a 4 px patch on a 224 px model would be 3,136 tokens and gigabytes
        of attention maps.
        """
        return patch_size_of(patch_size, config)

    def analysis(self, image: Image.Image, model: str | None = None, patch_size: int | None = None,
                 keep_aspect: bool = False, prompts: Any = None) -> Analysed:
        """The analysis of `image`, from the cache when this (image, model, patch size, prompts) was seen before.

        `prompts` (text or a list, see prompts.py) are what an image–text model ranks and explains; empty: its
        English defaults. A classifier takes none.
        """
        entry = self.entry(model)
        net = self.model(entry.key)
        p = self.patch_size(net.config, patch_size)
        wanted = self.prompts(net, entry, prompts)
        key = AnalysisKey(self.digest(image), entry.key, p, bool(keep_aspect), "\n".join(wanted or ()))
        start = time.perf_counter()
        analysis = self.cache.get(key)
        cached = analysis is not None
        if not cached:
            analysis = self._analyse(net, entry.key, image, p, keep_aspect, wanted)
            self.cache.put(key, analysis)
        return Analysed(key, analysis, cached, time.perf_counter() - start)

    def digest(self, image: Image.Image) -> str:
        """The image's part of an analysis key: its pixels hashed with this instance's secret."""
        return image_digest(image, self.salt)

    def cached(self, key: AnalysisKey | None) -> Analysis | None:
        """The analysis stored under `key`, or None if it was never made or has been evicted."""
        return self.cache.get(key) if key else None

    @staticmethod
    def prompts(net: ViT, entry: ModelEntry, prompts: Any) -> list[str] | None:
        """The prompts to run `net` with: None for a classifier (refusing any given), the parsed ones (or the
        defaults) for an image–text model."""
        from . import prompts as prompt_text

        wanted = prompt_text.parse(prompts)
        if not prompt_text.is_image_text(net):
            if wanted:
                raise UserError(Message("prompts.not_image_text", title=entry.title))
            return None
        return wanted or prompt_text.defaults()

    def _analyse(self, net: ViT, model_key: str, image: Image.Image, p: int, keep_aspect: bool,
                 prompts: list[str] | None = None) -> Analysis:
        """`vitdemo.analyze`, with the forward pass sent through the batcher (one model, many requests)."""
        from ..explain import analyze

        def forward(inputs: Any, patch_size: int) -> Any:
            return self.batcher.submit((model_key, patch_size, tuple(inputs.shape)), inputs)

        return analyze(net, image, p, keep_aspect, prompts=prompts, forward=forward)

    def _run_batch(self, group: tuple[str, int, tuple[int, ...]], inputs: list[Any]) -> list[Any]:
        """The forward of requests that arrived together (same model, patch size and input shape)."""
        import torch

        model_key, p, _ = group
        return _forward(id(self.pool), model_key, torch.cat(inputs), p)
