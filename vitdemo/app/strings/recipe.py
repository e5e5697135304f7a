"""The recipe tab's stages (`vitdemo.explain.recipe.Stage`: its `kind` names the key, its `values` fill it in).
The English is the recipe module's own sentences, word for word (tests/test_i18n.py holds them to it)."""

EN = {
    "recipe.image.name": "image",
    "recipe.image.note": "the {width}×{height} px the model sees after resize and crop, normalised per channel",
    "recipe.unfold.name": "unfold patches",
    "recipe.unfold.note": "cut into {rows}×{cols} = {n} patches of {p}×{p}×{channels} = {numbers} numbers, row by row",
    "recipe.embed.name": "patch embeddings",
    "recipe.embed.note": "each patch times E ({numbers}×{dim}) plus a bias: one {dim}-d token per patch; max "
                         "|unfold-matmul − conv2d| = {difference}",
    "recipe.class.name": "+ class token",
    "recipe.class.note": "the learned class token put in front: {prefix} + {n} = {tokens} tokens",
    "recipe.class_distilled.name": "+ class token",
    "recipe.class_distilled.note": "the learned class token and distillation token put in front: {prefix} + {n} = "
                                   "{tokens} tokens",
    "recipe.position.name": "+ position embeddings",
    "recipe.position.note": "a learned vector added to each token, resampled to the {rows}×{cols} grid, so order is "
                            "known",
    "recipe.block.name": "encoder block {block}",
    "recipe.block.note": "x + attention(LN(x)), then x + MLP(LN(x)); picture: where the class token looked",
    "recipe.output.name": "class-token output",
    "recipe.output.note": "the final layer norm of token 0: the whole image summarised in one vector",
    "recipe.logits.name": "logits",
    "recipe.logits.note": "a linear head on that vector; softmax gives {label} at {probability}",
}
ZH = {
    "recipe.image.name": "图像",
    "recipe.image.note": "模型看到的 {width}×{height} 像素图像（已缩放、裁剪，并按通道归一化）",
    "recipe.unfold.name": "切分图像块（unfold）",
    "recipe.unfold.note": "逐行切成 {rows}×{cols} = {n} 个图像块，每块 {p}×{p}×{channels} = {numbers} 个数",
    "recipe.embed.name": "图像块嵌入",
    "recipe.embed.note": "每个图像块乘以 E（{numbers}×{dim}）再加偏置：每个图像块得到一个 {dim} 维的标记；"
                         "|unfold 矩阵乘 − conv2d| 的最大差 = {difference}",
    "recipe.class.name": "+ 类别标记",
    "recipe.class.note": "把学到的类别标记放在最前面：{prefix} + {n} = {tokens} 个标记",
    "recipe.class_distilled.name": "+ 类别标记",
    "recipe.class_distilled.note": "把学到的类别标记和蒸馏标记放在最前面：{prefix} + {n} = {tokens} 个标记",
    "recipe.position.name": "+ 位置编码",
    "recipe.position.note": "给每个标记加上一个学到的向量（重采样到 {rows}×{cols} 的网格），模型由此知道顺序",
    "recipe.block.name": "编码器第 {block} 块",
    "recipe.block.note": "x + 注意力(LN(x))，再 x + MLP(LN(x))；图：类别标记看向哪里",
    "recipe.output.name": "类别标记的输出",
    "recipe.output.note": "最后一层 LayerNorm 之后的 0 号标记：整张图像浓缩成的一个向量",
    "recipe.logits.name": "对数几率（logits）",
    "recipe.logits.note": "在这个向量上接一个线性分类头；softmax 给出 {label} 的概率为 {probability}",
}
