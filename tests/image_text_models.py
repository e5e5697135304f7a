"""Tiny random CLIP, SigLIP and Chinese-CLIP checkpoints, built with transformers and saved as the hub saves
them (config.json, model.safetensors, tokenizer files, preprocessor_config.json), so the tests load them
through `vitdemo.load` like a download. Nothing is downloaded: the tokenizers are built from word lists here.

SigLIP's own tokenizer (`SiglipTokenizer`) needs sentencepiece, which is not installed: its folder carries a
fast tokenizer (a `tokenizers` word-level vocabulary in tokenizer.json) that `AutoTokenizer` loads the same way.
"""

from __future__ import annotations

from pathlib import Path

import torch

WORDS = ["a", "photo", "of", "cat", "dog", "car", "red", "blue", "star", "heart", "circle", "the", "."]
CHINESE = list("一张的照片猫狗红色汽车星心圆")
DIM, LAYERS, HEADS, MLP, PROJ = 32, 2, 4, 64, 24
MAX_TEXT = 16


def clip_tokenizer():
    from transformers import CLIPTokenizer

    letters = sorted({c for w in WORDS for c in w})
    vocab: dict[str, int] = {}
    for token in [*letters, *[c + "</w>" for c in letters]]:
        vocab.setdefault(token, len(vocab))
    merges: list[tuple[str, str]] = []
    for word in WORDS:  # merge each word left to right: ("c", "a"), ("ca", "t</w>")
        pieces = list(word[:-1]) + [word[-1] + "</w>"]
        while len(pieces) > 1:
            merges.append((pieces[0], pieces[1]))
            pieces = [pieces[0] + pieces[1], *pieces[2:]]
            vocab.setdefault(pieces[0], len(vocab))
    for special in ("<|startoftext|>", "<|endoftext|>"):
        vocab[special] = len(vocab)
    return CLIPTokenizer(vocab=vocab, merges=list(dict.fromkeys(merges)))


def bert_tokenizer():
    from transformers import BertTokenizer

    vocab = {t: i for i, t in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *CHINESE, *WORDS])}
    return BertTokenizer(vocab=vocab)


def word_tokenizer():
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {t: i for i, t in enumerate(["<pad>", "<unk>", "</s>", *WORDS])}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Whitespace()])
    return PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="<pad>", unk_token="<unk>", eos_token="</s>")


def _text(vocab_size: int, **extra) -> dict:
    return dict(vocab_size=vocab_size, hidden_size=DIM, intermediate_size=MLP, num_hidden_layers=LAYERS,
                num_attention_heads=HEADS, max_position_embeddings=MAX_TEXT, **extra)


def _vision(image_size: int, patch_size: int) -> dict:
    return dict(hidden_size=DIM, intermediate_size=MLP, num_hidden_layers=LAYERS, num_attention_heads=HEADS,
                image_size=image_size, patch_size=patch_size)


def build(family: str, folder: Path, image_size: int = 32, patch_size: int = 8, seed: int = 0):
    """Save a random `family` model in `folder`; returns the transformers model (eval, float32)."""
    import transformers as T

    torch.manual_seed(seed)
    if family == "clip":
        tokenizer = clip_tokenizer()
        ids = dict(bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                   pad_token_id=tokenizer.pad_token_id)
        config = T.CLIPConfig(text_config=_text(len(tokenizer), **ids),
                              vision_config=_vision(image_size, patch_size), projection_dim=PROJ)
        model = T.CLIPModel(config)
        processor = T.CLIPImageProcessorPil(size={"shortest_edge": image_size},
                                            crop_size={"height": image_size, "width": image_size})
    elif family == "siglip":
        tokenizer = word_tokenizer()
        config = T.SiglipConfig(text_config=_text(len(tokenizer), pad_token_id=0, eos_token_id=2),
                                vision_config=_vision(image_size, patch_size))
        model = T.SiglipModel(config)
        processor = T.SiglipImageProcessorPil(size={"height": image_size, "width": image_size})
    else:
        tokenizer = bert_tokenizer()
        config = T.ChineseCLIPConfig(text_config=_text(len(tokenizer), pad_token_id=0),
                                     vision_config=_vision(image_size, patch_size), projection_dim=PROJ)
        model = T.ChineseCLIPModel(config)
        processor = T.ChineseCLIPImageProcessorPil(size={"shortest_edge": image_size},
                                                   crop_size={"height": image_size, "width": image_size})
    with torch.no_grad():  # random but not degenerate: a logit scale and bias away from their inits
        model.logit_scale.fill_(2.0)
        if hasattr(model, "logit_bias"):
            model.logit_bias.fill_(-1.5)
        if family == "clip" or family == "chinese_clip":
            model.vision_model.embeddings.class_embedding.normal_()
    model.eval()
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    processor.save_pretrained(folder)
    return model, tokenizer, processor
