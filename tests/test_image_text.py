"""CLIP, SigLIP and Chinese-CLIP: vitdemo's image tower and prompt scores against transformers.

The reference is transformers' own CLIPModel, SiglipModel and ChineseCLIPModel (eager attention) on tiny random
weights written with `save_pretrained`, with their tokenizers and `*ImageProcessorPil` saved beside
(tests/image_text_models.py): pixels, prompt probabilities (softmax of `logits_per_image`, sigmoid for SigLIP),
every layer's attention and the pooled image embedding, at the native grid, a non-square one (transformers'
`interpolate_pos_encoding`) and a non-native patch size (transformers' patch kernel replaced by its
pseudo-inverse resize computed here with `torch.linalg.pinv`, FlexiViT's definition). LeGrad for CLIP is checked
against the authors' formulation (WalBouss/LeGrad, legrad/wrapper.py `compute_legrad_clip`), written here with
autograd on transformers' attentions.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

import vitdemo
from tests import image_text_models as tiny
from vitdemo.explain.analysis import Analysis, analyze, forward_with_everything, model_inputs

TOL = 1e-4
FAMILIES = ("clip", "siglip", "chinese_clip")
PROMPTS = {"clip": ["cat", "red car", "blue star"], "siglip": ["cat", "red car", "blue star"],
           "chinese_clip": ["猫", "红色汽车", "星"]}
SHAPES = [(32, 32), (24, 40)]  # the native 4×4 grid, and a 3×5 one (rows shrink, columns grow)

pytestmark = pytest.mark.slow  # builds and saves transformers models (its import alone takes seconds)

@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> dict:
    out = {}
    for family in FAMILIES:
        folder = tmp_path_factory.mktemp(family)
        hf, tokenizer, processor = tiny.build(family, folder)
        hf.set_attn_implementation("eager")
        out[family] = (hf, tokenizer, processor, folder, vitdemo.load(str(folder), device="cpu", precision="fp32"))
    return out


def photo(width: int, height: int, seed: int = 0) -> Image.Image:
    return Image.fromarray((np.random.default_rng(seed).random((height, width, 3)) * 255).astype(np.uint8))


def reference_text(family: str, tokenizer, prompts: list[str]) -> dict:
    """The templated prompts tokenised as each family's processor does."""
    template = {"chinese_clip": "一张{}的照片。"}.get(family, "a photo of a {}.")
    texts = [template.format(p) for p in prompts]
    if family == "siglip":  # SigLIP's processor pads to the full length and passes no attention mask
        return {"input_ids": tokenizer(texts, padding="max_length", max_length=tiny.MAX_TEXT,
                                       return_tensors="pt")["input_ids"]}
    return dict(tokenizer(texts, padding=True, return_tensors="pt"))


def reference_probabilities(family: str, hf, tokenizer, pixels: torch.Tensor, prompts: list[str]) -> torch.Tensor:
    """transformers' probabilities for the templated prompts."""
    with torch.no_grad():
        logits = hf(pixel_values=pixels, interpolate_pos_encoding=True,
                    **reference_text(family, tokenizer, prompts)).logits_per_image[0]
    return torch.sigmoid(logits) if family == "siglip" else logits.softmax(-1)


def pi_resized_conv(conv: torch.nn.Conv2d, new: int) -> torch.nn.Conv2d:
    """`conv` with its kernel resized by FlexiViT's PI-resize: W' = pinv(Bᵀ)·W, B the bilinear resize matrix."""
    old = conv.kernel_size[0]
    basis = torch.eye(old * old, dtype=torch.float64).reshape(-1, 1, old, old)
    b_t = F.interpolate(basis, size=(new, new), mode="bilinear", align_corners=False).reshape(old * old, new * new)
    weight = conv.weight.detach().double().reshape(-1, old * old) @ torch.linalg.pinv(b_t).T
    resized = torch.nn.Conv2d(conv.in_channels, conv.out_channels, new, stride=new, bias=conv.bias is not None)
    with torch.no_grad():
        resized.weight.copy_(weight.reshape(conv.out_channels, conv.in_channels, new, new).float())
        if conv.bias is not None:
            resized.bias.copy_(conv.bias)
    return resized


