"""The registry's duplicate rule, on SQLite and PostgreSQL (the ``engine`` fixture).

Invoices are built directly as ``Invoice`` objects with distinct file bytes, so each rule is
tested on its own, independent of the parsers (tests/invoice/test_import.py covers real files).
"""

from __future__ import annotations

import multiprocessing
import threading
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from core import db as core_db
from core.audit import AuditEntry, verify_chain
from core.blobstore import get_blobstore
from core.clock import set_clock
from core.db import session_scope
from core.errors import ErrorKind, ServiceError
from core.settings import Settings, override_settings
from invoice import registry
from invoice.model import Invoice, InvoiceKind, Party, SourceFormat
from invoice.registry import (
    DuplicateInvoice,
    InvoiceRecord,
    RegistryError,
    StoredFile,
    get_by_key,
    get_invoice,
    invoice_summary,
    list_invoices,
    record_to_dict,
    register,
    register_usage_lookup,
    reversals,
)

DIGITAL_NO = "24112000000048542163"


def make_invoice(number: str = DIGITAL_NO, code: str | None = None, fmt: SourceFormat = SourceFormat.OFD,
                 total: str = "113.00", issue_date: str = "2024-05-28", **extra: str) -> Invoice:
    t = Decimal(total)
    return Invoice(kind=InvoiceKind.DIGITAL_ORDINARY if code is None else InvoiceKind.VAT_E_ORDINARY,
                   source_format=fmt, number=number, code=code, issue_date=issue_date,
                   buyer=Party("海南麒麟云服", "91460000MA5TXXXX0A"), seller=Party("北京互联三六五科技", "911101083180000000"),
                   amount=(t / Decimal("1.13")).quantize(Decimal("0.01")), tax=None, total=t, extra=dict(extra))


def store_and_register(inv: Invoice, content: bytes, filename: str = "a.ofd", user: str = "clerk1",
                       report: dict[str, Any] | None = None, policy: str | None = None) -> InvoiceRecord:
    sha = get_blobstore().put(content)
    inv.sha256 = sha
    with session_scope() as s:
        return register(s, inv, report or {"status": "unsigned"}, sha, filename, user, len(content),
                        policy=policy)  # type: ignore[arg-type]


def test_same_bytes_twice_is_a_duplicate_naming_the_first(engine: Engine) -> None:
    first = store_and_register(make_invoice(), b"ofd bytes 1", "first.ofd", "alice")
    with pytest.raises(DuplicateInvoice) as exc:
        store_and_register(make_invoice(), b"ofd bytes 1", "again.ofd", "bob")
    err = exc.value
    assert err.kind is ErrorKind.REFUSED and err.code == "duplicate_invoice"
    d = err.details
    assert d["invoice_id"] == first.id
    assert d["file"] == "first.ofd"
    assert d["uploaded_by"] == "alice"
    assert d["uploaded_at"] == first.uploaded_at.isoformat()
    assert (d["claim_id"], d["voucher_id"], d["posted"]) == (None, None, False)
    assert "alice" in err.message and DIGITAL_NO in err.message
    with session_scope() as s:
        assert len(s.exec(select(InvoiceRecord)).all()) == 1
        entries = s.exec(select(AuditEntry).where(AuditEntry.action == "invoice.upload")).all()
        assert [e.object_id for e in entries] == [first.id]  # the refused upload left no trace
        assert verify_chain(s).ok


def test_same_invoice_in_another_format_is_a_duplicate(engine: Engine) -> None:
    first = store_and_register(make_invoice(fmt=SourceFormat.OFD), b"the OFD", "inv.ofd")
    for fmt, content in ((SourceFormat.PDF, b"%PDF the PDF"), (SourceFormat.XML, b"<EInvoice/>")):
        with pytest.raises(DuplicateInvoice) as exc:
            store_and_register(make_invoice(fmt=fmt), content, f"inv.{fmt.value}")
        assert exc.value.details["invoice_id"] == first.id


def test_old_style_key_is_code_and_number(engine: Engine) -> None:
    a = store_and_register(make_invoice("12235358", code="050001700111"), b"a")
    b = store_and_register(make_invoice("12235358", code="050001700222"), b"b")  # same number, other code
    assert (a.key, b.key) == ("050001700111:12235358", "050001700222:12235358")
    with pytest.raises(DuplicateInvoice):
        store_and_register(make_invoice("12235358", code="050001700111", fmt=SourceFormat.PDF), b"c")


