"""The guided tour's strings: buttons, stage names, and one or two sentences per step on why it exists.

The `tour.why.*` strings are filled with the step's facts (`vitdemo.explain.tour.Step.facts`) on the server;
every placeholder in one language is in the other.
"""

EN = {
    "tour.tab": "Guided tour",
    "tour.start": "Guided tour ▸",
    "tour.next": "Next ›",
    "tour.back": "‹ Back",
    "tour.free": "Back to the explorer",
    "tour.intro": "**The recipe, one step at a time**, on the image, model and patch size chosen above: for "
                  "each step, why it is there, the shape of its tensor, a picture of it and the code of "
                  "`vitdemo/model.py` that computed it.",
    "tour.empty": "Upload an image (or pick an example) to start the tour.",
    "tour.progress": "Step {index} of {count}: {name}",
    "tour.shape": "**Tensor shape:** `{shape}`",
    "tour.shape_scalar": "**Tensor shape:** `()`, a single number",
    "tour.code": "Code",
    "tour.code_label": "The code of this step, from vitdemo/model.py: {names}",
    "tour.picture": "Picture",
    "tour.block": "Encoder block",
    "tour.label": "Label for the loss",
    "tour.no_classifier": "This model has no classifier (it was trained self-supervised, like DINO), so the "
                          "tour ends here, at the class-token output.",
    "tour.stage.image": "image",
    "tour.stage.patches": "patches",
    "tour.stage.unfold_conv": "unfold = conv2d",
    "tour.stage.embeddings": "patch embeddings",
    "tour.stage.class_token": "class token",
    "tour.stage.position": "position embeddings",
    "tour.stage.encoder": "encoder blocks",
    "tour.stage.class_output": "class-token output",
    "tour.stage.head": "linear head",
    "tour.stage.loss": "softmax and loss",
    "tour.stage.lens": "what each layer knows",
    "tour.why.image": "This is the picture the model reads: {width}×{height} px after resizing and cropping, "
                      "{channels} channels, each normalised (a batch of one makes it a 4-D tensor).",
    "tour.why.patches": "A Transformer reads a sequence, not a grid, so the image is cut into {rows}×{cols} = "
                        "{count} patches of {p}×{p} px. `F.unfold` flattens each into {values} numbers "
                        "({p}·{p}·{channels}), row by row.",
    "tour.why.unfold_conv": "Multiplying each flattened patch by one matrix E is exactly a `conv2d` with kernel = "
                            "stride = {p}, which visits each patch once in the same row-by-row order; libraries "
                            "run the convolution because it is faster. On this image max |unfold − conv2d| = "
                            "{difference:.1e}: float rounding only.",
    "tour.why.embeddings": "Each of the {count} patches becomes one {dim}-d token: its {values} pixel values times "
                           "E ({values}×{dim}), plus a bias. The picture has one row per patch and one column "
                           "per feature.",
    "tour.why.class_token": "A learned class token is put in front of the patches ({prefix} + {count} = {tokens} "
                            "tokens; the top row of the picture): it belongs to no patch, so it can gather from "
                            "all of them, and the classifier reads it at the end.",
    "tour.why.position": "Attention itself ignores order, so a learned position embedding, resampled to this "
                         "{rows}×{cols} grid, is added to each token. Neighbouring positions are alike (mean "
                         "cosine similarity {neighbours:.2f}, against {overall:.2f} over all pairs; each small "
                         "square is one position against all others): the model learned the 2-D layout from a "
                         "1-D sequence.",
    "tour.why.position_flat": "Attention itself ignores order, so a learned position embedding, resampled to this "
                              "{rows}×{cols} grid, is added to each token. Here neighbouring positions are hardly "
                              "more alike than any two (mean cosine similarity {neighbours:.2f}, against "
                              "{overall:.2f} over all pairs; each small square is one position against all "
                              "others): these embeddings show no 2-D layout.",
    "tour.why.encoder": "Block {block} of {depth}: every token looks at every token with {heads}-head attention "
                        "(weights {attention_shape}), then goes through an MLP, each added back to its input: "
                        "x + Attention(LN(x)), then x + MLP(LN(x)). The picture is where the class token looks in "
                        "this block: most at row {row}, column {col} ({share:.0%}).",
    "tour.why.class_output": "After the last block and a final layer norm, token 0, the class token, sums up the "
                             "whole image in one {dim}-d vector; the other tokens are dropped.",
    "tour.why.class_output_mean": " This model's head also reads the mean of the patch tokens: {head_dim} numbers "
                                  "in all.",
    "tour.why.head": "One linear layer turns that vector into {classes} scores (logits), one per class: {dim} "
                     "inputs, {classes} outputs. The highest here is {top} ({top_logit:.2f}).",
    "tour.why.loss": "Softmax turns the logits into probabilities, and training minimises the cross-entropy, −log "
                     "of the right label's probability: for {label}, p = {probability:.1%} and loss = −log "
                     "{probability:.4f} = {loss:.3f}. Pick another label: the lower its probability, the "
                     "larger the loss.",
    "tour.why.lens": "What does each layer know? Read every block's tokens through the same final norm and head "
                     "(the code below), as if the model stopped there: that is the logit lens. After block 1 it "
                     "would answer {first} ({first_probability:.0%}); its final answer, {answer} "
                     "({probability:.0%}), is the top-1 from block {settled} of {depth} on. Each bar is the "
                     "probability of {answer} after one block, named with that block's own top-1. The explorer's "
                     "Logit lens view shows what each patch would answer.",
}
ZH = {
    "tour.tab": "分步导览",
    "tour.start": "分步导览 ▸",
    "tour.next": "下一步 ›",
    "tour.back": "‹ 上一步",
    "tour.free": "返回自由探索",
    "tour.intro": "**一步一步走完整个流程**，用的是上面选好的图像、模型和图像块大小：每一步都说明它为什么存在，"
                  "给出张量形状、一张示意图，以及 `vitdemo/model.py` 中计算这一步的代码。",
    "tour.empty": "上传一张图像（或选一个示例）即可开始导览。",
    "tour.progress": "第 {index} 步（共 {count} 步）：{name}",
    "tour.shape": "**张量形状：** `{shape}`",
    "tour.shape_scalar": "**张量形状：** `()`，即一个数",
    "tour.code": "代码",
    "tour.code_label": "本步骤的代码，摘自 vitdemo/model.py：{names}",
    "tour.picture": "示意图",
    "tour.block": "编码器块",
    "tour.label": "用于计算损失的标签",
    "tour.no_classifier": "这个模型没有分类器（它是自监督训练的，例如 DINO），所以导览到类别标记的输出就结束了。",
    "tour.stage.image": "图像",
    "tour.stage.patches": "切分图像块",
    "tour.stage.unfold_conv": "unfold 等于 conv2d",
    "tour.stage.embeddings": "图像块嵌入",
    "tour.stage.class_token": "类别标记",
    "tour.stage.position": "位置编码",
    "tour.stage.encoder": "编码器块",
    "tour.stage.class_output": "类别标记输出",
    "tour.stage.head": "线性分类头",
    "tour.stage.loss": "Softmax 与损失",
    "tour.stage.lens": "每一层知道什么",
    "tour.why.image": "这是模型实际读入的图像：缩放、裁剪后为 {width}×{height} 像素，共 {channels} 个通道，"
                      "每个通道都做了归一化（加上大小为 1 的批次维度，就是一个四维张量）。",
    "tour.why.patches": "Transformer 处理的是序列而不是网格，所以先把图像切成 {rows}×{cols} = {count} 个 "
                        "{p}×{p} 像素的图像块。`F.unfold` 按行依次把每个图像块展平成 {values} 个数"
                        "（{p}·{p}·{channels}）。",
    "tour.why.unfold_conv": "把每个展平的图像块乘以同一个矩阵 E，恰好等于一个卷积核大小和步长都是 {p} 的 "
                            "`conv2d`：卷积核按同样的逐行顺序把每个图像块恰好访问一次；各个库都用卷积来算，"
                            "因为它更快。在这张图像上实测 max |unfold − conv2d| = {difference:.1e}，"
                            "只是浮点舍入误差。",
    "tour.why.embeddings": "{count} 个图像块各自变成一个 {dim} 维的标记：{values} 个像素值乘以 E"
                           "（{values}×{dim}），再加上偏置。图中每一行是一个图像块，每一列是一个特征。",
    "tour.why.class_token": "在图像块前面加上一个可学习的类别标记（{prefix} + {count} = {tokens} 个标记，"
                            "即图中最上面一行）：它不属于任何一个图像块，因此能从所有图像块汇集信息，"
                            "最后分类器读取的就是它。",
    "tour.why.position": "注意力本身不区分顺序，所以要给每个标记加上可学习的位置编码，并重采样到当前的 "
                         "{rows}×{cols} 网格。相邻位置的编码很相似（平均余弦相似度为 {neighbours:.2f}，"
                         "而所有位置两两之间为 {overall:.2f}；图中每个小方格是一个位置与其他所有位置的相似度）："
                         "模型从一维序列中学到了二维布局。",
    "tour.why.position_flat": "注意力本身不区分顺序，所以要给每个标记加上可学习的位置编码，并重采样到当前的 "
                              "{rows}×{cols} 网格。这里相邻位置并不比任意两个位置更相似（平均余弦相似度为 "
                              "{neighbours:.2f}，而所有位置两两之间为 {overall:.2f}；图中每个小方格是一个位置与"
                              "其他所有位置的相似度）：这些位置编码看不出二维布局。",
    "tour.why.encoder": "第 {block} 个编码器块（共 {depth} 个）：每个标记通过 {heads} 头的多头注意力关注所有标记"
                        "（注意力权重的形状为 {attention_shape}），再经过一个 MLP，两者都以残差方式加回输入："
                        "先 x + Attention(LN(x))，再 x + MLP(LN(x))。图中是这一块里类别标记关注的位置，"
                        "最集中在第 {row} 行第 {col} 列（{share:.0%}）。",
    "tour.why.class_output": "经过最后一个编码器块和最终的层归一化之后，第 0 个标记，也就是类别标记，"
                             "用一个 {dim} 维向量概括了整张图像；其余的标记不再使用。",
    "tour.why.class_output_mean": "这个模型的分类头还会读取所有图像块标记的平均值，一共 {head_dim} 个数。",
    "tour.why.head": "一个线性层把这个向量变成 {classes} 个分数（logits），每个类别一个：输入 {dim} 维，"
                     "输出 {classes} 维。这里得分最高的是 {top}（{top_logit:.2f}）。",
    "tour.why.loss": "Softmax 把 logits 变成概率，训练时最小化交叉熵，也就是正确标签概率的负对数："
                     "对于 {label}，p = {probability:.1%}，损失 = −log {probability:.4f} = {loss:.3f}。"
                     "换一个标签试试：它的概率越低，损失就越大。",
    "tour.why.lens": "每一层知道什么？把每个编码器块输出的标记都送进同一个最终层归一化和分类头（即下面的代码），"
                     "就像模型在那里停下一样：这就是 logit 透镜。在第 1 个块之后，它会回答 {first}"
                     "（{first_probability:.0%}）；它的最终答案 {answer}（{probability:.0%}）从第 {settled} 个块"
                     "（共 {depth} 个）起一直是第一名。每根柱子是某个块之后 {answer} 的概率，上面标着该块自己的"
                     "第一名。自由探索里的 Logit 透镜视图显示每个图像块会回答什么。",
}
