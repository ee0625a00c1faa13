"""Uploads and folder imports on real files, on SQLite and PostgreSQL.

Real samples are read in place; bulk files are variants of the real 数电票 OFD
``ofdrw__ofdrw/发票示例.ofd`` with its 20-digit number changed in every XML member, so that the
real parser reads a distinct invoice from each.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import select

from core.audit import AuditEntry, verify_chain
from core.blobstore import get_blobstore
from core.db import session_scope
from core.settings import Settings
from core.users import create_user
from invoice.importer import ImportPathError, import_paths, ingest_files, iter_files
from invoice.registry import InvoiceRecord
from tests.conftest import store_env
from tests.samples import DIGITAL_OFD, INVOICES, TAMPERED, V4SIGNED

ROOT = Path(__file__).resolve().parents[2]
FAPIAO = str(Path(sys.executable).with_name("fapiao"))
DIGITAL_NO = b"24112000000048542163"
OFD_PAIR = (INVOICES / "renoyuan__easyofd" / "增值税电子专票5.ofd", INVOICES / "renoyuan__easyofd" / "test.pdf")


def ofd_variant(i: int) -> tuple[str, bytes]:
    """A copy of the real 数电票 OFD whose invoice number is ``24112<i, 15 digits>``."""
    number = f"24112{i:015d}".encode()
    src = zipfile.ZipFile(io.BytesIO(DIGITAL_OFD.read_bytes()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.lower().endswith(".xml"):
                data = data.replace(DIGITAL_NO, number)
            z.writestr(info, data)
    return number.decode(), out.getvalue()


def write_variants(folder: Path, n: int, start: int = 1) -> dict[str, Path]:
    """``n`` generated invoices in nested folders; returns number -> path."""
    made = {}
    for i in range(start, start + n):
        number, data = ofd_variant(i)
        p = folder / f"batch{i % 3}" / f"sub{i % 2}" / f"{number}.ofd"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        made[number] = p
    return made


def rows() -> list[InvoiceRecord]:
    with session_scope() as s:
        return list(s.exec(select(InvoiceRecord)).all())


def assert_store_agrees() -> None:
    """Every record's original is in the store, byte for byte."""
    store = get_blobstore()
    for r in rows():
        assert store.get(r.sha256, verify=True)


# --- uploads (the API's path) ----------------------------------------------------------------

def test_upload_result_shape_and_same_file_again(engine: Engine) -> None:
    data = DIGITAL_OFD.read_bytes()
    first = ingest_files([("发票示例.ofd", data)], "alice").to_dict()
    assert set(first) == {"imported", "duplicates", "rejected"}
    assert [e["file"] for e in first["imported"]] == ["发票示例.ofd"]
    inv_id = first["imported"][0]["invoice_id"]
    again = ingest_files([("copy.ofd", data)], "bob").to_dict()
    assert again["imported"] == [] and again["rejected"] == []
    (dup,) = again["duplicates"]
    assert dup["file"] == "copy.ofd"
    d = dup["duplicate_of"]
    assert (d["invoice_id"], d["file"], d["uploaded_by"]) == (inv_id, "发票示例.ofd", "alice")
    assert {"uploaded_at", "claim_id", "voucher_id", "posted"} <= set(d)
    (rec,) = rows()
    assert rec.key == DIGITAL_NO.decode() and rec.original_filename == "发票示例.ofd"
    with session_scope() as s:
        entries = s.exec(select(AuditEntry).where(AuditEntry.action == "invoice.upload")).all()
        assert [(e.object_id, e.actor) for e in entries] == [(inv_id, "alice")]
        assert verify_chain(s).ok
    assert_store_agrees()