def test_checked_across_years_and_uploaders(engine: Engine) -> None:
    set_clock(lambda: datetime(2021, 3, 1, 9, 0, tzinfo=UTC))
    try:
        first = store_and_register(make_invoice(issue_date="2020-12-30"), b"2020", user="alice")
    finally:
        set_clock(None)
    with pytest.raises(DuplicateInvoice) as exc:
        store_and_register(make_invoice(issue_date="2020-12-30", fmt=SourceFormat.PDF), b"2025", user="carol")
    assert exc.value.details["invoice_id"] == first.id
    assert exc.value.details["uploaded_at"].startswith("2021-03-01")


def test_warn_policy_stores_a_flagged_duplicate(engine: Engine, settings: Settings) -> None:
    settings.duplicate_policy = "warn"
    first = store_and_register(make_invoice(), b"one")
    dup = store_and_register(make_invoice(fmt=SourceFormat.PDF), b"two", "two.pdf")
    again = store_and_register(make_invoice(), b"one", "one-again.ofd")  # the same bytes
    for rec in (dup, again):
        assert rec.status == "duplicate"
        assert rec.unique_key is None and rec.unique_sha256 is None
        assert rec.duplicate_of == first.id
    assert first.status == "ok" and first.unique_key == DIGITAL_NO
    with session_scope() as s:
        assert get_by_key(s, DIGITAL_NO).id == first.id
        ok, total = list_invoices(s, status="ok")
        assert total == 1 and ok[0].id == first.id
        assert list_invoices(s, status="duplicate")[1] == 2
    # the explicit block policy still refuses, whatever the setting
    with pytest.raises(DuplicateInvoice):
        store_and_register(make_invoice(), b"three", policy="block")


def test_invalid_invoice_is_kept_as_evidence_and_does_not_block_the_genuine(engine: Engine) -> None:
    forged = store_and_register(make_invoice(), b"edited after signing", "forged.ofd",
                                report={"status": "invalid", "problems": ["digest mismatch"]})
    assert forged.status == "invalid"
    assert forged.unique_key == f"invalid:{forged.sha256}"
    assert forged.verification["problems"] == ["digest mismatch"]
    assert get_blobstore().get(forged.sha256) == b"edited after signing"
    genuine = store_and_register(make_invoice(), b"intact", "genuine.ofd", report={"status": "valid"})
    assert genuine.status == "ok" and genuine.unique_key == DIGITAL_NO
    # the same forged bytes again are a duplicate of the evidence; a new forgery names the genuine
    with pytest.raises(DuplicateInvoice) as exc:
        store_and_register(make_invoice(), b"edited after signing", report={"status": "invalid"})
    assert exc.value.details["invoice_id"] == forged.id
    forged2 = store_and_register(make_invoice(), b"edited again", report={"status": "invalid"})
    assert forged2.status == "invalid" and forged2.duplicate_of == genuine.id


def test_red_letter_invoice_is_linked_not_a_duplicate(engine: Engine) -> None:
    blue = store_and_register(make_invoice(), b"blue")
    red_no = "24112000000048549999"
    red = store_and_register(make_invoice(red_no, total="-113.00", red_reverses=DIGITAL_NO), b"red")
    assert red.status == "ok"
    assert red.red_reverses_key == DIGITAL_NO and red.unique_key == f"red:{red_no}"
    # a red invoice that carries the blue one's number (some issuers do) does not collide either
    red_same = store_and_register(make_invoice(total="-50.00", red_reverses=DIGITAL_NO), b"red2")
    assert red_same.unique_key == f"red:{DIGITAL_NO}" and red_same.key == blue.key
    with session_scope() as s:
        assert {r.id for r in reversals(s, DIGITAL_NO)} == {red.id, red_same.id}
        assert get_by_key(s, DIGITAL_NO).id == blue.id
    with pytest.raises(DuplicateInvoice) as exc:  # the red invoice itself, again
        store_and_register(make_invoice(red_no, total="-113.00", red_reverses=DIGITAL_NO, fmt=SourceFormat.PDF), b"red pdf")
    assert exc.value.details["invoice_id"] == red.id


