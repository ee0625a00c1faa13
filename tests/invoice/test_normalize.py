"""``invoice.normalize``: every printed style of a value gives one value; impossible ones are
refused, never passed on. Properties (Hypothesis) over the styles real invoices print."""

from __future__ import annotations

import calendar
import contextlib
import json
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from invoice import normalize
from invoice.model import canonical_key_field

FULL_WIDTH = str.maketrans("0123456789-.,%", "０１２３４５６７８９－．，％")

# Every way a date is printed on an invoice, its XML or its QR code.
DATE_STYLES = {
    "iso": lambda d: d.isoformat(),
    "iso-unpadded": lambda d: f"{d.year}-{d.month}-{d.day}",
    "cn": lambda d: f"{d.year}年{d.month:02d}月{d.day:02d}日",
    "cn-unpadded": lambda d: f"{d.year}年{d.month}月{d.day}日",
    "cn-spaced": lambda d: f"{d.year} 年 {d.month} 月 {d.day} 日",
    "slash": lambda d: f"{d.year}/{d.month:02d}/{d.day:02d}",
    "dot": lambda d: f"{d.year}.{d.month}.{d.day}",
    "compact": lambda d: f"{d.year}{d.month:02d}{d.day:02d}",
    "with-time": lambda d: f"{d.isoformat()} 10:11:12",
    "compact-time": lambda d: f"{d.year}{d.month:02d}{d.day:02d}101112",
    "full-width": lambda d: f"{d.year}年{d.month:02d}月{d.day:02d}日".translate(FULL_WIDTH),
    "form-spaces": lambda d: f"{d.year}      {d.month:02d}     {d.day:02d}",
}
SEPARATED = [k for k in DATE_STYLES if not k.startswith("compact")]

dates = st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 12, 31))


@st.composite
def impossible_dates(draw: st.DrawFn) -> tuple[int, int, int]:
    """A (year, month, day) that no calendar has: day past the month's end, month 0 or 13+,
    day 0, or a year outside 1990-2100."""
    y = draw(st.integers(1990, 2100))
    how = draw(st.sampled_from(["day", "month", "zero-day", "year"]))
    if how == "day":
        m = draw(st.integers(1, 12))
        return y, m, draw(st.integers(calendar.monthrange(y, m)[1] + 1, 99))
    if how == "month":
        return y, draw(st.integers(13, 99)), draw(st.integers(1, 28))
    if how == "zero-day":
        return y, draw(st.integers(1, 12)), 0
    return draw(st.sampled_from([1000, 1899, 1989, 2101, 9999])), 1, 1


def _print(style: str, y: int, m: int, d: int) -> str:
    """An impossible date printed in a style (``date`` objects cannot hold one)."""
    class _D:
        year, month, day = y, m, d

        def isoformat(self) -> str:
            return f"{y:04d}-{m:02d}-{d:02d}"

    return str(DATE_STYLES[style](_D()))


@given(dates, st.sampled_from(sorted(DATE_STYLES)))
def test_every_printed_style_of_a_date_gives_the_same_date(day: date, style: str) -> None:
    assert normalize.date(DATE_STYLES[style](day)) == day.isoformat()


@given(dates, st.sampled_from(SEPARATED), st.sampled_from(["开票日期：", "日期 ", ""]),
       st.sampled_from(["", " 第1页", "\n备注"]))
def test_a_date_is_found_in_free_text(day: date, style: str, before: str, after: str) -> None:
    if style == "form-spaces":  # three bare numbers count only as the whole text
        before = after = ""
    assert normalize.find_date(before + DATE_STYLES[style](day) + after) == day.isoformat()


@given(impossible_dates(), st.sampled_from(sorted(DATE_STYLES)))
def test_impossible_dates_never_pass(ymd: tuple[int, int, int], style: str) -> None:
    printed = _print(style, *ymd)
    with pytest.raises(normalize.Refused) as info:
        normalize.date(printed)
    assert info.value.reason in ("impossible_date", "date_out_of_range", "not_a_date")
    if style in SEPARATED:
        try:
            found = normalize.find_date(printed)
        except normalize.Refused:
            return
        assert found is None  # never a (wrong) date


def test_dates_that_are_no_dates() -> None:
    assert normalize.date(None) is None and normalize.date("  ") is None
    for text in ("abc", "明天", "2024-02", "1234567", "20240231"):
        with pytest.raises(normalize.Refused):
            normalize.date(text)
    assert normalize.find_date("发票号码 12345678 金额 100.00") is None  # an 8-digit number
    with pytest.raises(normalize.Refused) as info:
        normalize.date("2024-02-31")
    assert (info.value.reason, info.value.raw) == ("impossible_date", "2024-02-31")


cents = st.integers(min_value=-(10**13) + 1, max_value=10**13 - 1)

AMOUNT_STYLES = {
    "plain": lambda v: f"{v}",
    "yen": lambda v: f"¥{v}",
    "full-width-yen": lambda v: f"￥{v}",
    "commas": lambda v: f"{v:,}",
    "yen-commas-space": lambda v: f"¥ {v:,}",
    "full-width": lambda v: f"{v:,}".translate(FULL_WIDTH),
    "spaces": lambda v: f"  {v} ",
    "one-decimal": lambda v: f"{v.normalize():f}" if v == v.quantize(Decimal("0.1")) else f"{v}",
}


