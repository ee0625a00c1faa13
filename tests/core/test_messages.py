"""The message catalogue: one code, one Chinese text, placeholders filled, never a crash."""

from __future__ import annotations

import re

import pytest

from core import messages


def test_every_message_is_chinese_and_codes_are_snake_case() -> None:
    for code, template in messages.MESSAGES.items():
        assert re.fullmatch(r"[a-z][a-z0-9_.]*", code), code
        assert re.search(r"[\u4e00-\u9fff]", template), f"{code} has no Chinese text"


def test_text_fills_placeholders_and_keeps_unknown_ones_visible(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(messages.MESSAGES, "demo_code", "发票“{number}”在{where}")
    assert messages.text("demo_code", number="123", where="第1页") == "发票“123”在第1页"
    assert messages.text("demo_code", number="123") == "发票“123”在{where}"


def test_unknown_code_is_an_error_not_a_silent_english_fallback() -> None:
    with pytest.raises(KeyError):
        messages.text("no_such_code_anywhere")


def test_label_falls_back_to_the_value() -> None:
    assert messages.label("no_such_domain", "draft") == "draft"
    assert messages.label("no_such_domain", None) == ""
