"""The page's own strings: title, inputs, pickers, tabs. Chinese uses the tutorial's terms (图像块, 类别标记,
位置编码, 多头注意力, 编码器, 交叉熵)."""

EN = {
    "page.title": "ViT explorer: how a Vision Transformer sees your image",
}
ZH = {
    "page.title": "ViT 探索器：看视觉 Transformer 如何理解你的图像",
}
