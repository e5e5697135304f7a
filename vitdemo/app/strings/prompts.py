"""The "what to look for" box of image–text models (CLIP, SigLIP, Chinese-CLIP): its label, hint, default
prompts, the line under it (the template applied, softmax or sigmoid) and its refusals."""

EN = {
    "prompts.label": "What to look for (comma or one per line, English or Chinese)",
    "prompts.placeholder": "cat, red car, a dog on grass",
    "prompts.defaults": "cat, dog, car, bird, person, tree",
    "prompts.note.softmax": "Each prompt is read as “{template}”. The prompts compete: the probabilities are a "
                            "softmax over them and sum to 1, so adding a prompt lowers the others.",
    "prompts.note.sigmoid": "Each prompt is read as “{template}”. SigLIP scores each prompt on its own (a sigmoid): "
                            "the probabilities need not sum to 1, and all of them can be low.",
    "prompts.none": "Type at least one thing to look for.",
    "prompts.too_many": "At most {most} prompts at a time, not {count}.",
    "prompts.too_long": "Each prompt may be at most {most} characters long; one has {count}.",
    "prompts.not_image_text": "prompts are for image–text models (CLIP, SigLIP, Chinese-CLIP); {title} has fixed "
                              "classes.",
}

ZH = {
    "prompts.label": "要找什么（用逗号分隔或每行一个，中文或英文）",
    "prompts.placeholder": "猫, 红色的汽车, 草地上的狗",
    "prompts.defaults": "猫, 狗, 汽车, 鸟, 人, 树",
    "prompts.note.softmax": "每个提示词都按“{template}”来读。提示词之间互相竞争：概率是对它们做 softmax，总和为 1，"
                            "所以多加一个提示词会压低其他的。",
    "prompts.note.sigmoid": "每个提示词都按“{template}”来读。SigLIP 对每个提示词单独打分（sigmoid）：概率之和不必为 1，"
                            "也可能全都很低。",
    "prompts.none": "请至少输入一个要找的东西。",
    "prompts.too_many": "一次最多 {most} 个提示词，而不是 {count} 个。",
    "prompts.too_long": "每个提示词最多 {most} 个字符；有一个是 {count} 个。",
    "prompts.not_image_text": "提示词只适用于图文模型（CLIP、SigLIP、Chinese-CLIP）；{title} 的类别是固定的。",
}