def test_ofd_and_pdf_of_one_invoice_are_one_invoice(engine: Engine) -> None:
    ofd, pdf = OFD_PAIR
    result = ingest_files([(ofd.name, ofd.read_bytes()), (pdf.name, pdf.read_bytes())], "alice")
    assert [e["file"] for e in result.imported] == [ofd.name]
    (dup,) = result.duplicates
    assert dup["file"] == pdf.name and dup["duplicate_of"]["invoice_id"] == result.imported[0]["invoice_id"]
    (rec,) = rows()
    assert rec.key == "052002100113:00008006"
    # the refused PDF was never stored: the store holds only what the registry names
    stored = [e.name for e in get_blobstore().entries()]  # on disk or in the bucket
    assert stored == [rec.sha256]


def test_unreadable_files_are_rejected_and_not_stored(engine: Engine, settings: Settings) -> None:
    result = ingest_files([("notes.txt", b"hello, not an invoice"), ("empty.pdf", b"")], "alice")
    assert result.imported == [] and result.duplicates == []
    codes = {e["file"]: e["error"]["code"] for e in result.rejected}
    assert codes == {"notes.txt": "unknown_format", "empty.pdf": "empty_file"}
    assert all(e["error"]["message"] for e in result.rejected)
    assert rows() == []
    assert not any(True for _ in get_blobstore().entries())


def test_tampered_invoice_is_evidence_and_the_genuine_still_registers(engine: Engine) -> None:
    result = ingest_files([(TAMPERED.name, TAMPERED.read_bytes()), (V4SIGNED.name, V4SIGNED.read_bytes())], "alice")
    assert len(result.imported) == 2, result.to_dict()
    by_file = {r.original_filename: r for r in rows()}
    forged, genuine = by_file[TAMPERED.name], by_file[V4SIGNED.name]
    assert forged.verification_status == "invalid" and forged.status == "invalid"
    assert genuine.status == "ok" and genuine.unique_key == "050001700111:99999951"
    assert forged.key == genuine.key
    assert forged.duplicate_of is None  # it came before the genuine one
    again = ingest_files([("again.ofd", TAMPERED.read_bytes())], "bob")
    assert again.duplicates[0]["duplicate_of"]["invoice_id"] == forged.id
    assert len(rows()) == 2
    assert_store_agrees()


# --- folder imports --------------------------------------------------------------------------

def test_iter_files_streams_recursively(tmp_path: Path) -> None:
    made = write_variants(tmp_path, 5)
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "x.ofd").write_bytes(b"x")
    it = iter_files([tmp_path])
    assert iter(it) is it  # a generator, not a list
    assert sorted(it) == sorted(made.values())


def test_import_folder_in_processes_then_rerun_duplicates_nothing(engine: Engine, tmp_path: Path) -> None:
    made = write_variants(tmp_path / "in", 12)
    (tmp_path / "in" / "junk.pdf").write_bytes(b"%PDF-1.4 broken")
    first = import_paths([tmp_path / "in"], "alice", workers=2, batch_size=5)
    assert first.counts == {"imported": 12, "already_imported": 0, "duplicates": 0, "rejected": 1}
    assert first.rejected[0]["file"].endswith("junk.pdf")
    ids = {e["file"]: e["invoice_id"] for e in first.imported}
    assert {r.number for r in rows()} == set(made)
    second = import_paths([tmp_path / "in"], "bob", workers=2, batch_size=5)
    assert second.counts == {"imported": 0, "already_imported": 0, "duplicates": 12, "rejected": 1}
    assert {e["file"]: e["duplicate_of"]["invoice_id"] for e in second.duplicates} == ids
    assert len(rows()) == 12
    assert_store_agrees()


