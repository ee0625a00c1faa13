"""Whether an invoice has been paid, in its 入账信息 (XBRL, einv-entry-info-2.xsd) and in the
year's 入账标识 export.

Real invoices and real bank e-receipts go through the real services (import, claim, voucher,
posting, confirming a payment); the paid state follows what the confirmed receipts cover.
Packages written before the payment facts (version 1) still pass the four-property check.
"""

from __future__ import annotations

import csv
import io
import shutil
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from lxml import etree
from openpyxl import load_workbook

from accounting import ledger, payments
from accounting.entry_info import entry_info_for_voucher, posting_flags
from accounting.payments import PaidState, payment_cover
from accounting.posting_export import export, headers
from accounting.public import PostingFlagRowPublic
from archive import check, package, xbrl
from archive.check import Result
from archive.store import ArchivePackage, package_dir
from core.clock import CHINA
from core.db import session_scope
from invoice.importer import ingest_files
from invoice.registry import InvoiceRecord
from tests.archive.conftest import SAMPLE_SETS, People
from tests.samples import OTHER

Posted = Callable[[list[Path]], str]
E = f"{{{xbrl.EINV}}}"
CCB_27 = OTHER / "c5soft__ofd.js" / "26050100800_00001.ofd"  # 中国建设银行, 27.00
CEB_400K = OTHER / "itlabers__ofd-go" / "bank_receipt_1.ofd"  # 中国光大银行, 400,000.00


def _receipt(people: People, path: Path) -> InvoiceRecord:
    [entry] = ingest_files([(path.name, path.read_bytes())], people.clerk.username).imported
    with session_scope() as s:
        rec = s.get(InvoiceRecord, entry["invoice_id"])
        assert rec is not None
        s.expunge(rec)
        return rec


def _confirm(people: People, vid: str, receipt: InvoiceRecord) -> None:
    with session_scope() as s:
        payments.confirm_payment(s, people.accountant, vid, receipt.id)


def _cover(vid: str) -> payments.PaymentCover:
    with session_scope() as s:
        return payment_cover(s, s.get(ledger.Voucher, vid))


def _package(people: People, vid: str) -> tuple[str, Path]:
    """Build the voucher's archive package: its id and folder."""
    with session_scope() as s:
        pkg = package.build_package(s, people.archivist, vid)
        return pkg.id, package_dir(s.get(ArchivePackage, pkg.id) or pkg)


def _build(people: People, vid: str) -> Path:
    return _package(people, vid)[1]


def _instances(root: Path) -> list[etree._Element]:
    files = sorted((root / xbrl.PACKAGE_FOLDER).glob("*.xml"))
    assert files
    return [etree.fromstring(f.read_bytes()) for f in files]


def _check(package_id: str) -> None:
    """The four-property check passes, U2 (which validates the 入账信息) included."""
    with session_scope() as s:
        report = check.check_package(s, package_id)
    assert report.item("U2").result is Result.PASS, report.item("U2").evidence
    assert not report.failed, [(i.id, i.evidence) for i in report.failed]


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    for p in [dst, *dst.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)
    return dst


# --- the paid state -----------------------------------------------------------------------------

def test_paid_in_full_is_true_in_the_package(db_people: People, db_posted: Posted) -> None:
    """A confirmed receipt that covers what the voucher owes: paid, with its number; the
    package carries version 2 of the XSD, its instances validate and the package checks."""
    vid = db_posted(SAMPLE_SETS[1])
    receipt = _receipt(db_people, CEB_400K)
    _confirm(db_people, vid, receipt)
    cover = _cover(vid)
    assert cover.covered >= cover.owed > 0 and cover.state is PaidState.PAID
    pid, root = _package(db_people, vid)
    assert (root / "schema" / "einv-entry-info-2.xsd").read_bytes() == xbrl.xsd_bytes(2)
    assert not (root / "schema" / "einv-entry-info-1.xsd").exists()
    for doc in _instances(root):
        assert doc.findtext(f"{E}WhetherEinvoiceHasBeenPaid") == "true"
        assert doc.findtext(f"{E}NumberOfBankElectronicReceipt") == receipt.number
        assert xbrl.validate(etree.tostring(doc), (root / "schema" / "einv-entry-info-2.xsd").read_bytes()) == []
    assert xbrl.validate_package(root) == []
    _check(pid)