@pytest.mark.parametrize(("remarks", "reverses"), [
    ("被红冲蓝字数电发票号码：24112000000048542163 红字发票信息确认单编号：1101", DIGITAL_NO),
    ("对应正数发票代码:050001700111号码:12235358", "050001700111:12235358"),
])
def test_red_letter_reference_read_from_the_remarks(engine: Engine, remarks: str, reverses: str) -> None:
    inv = make_invoice("24112000000048540001", total="-10.00")
    inv.remarks = remarks
    red = store_and_register(inv, remarks.encode())
    assert red.red_reverses_key == reverses and red.unique_key == "red:24112000000048540001"


def test_invoice_without_number_or_without_stored_original_is_refused(engine: Engine) -> None:
    with pytest.raises(RegistryError) as exc:
        store_and_register(make_invoice(number=""), b"no number", "blank.pdf")
    assert exc.value.code == "no_invoice_number" and "blank.pdf" in exc.value.message
    inv = make_invoice()
    with session_scope() as s, pytest.raises(RegistryError) as exc2:
        register(s, inv, {"status": "valid"}, "b" * 64, "x.ofd", "u", 3)
    assert exc2.value.code == "original_not_stored"
    with session_scope() as s:
        assert s.exec(select(InvoiceRecord)).all() == []


