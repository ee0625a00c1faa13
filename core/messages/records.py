"""Catalogue entries for archived records and their renditions (see :mod:`core.messages`).

The schema messages appear in the 四性检测 report and when a package cannot be built; the
labels are the Chinese words the 记账凭证 and 报销单 renditions print for stored codes.
"""

from __future__ import annotations

MESSAGES: dict[str, str] = {
    # --- the archive schema (archive/schema) ----------------------------------------------------
    "records.schema.invalid": "{file} 不符合档案包所声明的结构定义 {xsd}：{errors}。该记录可能被改动或"
                              "写入有误，请与归档时的原件核对，必要时重新归档该凭证。",
    "records.schema.missing": "{file} 声明的结构命名空间 {namespace} 既不是本系统发布的版本，档案包中也没有"
                              "对应的结构定义文件 {xsd}，无法核对其结构：请从移交单位索取该版本的结构定义。",
    "records.schema.unknown_namespace": "{file} 声明的命名空间 {namespace} 不是本系统的档案结构命名空间，"
                                        "无法核对其结构。",
    "records.schema.carried_differs": "档案包中的结构定义 {file} 与本系统发布的{kind}第 {version} 版不一致："
                                      "已发布的结构定义不得改动，请核查该档案包的来源。",
    "records.schema.not_self_contained": "档案包中的结构定义 {xsd} 引用了包外的文件或网址，不能据此核对："
                                         "档案包必须自带完整的结构定义，请向移交单位索取。",
    "records.schema.unreadable": "档案包中的结构定义 {xsd} 无法读取：{error}。",
    "record_schema_invalid": "凭证 {number} 的归档记录 {file} 不符合结构定义：{errors}。该凭证暂不能归档，"
                             "请把此信息转给系统管理员处理。",
    # --- renditions (archive/render) ------------------------------------------------------------
    "records.render.no_cjk_font": "无法生成记账凭证和报销单的阅读件：服务器上没有可嵌入的中文字体（需要 "
                                  "{families} 之一）。请系统管理员安装 fonts-wqy-microhei 后重试归档。",
    "records.render.no_weasyprint": "无法生成阅读件：排版组件 WeasyPrint 不可用（{error}）。请系统管理员"
                                    "安装后重试归档。",
    "rendition_failed": "凭证 {number} 的阅读件（PDF/A）生成失败：{reason}",
}

LABELS: dict[str, dict[str, str]] = {
    "record_schema_kind": {"record": "凭证及报销记录结构", "metadata": "元数据结构"},
    "record_voucher_state": {"draft": "草稿", "posted": "已记账"},
    "record_claim_state": {"draft": "草稿", "submitted": "已提交", "reviewed": "已审核",
                           "approved": "已审批", "rejected": "已驳回"},
    "record_step_action": {"create": "创建", "submit": "提交", "review": "审核", "approve": "审批",
                           "reject": "驳回"},
    "record_posting_flag": {"01": "未入账", "02": "已入账（税前扣除）", "03": "已入账（不扣除）",
                            "06": "入账撤销"},
    "record_invoice_kind": {"vat_e_ordinary": "增值税电子普通发票", "vat_e_special": "增值税电子专用发票",
                            "digital_ordinary": "数电票（普通发票）", "digital_special": "数电票（增值税专用发票）",
                            "railway_ticket": "铁路电子客票", "air_itinerary": "航空运输电子客票行程单",
                            "toll_bill": "通行费电子票据", "bank_receipt": "银行电子回单",
                            "bank_statement": "银行电子对账单", "unknown": "其他发票"},
}