def reference_vision(hf, pixels: torch.Tensor, patch_size: int | None):
    """(attentions, pooled image embedding) of transformers' vision model at `patch_size` (PI-resized)."""
    embeddings = hf.vision_model.embeddings
    native_conv, native_p = embeddings.patch_embedding, embeddings.patch_size
    if patch_size and patch_size != native_p:
        embeddings.patch_embedding, embeddings.patch_size = pi_resized_conv(native_conv, patch_size), patch_size
    try:
        with torch.no_grad():
            out = hf.vision_model(pixel_values=pixels, output_attentions=True, interpolate_pos_encoding=True)
            pooled = out.pooler_output
            pooled = hf.visual_projection(pooled) if hasattr(hf, "visual_projection") else pooled
    finally:
        embeddings.patch_embedding, embeddings.patch_size = native_conv, native_p
    return out.attentions, pooled


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("size", [(40, 52), (70, 45)])
def test_pixels_equal_the_family_processor(checkpoints, family, size):
    hf, tokenizer, processor, folder, model = checkpoints[family]
    image = photo(*size)
    expected = processor(images=image, return_tensors="pt")["pixel_values"]
    _, inputs = model_inputs(model, image)
    assert inputs.shape == expected.shape
    assert torch.allclose(inputs, expected, atol=1e-6)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("shape", SHAPES)
def test_prompt_probabilities_equal_transformers(checkpoints, family, shape):
    hf, tokenizer, _, _, model = checkpoints[family]
    pixels = torch.randn(1, 3, *shape, generator=torch.Generator().manual_seed(1))
    prompted = model.with_prompts(PROMPTS[family])
    with torch.no_grad():
        probabilities = prompted.probabilities(prompted(pixels).logits)[0]
    expected = reference_probabilities(family, hf, tokenizer, pixels, PROMPTS[family])
    assert torch.allclose(probabilities, expected, atol=TOL), (probabilities, expected)
    if family == "siglip":  # independent sigmoids: they need not sum to 1 (and with a bias of -1.5 do not)
        assert abs(float(expected.sum()) - 1.0) > 0.05


@pytest.mark.parametrize("family", FAMILIES)
def test_analysis_ranks_the_prompts_as_transformers_does(checkpoints, family):
    hf, tokenizer, processor, _, model = checkpoints[family]
    image = photo(45, 60, seed=3)
    analysis = analyze(model, image, prompts=PROMPTS[family])
    expected = reference_probabilities(family, hf, tokenizer, processor(images=image, return_tensors="pt")[
        "pixel_values"], PROMPTS[family])
    order = expected.argsort(descending=True).tolist()
    top = analysis.top(5)
    assert [label for label, _ in top] == [PROMPTS[family][i] for i in order]  # as typed, all of them
    assert np.allclose([p for _, p in top], expected[order].numpy(), atol=TOL)
    assert analysis.labels == PROMPTS[family] and model.labels == []  # the prompts belong to the analysis


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("shape,patch_size", [((32, 32), None), ((24, 40), None), ((30, 30), 6), ((36, 24), 12)])
def test_image_tower_equals_transformers_vision_model(checkpoints, family, shape, patch_size):
    hf, _, _, _, model = checkpoints[family]
    pixels = torch.randn(1, 3, *shape, generator=torch.Generator().manual_seed(2))
    attentions, pooled = reference_vision(hf, pixels, patch_size)
    with torch.no_grad():
        out = model(pixels, patch_size, output_intermediates=True)
        embedding = model.image_embedding(out.intermediates["encoded"])
    assert len(out.attentions) == len(attentions)
    for ours, theirs in zip(out.attentions, attentions, strict=True):
        assert ours.shape == theirs.shape
        assert torch.allclose(ours, theirs, atol=TOL)
    assert torch.allclose(embedding, pooled, atol=TOL)


def test_siglip_views_follow_the_probe_row(checkpoints):
    """SigLIP has no class token: every view starts from the attention probe's row over the patches (heads
    averaged), as the class token's row starts them elsewhere; checked against torch's MultiheadAttention."""
    hf, _, processor, _, model = checkpoints["siglip"]
    image = photo(50, 40, seed=4)
    analysis = analyze(model, image, prompts=PROMPTS["siglip"])
    pixels = processor(images=image, return_tensors="pt")["pixel_values"]
    with torch.no_grad():
        hidden = hf.vision_model(pixel_values=pixels).last_hidden_state  # after the post-norm
        head = hf.vision_model.head
        _, weights = head.attention(head.probe, hidden, hidden, need_weights=True, average_attn_weights=True)
    probe_row = weights[0, 0].numpy()
    assert analysis.num_prefix_tokens == 0
    assert np.allclose(analysis.query, probe_row, atol=TOL)
    last = analysis.attentions[-1].mean(0)  # the attention lens at the last layer: pᵀ·A
    expected = probe_row @ last
    assert np.allclose(analysis.attention_map("attention"), expected.reshape(analysis.grid) / expected.sum(),
                       atol=TOL)


