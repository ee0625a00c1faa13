"""Catalogue entries for the verify area (see :mod:`core.messages`).

Codes of :class:`invoice.verify.report.Issue`: what a signature does and does not cover in an
OFD, field by field and part by part. ``{field}`` is the field's Chinese label
(``label("invoice_field", ...)``), ``{member}`` a zip member path.
"""

from __future__ import annotations

MESSAGES: dict[str, str] = {
    "field_unsigned": (
        "字段“{field}”取自未签名的文件部件 {member}（值 {value}），签章未覆盖该内容，不能作为可信数据；"
        "请向开票方索取原件或进行查验"
    ),
    "field_mismatch": (
        "字段“{field}”在未签名的文件部件 {member} 中为 {value}，而已签名的 {signed_member} 中为 "
        "{signed_value}：文件在签章后被拼接或改动，不能作为可信数据；请向开票方索取原件或进行查验"
    ),
    "field_page_mismatch": (
        "字段“{field}”取自 {member}，值为 {value}，但已签名的版面（{signed_member}）显示 {signed_value}："
        "文件内容前后不一致，不能作为可信数据；请向开票方索取原件或进行查验"
    ),
    "field_display_mismatch": (
        "字段“{field}”的可信值为 {value}（取自已签名的 {member}），但按显示的版面（含未签名的版式模板 "
        "{shown_member}）读出 {shown_value}：未签名的模板改变了显示内容，不能作为可信数据；"
        "请向开票方索取原件或进行查验"
    ),
    "part_unsigned": (
        "文件部件 {member}（{role}）会被显示或读取，但没有任何有效签章覆盖它：显示的内容可能已被替换，"
        "签章不能证明其真实；请向开票方索取原件或进行查验"
    ),
    "template_unsigned": (
        "版式模板 {member} 未被签章覆盖（部分开票系统如此生成）：它只含表格标签等固定文字，发票字段均取自"
        "已签名的部件，签名结论不受影响；如显示内容与字段不符，以字段和查验结果为准"
    ),
    "members_unsigned": (
        "以下文件部件未被签章覆盖，但不提供任何发票字段，也不参与显示：{members}；无需处理"
    ),
    "member_name_ambiguous": (
        "文件中有仅大小写不同的同名部件（{members}）：读取的可能不是被签名的那一个，无法确认内容真实；"
        "请向开票方索取原件或进行查验"
    ),
    "references_too_many": (
        "签章 {signature} 列出 {count} 个签名引用，超过上限 {limit}：这不是正常的电子发票，无法核验；"
        "请向开票方索取原件或进行查验"
    ),
}

LABELS: dict[str, dict[str, str]] = {
    "invoice_field": {
        "code": "发票代码",
        "number": "发票号码",
        "issue_date": "开票日期",
        "check_code": "校验码",
        "buyer.name": "购买方名称",
        "buyer.tax_id": "购买方纳税人识别号",
        "seller.name": "销售方名称",
        "seller.tax_id": "销售方纳税人识别号",
        "amount": "合计金额",
        "tax": "合计税额",
        "total": "价税合计",
        "items": "货物或服务明细",
    },
    "ofd_part": {
        "document": "文档描述 Document.xml",
        "page": "页面",
        "template": "版式模板",
        "annotation": "注释",
    },
}
