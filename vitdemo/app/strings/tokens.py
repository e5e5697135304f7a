"""What the explorer's model view and token matrix say (explorer_tokens.js, explorer.html). Rows, columns,
layers, heads and tokens count from 1, as everywhere on the page."""

EN = {
    "explorer.tokens.modes_aria": "What to show",
    "explorer.tokens.mode_map": "Map",
    "explorer.tokens.mode_model": "Every layer and head",
    "explorer.tokens.mode_matrix": "Token × token",
    "explorer.tokens.model_aria": "Every layer and head: click a map to open it",
    "explorer.tokens.matrix_aria": "Attention of every token to every token: click a row",
    "explorer.tokens.patch": "patch {number} (row {row}, col {col})",
    "explorer.tokens.model_caption": "{method} of the {token} token in all {layers} layers (rows) × {heads} heads "
                                     "(columns). Click a map to open that layer and head.",
    "explorer.tokens.model_hover": "layer {layer}, head {head}: click to open",
    "explorer.tokens.fetching": "Fetching this head's scores from the server…",
    "explorer.tokens.failed": "The scores could not be fetched: {error}",
    "explorer.tokens.matrix_caption": "Attention of every token (rows: queries) to every token (columns: keys), "
                                      "layer {layer} of {depth}, head {head}, {count} tokens; each row scaled by its "
                                      "largest value. Click a row to see that token.",
    "explorer.tokens.matrix_caption_fused": "The matrix needs a single head, so it shows head {head} while "
                                            "the head box combines heads (pick one head there to see another). "
                                            "Layer {layer} of {depth}, {count} tokens; rows are queries, columns keys, "
                                            "each row scaled by its largest value.",
    "explorer.tokens.legend_patches": "patches, row by row ({rows} × {cols}; rows in two greys)",
    "explorer.tokens.matrix_hover": "{query} → {key}: {percent} (q·k/√d = {score})",
    "explorer.tokens.row_caption": "Where {token} looks, over the image",
    "explorer.tokens.pick": "Click a row of the matrix to pick a token.",
    "explorer.tokens.key": "key",
    "explorer.tokens.score": "q·k/√d",
    "explorer.tokens.probability": "after softmax",
    "explorer.tokens.scores_note": "Scores before the softmax: each query·key product divided by √{d} (d = {d}, "
                                   "the head's width), as the model scales them; the softmax over all {count} keys "
                                   "turns them into the attention. The keys it attends to most are listed.",
}

ZH = {
    "explorer.tokens.modes_aria": "显示内容",
    "explorer.tokens.mode_map": "热力图",
    "explorer.tokens.mode_model": "所有层和头",
    "explorer.tokens.mode_matrix": "标记 × 标记",
    "explorer.tokens.model_aria": "所有层和头：点击一张图打开它",
    "explorer.tokens.matrix_aria": "每个标记对每个标记的注意力：点击一行",
    "explorer.tokens.patch": "图像块 {number}（第 {row} 行，第 {col} 列）",
    "explorer.tokens.model_caption": "{token}在全部 {layers} 层（行）× {heads} 个头（列）中的{method}。"
                                     "点击一张图即可打开该层和该头。",
    "explorer.tokens.model_hover": "第 {layer} 层，第 {head} 个头：点击打开",
    "explorer.tokens.fetching": "正在从服务器获取这个头的分数…",
    "explorer.tokens.failed": "无法获取分数：{error}",
    "explorer.tokens.matrix_caption": "每个标记（行：查询）对每个标记（列：键）的注意力，"
                                      "第 {layer} 层（共 {depth} 层），第 {head} 个头，共 {count} 个标记；"
                                      "每行按其最大值缩放。点击一行查看该标记。",
    "explorer.tokens.matrix_caption_fused": "矩阵需要单个头，因此在头选项为多个头的合并时显示第 {head} 个头"
                                            "（在上方选一个头可查看其他头）。"
                                            "第 {layer} 层（共 {depth} 层），共 {count} 个标记；行是查询，列是键，"
                                            "每行按其最大值缩放。",
    "explorer.tokens.legend_patches": "图像块，逐行排列（{rows} × {cols}；各行用两种灰色交替）",
    "explorer.tokens.matrix_hover": "{query} → {key}：{percent}（q·k/√d = {score}）",
    "explorer.tokens.row_caption": "{token}在图像上看向哪里",
    "explorer.tokens.pick": "点击矩阵的一行来选择一个标记。",
    "explorer.tokens.key": "键",
    "explorer.tokens.score": "q·k/√d",
    "explorer.tokens.probability": "softmax 之后",
    "explorer.tokens.scores_note": "softmax 之前的分数：每个查询·键的乘积除以 √{d}（d = {d}，即每个头的宽度），"
                                   "与模型的缩放方式相同；对全部 {count} 个键做 softmax 后得到注意力。"
                                   "下表列出它最关注的键。",
}