@pytest.mark.parametrize("family", FAMILIES)
def test_logit_lens_reads_each_layer_through_the_pooling_and_projection_as_transformers(checkpoints, family):
    """The lens of an image–text model: transformers' hidden state after each block, through its own post-norm
    and pooling (CLIP: class token and visual projection; SigLIP: the attention-pooling head), cosine with its
    text embeddings times exp(logit scale) (+ SigLIP's bias), then softmax (SigLIP: a sigmoid per prompt)."""
    hf, tokenizer, _, _, model = checkpoints[family]
    analysis = analyze(model, photo(45, 60, seed=5), prompts=PROMPTS[family])
    with torch.no_grad():
        out = hf(pixel_values=analysis.inputs, output_hidden_states=True, interpolate_pos_encoding=True,
                 **reference_text(family, tokenizer, PROMPTS[family]))
        vision, rows = hf.vision_model, []
        for state in out.vision_model_output.hidden_states[1:]:  # [0] is the embeddings, before any block
            normed = vision.post_layernorm(state)
            pooled = vision.head(normed) if family == "siglip" else hf.visual_projection(normed[:, 0])
            logits = hf.logit_scale.exp() * F.normalize(pooled, dim=-1) @ out.text_embeds.T
            rows.append(torch.sigmoid(logits + hf.logit_bias) if family == "siglip" else logits.softmax(-1))
    expected = torch.cat(rows).numpy()
    lens = analysis.logit_lens()
    assert lens.shape == (2, 3)
    np.testing.assert_allclose(lens, expected, atol=TOL, rtol=0)
    np.testing.assert_allclose(lens[-1], reference_probabilities(family, hf, tokenizer, analysis.inputs,
                                                                 PROMPTS[family]).numpy(), atol=TOL, rtol=0)
    # The first layer answers differently, by more than the rows' agreement with the reference (random tiny
    # towers score near-uniformly: the rows differ by ~4e-4 for Chinese-CLIP).
    assert not np.allclose(lens[0], lens[-1], atol=2 * TOL, rtol=0)
    patch = analysis.patch_lens()
    assert patch.classes.shape == (2, *analysis.grid) and patch.classes.max() < 3


def test_the_figure_command_draws_the_lens_of_an_image_text_model(checkpoints, tmp_path):
    """`python -m vitdemo figure --method logit-lens` on a CLIP folder writes the lens figure (it used to end in
    a traceback: the lens asked for a classifier head)."""
    from vitdemo.__main__ import main

    folder = checkpoints["clip"][3]
    picture, out = tmp_path / "photo.png", tmp_path / "lens.png"
    photo(40, 40).save(picture)
    assert main(["figure", str(picture), "--model", str(folder), "--method", "logit-lens", "--prompts", "cat,dog",
                 "--out", str(out)]) == 0
    assert Image.open(out).size[0] > 0


def test_the_lens_of_an_image_text_model_without_prompts_is_refused_in_one_sentence(checkpoints):
    _, _, _, _, model = checkpoints["clip"]
    analysis = analyze(model, photo(40, 40))
    for read in (analysis.logit_lens, analysis.patch_lens):
        with pytest.raises(ValueError, match=r"^this image–text model was analysed without prompts: .*prompts=\[") as e:
            read()
        assert "\n" not in str(e.value)


def test_sanity_randomises_the_pooling_and_follows_siglips_randomised_probe(checkpoints):
    """The first step of the cascade randomises the tower's head (CLIP's projection, SigLIP's probe), and every
    step of SigLIP's is read from that step's probe row over the patches (no class token to fall back on)."""
    from vitdemo.explain.sanity import randomised_analyses

    _, _, _, _, clip = checkpoints["clip"]
    trained = analyze(clip, photo(40, 40), prompts=PROMPTS["clip"])
    first, _ = next(randomised_analyses(trained))
    assert not torch.equal(first.model.proj.weight, clip.proj.weight)
    assert not np.allclose(first.probabilities.numpy(), trained.probabilities.numpy(), atol=1e-3)
    _, _, _, _, siglip = checkpoints["siglip"]
    trained = analyze(siglip, photo(40, 40), prompts=PROMPTS["siglip"])
    queries = [step.query.copy() for step, _ in randomised_analyses(trained)]
    assert len(queries) == 3  # head, then blocks 2 and 1
    for query in queries:
        assert isinstance(query, np.ndarray) and query.sum() == pytest.approx(1.0, abs=1e-5)
        assert not np.allclose(query, trained.query, atol=1e-4)  # the randomised probe's own row
    assert len(trained.sanity("attention")) == 3


