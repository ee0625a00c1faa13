"""Messages and labels of the bank area (see core/messages/__init__.py): bank e-receipts and
statements (invoice/ofd/bank.py), their checks, payment matching (accounting/payments.py)."""

MESSAGES: dict[str, str] = {
    # parsing
    "bank_template": "文件是{kind}的样张（模板），不是一笔真实的收付款（{where}）：{fields} "
                     "为空或是“XX”之类的占位内容。系统不会登记它；请从网上银行下载正式的{kind}后再上传。",
    # checks of a bank receipt (invoice/verify/checks.py -> bank checks)
    "check.bank_fields.pass": "回单编号 {number}、金额 {total}、付款人和收款人均已读出",
    "check.bank_fields.fail": "电子回单缺少 {fields}，无法用作付款凭据；请向开户银行索取完整的电子回单",
    "check.bank_page.pass": "回单数据文件与版面上印的内容一致",
    "check.bank_page.warn": "回单数据文件与版面上印的内容不一致：{diffs}。系统以银行签章的数据文件为准，"
                            "请对照银行流水核对后再记账",
    "check.bank_page.na": "回单没有数据文件，字段均从版面读取，无法交叉核对",
    "check.bank_date.pass": "签发日期 {value}，不晚于今天",
    "check.bank_date.future": "签发日期 {value} 晚于今天（{today}），不可能是真实的回单",
    "check.bank_date.absent": "回单上没有签发日期",
    # claims gate
    "gate.bank_receipt_not_invoice": "“{file}”是银行电子回单（{number}），不是发票，不能作为报销明细；"
                                     "请在凭证的“付款回单”处把它与已记账的凭证关联",
    # payment matching
    "payment.reason.amount_exact": "金额相同（{amount} 元）",
    "payment.reason.amount_sum": "金额等于凭证付款合计（{amount} 元）",
    "payment.reason.payee_claimant": "收款人“{payee}”是报销人",
    "payment.reason.payee_supplier": "收款人“{payee}”是发票销售方",
    "payment.reason.payee_name": "收款人“{payee}”与凭证摘要中的名称一致",
    "payment.reason.date_window": "付款日期 {date} 在凭证日期 {voucher_date} 后 {days} 天内",
    "payment.reason.date_before": "付款日期 {date} 早于凭证日期 {voucher_date} {days} 天",
    "payment.not_found": "没有找到回单 {receipt_id}，请确认它已上传并登记",
    "payment.not_receipt": "“{file}”不是银行电子回单（类别：{kind}），不能作为付款凭据关联",
    "payment.voucher_not_found": "没有找到凭证 {voucher_id}",
    "payment.voucher_not_posted": "凭证 {voucher_no} 尚未记账（状态：{state}），记账后才能关联付款回单",
    "payment.already_linked": "回单 {number} 已关联到凭证 {voucher_no}，同一笔付款不能关联两张凭证；"
                              "如关联有误，请先在该凭证上取消关联",
    "payment.not_linked": "回单 {number} 没有关联到凭证 {voucher_no}",
    "payment.linked": "已把回单 {number}（{total} 元）关联到凭证 {voucher_no}",
    "payment.unlinked": "已取消回单 {number} 与凭证 {voucher_no} 的关联",
    "payment.rejected": "已记录：回单 {number} 不是凭证 {voucher_no} 的付款",
    "payment.receipt_invalid": "回单 {number} 的银行签章未通过验证（{status}），不能作为付款凭据",
    "payment.cli.confirmed": "已确认的付款回单 {count} 张",
    "payment.cli.score": "匹配度 {score}",
    "payment.none": "没有找到可能与凭证 {voucher_no} 对应的付款回单（按金额、收款人和日期查找）",
}

LABELS: dict[str, dict[str, str]] = {
    "invoice_status": {"not_invoice": "付款回单（不可报销）"},
    "currency": {"CNY": "人民币", "USD": "美元", "EUR": "欧元", "HKD": "港币", "JPY": "日元"},
    "payment_state": {"confirmed": "已确认", "rejected": "已否决", "removed": "已取消"},
    "invoice_field": {
        "bank": "银行", "currency": "币种", "purpose": "用途", "serial": "交易流水号",
        "payer.name": "付款人户名", "payer.account": "付款人账号", "payer.bank": "付款人开户行",
        "payee.name": "收款人户名", "payee.account": "收款人账号", "payee.bank": "收款人开户行",
    },
    # the common fields as a bank receipt names them (verification messages)
    "bank_field": {"number": "回单编号", "total": "金额", "issue_date": "签发日期",
                   "check_code": "电子凭证标识码", "code": "签发机构代码"},
    # what a specimen (bank_template) lacks or fills with placeholders
    "bank_template_field": {
        "number": "回单编号", "total": "金额", "serial": "交易流水号", "account": "对账账号",
        "period_start": "对账期间", "page": "版面内容", "payer.name": "付款人户名",
        "payer.account": "付款人账号", "payer.bank": "付款人开户行", "payee.name": "收款人户名",
        "payee.account": "收款人账号", "payee.bank": "收款人开户行", "lines": "对账明细",
    },
    "check": {"bank_fields": "回单要素", "bank_page": "回单数据与版面一致", "bank_date": "签发日期"},
    "audit_action": {"payment.link": "关联付款回单", "payment.unlink": "取消付款回单关联",
                     "payment.reject": "否决付款回单建议"},
}