def test_unpaid_is_false_without_receipt_number(people: People, posted: Posted) -> None:
    vid = posted(SAMPLE_SETS[2])
    assert _cover(vid).state is PaidState.UNPAID
    root = _build(people, vid)
    for doc in _instances(root):
        assert doc.findtext(f"{E}WhetherEinvoiceHasBeenPaid") == "false"
        assert doc.find(f"{E}NumberOfBankElectronicReceipt") is None
    assert xbrl.validate_package(root) == []


def test_partial_payment_is_not_paid_until_covered(people: People, posted: Posted) -> None:
    """A receipt for less than the voucher owes leaves it unpaid (部分支付), its number
    recorded; a second receipt that makes up the rest makes it paid, both numbers joined."""
    vid = posted(SAMPLE_SETS[1])
    small = _receipt(people, CCB_27)
    _confirm(people, vid, small)
    cover = _cover(vid)
    assert small.total is not None and cover.owed > small.total  # the voucher owes more than 27.00
    assert cover.state is PaidState.PARTIAL and cover.covered == small.total and not cover.paid
    with session_scope() as s:
        (info,) = entry_info_for_voucher(s, s.get(ledger.Voucher, vid))
    doc = etree.fromstring(xbrl.entry_info_xml(info))
    assert doc.findtext(f"{E}WhetherEinvoiceHasBeenPaid") == "false"
    assert doc.findtext(f"{E}NumberOfBankElectronicReceipt") == small.number
    big = _receipt(people, CEB_400K)
    _confirm(people, vid, big)
    cover = _cover(vid)
    assert cover.state is PaidState.PAID and cover.receipt_numbers == (small.number, big.number)
    doc = _instances(_build(people, vid))[0]
    assert doc.findtext(f"{E}WhetherEinvoiceHasBeenPaid") == "true"
    assert doc.findtext(f"{E}NumberOfBankElectronicReceipt") == f"{small.number};{big.number}"


def test_one_receipt_paying_two_vouchers_and_a_removed_link(people: People, posted: Posted) -> None:
    """A batch payment covers each voucher it was confirmed for; taking the link back makes
    the voucher unpaid again (only confirmed links count)."""
    first, second = posted(SAMPLE_SETS[1]), posted(SAMPLE_SETS[2])
    batch = _receipt(people, CEB_400K)
    _confirm(people, first, batch)
    _confirm(people, second, batch)
    assert _cover(first).paid and _cover(second).paid
    with session_scope() as s:
        payments.remove_payment(s, people.accountant, second, batch.id)
    assert _cover(first).paid and _cover(second).state is PaidState.UNPAID


# --- old packages and damaged ones ---------------------------------------------------------------

def test_version_1_package_still_checks(people: People, posted: Posted, monkeypatch: pytest.MonkeyPatch) -> None:
    """A package filed before the payment facts carries einv-entry-info-1.xsd and instances
    without them; it checks against its own XSD, as does a new one against version 2."""
    with monkeypatch.context() as m:
        m.setattr(xbrl, "VERSION", 1)
        old_id, old = _package(people, posted(SAMPLE_SETS[1]))
    assert (old / "schema" / "einv-entry-info-1.xsd").read_bytes() == xbrl.xsd_bytes(1)
    assert not (old / "schema" / "einv-entry-info-2.xsd").exists()
    assert all(doc.find(f"{E}WhetherEinvoiceHasBeenPaid") is None for doc in _instances(old))
    assert xbrl.carried_version(old) is not None and xbrl.carried_version(old)[0] == 1  # type: ignore[index]
    assert xbrl.validate_package(old) == []
    _check(old_id)
    new_id, new = _package(people, posted(SAMPLE_SETS[2]))
    assert xbrl.carried_version(new)[0] == 2  # type: ignore[index]
    _check(new_id)


