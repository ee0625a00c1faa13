"""Catalogue entries for the checks area (see :mod:`core.messages`).

Cross-check results of ``invoice.verify.checks``: each check keeps its stable ``id`` (the
label domain ``check``) and each outcome has one message code ``check.<id>.<outcome>``.
"""

from __future__ import annotations

MESSAGES: dict[str, str] = {
    # tax ids (GB 32100 / GB 11643 check characters)
    "check.tax_id.absent": "发票上没有{role}纳税人识别号，无法核对校验位",
    "check.tax_id.uscc_ok": "{role}统一社会信用代码 {tax_id} 的校验位（GB 32100）正确",
    "check.tax_id.id_card_ok": "{role}纳税人识别号 {tax_id} 是身份证号码，校验位（GB 11643）正确",
    "check.tax_id.uscc_bad": ("{role}统一社会信用代码 {tax_id} 的校验位应为“{want}”，票面是“{got}”："
                              "号码有误或被改动，请与开票方核实"),
    "check.tax_id.id_card_bad": ("{role}纳税人识别号 {tax_id} 既不是有效的统一社会信用代码，"
                                 "也不是有效的身份证号码，请与开票方核实"),
    "check.tax_id.legacy": "{role}纳税人识别号 {tax_id} 是{length}位旧税号，没有校验位，无法在本地核对",
    "check.tax_id.malformed": "{role}纳税人识别号“{tax_id}”不是有效的纳税人识别号（应为18位统一社会信用代码）",
    # amount + tax = total
    "check.amount_tax_total.unknown": "金额、税额或价税合计未读出，无法核对",
    "check.amount_tax_total.pass": "金额 {amount} + 税额 {tax} = 价税合计 {total}，相符",
    "check.amount_tax_total.fail": ("金额 {amount} + 税额 {tax} = {sum}，但价税合计写的是 {total}："
                                    "票面金额不一致，可能被改动，不能报销"),
    # line sums
    "check.items_sum.none": "未读出明细行，无法核对明细合计",
    "check.items.unknown": "发票或某一明细行的{field_label}未读出，无法核对明细合计",
    "check.items.pass": "{count}行明细{field_label}合计 {sum}，与发票{field_label} {total} 相符",
    "check.items.fail": ("{count}行明细{field_label}合计 {sum}，发票写的是 {total}（相差 {diff}，"
                         "超过允许的舍入误差 {tol}）：明细与合计不一致，可能被改动，不能报销"),
    # QR code
    "check.qr_payload.absent": "未读出二维码内容，无法与票面核对",
    "check.qr_payload.bad": "二维码内容“{raw}”不是发票二维码",
    "check.qr_payload.fail": "二维码与票面不一致：{diffs}。票面可能被改动，不能报销",
    "check.qr_payload.diff": "{field_label}票面为 {printed}，二维码为 {coded}",
    "check.qr_payload.pass": "二维码与票面的号码、日期和金额一致",
    # issue date
    "check.issue_date.absent": "发票上没有开票日期",
    "check.issue_date.bad": "开票日期“{value}”不是有效日期",
    "check.issue_date.future": "开票日期 {value} 晚于今天（{today}），不可能是真实的开票日期",
    "check.issue_date.pass": "开票日期 {value}，不晚于今天",
    # buyer = our organisation
    "check.buyer_name.no_org": "未设置本单位名称（FAPIAO_ORG_NAME），无法核对购买方名称",
    "check.buyer_name.absent": "发票上没有购买方名称，无法确认是本单位的发票",
    "check.buyer_name.pass": "购买方名称是本单位（{org}）",
    "check.buyer_name.fail": "购买方名称“{buyer}”不是本单位（{org}），不能报销",
    "check.buyer_org_tax_id.no_org": "未设置本单位纳税人识别号（FAPIAO_ORG_TAX_ID），无法核对购买方税号",
    "check.buyer_org_tax_id.absent": "发票上没有购买方纳税人识别号，无法确认是本单位的发票",
    "check.buyer_org_tax_id.pass": "购买方纳税人识别号是本单位的（{org_tax_id}）",
    "check.buyer_org_tax_id.fail": ("购买方纳税人识别号 {buyer_tax_id} 不是本单位的（{org_tax_id}），"
                                    "不能报销"),
    # number structure
    "check.number_structure.absent": "发票没有号码",
    "check.number_structure.digital_bad": "数电票号码“{number}”不是20位数字",
    "check.number_structure.digital_warn": "数电票号码 {number}：{notes}",
    "check.number_structure.digital_province": "第3-4位（{value}）不是 GB/T 2260 的省级行政区划代码",
    "check.number_structure.digital_year": "第1-2位（{value}）与开票年份 {year} 不符",
    "check.number_structure.digital_pass": "数电票号码 {number}：20{year}年，地区代码 {province}",
    "check.number_structure.unknown": "“{kind}”没有已知的号码结构，不核对",
    "check.number_structure.number_bad": "发票号码“{number}”不是8位数字",
    "check.number_structure.code_missing": "旧版发票需要10位或12位发票代码，票面没有",
    "check.number_structure.code_bad": "发票代码“{code}”不是10位或12位数字",
    "check.number_structure.pass": "发票代码 {code}，号码 {number}，结构正确",
    # look-alike digits in key fields
    "check.key_digits.pass": "发票代码、号码和税号只用了标准数字",
    "check.key_digits.warn": ("{fields}中有全角或其他非标准数字（如“２４４”），已按标准数字登记和查重；"
                              "请留意是否为仿冒的重复发票"),
}

LABELS: dict[str, dict[str, str]] = {
    "check": {
        "buyer_tax_id": "购买方税号校验位",
        "seller_tax_id": "销售方税号校验位",
        "amount_tax_total": "金额+税额=价税合计",
        "items_sum": "明细合计",
        "items_amount": "明细金额合计",
        "items_tax": "明细税额合计",
        "qr_payload": "二维码与票面一致",
        "issue_date": "开票日期",
        "buyer_name": "购买方名称是本单位",
        "buyer_org_tax_id": "购买方税号是本单位",
        "number_structure": "号码结构",
        "key_digits": "代码号码只含标准数字",
    },
    "check_result": {"pass": "通过", "fail": "未通过", "warn": "注意", "not_applicable": "不适用"},
    "check_party": {"buyer": "购买方", "seller": "销售方"},
    "check_field": {
        "amount": "金额", "tax": "税额", "total": "价税合计", "number": "号码", "code": "发票代码",
        "issue_date": "开票日期", "check_code": "校验码", "buyer.tax_id": "购买方税号",
        "seller.tax_id": "销售方税号",
    },
}
