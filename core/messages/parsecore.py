"""Messages and labels of the parsecore area (see core/messages/__init__.py).

Printed values the readers refused (``invoice.normalize``): an impossible date, an amount that
is no number. The clerk reads which field, what was printed, why it cannot be right, and what
to do.
"""

MESSAGES: dict[str, str] = {
    "check.printed_values.pass": "票面上的日期和金额都是有效值",
    "check.printed_values.fail": ("票面上有无效的值：{values}。系统没有采用这些值（不会当作空值登记）；"
                                  "请核对原件，并向开票方索取内容正确的发票"),
    "check.printed_values.item": "{field}印为“{raw}”（{reason}）",
    "check.issue_date.refused": ("开票日期印为“{value}”，{reason}，不是有效日期；系统没有采用这个日期，"
                                 "请核对原件，并向开票方索取开票日期正确的发票"),
}

LABELS: dict[str, dict[str, str]] = {
    "check": {"printed_values": "票面日期金额有效"},
    "refused_reason": {
        "impossible_date": "日历上没有这一天",
        "not_a_date": "不是日期",
        "date_out_of_range": "年份不在1990年至2100年之间",
        "not_an_amount": "不是金额",
        "amount_out_of_range": "金额超出合理范围（一万亿元及以上）",
    },
}
