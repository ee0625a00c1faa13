"""The 凭证 "四要素" in one package (issue 13): claim, invoices, voucher and the confirmed bank
e-receipt (付款回单), listed in the record (record-2 voucher/payments) and the metadata."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from lxml import etree
from sqlmodel import select

from accounting import payments
from archive import check, metadata, package, schema
from archive.check import Result
from archive.store import ArchivePackage, package_dir
from core.db import session_scope
from invoice.importer import ingest_files
from invoice.registry import InvoiceRecord
from tests.archive.conftest import SAMPLE_SETS, People
from tests.archive.test_render import _text, assert_pdfa
from tests.samples import OTHER

Posted = Callable[[list[Path]], str]
CCB = OTHER / "c5soft__ofd.js" / "26050100800_00001.ofd"


def _receipt(people: People) -> InvoiceRecord:
    result = ingest_files([(CCB.name, CCB.read_bytes())], people.clerk.username)
    [entry] = result.imported
    with session_scope() as s:
        rec = s.get(InvoiceRecord, entry["invoice_id"])
        assert rec is not None
        s.expunge(rec)
        return rec


def _root(pkg: ArchivePackage) -> Path:
    with session_scope() as s:
        return package_dir(s.get(ArchivePackage, pkg.id) or pkg)


def test_a_confirmed_receipt_is_filed_with_its_voucher(db_people: People, db_posted: Posted) -> None:
    people = db_people
    vid = db_posted(SAMPLE_SETS[1])
    receipt = _receipt(people)
    with session_scope() as s:
        payments.confirm_payment(s, people.accountant, vid, receipt.id)
    with session_scope() as s:
        pkg = package.build_package(s, people.archivist, vid)
    root = _root(pkg)
    filed = root / "content" / "payments" / "01-947846.ofd"
    assert filed.read_bytes() == CCB.read_bytes()  # the receipt, byte for byte
    assert (root / "content" / "verification" / "payment-01-947846.json").is_file()
    voucher = etree.parse(str(root / "content" / "voucher.xml")).getroot()
    assert voucher.get("schemaVersion") == str(schema.current("record").version) == "2"
    [pay] = voucher.findall("payments/payment")
    assert pay.findtext("key") == "bank:中国建设银行:947846" and pay.findtext("total") == "27.00"
    assert pay.findtext("payee_name") == "李俊婕" and pay.findtext("file") == "content/payments/01-947846.ofd"
    assert pay.findtext("check/verification_status") == "valid"
    assert pay.findtext("confirmed_by") == "accountant"
    meta = metadata.read_metadata((root / "metadata.xml").read_bytes())
    listed = {f["文件名"]: f["类型"] for f in meta.files}
    assert listed["content/payments/01-947846.ofd"] == "付款回单"
    assert pkg.meta["payment_keys"] == ["bank:中国建设银行:947846"]
    assert schema.validate_package_xml(root) == []
    # the readable voucher (PDF/A) lists the payment too
    pdf = (root / "content" / "voucher.pdf").read_bytes()
    assert_pdfa(pdf)
    text = _text(pdf)
    assert "付款回单" in text and "947846" in text and "李俊婕" in text
    with session_scope() as s:
        report = check.check_package(s, pkg.id)
    assert not report.failed, [(i.id, i.evidence) for i in report.failed]
    assert report.item("U2").result is Result.PASS


def test_without_a_payment_the_package_lists_none(people: People, posted: Posted) -> None:
    vid = posted(SAMPLE_SETS[2])
    with session_scope() as s:
        pkg = package.build_package(s, people.archivist, vid)
        assert s.exec(select(ArchivePackage)).first() is not None
    root = _root(pkg)
    voucher = etree.parse(str(root / "content" / "voucher.xml")).getroot()
    assert voucher.find("payments") is not None and voucher.findall("payments/payment") == []
    assert not (root / "content" / "payments").exists() and pkg.meta["payment_keys"] == []
