"""The explorer in a notebook or a saved HTML file (`vitdemo.notebook`): what it says where the app would answer."""

EN = {
    "explorer.offline": "this view needs the app's server (the HTML holds every map of the top-5 classes, the "
                        "clicked patches and the lenses; run python app.py for the rest)",
}

ZH = {
    "explorer.offline": "此视图需要应用的服务器（HTML 文件已包含前 5 个类别的全部图、点击图像块和透镜；其余请运行 "
                        "python app.py）",
}
