"""Messages and labels of the render area (see core/messages/__init__.py): pictures of an
original (OFD drawn as SVG, first pages as PNG) and the 入账信息 export."""

MESSAGES: dict[str, str] = {
    "render.preview_failed": "发票原件无法画出预览：文件可能已损坏，或内容超出了系统的安全限制。"
                             "请点“下载原件”，用 OFD 或 PDF 阅读器打开查看。",
    "entry_info_invalid": "凭证 {number} 中发票 {invoice} 的入账信息（XBRL）未通过检查：{errors}。"
                          "该凭证暂不能归档，请把这段提示发给系统管理员。",
    "entry_info.not_posted": "这张发票还没有被已记账的凭证入账，所以没有入账信息。请先把它所在的凭证记账，再导出入账信息。",
    "posting_flags.bad_year": "年度“{year}”不对：请填写 4 位年份，例如 2025。",
    "posting_flags.bad_format": "导出文件“{file}”的格式不对：只能导出 .xlsx 或 .csv 文件。",
    "posting_flags.written": "已导出 {year} 年的入账标识 {count} 条到 {file}。",
}

LABELS: dict[str, dict[str, str]] = {
    # the tax platform's 入账标识, as its export names them
    "tax_posting_flag": {"01": "未入账", "02": "已入账（企业所得税税前扣除）",
                         "03": "已入账（企业所得税不扣除）", "06": "入账撤销"},
    "entry_info_column": {
        "invoice_code": "发票代码", "invoice_number": "发票号码", "issue_date": "开票日期",
        "seller_tax_id": "销售方纳税人识别号", "seller_name": "销售方名称", "total": "价税合计",
        "tax": "税额", "flag": "入账标识", "flag_label": "入账标识名称", "marked_at": "标识时间",
        "voucher_number": "记账凭证号", "note": "备注",
    },
    "posting_flag_note": {"red_reversed": "已红冲，税务平台不接受入账标识，请勿报送"},
}
