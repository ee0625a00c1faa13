"""Messages and labels of the scans area (see core/messages/__init__.py).

Scans and photos (JPEG/PNG, image-only PDF): errors when a picture cannot be read, the
limits that refuse a decompression bomb, and the verification note that a scan carries no
signature.
"""

MESSAGES: dict[str, str] = {
    "bad_image": "图片文件（{where}）已损坏或不完整（例如只传了一半），无法读取发票内容。"
                 "请重新扫描或拍照后上传完整的 JPEG/PNG 文件，最好直接上传开票方提供的 OFD/PDF 原件。",
    "scan.limit.image_pixels": "图片像素总数上限 {value}",
    "scan.limit.image_side": "图片边长上限 {value} 像素",
    "scan.unsigned": "这是扫描件或照片（{format}），不带电子签名，无法证明内容未被改动，只能视为未签名发票；"
                     "号码、日期和金额取自二维码和文字识别，请核对原件，并通过税务平台查验（未查验前不能作为可信凭证）",
    "scan.signed_pdf_image": "该 PDF 的页面只是一张图片（扫描件）：即使文件带有签名，签名也只说明图片未被改动，"
                             "不能证明图片上的发票内容真实，因此按未签名发票处理；请索取 OFD/PDF 原件或通过税务平台查验",
    "scan.qr_mismatch": "扫描件上文字识别的结果与二维码不一致（{detail}）：已采用二维码中的数据，请对照纸质原件核对",
}

LABELS: dict[str, dict[str, str]] = {
    "field_source": {"qr_code": "二维码", "ocr": "文字识别（OCR）"},
}
