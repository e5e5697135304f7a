"""The text tower of an image–text model: transformers' own text model, its projection and its tokenizer.

vitdemo explains the image tower, so the text side is not rewritten: it is the library's model, fed the
checkpoint's text weights. transformers is imported here only, and this module only when an image–text model
loads (loading.py), so the app's cold start on the bundled classifier does not pay for it.

Each family embeds a prompt its own way (what its `get_text_features` does):
* CLIP: the end-of-text token's output, projected (`CLIPTextModelWithProjection`);
* SigLIP: the last token's output through the text model's head (`SiglipTextModel`), prompts padded to the
  full length as SigLIP was trained (its processor's `padding="max_length"`);
* Chinese-CLIP: the [CLS] output of its BERT, projected (`ChineseCLIPTextModel` + `text_projection`).
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

FAMILIES = ("clip", "siglip", "chinese_clip")
CACHED_PROMPTS = 256  # embeddings kept per tower: a page's prompts come back with every slider move


class TextTower:
    """Prompts → unit-length embeddings in the image tower's space, on the CPU in float32 (a handful of
    prompts a request: the text model is cheap next to the image tower's analysis)."""

    def __init__(self, family: str, model: torch.nn.Module, tokenizer: Any, projection: torch.nn.Module | None,
                 max_length: int):
        self.family, self.model, self.tokenizer = family, model.eval(), tokenizer
        self.projection, self.max_length = projection, max_length
        self._cache: OrderedDict[str, torch.Tensor] = OrderedDict()

    def embed(self, prompts: list[str]) -> torch.Tensor:
        """(P, E) float32 unit rows, one per prompt; each prompt is embedded once and then remembered."""
        todo = [p for p in dict.fromkeys(prompts) if p not in self._cache]
        if todo:
            for prompt, row in zip(todo, self._features(todo), strict=True):
                self._cache[prompt] = row
            while len(self._cache) > CACHED_PROMPTS:
                self._cache.popitem(last=False)
        return torch.stack([self._cache[p] for p in prompts])

    def _features(self, prompts: list[str]) -> torch.Tensor:
        padding = "max_length" if self.family == "siglip" else True
        tokens = self.tokenizer(prompts, padding=padding, truncation=True, max_length=self.max_length,
                                return_tensors="pt")
        with torch.inference_mode():
            if self.family == "clip":
                out = self.model(input_ids=tokens["input_ids"], attention_mask=tokens["attention_mask"]).text_embeds
            elif self.family == "siglip":
                out = self.model(input_ids=tokens["input_ids"]).pooler_output
            else:
                hidden = self.model(**{k: v for k, v in tokens.items()}).last_hidden_state[:, 0]
                out = self.projection(hidden)
        return F.normalize(out.float(), dim=-1)


def load_text_tower(folder: Path, family: str, config: dict[str, Any], state: dict[str, torch.Tensor]) -> TextTower:
    """The text tower of the checkpoint in `folder`: its `config` (config.json), the text part of its weights
    (`state`, the whole checkpoint's), and the tokenizer saved beside them."""
    import transformers  # noqa: PLC0415 — the text side only: see the module docstring

    full = transformers.AutoConfig.from_pretrained(str(folder))
    text_config = full.text_config
    text_state = {k: v for k, v in state.items() if k.startswith(("text_model.", "text_projection."))}
    projection = None
    if family == "clip":
        text_config.projection_dim = full.projection_dim  # the text config's own default is 512
        model = transformers.CLIPTextModelWithProjection(text_config)
    elif family == "siglip":
        model = transformers.SiglipTextModel(text_config)
    else:
        model = transformers.ChineseCLIPTextModel(text_config, add_pooling_layer=False)
        text_state = {k: v for k, v in text_state.items() if k.startswith("text_model.")
                      and not k.startswith("text_model.pooler.")}
        projection = torch.nn.Linear(text_config.hidden_size, full.projection_dim, bias=False)
        projection.weight.data.copy_(state["text_projection.weight"])
    if not any(k.startswith("text_model.") for k in model.state_dict()):  # a model without the prefix
        text_state = {k.removeprefix("text_model."): v for k, v in text_state.items() if k.startswith("text_model.")}
    missing, unexpected = model.load_state_dict(text_state, strict=False)
    missing = [k for k in missing if not k.endswith("position_ids")]  # buffers transformers rebuilds
    if missing or unexpected:
        raise ValueError(f"the text tower's weights do not fit its config: missing {missing[:5]}, "
                         f"unexpected {unexpected[:5]}")
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(folder))
    return TextTower(family, model.float(), tokenizer, projection, int(text_config.max_position_embeddings))
