"""The "Download figure" button's label and messages (the figure itself is English: see explain/figure.py)."""

EN = {
    "figure.button": "⤓ Download figure",
    "figure.file": "Figure",
    "figure.no_analysis": "Upload an image first: the figure shows the analysis on screen.",
    "figure.gone": "This analysis is no longer in the server's memory: change the patch size or upload the image "
                   "again, then download the figure.",
    "figure.method": "Figures show the class token's maps (attention, rollout, relevance, LeGrad) or the logit "
                     "lens: pick one of those views, then download the figure.",
    "figure.patch": "Figures show where the class token looks: go back to the class token, then download the figure.",
}
ZH = {
    "figure.button": "⤓ 下载图表",
    "figure.file": "图表",
    "figure.no_analysis": "请先上传一张图像：图表展示的是屏幕上的分析结果。",
    "figure.gone": "服务器内存里已经没有这次分析了：请换一个图像块大小或重新上传图像，再下载图表。",
    "figure.method": "图表只展示类别标记的注意力图（注意力、注意力展开 rollout、相关性、LeGrad）或 Logit 透镜："
                     "请先选其中一种视图，再下载图表。",
    "figure.patch": "图表展示的是类别标记关注的位置：请先回到类别标记，再下载图表。",
}
