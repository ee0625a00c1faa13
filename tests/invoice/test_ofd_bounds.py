"""Hostile OFDs answered in bounded time (issue 11): layout linear in the number of objects,
each zip member hashed once however many signature references name it, absurd reference
lists refused with a reason. The files are built here, in memory, from real samples; the
time bounds are loose (the machine is shared) but far below what quadratic code would need.
"""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Callable

import pytest

from invoice import parse
from invoice.errors import ErrorCode, ParseError
from invoice.model import Invoice
from invoice.ofd.layout import MAX_OBJECTS_PER_PAGE
from invoice.ofd.package import OfdPackage
from invoice.verify import VerifyStatus, sm2, verify
from invoice.verify import ofd as ofd_verify
from tests.invoice.test_ofd_provenance import FPTPL, TODAY, Keys, build, members_of, sign
from tests.samples import DIGITAL_OFD, INVOICES, V4SIGNED

BOUND_S = 10.0
PAGE = "Doc_0/Pages/Page_0/Content.xml"
CSFAPIAO = (INVOICES / "ofdrw__ofdrw" / "csfapiao1.ofd").read_bytes()  # fields from page text


def _text_object(i: int, shape: str) -> str:
    """One of many text objects; the shapes hit the costly paths of the positional reading."""
    if shape == "labels":  # every object a label whose value is looked for
        x, y, t = (i % 50) * 4, (i // 50) * 0.5, ("名称", "纳税人识别号", "发票号码", "金额")[i % 4]
    elif shape == "table":  # a header row and a body as wide as the page is long
        x, y = (i % 200) * 1.0, 60 + (i // 200) * 0.3
        t = "项目名称" if i < 200 else (f"{i}.00" if i % 3 else "6%")
    elif shape == "one_line":  # everything on one line
        x, y, t = i * 0.01, 10, ("项目名称" if i % 2 == 0 else "金额")
    elif shape == "below":  # text below the invoice face, where a reading finds nothing
        x, y, t = (i % 50) * 4, 400 + (i // 50) * 0.5, f"备注{i}"
    else:  # a grid of amounts
        x, y, t = (i % 50) * 4, (i // 50) * 0.5, f"{i}.00"
    return (f'<ofd:TextObject ID="{200000 + i}" Boundary="{x} {y} 3 2" Font="1" Size="3">'
            f'<ofd:TextCode X="0" Y="2">{t}</ofd:TextCode></ofd:TextObject>')


def crowded(data: bytes, count: int, shape: str) -> bytes:
    """``data`` with ``count`` text objects added to page 1 (its own objects kept)."""
    page = members_of(data)[PAGE].decode("utf-8-sig")
    extra = "<ofd:Layer ID=\"199999\">" + "".join(_text_object(i, shape) for i in range(count))
    crowded_page = page.replace("</ofd:Content>", extra + "</ofd:Layer></ofd:Content>", 1)
    assert crowded_page != page
    return build(data, {PAGE: crowded_page.encode()})


def timed(fn: Callable[[], object]) -> tuple[object, float]:
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


@pytest.mark.parametrize("shape", ["labels", "table", "one_line", "grid"])
def test_page_of_100000_text_objects_parses_and_verifies_in_bounded_time(shape: str) -> None:
    # fields from the custom tags: they still name the genuine objects among the 100,000
    genuine = parse(DIGITAL_OFD.read_bytes())
    data = crowded(DIGITAL_OFD.read_bytes(), 100_000, shape)
    inv, spent = timed(lambda: parse(data))
    report, spent_verify = timed(lambda: verify(data, today=TODAY))
    assert spent + spent_verify < BOUND_S, (spent, spent_verify)
    assert isinstance(inv, Invoice)
    assert (inv.number, inv.total) == (genuine.number, genuine.total)
    assert report.status is VerifyStatus.UNSIGNED


@pytest.mark.parametrize("shape", ["labels", "table"])
def test_crowded_page_read_by_position_is_skipped_in_bounded_time(shape: str) -> None:
    # fields from the page text: a page this crowded is not read by position at all
    data = crowded(CSFAPIAO, 100_000, shape)
    start = time.perf_counter()
    with pytest.raises(ParseError) as info:
        parse(data)
    report = verify(data, today=TODAY)
    assert time.perf_counter() - start < BOUND_S
    assert info.value.code is ErrorCode.NOT_AN_INVOICE
    assert report.status is VerifyStatus.UNSIGNED


@pytest.mark.parametrize("shape", ["labels", "table", "one_line", "grid"])
def test_layout_is_linear_just_below_the_object_limit(shape: str) -> None:
    # the positional reading itself runs here (the page is under the limit): hostile shapes
    # that made it quadratic (every object a label, a header row as wide as the page) stay fast
    data = crowded(CSFAPIAO, MAX_OBJECTS_PER_PAGE - 1000, shape)
    start = time.perf_counter()
    try:
        inv: Invoice | None = parse(data)
    except ParseError:
        inv = None
    verify(data, today=TODAY)
    assert time.perf_counter() - start < BOUND_S
    assert inv is None or "page_text_skipped" not in inv.extra


def test_page_below_the_limit_is_still_read_by_position() -> None:
    genuine = parse(CSFAPIAO)
    data = crowded(CSFAPIAO, MAX_OBJECTS_PER_PAGE // 2, "below")
    inv, spent = timed(lambda: parse(data))
    assert spent < BOUND_S
    assert isinstance(inv, Invoice) and "page_text_skipped" not in inv.extra
    assert (inv.number, inv.total) == (genuine.number, genuine.total)


def test_crowded_page_in_a_signed_file_is_invalid_quickly() -> None:
    data = crowded(V4SIGNED.read_bytes(), 100_000, "labels")
    report, spent = timed(lambda: verify(data, today=TODAY))
    assert spent < BOUND_S
    assert report.status is VerifyStatus.INVALID
    assert PAGE in report.signatures[0].tampered_members


def test_crowded_page_signed_with_our_keys_is_checked_in_bounded_time() -> None:
    data = sign(crowded(FPTPL, 100_000, "table"), Keys())
    report, spent = timed(lambda: verify(data, today=TODAY))
    assert spent < BOUND_S
    # fields come from the signed CustomData; the page is too crowded to confirm or refute them,
    # and the goods lines it would give are absent, not forged
    assert report.status is VerifyStatus.VALID, report.summary()


def _with_big_member_and_references(n_refs: int) -> bytes:
    """v4signed plus a 50 MB member that ``n_refs`` extra references of Sign_0 name."""
    data = V4SIGNED.read_bytes()
    big = os.urandom(16384) * 3200  # 50 MB that deflates about 140:1, under the ratio cap
    digest = base64.b64encode(sm2.sm3(big)).decode()
    sig_xml = members_of(data)["Doc_0/Signs/Sign_0/Signature.xml"].decode("utf-8")
    refs = "".join(f'<ofd:Reference FileRef="/Doc_0/Res/big.bin"><ofd:CheckValue>{digest}'
                   "</ofd:CheckValue></ofd:Reference>" for _ in range(n_refs))
    sig_xml = sig_xml.replace("</ofd:References>", refs + "</ofd:References>", 1)
    assert refs in sig_xml
    return build(data, {"Doc_0/Res/big.bin": big, "Doc_0/Signs/Sign_0/Signature.xml": sig_xml.encode()})


def test_each_member_is_hashed_once_however_many_references_name_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    data = _with_big_member_and_references(40)  # under the reference limit
    hashed: list[int] = []

    def counting(body: bytes) -> bytes:
        hashed.append(len(body))
        return sm2.sm3(body)

    monkeypatch.setitem(ofd_verify._DIGESTS, "1.2.156.10197.1.401", ("SM3", counting))
    report, spent = timed(lambda: verify(data, today=TODAY))
    assert spent < BOUND_S
    assert hashed.count(50 * 1024 * 1024) == 1
    refs = report.signatures[0].references
    assert sum(r.path == "Doc_0/Res/big.bin" and r.result.value == "ok" for r in refs) == 40
    # Signature.xml was edited to add them: the signed dataHash no longer matches
    assert report.status is VerifyStatus.INVALID


def test_absurd_reference_count_is_refused_with_a_reason() -> None:
    data = _with_big_member_and_references(400)
    report, spent = timed(lambda: verify(data, today=TODAY))
    assert spent < BOUND_S
    sig = report.signatures[0]
    assert sig.status is not VerifyStatus.VALID
    assert any("413 references, more than the limit of 64" in r for r in sig.reasons), sig.reasons
    [issue] = [i for i in report.issues if i.code == "references_too_many"]
    assert "413" in issue.message and "64" in issue.message
    assert report.status is not VerifyStatus.VALID


def test_real_reference_lists_are_under_the_limit() -> None:
    pkg = OfdPackage(V4SIGNED.read_bytes())
    assert len(pkg.names()) < ofd_verify.max_references(pkg)
    report = verify(V4SIGNED.read_bytes(), today=TODAY)
    assert not any("references, more than the limit" in r for r in report.signatures[0].reasons)
