"""The page's own static strings: title, inputs, pickers, tabs, the probing tab's texts (shown with `t()`).

Chinese uses the tutorial's terms (图像块 patch, 类别标记 class token, 位置编码 position embedding,
多头注意力, 编码器 encoder, 交叉熵 cross-entropy).
"""

EN = {
    "page.title": "ViT explorer: how a Vision Transformer sees your image",
    "page.image": "Image",
    "page.image_placeholder": "Drop an image here. {accepted}.",
    "page.model": "Model",
    "page.patch_size": "Patch size (px)",
    "page.keep_aspect": "Keep aspect ratio (non-square grid, up to {ratio}:1)",
    "page.top5": "Top-5",
    "page.examples": "Examples",
    "page.tab.heads": "All heads of this layer",
    "page.tab.compare": "Compare patch sizes",
    "page.tab.recipe": "The recipe, live",
    "page.tab.probing": "Model probing",
    "page.compare_sizes": "Pick 2 or 3 patch sizes",
    "page.compare_button": "Compare",
    "page.recipe_gallery": "Stages",
    "page.probing_intro": "The ViT paper's Fig. 7 for this model: embedding filters (left), position-embedding "
                          "similarity (centre) and each head's mean attention distance on this image (right).",
    "page.probe_filters": "Top principal components of the patch-embedding filters",
    "page.probe_positions": "Position-embedding similarity",
    "page.probe_distance": "Mean attention distance",
}
ZH = {
    "page.title": "ViT 探索器：看视觉 Transformer 如何理解你的图像",
    "page.image": "图像",
    "page.image_placeholder": "把图像拖到这里。{accepted}。",
    "page.model": "模型",
    "page.patch_size": "图像块大小（像素）",
    "page.keep_aspect": "保持宽高比（非正方形网格，最多 {ratio}:1）",
    "page.top5": "前 5 名",
    "page.examples": "示例",
    "page.tab.heads": "本层的所有注意力头",
    "page.tab.compare": "比较图像块大小",
    "page.tab.recipe": "实时查看每一步",
    "page.tab.probing": "模型探查",
    "page.compare_sizes": "选 2 到 3 个图像块大小",
    "page.compare_button": "比较",
    "page.recipe_gallery": "各个阶段",
    "page.probing_intro": "本模型的 ViT 论文图 7：图像块嵌入的滤波器（左）、位置编码的相似度（中），以及每个注意力头"
                          "在这张图像上的平均注意力距离（右）。",
    "page.probe_filters": "图像块嵌入滤波器的主成分（前几个）",
    "page.probe_positions": "位置编码相似度",
    "page.probe_distance": "平均注意力距离",
}
