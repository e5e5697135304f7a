"""Text the server composes for the page: the status line, the summary, hints, prompts, toasts (`text()` and
`Message`). The English is what the app said before it spoke two languages, word for word (tests and API
clients read it)."""

EN = {
    # the status line at the top and why the model runs
    "messages.status": "**Model: {title}.** {blurb}{why}",
    "messages.startup.bundled_requested": "Running the bundled shapes model, as requested.",
    "messages.startup.running": "Running {title}, {how} ({where}).",
    "messages.startup.as_requested": "as requested",
    "messages.startup.default": "the default",
    "messages.startup.in_cache": "found in the local cache",
    "messages.startup.from_folder": "from {folder}",
    "messages.startup.offline": "Offline (HF_HUB_OFFLINE=1) and {title} is not downloaded: running the bundled shapes "
                                "model.",
    "messages.startup.checking": "{title} is not downloaded yet; checking the Hugging Face Hub. Meanwhile: the "
                                 "bundled shapes model.",
    "messages.startup.downloading": "Downloading {title} from the Hugging Face Hub…",
    "messages.startup.unreachable": "The Hugging Face Hub is unreachable and {title} is not downloaded: running the "
                                    "bundled shapes model (works offline).",
    "messages.startup.downloaded": "Downloaded from the Hugging Face Hub ({source}).",
    "messages.loading": "Loading {title}…",
    # under the patch-size picker
    "messages.patch_hint.all_native": "{star} trained at every size shown, so each should work about equally well.",
    "messages.patch_hint.resized": "{star} = trained at this size. Other sizes reuse the {patch} px weights via "
                                   "PI-resize (FlexiViT): expect lower accuracy the further from ★, most of all for "
                                   "smaller patches.",
    # the summary line above the explorer
    "messages.prompt": "Upload an image, paste one, use the webcam, or pick an example.",
    "messages.summary": "**{title}** · patch {patch} px ({how}) · {rows}×{cols} patches + {prefix} prefix = {tokens} "
                        "tokens · {width}×{height} px input{timing}",
    "messages.summary.native": "native",
    "messages.summary.resized": "PI-resized from {patch} px",
    "messages.summary.cached": " · cached",
    "messages.summary.ms": " · {ms} ms",
    "messages.summary.no_classifier": "This model has no classifier (self-supervised): it names no class, but every "
                                      "attention view works.",
    "messages.summary.few_classes": "This model knows only {count} classes: {labels}.",
    "messages.summary.cropped": "Your {width}×{height} image is longer than {ratio}:1, the most “Keep aspect ratio” "
                                "keeps: its middle was cropped to {ratio}:1.",
    "messages.summary.enlarged": "Your {width}×{height} image is much smaller than what the model reads: it was "
                                 "enlarged to {view_width}×{view_height} px, so each of its pixels became a block.",
    "messages.summary.first_frame": "Your {format} is animated: its first frame was used.",
    # the recipe tab
    "messages.recipe.prompt": "Upload an image to see each step of the recipe on it.",
    "messages.recipe.header": "| # | stage | tensor shape | what happened |",
    # toasts
    "messages.title.warning": "Warning",
    "messages.title.error": "Error",
    "messages.upload_first": "Upload an image first.",
    "messages.example_gone": "That example is not offered for this model; pick one of the examples shown.",
    "messages.pick_sizes": "Pick two or three patch sizes to compare (you picked {count}).",
    "messages.our_side": "Something went wrong on our side ({kind}); please try another image or setting.",
    "messages.our_side_short": "Something went wrong on our side ({kind}).",
    "messages.not_downloaded_offline": "{title} is not downloaded and the app is offline (HF_HUB_OFFLINE=1). "
                                       "Available now: {available}.",
    "messages.could_not_load": "Could not load {title}: {reason}",
    "messages.no_classifier_classify": "{title} has no classifier, so it cannot classify; /analyze shows where it "
                                       "attends.",
    # each registered model"s line in the status (English: models.REGISTRY"s blurb, which a test holds it to)
    "messages.blurb.bundled": "A small ViT trained by this project on synthetic shapes, 96 px, patch sizes 8–32. "
                              "Always available.",
    "messages.blurb.flexivit-b": "Trained for every patch size from 8 to 48: the model this demo is about.",
    "messages.blurb.vit-b16": "The original ViT-Base at patch 16; other patch sizes go through PI-resize.",
    "messages.blurb.deit-tiny": "5M parameters: quick on a CPU.",
    "messages.blurb.deit-small": "22M parameters: a good CPU compromise.",
    "messages.blurb.dino-s8": "Self-supervised (DINO, Caron et al. 2021): no classifier; its class-token attention "
                              "outlines objects.",
    "messages.blurb.dino-s16": "Self-supervised (DINO, Caron et al. 2021): no classifier; its class-token attention "
                               "outlines objects.",
    "messages.blurb.dino-b8": "Self-supervised (DINO, Caron et al. 2021): no classifier; its class-token attention "
                              "outlines objects.",
    "messages.blurb.dino-b16": "Self-supervised (DINO, Caron et al. 2021): no classifier; its class-token attention "
                               "outlines objects.",
    "messages.blurb.dinov2-s": "Self-supervised DINOv2 with a linear ImageNet head on [class token; mean of patches].",
    "messages.blurb.dinov2-b": "Self-supervised DINOv2 with a linear ImageNet head on [class token; mean of patches].",
    "messages.blurb.dinov2-reg-s": "4 register tokens take over the high-norm artifact tokens (Darcet et al. 2024); "
                                   "no classifier.",
    "messages.blurb.dinov2-reg-b": "4 register tokens take over the high-norm artifact tokens (Darcet et al. 2024); "
                                   "no classifier.",
    "messages.blurb.clip-b16": "OpenAI's CLIP image tower: type what to look for; the prompts compete (softmax).",
    "messages.blurb.clip-b32": "OpenAI's CLIP at patch 32: a 7×7 grid, fast; the prompts compete (softmax).",
    "messages.blurb.siglip-b16": "No class token: an attention probe pools the patches, and each prompt is scored "
                                 "on its own (sigmoid).",
    "messages.blurb.chinese-clip-b16": "CLIP trained on Chinese captions: type 猫 or 红色的汽车.",
}
ZH = {
    "messages.status": "**模型：{title}。** {blurb}{why}",
    "messages.startup.bundled_requested": "按要求运行内置的形状模型。",
    "messages.startup.running": "正在运行 {title}（{how}，{where}）。",
    "messages.startup.as_requested": "按要求",
    "messages.startup.default": "默认模型",
    "messages.startup.in_cache": "已在本地缓存中",
    "messages.startup.from_folder": "来自 {folder}",
    "messages.startup.offline": "处于离线状态（HF_HUB_OFFLINE=1），且 {title} 尚未下载：正在运行内置的形状模型。",
    "messages.startup.checking": "{title} 尚未下载，正在连接 Hugging Face Hub；在此之前先用内置的形状模型。",
    "messages.startup.downloading": "正在从 Hugging Face Hub 下载 {title}…",
    "messages.startup.unreachable": "无法连接 Hugging Face Hub，且 {title} 尚未下载：正在运行内置的形状模型（可离线使"
                                    "用）。",
    "messages.startup.downloaded": "已从 Hugging Face Hub 下载（{source}）。",
    "messages.loading": "正在加载 {title}…",
    "messages.patch_hint.all_native": "{star} 列出的每个大小都训练过，效果应当差不多。",
    "messages.patch_hint.resized": "{star} 表示模型在这个大小上训练过。其他大小通过 PI-resize（FlexiViT）复用 {patch} "
                                   "像素的权重：离 ★ 越远，准确率越低，图像块越小越明显。",
    "messages.prompt": "上传或粘贴一张图像、使用摄像头，或选一个示例。",
    "messages.summary": "**{title}** · 图像块 {patch} 像素（{how}）· {rows}×{cols} 个图像块 + {prefix} 个前置标记 = "
                        "{tokens} 个标记 · 输入 {width}×{height} 像素{timing}",
    "messages.summary.native": "原生大小",
    "messages.summary.resized": "由 {patch} 像素经 PI-resize 缩放",
    "messages.summary.cached": " · 来自缓存",
    "messages.summary.ms": " · {ms} 毫秒",
    "messages.summary.no_classifier": "这个模型没有分类器（自监督）：它不给出类别，但所有注意力视图都可以用。",
    "messages.summary.few_classes": "这个模型只认识 {count} 个类别：{labels}。",
    "messages.summary.cropped": "你的图像是 {width}×{height}，长宽比超过了“保持宽高比”最多保留的 {ratio}:1："
                                "已从中间裁成 {ratio}:1。",
    "messages.summary.enlarged": "你的图像只有 {width}×{height}，比模型读取的尺寸小得多：已放大到 "
                                 "{view_width}×{view_height} 像素，所以它的每个像素都变成了一个色块。",
    "messages.summary.first_frame": "你的 {format} 是动图：只用了它的第一帧。",
    "messages.recipe.prompt": "上传一张图像，看看每一步在它身上做了什么。",
    "messages.recipe.header": "| # | 阶段 | 张量形状 | 发生了什么 |",
    "messages.title.warning": "注意",
    "messages.title.error": "错误",
    "messages.upload_first": "请先上传一张图像。",
    "messages.example_gone": "这个模型不提供该示例；请从显示的示例中选一个。",
    "messages.pick_sizes": "请选两到三个图像块大小来比较（你选了 {count} 个）。",
    "messages.our_side": "服务器这边出了问题（{kind}），请换一张图像或换个设置再试。",
    "messages.our_side_short": "服务器这边出了问题（{kind}）。",
    "messages.not_downloaded_offline": "{title} 尚未下载，且应用处于离线状态（HF_HUB_OFFLINE=1）。现在可用：{available"
                                       "}。",
    "messages.could_not_load": "无法加载 {title}：{reason}",
    "messages.no_classifier_classify": "{title} 没有分类器，无法分类；/analyze 可以显示它关注哪里。",
    # each registered model"s line in the status (English: models.REGISTRY"s blurb, which a test holds it to)
    "messages.blurb.bundled": "本项目在合成形状上训练的小型 ViT，96 像素，图像块大小 8–32，随时可用。",
    "messages.blurb.flexivit-b": "在 8 到 48 的每种图像块大小上都训练过：这个演示的主角。",
    "messages.blurb.vit-b16": "原版 ViT-Base，图像块大小 16；其他大小通过 PI-resize 实现。",
    "messages.blurb.deit-tiny": "500 万参数：在 CPU 上也很快。",
    "messages.blurb.deit-small": "2200 万参数：在 CPU 上兼顾速度与效果。",
    "messages.blurb.dino-s8": "自监督（DINO，Caron 等，2021）：没有分类器；类别标记的注意力能勾勒出物体轮廓。",
    "messages.blurb.dino-s16": "自监督（DINO，Caron 等，2021）：没有分类器；类别标记的注意力能勾勒出物体轮廓。",
    "messages.blurb.dino-b8": "自监督（DINO，Caron 等，2021）：没有分类器；类别标记的注意力能勾勒出物体轮廓。",
    "messages.blurb.dino-b16": "自监督（DINO，Caron 等，2021）：没有分类器；类别标记的注意力能勾勒出物体轮廓。",
    "messages.blurb.dinov2-s": "自监督的 DINOv2，在 [类别标记; 图像块均值] 上接一个 ImageNet 线性分类头。",
    "messages.blurb.dinov2-b": "自监督的 DINOv2，在 [类别标记; 图像块均值] 上接一个 ImageNet 线性分类头。",
    "messages.blurb.dinov2-reg-s": "4 个寄存器标记接管了高范数的伪影标记（Darcet 等，2024）；没有分类器。",
    "messages.blurb.dinov2-reg-b": "4 个寄存器标记接管了高范数的伪影标记（Darcet 等，2024）；没有分类器。",
    "messages.blurb.clip-b16": "OpenAI 的 CLIP 图像塔：输入要找的东西；提示词之间互相竞争（softmax）。",
    "messages.blurb.clip-b32": "patch 32 的 OpenAI CLIP：7×7 网格，速度快；提示词之间互相竞争（softmax）。",
    "messages.blurb.siglip-b16": "没有类别标记：由一个注意力探针汇聚图像块，每个提示词单独打分（sigmoid）。",
    "messages.blurb.chinese-clip-b16": "用中文图文对训练的 CLIP：可以输入 猫 或 红色的汽车。",
}
