"""Packages of posted vouchers: content, 档号, signature, and the four-property check.

Every kind of damage is made to a real package in the store and must fail the right item
(and, where it says so, only that item).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pypdfium2
import pytest
from sqlmodel import delete, select

from accounting import ledger
from archive import check, manifest, metadata, numbering, package, signing
from archive.check import Result
from archive.errors import ArchiveError
from archive.store import (
    ArchivalCounter,
    ArchivedInvoice,
    ArchivePackage,
    CheckRun,
    PackageStatus,
    package_dir,
)
from core.audit import AuditEntry
from core.db import session_scope
from tests.archive.conftest import SAMPLE_SETS, SIGNED_NUMBER, People

Posted = Callable[[list[Path]], str]


def _build(people: People, vid: str) -> ArchivePackage:
    with session_scope() as s:
        return package.build_package(s, people.archivist, vid)


def _check(pid: str) -> check.CheckReport:
    with session_scope() as s:
        return check.check_package(s, pid)


def _writable(root: Path) -> None:
    for dirpath, _dirnames, filenames in os.walk(root):
        os.chmod(dirpath, 0o755)
        for f in filenames:
            os.chmod(os.path.join(dirpath, f), 0o644)


def _failed(report: check.CheckReport) -> set[str]:
    return {i.id for i in report.items if i.result is Result.FAIL}


def test_package_of_posted_voucher_passes_every_check(people: People, posted: Posted) -> None:
    vid = posted(SAMPLE_SETS[0])
    pkg = _build(people, vid)
    report = _check(pkg.id)
    d = report.to_dict()
    assert d["status"] == "pass", [i for i in d["items"] if i["result"] != "pass"]
    # everything passes except the malware scan, which is never "pass" without a scanner
    assert {i.id for i in report.items if i.result is not Result.PASS} <= {"S1"}
    assert report.item("S1").result in (Result.NOT_RUN, Result.PASS)
    assert d["items"][0]["id"] == "A1"  # the signature is checked first
    with session_scope() as s:
        runs = s.exec(select(CheckRun).where(CheckRun.package_id == pkg.id)).all()
        assert {r.trigger for r in runs} == {"filing", "on_demand"}
        actions = [e.action for e in s.exec(select(AuditEntry)).all()]
        assert "archive.package" in actions


def test_package_content_metadata_and_code(people: People, posted: Posted) -> None:
    vid = posted(SAMPLE_SETS[0])
    pkg = _build(people, vid)
    root = package_dir(pkg)
    year = pkg.year
    assert pkg.archival_code == f"Z001-KU·PZ·{year}-D30-0001"
    assert pkg.retention_until == date(year + 30, 12, 31)
    originals = sorted((root / "content" / "invoices").iterdir())
    assert [p.read_bytes() for p in originals] == [f.read_bytes() for f in SAMPLE_SETS[0]]  # byte for byte
    meta = metadata.read_metadata((root / "metadata.xml").read_bytes())
    assert meta.package["档号"] == pkg.archival_code
    assert meta.package["附件数"] == "2"
    assert meta.package["保管期限"] == "D30"
    assert meta.package["记账人"] == "accountant" and meta.package["审核人"] == "approver、approver2"
    states = {i["发票号码"]: i["签名状态"] for i in meta.invoices}
    assert len(states) == 2 and states[SIGNED_NUMBER] == "valid"  # SignScaleError.ofd: e-seal verified at filing
    assert "unsigned" in states.values()  # the 数电票 OFD carries no signature
    for inv in meta.invoices:
        data = (root / inv["文件名"]).read_bytes()
        assert inv["SM3"] == manifest.sm3_hex(data) and int(inv["大小"]) == len(data)
    man = manifest.read_manifest((root / "manifest.xml").read_bytes())
    assert signing.verify(signing.load_archive_key().public, (root / "manifest.xml").read_bytes(),
                          (root / "manifest.sig").read_bytes())
    assert {e.path for e in man.entries} == set(manifest.list_files(root)) - {"manifest.xml", "manifest.sig"}
    pdf = pypdfium2.PdfDocument((root / "content" / "voucher.pdf").read_bytes())
    text = pdf[0].get_textpage().get_text_range()
    pdf.close()
    assert "记账凭证" in text and pkg.voucher_number in text and pkg.archival_code in text
    with session_scope() as s:
        d = package.package_to_dict(s, s.get(ArchivePackage, pkg.id))
    assert d["archival_code"] == pkg.archival_code and d["retention"]["code"] == "D30"
    assert d["check"]["status"] == "pass" and len(d["files"]) == pkg.file_count


def test_codes_are_gap_free_and_one_live_package_per_voucher(people: People, posted: Posted) -> None:
    vids = [posted(files) for files in SAMPLE_SETS]
    codes = [_build(people, v).archival_code for v in vids]
    assert [c.rsplit("-", 1)[1] for c in codes] == ["0001", "0002", "0003"]
    with pytest.raises(ArchiveError) as exc:
        _build(people, vids[0])
    assert exc.value.code == "already_archived"
    with session_scope() as s:  # the refusal took no number
        assert s.exec(select(ArchivalCounter)).one().last_no == 3


def test_only_posted_vouchers_are_packaged(people: People) -> None:
    from accounting import claims as acc_claims
    from invoice.importer import ingest_files

    res = ingest_files([(SAMPLE_SETS[1][0].name, SAMPLE_SETS[1][0].read_bytes())], "clerk")
    iid = res.imported[0]["invoice_id"]
    with session_scope() as s:
        c = acc_claims.create_claim(s, people.clerk, "办公用品", None, None, [{"invoice_id": iid}])
        acc_claims.submit_claim(s, people.clerk, c.id)
        acc_claims.review_claim(s, people.approver, c.id)
        acc_claims.approve_claim(s, people.approver2, c.id)
        v = ledger.create_voucher_from_claims(s, people.accountant, [c.id])
        vid = v.id
    with pytest.raises(ArchiveError) as exc:
        _build(people, vid)
    assert exc.value.code == "voucher_not_posted"
    with session_scope() as s:
        assert s.get(ArchivalCounter, f"Z001-KU·PZ·{v.period[:4]}") is None  # rolled back: no gap


def test_supersede_keeps_old_version_and_code(people: People, posted: Posted) -> None:
    vid = posted(SAMPLE_SETS[1])
    old = _build(people, vid)
    with session_scope() as s, pytest.raises(ArchiveError):
        package.supersede_package(s, people.archivist, old.id, " ")
    with session_scope() as s:
        new = package.supersede_package(s, people.archivist, old.id, "重新归档: 补充审批记录")
    with session_scope() as s:
        o = s.get(ArchivePackage, old.id)
        assert o.status == PackageStatus.SUPERSEDED and o.superseded_by == new.id
        assert o.supersede_reason == "重新归档: 补充审批记录"
    assert new.archival_code == old.archival_code and new.version == 2
    assert package_dir(old).is_dir() and package_dir(new).is_dir() and package_dir(old) != package_dir(new)
    assert _check(new.id).status == "pass"
    old_report = _check(old.id)  # the old version still checks; it is no longer the live record
    assert old_report.status == "pass" and old_report.item("A6").result is Result.NOT_APPLICABLE


# --- damage: each fails the right item ----------------------------------------------------------


@pytest.fixture
def built(people: People, posted: Posted) -> ArchivePackage:
    pkg = _build(people, posted(SAMPLE_SETS[0]))
    assert _check(pkg.id).status == "pass"
    return pkg


@pytest.mark.disk_store  # edits the package folder on disk (the bucket case: test_objects.py)
def test_changed_byte_fails_digests(built: ArchivePackage) -> None:
    root = package_dir(built)
    _writable(root)
    target = next((root / "content" / "invoices").iterdir())
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))
    report = _check(built.id)
    assert report.status == "fail"
    assert report.item("A2").result is Result.FAIL and target.name in report.item("A2").evidence
    assert report.item("A7").result is Result.FAIL
    assert report.item("A1").result is Result.PASS  # the manifest itself is intact
    assert report.item("S3").result is Result.FAIL  # and the store was made writable to do it


@pytest.mark.disk_store  # edits the package folder on disk (the bucket case: test_objects.py)
def test_missing_file_fails_integrity(built: ArchivePackage) -> None:
    root = package_dir(built)
    _writable(root)
    (root / "content" / "voucher.pdf").unlink()
    report = _check(built.id)
    assert report.item("I4").result is Result.FAIL
    assert "content/voucher.pdf" in report.item("I4").evidence


@pytest.mark.disk_store  # edits the package folder on disk (the bucket case: test_objects.py)
def test_extra_file_fails_integrity(built: ArchivePackage) -> None:
    root = package_dir(built)
    _writable(root)
    (root / "content" / "note.xml").write_bytes(b"<note/>")
    report = _check(built.id)
    assert _failed(report) == {"I5", "S3"}
    assert "content/note.xml" in report.item("I5").evidence


@pytest.mark.disk_store  # edits the package folder on disk (the bucket case: test_objects.py)
def test_broken_signature_fails_first_item(built: ArchivePackage) -> None:
    root = package_dir(built)
    _writable(root)
    sig = bytearray((root / "manifest.sig").read_bytes())
    sig[-3] ^= 0x55
    (root / "manifest.sig").write_bytes(bytes(sig))
    report = _check(built.id)
    assert report.items[0].id == "A1" and report.items[0].result is Result.FAIL
    assert _failed(report) == {"A1", "S3"}


@pytest.mark.disk_store  # edits the package folder on disk (the bucket case: test_objects.py)
def test_edited_manifest_fails_signature_and_fixity(built: ArchivePackage) -> None:
    root = package_dir(built)
    _writable(root)
    m = (root / "manifest.xml").read_bytes().replace(b"size=\"", b"size=\"1", 1)
    (root / "manifest.xml").write_bytes(m)
    report = _check(built.id)
    assert {"A1", "A2", "S2"} <= _failed(report)


@pytest.mark.disk_store  # edits the package folder on disk (the bucket case: test_objects.py)
def test_missing_metadata_element_fails_required_metadata(built: ArchivePackage) -> None:
    """A package built without 凭证号 but correctly signed: only the metadata item fails."""
    root = package_dir(built)
    _writable(root)
    meta = (root / "metadata.xml").read_bytes()
    start = meta.index("<凭证号>".encode())
    end = meta.index("</凭证号>".encode()) + len("</凭证号>".encode())
    meta = meta[:start] + meta[end:]
    (root / "metadata.xml").write_bytes(meta)
    man = manifest.read_manifest((root / "manifest.xml").read_bytes())
    entries = [manifest.digest_file(root, e.path) for e in man.entries]
    new_manifest = manifest.manifest_xml(entries, man.archival_code)
    (root / "manifest.xml").write_bytes(new_manifest)
    (root / "manifest.sig").write_bytes(signing.sign(signing.load_archive_key(), new_manifest))
    for dirpath, _dirs, files in os.walk(root):  # back to read-only, so that only I1 (and fixity) speak
        for f in files:
            os.chmod(os.path.join(dirpath, f), 0o444)
        os.chmod(dirpath, 0o555)
    report = _check(built.id)
    assert report.item("A1").result is Result.PASS and report.item("A2").result is Result.PASS
    assert report.item("I1").result is Result.FAIL and "凭证号" in report.item("I1").evidence
    # S2: the manifest differs from the one filed; U2: metadata.xml no longer matches metadata-1.xsd
    assert _failed(report) == {"I1", "S2", "U2"}
    assert metadata.SCHEMA_REF.file_name in report.item("U2").evidence


def test_gap_in_archival_codes_fails_sequence(people: People, posted: Posted) -> None:
    pkgs = [_build(people, posted(files)) for files in SAMPLE_SETS]
    with session_scope() as s:  # a record vanishes from the register
        s.execute(delete(ArchivedInvoice).where(ArchivedInvoice.package_id == pkgs[1].id))
        s.execute(delete(ArchivePackage).where(ArchivePackage.id == pkgs[1].id))
    report = _check(pkgs[2].id)
    assert report.item("I2").result is Result.FAIL and "0002" in report.item("I2").evidence
    assert _check(pkgs[0].id).item("I2").result is Result.PASS
    with session_scope() as s:
        year = check.check_year(s, pkgs[0].year)
    assert year.item("I2").result is Result.FAIL and "0002" in year.item("I2").evidence
    assert year.status == "fail"


def test_concurrent_builds_get_distinct_gap_free_codes(db_people: People, db_posted: Posted) -> None:
    """On SQLite and PostgreSQL: parallel filings never share or skip a 件号."""
    from concurrent.futures import ThreadPoolExecutor

    vids = [db_posted(files) for files in SAMPLE_SETS]

    def build(vid: str) -> str:
        with session_scope() as s:
            return package.build_package(s, db_people.archivist, vid).archival_code

    with ThreadPoolExecutor(3) as pool:
        codes = sorted(pool.map(build, vids))
    assert [c.rsplit("-", 1)[1] for c in codes] == ["0001", "0002", "0003"]
    with session_scope() as s:
        year = check.check_year(s, int(codes[0].split("·")[2][:4]))
    assert year.status == "pass", [i for i in year.items if i.result is Result.FAIL]


def _resign(root: Path) -> None:
    """Rebuild and re-sign the manifest after an edit, as a forger holding the key would."""
    man = manifest.read_manifest((root / "manifest.xml").read_bytes())
    entries = [manifest.digest_file(root, e.path) for e in man.entries]
    new_manifest = manifest.manifest_xml(entries, man.archival_code)
    (root / "manifest.xml").write_bytes(new_manifest)
    (root / "manifest.sig").write_bytes(signing.sign(signing.load_archive_key(), new_manifest))


@pytest.mark.disk_store  # edits the package folder on disk (the bucket case: test_objects.py)
def test_invoice_signature_is_verified_again(built: ArchivePackage) -> None:
    """The signed original replaced by the copy edited after signing: caught by A3 even when
    digests and the manifest signature were redone."""
    from tests.samples import TAMPERED

    root = package_dir(built)
    _writable(root)
    target = next(p for p in (root / "content" / "invoices").iterdir() if SIGNED_NUMBER in p.name)
    target.write_bytes(TAMPERED.read_bytes())
    _resign(root)
    report = _check(built.id)
    assert report.item("A3").result is Result.FAIL and target.name in report.item("A3").evidence
    assert report.item("A1").result is Result.PASS and report.item("A2").result is Result.PASS


def test_register_sizes_match_the_store(built: ArchivePackage) -> None:
    files = [f for f in package_dir(built).rglob("*") if f.is_file()]
    assert built.file_count == len(files)
    assert built.total_size == sum(f.stat().st_size for f in files)


def test_failed_check_at_filing_leaves_nothing(people: People, posted: Posted,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Built in a temporary folder, checked, and only then moved: a failing item stops it all."""
    vid = posted(SAMPLE_SETS[1])
    monkeypatch.setattr(check, "malware_scan", lambda root, timeout=300: check._item(
        "S1", Result.FAIL, "test scanner: Eicar-Test-Signature FOUND"))
    with pytest.raises(ArchiveError) as exc:
        _build(people, vid)
    assert exc.value.code == "package_check_failed" and "Eicar" in exc.value.message
    from archive.store import archive_root

    assert not (archive_root() / "packages").exists() or not any((archive_root() / "packages").rglob("*.xml"))
    assert not any((archive_root() / ".tmp").iterdir())
    with session_scope() as s:
        assert s.exec(select(ArchivePackage)).first() is None
        # No number consumed: on SQLite the reservation rolled back with the build; on
        # PostgreSQL it had its own transaction, so the failed build gave it back as a gap.
        counter = s.exec(select(ArchivalCounter)).first()
        freed = {g.item_no for g in numbering.gaps(s)}
        assert not s.exec(select(numbering.ArchivalReservation)).first()
        assert counter is None or set(range(1, counter.last_no + 1)) <= freed
    monkeypatch.undo()
    assert _build(people, vid).archival_code.endswith("-0001")
