"""Messages and labels of the paid flag (see core/messages/__init__.py): whether an invoice has
been paid, in its 入账信息 (XBRL) and in the year's 入账标识 export."""

MESSAGES: dict[str, str] = {
    "entry_info.schema.missing": "档案包中有入账信息（{folder} 下 {count} 个 XBRL 文件），但没有描述它们的"
                                 "结构定义 schema/einv-entry-info-N.xsd，无法核对。请联系系统管理员，"
                                 "确认这个包是否被改动过。",
    "entry_info.schema.carried_differs": "档案包中的 {file} 与系统发布的第 {version} 版入账信息结构定义不一致："
                                         "这个文件可能被改动过。请联系系统管理员核对。",
    "entry_info.schema.invalid": "入账信息 {file} 不符合档案包中的结构定义 {xsd}：{errors}。"
                                 "这个文件可能被改动过，请联系系统管理员核对。",
}

LABELS: dict[str, dict[str, str]] = {
    # accounting.payments.PaidState: how far confirmed bank e-receipts cover a voucher
    "paid_state": {"paid": "已支付", "partial": "部分支付", "unpaid": "未支付"},
    # two more columns of the 入账标识 export, after 备注
    "entry_info_column": {"paid_state": "支付状态", "bank_receipt_numbers": "银行电子回单号"},
}
