"""Tiny random CLIP, SigLIP and Chinese-CLIP checkpoints, built with transformers and saved as the hub saves
them (config.json, model.safetensors, tokenizer files, preprocessor_config.json), so the tests load them
through `vitdemo.load` like a download. Nothing is downloaded: the tokenizers are built from word lists here.

SigLIP's folder carries its own tokenizer (`SiglipTokenizer`, a sentencepiece model as the hub's `spiece.model`),
trained here on the word list in a fraction of a second: the same sentencepiece and protobuf the app needs for a
real SigLIP checkpoint (requirements.txt), so a missing install fails here rather than on a visitor's first prompt.
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


def siglip_tokenizer(folder: Path):
    """A `SiglipTokenizer` on a tiny sentencepiece model trained on WORDS (ids: 0 <pad>, 1 </s>, 2 <unk>)."""
    import sentencepiece as spm
    from transformers import SiglipTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    corpus = folder / "corpus.txt"
    corpus.write_text("\n".join(" ".join(WORDS[i:] + WORDS[:i]) for i in range(len(WORDS))) * 20)
    spm.SentencePieceTrainer.train(input=str(corpus), model_prefix=str(folder / "sp"), vocab_size=40,
                                   hard_vocab_limit=False, pad_id=0, eos_id=1, unk_id=2, bos_id=-1,
                                   minloglevel=2)
    return SiglipTokenizer(vocab_file=str(folder / "sp.model"))


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
        tokenizer = siglip_tokenizer(folder.parent / f"{folder.name}-sentencepiece")
        config = T.SiglipConfig(text_config=_text(len(tokenizer), pad_token_id=tokenizer.pad_token_id,
                                                  eos_token_id=tokenizer.eos_token_id),
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