def test_paid_facts_fail_against_version_1(people: People, posted: Posted, tmp_path: Path) -> None:
    """A version-2 instance presented with the version-1 XSD fails: v1 knows no payment facts."""
    root = _copy(_build(people, posted(SAMPLE_SETS[2])), tmp_path / "pkg")
    (root / "schema" / "einv-entry-info-2.xsd").unlink()
    (root / "schema" / "einv-entry-info-1.xsd").write_bytes(xbrl.xsd_bytes(1))
    problems = xbrl.validate_package(root)
    assert problems and all("einv-entry-info-1.xsd" in p for p in problems)
    assert any("WhetherEinvoiceHasBeenPaid" in p for p in problems), problems


@pytest.mark.parametrize(("damage", "expect"), [
    ("paid_value", "WhetherEinvoiceHasBeenPaid"),
    ("no_xsd", "没有描述它们的结构定义"),
    ("xsd_changed", "不一致"),
])
def test_damaged_paid_flag_package_fails(people: People, posted: Posted, tmp_path: Path,
                                         damage: str, expect: str) -> None:
    root = _copy(_build(people, posted(SAMPLE_SETS[2])), tmp_path / "pkg")
    xsd = root / "schema" / "einv-entry-info-2.xsd"
    if damage == "paid_value":
        f = next((root / xbrl.PACKAGE_FOLDER).glob("*.xml"))
        f.write_bytes(f.read_bytes().replace(b">false</einv:WhetherEinvoiceHasBeenPaid>",
                                             b">unknown</einv:WhetherEinvoiceHasBeenPaid>"))
    elif damage == "no_xsd":
        xsd.unlink()
    else:
        xsd.write_bytes(xsd.read_bytes().replace(b'name="WhetherEinvoiceHasBeenPaid" type="einv:booleanItem"',
                                                 b'name="WhetherEinvoiceHasBeenPaid" type="einv:textItem"'))
    problems = xbrl.validate_package(root)
    assert any(expect in p for p in problems), problems


# --- the 入账标识 export --------------------------------------------------------------------------

def test_posting_flags_export_shows_paid_state(people: People, posted: Posted) -> None:
    paid_vid, partial_vid = posted(SAMPLE_SETS[1]), posted(SAMPLE_SETS[0])
    big, small = _receipt(people, CEB_400K), _receipt(people, CCB_27)
    _confirm(people, paid_vid, big)
    _confirm(people, partial_vid, small)
    unpaid_vid = posted(SAMPLE_SETS[2])
    with session_scope() as s:
        numbers = {vid: s.get(ledger.Voucher, vid).number for vid in (paid_vid, partial_vid, unpaid_vid)}
        rows = posting_flags(s, datetime.now(CHINA).year)
    by_voucher: dict[str, list] = {}  # type: ignore[type-arg]
    for r in rows:
        by_voucher.setdefault(r.voucher_number or "", []).append(r)
    expected = {paid_vid: ("paid", (big.number,)), partial_vid: ("partial", (small.number,)),
                unpaid_vid: ("unpaid", ())}
    for vid, (state, receipts) in expected.items():
        assert by_voucher[numbers[vid]]
        for r in by_voucher[numbers[vid]]:
            assert (r.paid_state, r.bank_receipt_numbers) == (state, receipts)
    paid_row = by_voucher[numbers[paid_vid]][0]
    public = PostingFlagRowPublic.from_row(paid_row).to_json()
    assert public["paid_state"] == "paid" and public["paid_label"] == "已支付"
    assert public["bank_receipt_numbers"] == [big.number]
    head = headers()
    assert head[-2:] == ["支付状态", "银行电子回单号"] and head[7] == "入账标识"  # old columns keep their places
    ws = load_workbook(io.BytesIO(export(rows, "xlsx"))).active
    assert ws is not None
    table = list(ws.iter_rows(values_only=True))
    cells = {(r[10], r[12], r[13] or "") for r in table[1:]}
    assert (numbers[paid_vid], "已支付", big.number) in cells
    assert (numbers[partial_vid], "部分支付", small.number) in cells
    assert (numbers[unpaid_vid], "未支付", "") in cells
    parsed = list(csv.reader(io.StringIO(export(rows, "csv").decode("utf-8").lstrip("\ufeff"))))
    assert parsed[0] == head
    assert any(r[10] == numbers[paid_vid] and r[12] == "已支付" and r[13] == big.number for r in parsed[1:])
