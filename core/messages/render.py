"""Messages and labels of the render area (see core/messages/__init__.py): pictures of an
original (OFD drawn as SVG, first pages as PNG) and the 入账信息 export."""

MESSAGES: dict[str, str] = {
    "render.preview_failed": "发票原件无法画出预览：文件可能已损坏，或内容超出了系统的安全限制。"
                             "请点“下载原件”，用 OFD 或 PDF 阅读器打开查看。",
}

LABELS: dict[str, dict[str, str]] = {}
