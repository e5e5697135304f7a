"""What a server function answers when the model is busy for longer than it may wait (see ../admission.py)."""

EN = {
    "admission.busy": "The server is busy with other requests: try again in a few seconds.",
}
ZH = {
    "admission.busy": "服务器正忙于处理其他请求：请过几秒钟再试。",
}
