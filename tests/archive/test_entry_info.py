"""入账信息 (XBRL, receiver side of 电子凭证会计数据标准) and the 入账标识 export.

Real invoices go through the real services (import, claim, approval, voucher, posting,
reversal); the package of a posted voucher carries one XBRL instance per invoice, listed in
the manifest and metadata as XML, that validates; instances damaged in each way the checks
know fail; the year's 入账标识 (01/02/03/06) is exported as .xlsx and .csv, by the CLI too.
"""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree
from openpyxl import load_workbook

from accounting import ledger
from accounting.entry_info import entry_info_for_voucher, posting_flags
from accounting.posting_export import export, headers
from archive import manifest, metadata, package, xbrl
from archive.store import package_dir
from core.clock import CHINA
from core.db import session_scope
from tests.archive.conftest import SAMPLE_SETS, SIGNED, SIGNED_NUMBER, People

Posted = Callable[[list[Path]], str]
E = f"{{{xbrl.EINV}}}"


def _infos(vid: str) -> list:  # type: ignore[type-arg]
    with session_scope() as s:
        return entry_info_for_voucher(s, s.get(ledger.Voucher, vid))


def test_package_carries_valid_entry_info_per_invoice(people: People, posted: Posted) -> None:
    vid = posted(SAMPLE_SETS[0])
    with session_scope() as s:
        pkg = package.build_package(s, people.archivist, vid)
        voucher = s.get(ledger.Voucher, vid)
        number, period, vdate = voucher.number, voucher.period, voucher.date
        lines = ledger.voucher_lines(s, vid)
    root = package_dir(pkg)
    files = sorted((root / xbrl.PACKAGE_FOLDER).iterdir())
    assert len(files) == 2  # one instance per invoice of the voucher
    assert (root / xbrl.XSD_PACKAGE_PATH).read_bytes() == xbrl.xsd_bytes()
    man = {e.path for e in manifest.read_manifest((root / "manifest.xml").read_bytes()).entries}
    meta = metadata.read_metadata((root / "metadata.xml").read_bytes())
    kinds = {f["文件名"]: (f["类型"], f["格式"]) for f in meta.files}
    for f in files:
        rel = f"{xbrl.PACKAGE_FOLDER}/{f.name}"
        assert rel in man and kinds[rel] == ("入账信息", "XML")
        data = f.read_bytes()
        assert xbrl.validate(data, (root / xbrl.XSD_PACKAGE_PATH).read_bytes()) == []
        doc = etree.fromstring(data)
        assert doc.findtext(f"{E}WhetherEinvoiceHasBeenBooked") == "true"
        docs = doc.find(f"{E}InformationOfAccountingDocumentsTuple")
        assert docs is not None
        assert docs.findtext(f"{E}NumberOfAccountingDocuments") == number
        assert docs.findtext(f"{E}AccountingPeriod") == period
        assert docs.findtext(f"{E}PostingDate") == vdate.isoformat()
        entries = docs.findall(f"{E}InformationOfDebitAndCreditEntryTuple")
        assert len(entries) == len(lines)
        debit = sum(Decimal(e.findtext(f"{E}RecordedAmount") or "0") for e in entries
                    if e.findtext(f"{E}DebitOrCredit") == "借方")
        assert debit == sum(line.debit for line in lines)
        ident = doc.find(f"{{{xbrl.XBRLI}}}context/{{{xbrl.XBRLI}}}entity/{{{xbrl.XBRLI}}}identifier")
        assert ident is not None and ident.get("scheme") == "http://xbrl.mof.gov.cn"
    signed = next(f for f in files if SIGNED_NUMBER in f.name)
    doc = etree.fromstring(signed.read_bytes())
    assert doc.findtext(f"{E}InvoiceNumber") == SIGNED_NUMBER
    assert doc.findtext(f"{E}WhetherEinvoiceHasBeenChecked") == "true"  # its e-seal verified


def test_general_and_subsidiary_subjects_split(people: People, posted: Posted) -> None:
    vid = posted(SAMPLE_SETS[1])  # a 专票: its input VAT is booked to 应交税费—应交增值税—进项税额
    (info,) = _infos(vid)
    by_code = {line.account_code: line for line in info.lines}
    assert all(line.general_ledger and "—" not in line.general_ledger for line in info.lines)
    vat = [line for code, line in by_code.items() if code.startswith("2221")]
    assert vat
    for line in vat:
        assert line.general_ledger == "应交税费" and line.subsidiary and "进项税额" in line.subsidiary


def test_reversed_voucher_is_no_longer_booked(people: People, posted: Posted) -> None:
    vid = posted([SIGNED])
    with session_scope() as s:
        reversal = ledger.reverse_voucher(s, people.accountant, vid)
        rid = reversal.id
    (original,) = _infos(vid)
    assert original.booked is False  # released by the reversal
    (rev,) = _infos(rid)
    assert rev.posting_flag == "06" and rev.booked is False
    assert all(line.amount < 0 for line in rev.lines)  # red figures
    data = xbrl.entry_info_xml(rev)
    assert etree.fromstring(data).findtext(f"{E}WhetherEinvoiceHasBeenBooked") == "false"


def _valid(people: People, posted: Posted) -> bytes:
    (info,) = _infos(posted([SIGNED]))
    return xbrl.entry_info_xml(info)