def authors_legrad_clip(hf, text_embedding: torch.Tensor, pixels: torch.Tensor) -> list[np.ndarray]:
    """WalBouss/LeGrad `compute_legrad_clip`, per layer, before its sum over layers and min-max: the mean of the
    block's output tokens through ln_post and the projection, normalised, times the (normalised) prompt; its
    gradient on that block's attention, clamped at 0, averaged over heads and queries, at the patch columns."""
    vision = hf.vision_model
    with torch.enable_grad():
        out = vision(pixel_values=pixels, output_attentions=True, output_hidden_states=True,
                     interpolate_pos_encoding=True)
        maps = []
        for layer, attention in enumerate(out.attentions):
            tokens = out.hidden_states[layer + 1]  # block `layer`'s output
            feature = F.normalize(hf.visual_projection(vision.post_layernorm(tokens.mean(dim=1))), dim=-1)
            score = (text_embedding @ feature.T).sum()
            (grad,) = torch.autograd.grad(score, attention, retain_graph=True)
            maps.append(grad.clamp(min=0).mean(dim=1).mean(dim=1)[0, 1:].detach().numpy())
    return maps


def min_max(values: np.ndarray) -> np.ndarray:
    return (values - values.min()) / (values.max() - values.min())


@pytest.mark.parametrize("size,patch_size", [((32, 32), None), ((40, 24), 8)])
def test_legrad_for_clip_matches_the_authors(checkpoints, size, patch_size):
    hf, tokenizer, _, _, model = checkpoints["clip"]
    pixels = torch.randn(1, 3, *size, generator=torch.Generator().manual_seed(5))
    prompts = PROMPTS["clip"]
    prompted = model.with_prompts(prompts)  # an analysis of these pixels, as `analyze` makes of a picture's
    analysis = Analysis(prompted, photo(8, 8), pixels, forward_with_everything(prompted, pixels, patch_size))
    text = tokenizer(["a photo of a red car."], padding=True, return_tensors="pt")
    with torch.no_grad():
        text_embedding = F.normalize(hf.get_text_features(**text).pooler_output, dim=-1)
    hf.train(False)
    for p in hf.parameters():
        p.requires_grad_(True)
    expected = authors_legrad_clip(hf, text_embedding, pixels)
    rows = analysis.legrad_rows(analysis.labels.index("red car"))  # (layers, heads, T)
    prefix = analysis.num_prefix_tokens
    for layer, reference in enumerate(expected):
        ours = rows[layer].mean(0)[prefix:]
        assert np.allclose(min_max(ours), min_max(reference), atol=1e-4), layer
    two_layers = min_max(sum(expected[-2:]))  # the authors' default: the last two layers, summed, min-max
    assert np.allclose(min_max(rows[-2:].mean(1).sum(0)[prefix:]), two_layers, atol=1e-4)
    full = analysis.attention_map("legrad", target="red car")  # vitdemo's map: all layers, summing to 1
    assert np.allclose(min_max(full.ravel()), min_max(sum(expected)), atol=1e-4)


def test_prompt_targets_and_errors(checkpoints):
    _, _, _, _, model = checkpoints["clip"]
    analysis = analyze(model, photo(40, 40), prompts=["cat", "dog"])
    assert np.array_equal(analysis.attention_map("relevance", target="dog"),
                          analysis.attention_map("relevance", target=1))
    with pytest.raises(ValueError, match="unknown label"):
        analysis.attention_map("legrad", target="a photo of a horse")
    with pytest.raises(ValueError, match="at least one prompt"):
        analyze(model, photo(40, 40), prompts=[" ", ""])
    plain = vitdemo.ViT(vitdemo.ViTConfig(image_size=32, patch_size=8, dim=32, depth=1, heads=2, mlp_dim=64,
                                          num_classes=3)).eval()
    with pytest.raises(ValueError, match="image–text model"):
        analyze(plain, photo(40, 40), prompts=["cat"])


def test_a_folder_in_clip_layout_saved_by_project_code_loads(tmp_path: Path):
    """Item 4 will train an image–text model in the project: saved as a transformers CLIP folder, it loads
    through the same path, with no preprocessor_config.json (the family's processor defaults apply)."""
    hf, _, _ = tiny.build("clip", tmp_path, seed=7)
    (tmp_path / "preprocessor_config.json").unlink()
    model = vitdemo.load(str(tmp_path), device="cpu", precision="fp32")
    assert model.config.preprocessing.mean == tiny_openai_mean()
    assert model.template == "a photo of a {}."


def tiny_openai_mean() -> tuple[float, float, float]:
    import transformers

    return tuple(transformers.CLIPImageProcessorPil().image_mean)
