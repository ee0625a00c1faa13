"""Messages and labels of the kinds area: railway tickets, air itineraries, toll bills, and
the input VAT they allow (see core/messages/__init__.py)."""

MESSAGES: dict[str, str] = {
    # invoice.verify.checks.check_preview
    "check.voucher_preview.pass": "票面没有“仅供预览”字样，是正式开具的凭证",
    "check.voucher_preview.fail": ("这份{kind}是预览件（票面印有“仅供预览”，号码 {number}），"
                                   "不是正式开具的凭证，不能直接报销；请向开票方（{seller}）索取正式的电子发票"),
    # invoice.verify.checks.check_totals for an air itinerary
    "check.amount_tax_total.air_pass": ("票价与燃油附加费 {amount} + 增值税 {tax} + 民航发展基金及其他税费 "
                                        "{others} = 合计 {total}，相符"),
    "check.amount_tax_total.air_fail": ("票价与燃油附加费 {amount} + 增值税 {tax} + 民航发展基金及其他税费 "
                                        "{others} = {sum}，但行程单合计写的是 {total}：票面金额前后不一致，"
                                        "可能被改动，请向航空公司或代理核实"),
    # accounting: deductible input VAT of passenger transport (公告2019年第39号)
    "kinds.input_vat.railway": ("铁路车票进项税额：{passenger} {travel_date} {train} 票价{fare}元"
                                "÷(1+9%)×9%={vat}元（财政部 税务总局 海关总署公告2019年第39号）"),
    "kinds.input_vat.air": ("航空客票进项税额：{passenger} 航班{flight} (票价{fare}元+燃油附加费{fuel}元)"
                            "÷(1+9%)×9%={vat}元，民航发展基金不计（公告2019年第39号）"),
    "kinds.input_vat.railway_printed": ("铁路电子客票进项税额：{passenger} {travel_date} {train} "
                                        "按票面注明税额{vat}元抵扣（财政部 税务总局公告2024年第8号）"),
    "kinds.input_vat.air_printed": ("航空运输电子客票行程单进项税额：{passenger} 航班{flight} "
                                    "按票面注明增值税税额{vat}元抵扣（财政部 税务总局公告2024年第8号）"),
    "kinds.input_vat.toll": "通行费进项税额：{plate} 按票面税额{vat}元抵扣",
    "kinds.input_vat.refund": "铁路退票费凭证（{number}）不是旅客运输服务，不计算进项税额",
    "kinds.input_vat.no_passenger": "{kind} {number} 没有注明旅客身份信息，不能计算抵扣进项税额（公告2019年第39号）",
    "kinds.input_vat.summary": "其中可抵扣进项税额{vat}元",
}

LABELS: dict[str, dict[str, str]] = {
    "check": {"voucher_preview": "不是预览件"},
    # the invoice page's transport details table
    "transport_field": {
        "travel_date": "乘车日期", "train": "车次", "from_station": "出发站", "to_station": "到达站",
        "seat_class": "席别", "passenger": "旅客", "id_number": "证件号码",
        "ticket_number": "电子客票号", "variant": "票据类型", "refund_fee": "退票费",
        "flights": "航段", "fare": "票价", "fuel_surcharge": "燃油附加费",
        "caac_fund": "民航发展基金", "other_tax": "其他税费", "vat": "增值税税额",
        "plate": "车牌号", "entry": "入口", "exit": "出口", "carrier": "承运人",
        "flight": "航班号", "from": "自", "to": "至", "date": "日期", "time": "时间",
        "preview": "预览件", "deductible_vat": "可抵扣进项税额",
    },
    "railway_variant": {"normal": "正常售票", "exchange": "换开", "refund": "退票"},
}
