"""The claim gate's facts travel into the archive package: each invoice's 查验 state, the
未查验 mark, and any override (who, when, why) in its verification report, on the voucher and
on the claim lines (claims.xml)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from lxml import etree
from sqlmodel import select

from accounting.overrides import record_override
from archive import package
from archive.store import package_dir
from core.db import session_scope
from invoice.registry import InvoiceRecord
from tests.archive.conftest import SIGNED_NUMBER, People
from tests.samples import DIGITAL_OFD, INVOICES

SIGNED = INVOICES / "ofdrw__ofdrw" / "SignScaleError.ofd"


def test_override_and_unchecked_mark_are_archived(people: People, posted: Callable[[list[Path]], str]) -> None:
    vid = posted([SIGNED, DIGITAL_OFD])
    with session_scope() as s:
        unsigned = s.exec(select(InvoiceRecord).where(InvoiceRecord.verification_status == "unsigned")).one()
        record_override(s, people.approver, unsigned.id, "查验平台维护，已核对纸质件")
        unsigned_number = unsigned.number
    with session_scope() as s:
        pkg = package.build_package(s, people.archivist, vid)
    root = package_dir(pkg)
    reports = {p.name: json.loads(p.read_text(encoding="utf-8"))
               for p in (root / "content" / "verification").glob("*.json")}
    by_number = {next(n for n in (SIGNED_NUMBER, unsigned_number) if n and n in name): r
                 for name, r in reports.items()}
    overridden = by_number[unsigned_number]
    assert overridden["online_check_pending"] is True and overridden["online_check_label"] == "未查验"
    assert overridden["override"]["by"] == "approver"
    assert overridden["override"]["reason"] == "查验平台维护，已核对纸质件"
    signed = by_number[SIGNED_NUMBER]
    assert signed["online_check_pending"] is False and signed["override"] is None
    claims_xml = (root / "content" / "claims.xml").read_text(encoding="utf-8")
    assert "查验平台维护，已核对纸质件" in claims_xml and "clerk" in claims_xml
    # The record (record-1.xsd) carries each invoice's check: on the claim lines and on the voucher.
    for rel, path in (("content/claims.xml", "claim/lines/line"), ("content/voucher.xml", "invoices/invoice")):
        doc = etree.fromstring((root / rel).read_bytes())
        number_tag = "invoice_number" if rel.endswith("claims.xml") else "number"
        checks = {el.findtext(number_tag): el.find("check") for el in doc.iterfind(path)}
        assert set(checks) == {SIGNED_NUMBER, unsigned_number}, rel
        over = checks[unsigned_number]
        assert over.findtext("verification_status") == "unsigned" and over.findtext("pending") == "true"
        assert over.findtext("mark") == "未查验"
        assert over.findtext("override/by") == "approver" and over.findtext("override/role") == "approver"
        assert over.findtext("override/reason") == "查验平台维护，已核对纸质件"
        assert over.findtext("override/at") == overridden["override"]["at"]
        ok = checks[SIGNED_NUMBER]
        assert ok.findtext("verification_status") == "valid" and ok.findtext("pending") == "false"
        assert ok.find("mark") is None and ok.find("override") is None