def test_summary_uses_the_usage_lookup_hook(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    # restore whatever the accounting package registered once the test is done
    monkeypatch.setattr(registry, "_usage_lookup", registry._usage_lookup)
    monkeypatch.setattr(registry, "_posted_clause", None)  # exercise the row-by-row fallback
    first = store_and_register(make_invoice(), b"one")
    seen: list[str] = []

    def usage(session: Session, invoice_id: str) -> dict[str, Any]:
        seen.append(invoice_id)
        return {"claim_id": "c-1", "voucher_id": "v-9", "posted": True, "ignored": 1}

    register_usage_lookup(usage)
    try:
        with pytest.raises(DuplicateInvoice) as exc:
            store_and_register(make_invoice(fmt=SourceFormat.PDF), b"two")
        d = exc.value.details
        assert (d["claim_id"], d["voucher_id"], d["posted"]) == ("c-1", "v-9", True)
        assert "ignored" not in d and seen == [first.id]
        with session_scope() as s:
            items, total = list_invoices(s, posted=True)
            assert total == 1 and items[0].id == first.id
            assert list_invoices(s, posted=False)[1] == 0
    finally:
        register_usage_lookup(None)
    with session_scope() as s:
        assert list_invoices(s, posted=True)[1] == 0  # without accounting nothing is posted


def test_stored_file_row_and_record_dict(engine: Engine) -> None:
    rec = store_and_register(make_invoice(), b"content", "发票.ofd")
    with session_scope() as s:
        sf = s.get(StoredFile, rec.sha256)
        assert sf is not None and sf.size == 7 and sf.content_type == "application/ofd"
        d = record_to_dict(get_invoice(s, rec.id))
    assert d["id"] == rec.id and d["number"] == DIGITAL_NO and d["key"] == DIGITAL_NO
    assert d["total"] == "113.00" and d["buyer"]["name"] == "海南麒麟云服"
    assert d["status"] == "ok" and d["verification"]["status"] == "unsigned"
    assert d["file"] == "发票.ofd" and d["sha256"] == rec.sha256
    with session_scope() as s, pytest.raises(RegistryError) as exc:
        get_invoice(s, "nope")
    assert exc.value.kind is ErrorKind.NOT_FOUND


def test_list_filters_and_paging(engine: Engine) -> None:
    for i in range(7):
        inv = make_invoice(f"2411200000004854{i:04d}", issue_date=f"2024-0{i + 1}-15")
        if i % 2:
            inv.seller = Party("其他公司", "91110000000000000X")
        store_and_register(inv, f"file {i}".encode())
    with session_scope() as s:
        items, total = list_invoices(s, page=1, page_size=3)
        assert total == 7 and len(items) == 3
        page3, _ = list_invoices(s, page=3, page_size=3)
        assert len(page3) == 1
        assert list_invoices(s, seller_tax_id="91110000000000000X")[1] == 3
        assert list_invoices(s, date_from="2024-03-01", date_to="2024-05-31")[1] == 3
        only, n = list_invoices(s, number="24112000000048540002")
        assert n == 1 and only[0].issue_date is not None and only[0].issue_date.month == 3
        with pytest.raises(ServiceError) as exc:
            list_invoices(s, date_from="yesterday")
        assert exc.value.code == "validation_error" and "“yesterday”不是有效日期" in exc.value.message
        with pytest.raises(ServiceError):
            list_invoices(s, page_size=0)


# --- concurrency ---------------------------------------------------------------------------

def _race(n: int) -> list[InvoiceRecord | DuplicateInvoice]:
    contents = [f"copy {i} of one invoice".encode() for i in range(n)]
    for c in contents:
        get_blobstore().put(c)  # store first, then register (concurrently)
    barrier = threading.Barrier(n)
    results: list[InvoiceRecord | DuplicateInvoice] = []
    lock = threading.Lock()

    def one(i: int) -> None:
        inv = make_invoice(fmt=(SourceFormat.OFD, SourceFormat.PDF, SourceFormat.XML)[i % 3])
        sha = get_blobstore().put(contents[i])
        barrier.wait()
        try:
            with session_scope() as s:
                out: InvoiceRecord | DuplicateInvoice = register(s, inv, {"status": "unsigned"}, sha,
                                                                 f"copy{i}", f"user{i}", len(contents[i]))
        except DuplicateInvoice as exc:
            out = exc
        with lock:
            results.append(out)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def _assert_one_winner(results: list[Any]) -> None:
    winners = [r for r in results if isinstance(r, InvoiceRecord)]
    losers = [r for r in results if isinstance(r, DuplicateInvoice)]
    assert len(winners) == 1 and len(losers) == len(results) - 1
    assert {e.details["invoice_id"] for e in losers} == {winners[0].id}
    assert {e.details["uploaded_by"] for e in losers} == {winners[0].uploaded_by}
    with session_scope() as s:
        rows = s.exec(select(InvoiceRecord)).all()
        assert [r.id for r in rows] == [winners[0].id]
        assert len(s.exec(select(AuditEntry).where(AuditEntry.action == "invoice.upload")).all()) == 1


def test_twenty_concurrent_uploads_register_exactly_one(engine: Engine) -> None:
    _assert_one_winner(_race(20))


def test_race_past_the_lookup_is_caught_by_the_unique_constraint(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every thread's look-up misses (as when all check before any commits); the constraint decides."""
    real = registry.find_existing
    state = threading.local()

    def first_lookup_misses(session: Session, sha: str, ukey: str | None) -> InvoiceRecord | None:
        if not getattr(state, "missed", False):
            state.missed = True
            return None
        return real(session, sha, ukey)

    monkeypatch.setattr(registry, "find_existing", first_lookup_misses)
    _assert_one_winner(_race(20))


def _process_upload(url: str, home: str, i: int, barrier: Any, queue: Any) -> None:
    override_settings(Settings(home=Path(home), database_url=url, environment="test"))
    core_db.set_engine(core_db.make_engine(url))
    content = f"process copy {i}".encode()
    sha = get_blobstore().put(content)
    inv = make_invoice(fmt=SourceFormat.PDF if i % 2 else SourceFormat.OFD)
    barrier.wait()
    try:
        with session_scope() as s:
            rec = register(s, inv, {"status": "unsigned"}, sha, f"p{i}", f"proc{i}", len(content))
        queue.put(("ok", rec.id))
    except DuplicateInvoice as exc:
        queue.put(("dup", exc.details["invoice_id"]))


def test_twenty_concurrent_processes_register_exactly_one(sqlite_engine: Engine, settings: Settings) -> None:
    ctx = multiprocessing.get_context("fork")
    barrier, queue = ctx.Barrier(20), ctx.Queue()
    url = str(settings.database_url)
    procs = [ctx.Process(target=_process_upload, args=(url, str(settings.home), i, barrier, queue)) for i in range(20)]
    for p in procs:
        p.start()
    outcomes = [queue.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    oks = [v for k, v in outcomes if k == "ok"]
    assert len(oks) == 1
    assert [v for k, v in outcomes if k == "dup"] == [oks[0]] * 19
    with session_scope(sqlite_engine) as s:
        assert [r.id for r in s.exec(select(InvoiceRecord).order_by(col(InvoiceRecord.id))).all()] == oks


def test_summary_without_session_hook_defaults(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "_usage_lookup", None)
    rec = store_and_register(make_invoice(), b"x")
    summary = invoice_summary(rec)
    assert summary["invoice_id"] == rec.id and summary["posted"] is False
