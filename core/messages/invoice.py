"""Catalogue entries for the invoice area (see :mod:`core.messages`).

One entry per ``invoice.errors.ErrorCode``: why a file could not be read and what the clerk
can do. ``{where}`` is the place in the file (member, page, element), ``{detail}`` the
technical reason; ``too_complex`` names the limit (``{limit}``) and its setting.
"""

from __future__ import annotations

MESSAGES: dict[str, str] = {
    "empty_file": "上传的文件是空的（0 字节），无法识别发票。请重新导出或下载原始发票文件后再上传。",
    "too_large": "文件过大（{detail}），超过了系统允许的上传大小。请确认上传的是单张发票的原始文件"
                 "（OFD、PDF 或 XML），不要上传扫描合集或压缩包。",
    "unknown_format": "无法识别文件格式：它不是 OFD、PDF 或数电票 XML 文件。请上传从税务平台或开票方"
                      "取得的原始电子发票文件，不要上传截图、照片或改过扩展名的文件。",
    "corrupt_zip": "OFD 文件已损坏（{where}），无法打开：OFD 本质是一个压缩包，它的结构不完整。"
                   "请向开票方重新索取或重新下载原始 OFD 文件。",
    "unsafe_path": "OFD 文件中含有不安全的路径（{where}），系统为安全起见拒绝读取。"
                   "请向开票方重新索取原始文件；如反复出现，请告知系统管理员。",
    "zip_bomb": "OFD 文件解压后体积异常巨大（{where}），疑似恶意构造的“压缩炸弹”，系统拒绝读取。"
                "正常发票不会如此，请向开票方重新索取原始文件，并告知系统管理员。",
    "bad_xml": "发票中的 XML 内容格式错误（{where}），无法读取。请重新下载原始发票文件；"
               "如文件确为税务平台原件，请联系系统管理员。",
    "forbidden_xml": "发票的 XML 中含有文档类型声明（DOCTYPE）或实体定义（{where}），"
                     "这是已知的攻击手段，正常发票不会包含，系统拒绝读取。请向开票方重新索取原始文件。",
    "bad_ofd": "OFD 文件结构不完整或不符合标准（{where}），无法读取发票内容。"
               "请向开票方重新索取或重新下载原始 OFD 文件。",
    "bad_pdf": "PDF 文件已损坏或不完整（{where}），无法读取发票内容。"
               "请重新下载原始 PDF 发票，不要上传打印或另存后的文件。",
    "timeout": "读取文件超时（{where}）：文件过于复杂，系统在限定时间内未能读完。"
               "正常发票不会如此，请确认上传的是原始发票文件，或联系系统管理员。",
    "not_an_invoice": "文件可以打开，但不是一张发票（{where}）：没有找到发票名称、号码或金额。"
                      "请确认上传的是发票本身，而不是行程单、回单或预览件。",
    "too_complex": "文件超出系统的安全读取限制（{limit}，设置项 {setting}）：{where} "
                   "解压或展开后远大于任何正常发票，疑似恶意构造，系统拒绝读取。"
                   "请向开票方重新索取原始文件；如确为正常发票，请联系系统管理员调整该限制。",
}

LABELS: dict[str, dict[str, str]] = {
}