@pytest.mark.parametrize(("damage", "problem"), [
    (lambda d: d.replace(b"\xe5\x80\x9f\xe6\x96\xb9", b"\xe5\x80\x9f", 1), "DebitOrCredit"),  # 借方 -> 借
    (lambda d: d.replace(b'contextRef="As_Of', b'contextRef="Elsewhere', 1), "names no context"),
    (lambda d: d.replace(b'unitRef="CNY"', b'unitRef="USD"', 1), "names no unit"),
    (lambda d: d.replace(b"<link:schemaRef", b"<link:schemaRefX", 1).replace(b"/>", b"/>", 1),
     "schemaRef"),
    (lambda d: d.replace(b'scheme="http://xbrl.mof.gov.cn"', b'scheme="http://example.com"', 1), "identifier"),
    (lambda d: d.replace(b"<einv:WhetherEinvoiceHasBeenBooked", b"<einv:Removed", 1)
     .replace(b"</einv:WhetherEinvoiceHasBeenBooked>", b"</einv:Removed>", 1), "WhetherEinvoiceHasBeenBooked is missing"),
    (lambda d: d.replace(b"<xbrli:xbrl", b"<xbrli:xbrl", 1)[:-20], "not well-formed"),
])
def test_damaged_entry_info_fails(people: People, posted: Posted, damage: Callable[[bytes], bytes],
                                  problem: str) -> None:
    good = _valid(people, posted)
    assert xbrl.validate(good) == []
    problems = xbrl.validate(damage(good))
    assert any(problem in p for p in problems), problems


def test_unbalanced_entries_fail(people: People, posted: Posted) -> None:
    good = _valid(people, posted)
    doc = etree.fromstring(good)
    amount = next(doc.iter(f"{E}RecordedAmount"))
    amount.text = str(Decimal(amount.text or "0") + 1)
    problems = xbrl.validate(etree.tostring(doc))
    assert any("differ" in p for p in problems), problems


# --- 入账标识 export -------------------------------------------------------------------------------

def test_posting_flags_of_the_year(people: People, posted: Posted) -> None:
    vid = posted([SIGNED])
    year = datetime.now(CHINA).year
    with session_scope() as s:
        rows = {r.number: r for r in posting_flags(s, year)}
    assert rows[SIGNED_NUMBER].flag == "02" and rows[SIGNED_NUMBER].marked_at is not None
    with session_scope() as s:
        ledger.reverse_voucher(s, people.accountant, vid)
    with session_scope() as s:
        rows = {r.number: r for r in posting_flags(s, year)}
        assert rows[SIGNED_NUMBER].flag == "06"
        assert posting_flags(s, year - 30) == []  # nothing issued or marked then


def test_never_posted_invoice_is_01(people: People) -> None:
    from invoice.importer import ingest_files

    ingest_files([(SAMPLE_SETS[1][0].name, SAMPLE_SETS[1][0].read_bytes())], people.clerk.username)
    with session_scope() as s:
        (row,) = posting_flags(s, 2022)  # 增值税电子专票5.ofd, issued 2022-05-05
    assert row.flag == "01" and row.marked_at is None and row.number == "00008006"


def test_export_xlsx_and_csv(people: People, posted: Posted) -> None:
    posted([SIGNED])
    with session_scope() as s:
        rows = posting_flags(s, datetime.now(CHINA).year)
    ws = load_workbook(io.BytesIO(export(rows, "xlsx"))).active
    assert ws is not None
    table = list(ws.iter_rows(values_only=True))
    assert list(table[0]) == headers()
    found = next(r for r in table[1:] if r[1] == SIGNED_NUMBER)
    assert found[7] == "02" and found[8] == "已入账（企业所得税税前扣除）"
    text = export(rows, "csv").decode("utf-8")
    assert text.startswith("\ufeff")
    parsed = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert parsed[0] == headers() and any(r[1] == SIGNED_NUMBER and r[7] == "02" for r in parsed[1:])


def test_cli_posting_flags(people: People, posted: Posted, tmp_path: Path) -> None:
    from core.settings import get_settings

    posted([SIGNED])
    year = str(datetime.now(CHINA).year)
    env = {**os.environ, "FAPIAO_HOME": str(get_settings().home), "PYTHONPATH": str(Path.cwd())}
    env.pop("DATABASE_URL", None)
    out = tmp_path / "flags.xlsx"
    run = subprocess.run([sys.executable, "-c", "from api.cli import run; run()", "ledger", "posting-flags",
                          "--year", year, "--out", str(out)], env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "入账标识" in run.stdout and out.is_file()
    bad = subprocess.run([sys.executable, "-c", "from api.cli import run; run()", "ledger", "posting-flags",
                          "--year", "25", "--out", str(tmp_path / "x.pdf")], env=env, capture_output=True,
                         text=True)
    assert bad.returncode == 2 and "4 位年份" in bad.stderr


def test_posting_flags_and_entry_info_on_both_databases(db_people: People, db_posted: Posted) -> None:
    """The year's query and the package's 入账信息 on SQLite and PostgreSQL alike."""
    vid = db_posted([SIGNED])
    with session_scope() as s:
        rows = {r.number: r for r in posting_flags(s, datetime.now(CHINA).year)}
        pkg = package.build_package(s, db_people.archivist, vid)
    assert rows[SIGNED_NUMBER].flag == "02"
    (f,) = (package_dir(pkg) / xbrl.PACKAGE_FOLDER).iterdir()
    assert xbrl.validate(f.read_bytes()) == []