def test_rerun_by_the_same_user_is_already_imported_not_duplicates(engine: Engine, tmp_path: Path) -> None:
    made = write_variants(tmp_path / "in", 4)
    first = import_paths([tmp_path / "in"], "alice", workers=2, batch_size=3)
    ids = {e["file"]: e["invoice_id"] for e in first.imported}
    again = import_paths([tmp_path / "in"], "alice", workers=2, batch_size=3)
    assert again.counts == {"imported": 0, "already_imported": 4, "duplicates": 0, "rejected": 0}
    assert not again.refused
    assert {e["file"]: e["invoice_id"] for e in again.already_imported} == ids
    assert all("已由您（alice）" in e["message"] for e in again.already_imported)
    # the same bytes under the warn policy: still recognised, nothing stored twice
    warn = import_paths([tmp_path / "in"], "alice", workers=1, policy="warn")
    assert warn.counts["already_imported"] == 4 and warn.counts["imported"] == 0
    assert len(rows()) == len(made) == 4
    # another user's files are duplicates for bob, as before
    bob = import_paths([tmp_path / "in"], "bob", workers=1)
    assert bob.counts["duplicates"] == 4 and bob.refused


def test_import_refuses_a_missing_path(engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(ImportPathError) as exc:
        import_paths([tmp_path / "nope"], "alice", workers=1)
    assert exc.value.code == "no_such_path" and "nope" in exc.value.message


def test_same_invoice_twice_in_one_batch(engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Screening misses it (neither is registered yet): the repeat alone takes the careful
    path, so every file is registered once (no rollback and second pass of the batch), and
    the store is not asked again for files this import has just stored."""
    import invoice.importer as importer

    calls: list[bool] = []
    real_register = importer.register

    def counting_register(*args: Any, **kwargs: Any) -> InvoiceRecord:
        calls.append(bool(kwargs.get("optimistic")))
        return real_register(*args, **kwargs)

    store_type = type(get_blobstore())
    asked: list[str] = []
    real_exists = store_type.exists
    monkeypatch.setattr(importer, "register", counting_register)
    monkeypatch.setattr(store_type, "exists", lambda self, sha: asked.append(sha) or real_exists(self, sha))
    ofd, pdf = OFD_PAIR
    write_variants(tmp_path / "in", 3)
    result = import_paths([tmp_path / "in", ofd, pdf], "alice", workers=1)
    assert calls == [True, True, True, True, False]  # five files, one pass; the repeat is careful
    assert asked == []
    assert result.counts == {"imported": 4, "already_imported": 0, "duplicates": 1, "rejected": 0}
    (dup,) = result.duplicates
    assert dup["file"] == str(pdf)
    assert dup["duplicate_of"]["file"] == str(ofd)
    assert len(rows()) == 4
    with session_scope() as s:
        assert len(s.exec(select(AuditEntry)).all()) == 4 and verify_chain(s).ok


def test_warn_policy_import_records_duplicates(engine: Engine, tmp_path: Path) -> None:
    ofd, pdf = OFD_PAIR
    result = import_paths([ofd, pdf], "alice", workers=1, policy="warn")
    assert result.counts == {"imported": 1, "already_imported": 0, "duplicates": 1, "rejected": 0}
    statuses = sorted(r.status for r in rows())
    assert statuses == ["duplicate", "ok"]
    assert result.duplicates[0]["invoice_id"] != result.duplicates[0]["duplicate_of"]["invoice_id"]
    assert_store_agrees()


# --- the CLI, including a kill in the middle -----------------------------------------------------

def _cli_env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"FAPIAO_HOME": str(settings.home), "DATABASE_URL": str(settings.database_url),
                "FAPIAO_USER": "clerk1", "FAPIAO_ENVIRONMENT": "test", **store_env(settings)})
    return env


def _run_cli(settings: Settings, *args: str) -> tuple[int, Any]:
    out = subprocess.run([FAPIAO, "import", *args], env=_cli_env(settings), capture_output=True,
                         text=True, timeout=600, cwd=ROOT)
    body = json.loads(out.stdout) if out.stdout.strip().startswith("{") else out.stdout
    return out.returncode, body


@pytest.fixture
def clerk(engine: Engine) -> str:
    with session_scope() as s:
        create_user(s, "clerk1", "clerk")
    return "clerk1"


def test_cli_exit_statuses(clerk: str, settings: Settings, tmp_path: Path) -> None:
    write_variants(tmp_path / "in", 3)
    status, body = _run_cli(settings, str(tmp_path / "in"), "--json", "--workers", "1")
    assert status == 0 and len(body["imported"]) == 3 and body["duplicates"] == body["rejected"] == []
    status, body = _run_cli(settings, str(tmp_path / "in"), "--json", "--workers", "1")
    assert status == 0 and len(body["already_imported"]) == 3 and body["duplicates"] == []
    status, body = _run_cli(settings, str(tmp_path / "missing"), "--json")
    assert status == 2 and body["error"]["code"] == "no_such_path"
    status, _ = _run_cli(settings, str(tmp_path / "in"), "--as", "ghost")
    assert status == 2


def _count() -> int:
    with session_scope() as s:
        return int(s.exec(select(func.count()).select_from(InvoiceRecord)).one())


def test_killed_import_rerun_loses_nothing_and_doubles_nothing(clerk: str, settings: Settings,
                                                               tmp_path: Path) -> None:
    n = 1000  # five batches of 200: the kill lands after the first commit with room to spare
    made = write_variants(tmp_path / "in", n)
    proc = subprocess.Popen([FAPIAO, "import", str(tmp_path / "in"), "--json", "--workers", "2"],
                            env=_cli_env(settings), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            cwd=ROOT, start_new_session=True)
    deadline = time.monotonic() + 300
    while _count() == 0 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the importer and its worker processes, mid-import
    proc.wait()
    at_kill = _count()
    assert 0 < at_kill < n, "the kill must land after the first batch and before the end"

    status, body = _run_cli(settings, str(tmp_path / "in"), "--json", "--workers", "2")
    assert status == 0  # the files registered before the kill are this user's own: not refused
    assert body["rejected"] == [] and body["duplicates"] == []
    assert len(body["already_imported"]) == at_kill
    assert len(body["imported"]) == n - at_kill
    recs = rows()
    assert len(recs) == n
    assert sorted(str(r.number) for r in recs) == sorted(made)  # nothing lost, nothing doubled
    assert all(r.status == "ok" for r in recs)
    assert_store_agrees()
    with session_scope() as s:
        assert verify_chain(s).ok
        assert len(s.exec(select(AuditEntry).where(AuditEntry.action == "invoice.upload")).all()) == n


def test_progress_bar_shows_counts() -> None:
    from invoice.importer import ImportResult, Progress

    out = io.StringIO()
    bar = Progress(total=4, stream=out)
    result = ImportResult()
    result.add("imported", {"file": "a", "invoice_id": "1"})
    result.add("rejected", {"file": "b", "error": {"code": "x", "message": "m"}})
    bar.close(result)
    text = out.getvalue()
    assert text.startswith("\r[" + "#" * 15 + "." * 15 + "] 2/4")
    assert "imported 1" in text and "rejected 1" in text and text.endswith("\n")


def test_invoice_without_number_is_rejected_before_storing(engine: Engine, settings: Settings,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import invoice.importer as importer
    from invoice.analysis import Analysis, analyse
    from invoice.model import Invoice, InvoiceKind, SourceFormat

    real = analyse

    def numberless(data: bytes, filename: str, *args: Any) -> Analysis:
        a = real(data, filename, *args)
        assert a.invoice is not None
        a.invoice = Invoice(kind=InvoiceKind.UNKNOWN, source_format=SourceFormat.OFD, number=None)
        return a

    monkeypatch.setattr(importer, "analyse_sandboxed", numberless)
    result = ingest_files([("blank.ofd", DIGITAL_OFD.read_bytes())], "alice")
    (rej,) = result.rejected
    assert rej["file"] == "blank.ofd" and rej["error"]["code"] == "no_invoice_number"
    assert rows() == []
    assert not any(True for _ in get_blobstore().entries())
