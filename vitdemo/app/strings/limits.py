"""What the server answers when a request passes one of its limits (`request_limit`, `uploads`' per-format
decode budgets): one sentence each, saying what happened and what is accepted."""

EN = {
    "limits.request_too_large": "This request is larger than the {limit} MB this app accepts (pictures may be up "
                                "to {mb} MB), so it was refused unread.",
    "limits.because_format": "as {format}",
    "limits.because_progressive": "as a progressive JPEG",
    "limits.because_strips": "as a TIFF in large strips",
}
ZH = {
    "limits.request_too_large": "这个请求超过了本应用接受的 {limit} MB（图片最大 {mb} MB），因此未经读取就被拒绝。",
    "limits.because_format": "（{format} 格式）",
    "limits.because_progressive": "（渐进式 JPEG）",
    "limits.because_strips": "（大条带 TIFF）",
}
