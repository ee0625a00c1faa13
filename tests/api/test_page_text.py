"""The page's words: money, China time, labels, and validation errors in Chinese."""

from __future__ import annotations

from datetime import UTC, datetime

from api.errors import forbidden_message, validation_message
from api.formatting import china_time, english_words, label, money, readable


def test_money_has_yuan_sign_separators_and_two_decimals() -> None:
    assert money("25254.62") == "¥25,254.62"
    assert money("1234567.5") == "¥1,234,567.50"
    assert money("0") == "¥0.00"
    assert money("-8819.6") == "-¥8,819.60"
    assert money(None) == "" and money("") == ""
    assert money("abc") == "abc"  # not a number: shown as given, never a crash


def test_china_time_from_utc() -> None:
    assert china_time("2025-11-20T23:30:00+00:00") == "2025-11-21 07:30"
    assert china_time(datetime(2025, 1, 1, 0, 0, tzinfo=UTC), seconds=True) == "2025-01-01 08:00:00"
    assert china_time("not a time") == "not a time"


def test_labels_prefer_the_catalogue_and_fall_back_to_page_words() -> None:
    assert label("role", "clerk") == "经办"
    assert label("claim_state", "rejected") == "已驳回"
    assert label("audit_action", "archive.export_started") == "开始档案移交"  # the catalogue's word
    assert label("invoice_status", "needs_check") == "需查验"
    assert label("nonexistent_domain", "x") == "x"


def test_readable_lets_chinese_through_and_stops_developer_english() -> None:
    assert readable("购买方名称“ACME Ltd”不是本单位", "x") == "购买方名称“ACME Ltd”不是本单位"
    assert readable("check buyer_name failed: buyer is not the organisation", "改写") == "改写"
    assert readable("文件 a.ofd 的 OFD 签名有效") == "文件 a.ofd 的 OFD 签名有效"
    assert english_words("GB 32100 check character should be 6") == ["check", "character", "should", "be"]


def test_validation_errors_name_the_line_and_field_in_chinese() -> None:
    err = {"type": "decimal_parsing", "loc": ("body", "lines", 0, "amount"), "input": "abc"}
    assert validation_message(err) == "第1行的金额“abc”不是有效的金额，请填写数字，如 1234.56"
    assert validation_message({"type": "missing", "loc": ("body", "title"), "input": {}}) == "缺少事由，请填写"
    long = {"type": "string_too_long", "loc": ("body", "title"), "input": "x", "ctx": {"max_length": 200}}
    assert "最多 200 个字" in validation_message(long)
    bad_date = {"type": "date_from_datetime_parsing", "loc": ("query", "date_from"), "input": "2024-13-01"}
    assert validation_message(bad_date).startswith("开始日期“2024-13-01”不是有效的日期")
    assert not english_words(validation_message({"type": "value_error", "loc": ("body",), "input": {}}))


def test_forbidden_names_role_and_operation_in_words() -> None:
    text = forbidden_message("claim.approve", "clerk")
    assert "经办" in text and "审批报销单" in text and "审批" in text
    assert not english_words(text)
