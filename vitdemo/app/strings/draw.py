"""The "Draw" input's strings: the sketchpad's panel, label and one line of help (shown with `t()`)."""

EN = {
    "draw.panel": "Draw a shape",
    "draw.label": "Draw",
    "draw.help": "Draw one shape with the mouse or a finger (a circle, a star, an arrow…) as an outline: "
                 "when a stroke ends, the drawing becomes the image and the bundled model names it offline.",
}
ZH = {
    "draw.panel": "画一个图形",
    "draw.label": "手绘",
    "draw.help": "用鼠标或手指画出一个图形的轮廓（圆、星形、箭头……）：每画完一笔，画板上的内容就会成为"
                 "要分析的图像，内置模型无需联网即可说出它是什么。",
}