@given(cents, st.sampled_from(sorted(AMOUNT_STYLES)))
def test_every_printed_style_of_an_amount_gives_the_same_amount(c: int, style: str) -> None:
    value = Decimal(c) / 100
    assert normalize.amount(AMOUNT_STYLES[style](value)) == value
    assert normalize.tax(AMOUNT_STYLES[style](value)) == value


@given(st.integers(min_value=1, max_value=10**13 - 1))
def test_red_letter_amounts_keep_their_sign(c: int) -> None:
    value = Decimal(c) / 100
    for printed in (f"-{value:,}", f"¥-{value:,}", f"-¥{value:,}", f"－￥{value}"):
        assert normalize.amount(printed) == -value, printed


@given(st.text(alphabet="0123456789.,eE+-*xN aif¥", min_size=1, max_size=12))
def test_an_amount_is_a_number_or_refused(text: str) -> None:
    """Whatever is printed, the result is ``None`` (nothing printed), the number the text
    spells, or a refusal: never a guess."""
    try:
        got = normalize.amount(text)
    except normalize.Refused:
        return
    if got is None:
        assert not text.replace("¥", "").replace(",", "").strip()
        return
    spelled = text.replace("¥", "").replace(",", "").replace(" ", "")
    assert got == Decimal(spelled).quantize(Decimal("0.01"))


@pytest.mark.parametrize("text", ["1e5", "NaN", "Infinity", "1,0e3", "12.3.4", "--5",
                                  "1000000000000", "¥***", "壹佰圆"])
def test_not_amounts_are_refused(text: str) -> None:
    with pytest.raises(normalize.Refused):
        normalize.amount(text)


@pytest.mark.parametrize("word", ["免税", "免征", "不征税", "***", "*", "¥***", " 免 税 "])
def test_no_tax_words_are_zero_tax_and_the_rate_keeps_the_word(word: str) -> None:
    assert normalize.tax(word) == Decimal("0.00")
    if word.startswith("¥"):
        return  # a masked tax cell, not a rate
    rate = normalize.tax_rate(word)
    assert rate is not None and not rate[0].isdigit()
    assert normalize.rate_value(word) == 0


@pytest.mark.parametrize(("printed", "face", "value"), [
    ("6%", "6%", "0.06"), ("0.06", "6%", "0.06"), ("6", "6%", "0.06"), ("６％", "6%", "0.06"),
    ("13.00%", "13.00%", "0.13"), ("0.13", "13%", "0.13"), (".09", "9%", "0.09"),
    ("1", "1%", "0.01"), ("0", "0%", "0"), ("免税", "免税", "0"), ("不征税", "不征税", "0"),
])
def test_tax_rates(printed: str, face: str, value: str) -> None:
    assert normalize.tax_rate(printed) == face
    assert normalize.rate_value(printed) == Decimal(value)


@given(st.integers(0, 100), st.sampled_from(["{}%", "0.{:02d}", "{}", "{}.00%"]))
def test_a_rate_printed_any_way_has_one_value(pct: int, style: str) -> None:
    if style == "0.{:02d}" and pct >= 100:
        return
    assert normalize.rate_value(style.format(pct)) == (Decimal(pct) / 100).normalize()


@given(st.text(alphabet="0123456789 ０１２３\u200b\t", min_size=1, max_size=24))
def test_keys_lose_spaces_and_canonicalise_as_the_model_does(text: str) -> None:
    kept = normalize.key(text)
    assert kept is None or not any(ch.isspace() or ch == "\u200b" for ch in kept)
    assert normalize.canonical(text) == canonical_key_field(text)
    assert canonical_key_field(kept) == canonical_key_field(text)


def test_tax_ids_are_upper_case_without_spaces() -> None:
    assert normalize.tax_id(" 91440106 068698695j ") == "91440106068698695J"
    assert normalize.tax_id("") is None and normalize.tax_id(None) is None


def test_refusals_are_recorded_once_and_read_back() -> None:
    extra: dict[str, str] = {}
    for _ in range(2):
        try:
            normalize.date("2024年02月31日")
        except normalize.Refused as exc:
            normalize.record(extra, "issue_date", exc)
    assert normalize.refused(extra) == [
        normalize.RefusedValue("issue_date", "2024年02月31日", "impossible_date")]
    assert json.loads(extra[normalize.REFUSED_VALUES])[0]["field"] == "issue_date"
    assert normalize.refused({normalize.REFUSED_VALUES: "not json"}) == []


@settings(max_examples=50)
@given(st.text(max_size=40))
def test_no_text_crashes_a_normaliser(text: str) -> None:
    for fn in (normalize.date, normalize.find_date, normalize.amount, normalize.tax):
        with contextlib.suppress(normalize.Refused):
            fn(text)
    normalize.tax_rate(text)
    normalize.rate_value(text)
    normalize.key(text)
