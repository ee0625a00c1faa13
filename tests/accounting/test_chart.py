"""The chart of accounts and the category mapping: defaults, overrides, clear refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from accounting.chart import load_chart, parse_chart
from accounting.errors import AccountingError
from accounting.mapping import DEFAULT_MAPPING, load_mapping, parse_mapping
from core.settings import Settings


def test_default_chart_has_full_names_and_the_mapping_accounts(settings: Settings) -> None:
    chart = load_chart()
    assert chart.require("22210101").full_name == "应交税费—应交增值税—进项税额"
    assert chart.require("660204").full_name == "管理费用—业务招待费"
    mapping = load_mapping()
    assert mapping.categories() == ["差旅费", "交通费", "办公费", "业务招待费", "通讯费", "会议费", "培训费", "其他"]
    assert all(mapping.rule(c).debit_account.startswith("6602") for c in mapping.categories())
    assert mapping.rule("业务招待费").input_vat_deductible is False
    with pytest.raises(AccountingError, match="科目代码“9999”不在会计科目表中"):
        chart.require("9999")


def test_an_organisation_chart_in_the_data_folder_replaces_the_default(settings: Settings) -> None:
    (settings.home / "chart_of_accounts.csv").write_text(
        "code,name,category,direction\n1001,库存现金,asset,debit\n2241,其他应付款,liability,credit\n"
        "22210101,进项税额,liability,credit\n6602,管理费用,expense,debit\n", encoding="utf-8")
    chart = load_chart()
    assert "1002" not in chart and len(chart) == 4
    with pytest.raises(AccountingError, match="类别“差旅费”的科目“660201”不在会计科目表"):
        load_mapping()
    custom = settings.home / "m.csv"
    custom.write_text("category,debit_account,input_vat_deductible\n杂费,6602,maybe\n", encoding="utf-8")
    with pytest.raises(AccountingError, match="第 2 行 input_vat_deductible 的值“maybe”应为 yes 或 no"):
        load_mapping(custom)


@pytest.mark.parametrize(("text", "message"), [
    ("code,name\n12,短\n", "第 2 行科目代码“12”应为 4 位或更多数字"),
    ("code,name\n1001,\n", "第 2 行科目 1001 没有名称"),
    ("code,name\n1001,现金\n1001,现金\n", "第 3 行科目 1001 重复出现"),
    ("name\n现金\n", "表头缺少列 code"),
    ("code,name,category\n1001,现金,stuff\n", "科目类别“stuff”应为"),
])
def test_bad_chart_files_name_the_line(text: str, message: str) -> None:
    with pytest.raises(AccountingError, match=message):
        parse_chart(text, "chart.csv")


def test_mapping_needs_known_accounts(tmp_path: Path) -> None:
    chart = parse_chart("code,name\n6602,管理费用\n", "c.csv")
    with pytest.raises(AccountingError, match="缺少科目 2241"):
        parse_mapping("category,debit_account\n其他,6602\n", "m.csv", chart)
    assert DEFAULT_MAPPING.is_file()
