"""Every item of the four-property check (四性检测): one test makes it pass, one makes it fail.

One real package is built per module through the real services (samples imported, claimed,
approved, posted, filed; ``tests/archive/conftest.py``). Each test works on its own copy of
the package folder, damages exactly what one item checks — as a forger holding the archive
key would, re-signing the manifest and fixing the metadata digests where that isolates the
item — and runs the whole directory check (``check.check_dir``), so that it also shows which
other items notice.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from archive import check, manifest, package, signing
from archive import metadata as md
from archive.check import CheckContext, CheckReport, Result
from archive.checks import malware
from archive.checks.base import ITEMS, STEPS
from archive.store import package_dir
from core import db as core_db
from core import sm2
from core.db import session_scope
from core.orgkey import OrgKey
from core.settings import Settings, override_settings
from tests.archive.conftest import SAMPLE_SETS, SIGNED, _people, post_voucher_for
from tests.attacks import rewrite_ofd


def _edited_after_signing(data: bytes) -> bytes:
    """The signed OFD with one signed page changed after signing (its reference digest breaks)."""
    return rewrite_ofd(data, lambda name, body: body.replace(b"</ofd:Content>", b"<!-- x --></ofd:Content>", 1)
                       if name.endswith("Page_0/Content.xml") else body)


@dataclass
class Template:
    """The package as filed, outside the store, and what the register knows about it."""

    root: Path
    key: OrgKey
    code: str
    manifest_sha256: str
    package_id: str
    stored: Path  # the package in the module's write-once store
    year: int
    cache: dict[str, tuple[str | None, str]] = field(default_factory=dict)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Template]:
    """One package filed through the real services (its own home and SQLite database)."""
    base = tmp_path_factory.mktemp("check-items")
    settings = Settings(home=base / "home", environment="test")
    settings.home.mkdir(parents=True)
    override_settings(settings)
    url = f"sqlite:///{settings.home / 'unit.sqlite3'}"
    settings.database_url = url
    eng = core_db.make_engine(url)
    core_db.migrate(eng)
    core_db.set_engine(eng)
    try:
        signing.ensure_archive_key()
        people = _people()
        vid = post_voucher_for(people, SAMPLE_SETS[0])
        with session_scope() as s:
            pkg = package.build_package(s, people.archivist, vid)
            stored = package_dir(pkg)
            code, fixity, pid, year = pkg.archival_code, pkg.manifest_sha256, pkg.id, pkg.year
        root = base / "template"
        shutil.copytree(stored, root)
        _writable(root)
        yield Template(root, signing.load_archive_key(), code, fixity, pid, stored, year)
    finally:
        core_db.set_engine(None)
        eng.dispose()
        override_settings(None)


@pytest.fixture(autouse=True)
def no_official_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Scans use the local EICAR database, whatever freshclam left on this machine."""
    empty = tmp_path / "no-official-db"
    empty.mkdir()
    monkeypatch.setenv("FAPIAO_CLAMAV_DIR", str(empty))
    monkeypatch.delenv("FAPIAO_CLAMAV_DB", raising=False)
    malware.reset_scanner_cache()


def _writable(root: Path) -> None:
    for dirpath, _dirs, files in os.walk(root):
        os.chmod(dirpath, 0o755)
        for f in files:
            os.chmod(os.path.join(dirpath, f), 0o644)


def _read_only(root: Path) -> None:
    for dirpath, _dirs, files in os.walk(root):
        for f in files:
            os.chmod(os.path.join(dirpath, f), 0o444)
        os.chmod(dirpath, 0o555)


class Pkg:
    """A copy of the template to damage, and the check of it."""

    def __init__(self, t: Template, root: Path) -> None:
        self.t = t
        self.root = root
        self.forged = False
        shutil.copytree(t.root, root)

    def path(self, rel: str) -> Path:
        return self.root / rel

    def meta(self) -> md.Metadata:
        return md.read_metadata(self.path(md.METADATA_NAME).read_bytes())

    @property
    def signed(self) -> str:
        """The package path of the filed signed invoice (conftest's SIGNED sample), by digest."""
        digest = hashlib.sha256(SIGNED.read_bytes()).hexdigest()
        return next(i["文件名"] for i in self.meta().invoices if i["SHA-256"] == digest)

    def write_meta(self, meta: md.Metadata) -> None:
        """A forger's write: the values as given, whether the schema allows them or not."""
        self.path(md.METADATA_NAME).write_bytes(md.metadata_xml(meta, validate=False))

    def edit_meta_text(self, old: str, new: str) -> None:
        data = self.path(md.METADATA_NAME).read_bytes()
        assert old.encode() in data, old
        self.path(md.METADATA_NAME).write_bytes(data.replace(old.encode(), new.encode(), 1))

    def replace(self, rel: str, data: bytes) -> None:
        """New bytes for a file; its metadata entry (if any) gets the new size and digests."""
        self.path(rel).write_bytes(data)
        meta = self.meta()
        new = manifest.digest_bytes(rel, data)
        for e in [*meta.invoices, *meta.files]:
            if e.get("文件名") == rel:
                e.update({"大小": str(new.size), "SHA-256": new.sha256, "SM3": new.sm3})
        self.write_meta(meta)

    def resign(self, add: Iterable[str] = ()) -> None:
        """Digest the files again and re-sign the manifest with the archive key (a forger's move)."""
        man = manifest.read_manifest(self.path(manifest.MANIFEST_NAME).read_bytes())
        paths = sorted({e.path for e in man.entries} | set(add))
        entries = [manifest.digest_file(self.root, p) for p in paths if self.path(p).exists()]
        data = manifest.manifest_xml(entries, man.archival_code)
        self.path(manifest.MANIFEST_NAME).write_bytes(data)
        self.path(manifest.SIGNATURE_NAME).write_bytes(signing.sign(self.t.key, data))
        self.forged = True

    def check(self, **kw: Any) -> CheckReport:
        """The whole directory check. Defaults: the register agrees with the package (after a
        forgery too: S2 is tested on its own), no scan, not in the write-once store."""
        recorded = self.t.manifest_sha256
        if self.forged:
            recorded = hashlib.sha256(self.path(manifest.MANIFEST_NAME).read_bytes()).hexdigest()
        args: dict[str, Any] = {"public_key": self.t.key.public, "expected_code": self.t.code,
                                "recorded_manifest_sha256": recorded, "duplicate_problems": [],
                                "gap_problems": [], "write_once": False, "scan": False,
                                "invoice_cache": self.t.cache}
        args.update(kw)
        return check.check_dir(self.root, CheckContext(**args), self.t.code)


@pytest.fixture
def pkg(template: Template, tmp_path: Path) -> Pkg:
    return Pkg(template, tmp_path / "pkg")


def failed(report: CheckReport) -> set[str]:
    return {i.id for i in report.items if i.result is Result.FAIL}


def assert_schema_problem(report: CheckReport, rel: str, element: str) -> None:
    """U2 fails because ``rel`` does not validate against its XSD, naming the element."""
    u2 = report.item("U2")
    assert u2.result is Result.FAIL
    assert rel in u2.evidence and ".xsd" in u2.evidence and element in u2.evidence, u2.evidence


def _rezip(data: bytes, compress_type: int = zipfile.ZIP_DEFLATED,
           extra: dict[str, bytes] | None = None) -> bytes:
    """The same zip (OFD) with members compressed another way, and members added."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info), compress_type=compress_type)
        for name, body in (extra or {}).items():
            dst.writestr(name, body, compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def _unsigned_invoice(p: Pkg) -> str:
    return next(i["文件名"] for i in p.meta().invoices if i["签名状态"] == "unsigned")


# --- every item passes on the package as filed ---------------------------------------------------


def test_every_item_has_one_registered_step() -> None:
    assert set(STEPS) == set(ITEMS) and len(ITEMS) == 19
    assert all(STEPS[i].__doc__ for i in ITEMS)  # each says what it checks


@pytest.mark.parametrize("item_id", list(ITEMS))
def test_item_passes(pkg: Pkg, item_id: str) -> None:
    """The filed package in a read-only folder, scanned, with a register that agrees."""
    _read_only(pkg.root)
    report = pkg.check(write_once=True, scan=True)
    item = report.item(item_id)
    assert item.result is Result.PASS, item
    assert item.evidence and item.name == check.item_name(item_id)
    assert report.status == "pass", [i for i in report.items if i.result is not Result.PASS]
    assert [i.id for i in report.items] == list(ITEMS)  # report order, the signature first


# --- authenticity ------------------------------------------------------------------------------


def test_A1_fails_on_a_signature_by_another_key(pkg: Pkg) -> None:
    d, pub = sm2.generate_keypair()
    other = OrgKey(d, pub, b"")
    data = pkg.path(manifest.MANIFEST_NAME).read_bytes()
    pkg.path(manifest.SIGNATURE_NAME).write_bytes(signing.sign(other, data))
    report = pkg.check()
    assert failed(report) == {"A1"}
    assert "does not verify" in report.item("A1").evidence


def test_A1_fails_without_the_signature_file(pkg: Pkg) -> None:
    pkg.path(manifest.SIGNATURE_NAME).unlink()
    report = pkg.check()
    assert failed(report) == {"A1"} and "manifest.sig" in report.item("A1").evidence


def test_A2_fails_on_a_changed_byte(pkg: Pkg) -> None:
    """metadata.xml gets one more byte of white space: same values, other digests."""
    pkg.edit_meta_text("<档号>", "\n<档号>")
    report = pkg.check()
    assert failed(report) == {"A2"}
    assert "metadata.xml" in report.item("A2").evidence


def test_A3_fails_when_the_signed_invoice_was_edited(pkg: Pkg) -> None:
    """The signed original replaced by its copy edited after signing, every digest redone."""
    name = pkg.signed  # found by the original's digest: look it up before replacing it
    pkg.replace(name, _edited_after_signing(SIGNED.read_bytes()))
    pkg.resign()
    report = pkg.check()
    assert "A3" in failed(report)
    assert name in report.item("A3").evidence
    assert report.item("A1").result is Result.PASS and report.item("A2").result is Result.PASS


def test_A4_fails_on_a_value_out_of_range(pkg: Pkg) -> None:
    meta = pkg.meta()
    meta.package["会计期间"] = "13"
    pkg.write_meta(meta)
    pkg.resign()
    report = pkg.check()
    # metadata-1.xsd restricts 会计期间 to 01-12 too, so U2 (the schema) also notices.
    assert failed(report) == {"A4", "U2"}
    assert "会计期间" in report.item("A4").evidence
    assert_schema_problem(report, "metadata.xml", "会计期间")


def test_A4_fails_on_a_control_character(pkg: Pkg) -> None:
    meta = pkg.meta()
    meta.invoices[0]["销售方名称"] += "\x7f"
    pkg.write_meta(meta)
    pkg.resign()
    report = pkg.check()
    assert failed(report) == {"A4"}
    assert "销售方名称" in report.item("A4").evidence


def test_A5_fails_when_the_register_names_another_code(pkg: Pkg) -> None:
    other = pkg.t.code[:-4] + "0099"
    report = pkg.check(expected_code=other)
    assert failed(report) == {"A5"}
    assert other in report.item("A5").evidence


def test_A5_fails_on_a_malformed_code_in_the_metadata(pkg: Pkg) -> None:
    meta = pkg.meta()
    meta.package["档号"] = pkg.t.code.replace("·", "-")
    pkg.write_meta(meta)
    pkg.resign()
    report = pkg.check()
    assert "A5" in failed(report) and failed(report) <= {"A4", "A5"}


def test_A6_fails_on_an_invoice_listed_twice(pkg: Pkg) -> None:
    meta = pkg.meta()
    meta.invoices.append(dict(meta.invoices[0]))
    meta.package["附件数"] = str(len(meta.invoices))  # the count agrees: only the duplicate is wrong
    pkg.write_meta(meta)
    pkg.resign()
    report = pkg.check()
    assert failed(report) == {"A6"}
    assert "listed twice" in report.item("A6").evidence


def test_A6_fails_on_a_live_duplicate_in_the_register(pkg: Pkg) -> None:
    problem = "invoice 050001700111:99999951 is also in live package 42"
    report = pkg.check(duplicate_problems=[problem])
    assert failed(report) == {"A6"} and problem in report.item("A6").evidence
    assert pkg.check(duplicate_problems=None).item("A6").result is Result.NOT_APPLICABLE


def test_A7_fails_when_the_metadata_names_another_invoice_number(pkg: Pkg) -> None:
    meta = pkg.meta()
    entry = next(i for i in meta.invoices if i["文件名"] == pkg.signed)
    entry["发票号码"] = "99999952"
    pkg.write_meta(meta)
    pkg.resign()
    report = pkg.check()
    assert failed(report) == {"A7"}
    assert "99999952" in report.item("A7").evidence


def test_A7_fails_when_the_metadata_states_another_size(pkg: Pkg) -> None:
    meta = pkg.meta()
    entry = next(f for f in meta.files if f["文件名"] == "content/voucher.xml")
    entry["大小"] = str(int(entry["大小"]) + 1)
    pkg.write_meta(meta)
    pkg.resign()
    report = pkg.check()
    assert failed(report) == {"A7"} and "content/voucher.xml" in report.item("A7").evidence


# --- integrity ---------------------------------------------------------------------------------


def test_I1_fails_on_a_missing_required_element(pkg: Pkg) -> None:
    meta = pkg.meta()
    del meta.package["保管期限"]
    pkg.path(md.METADATA_NAME).write_bytes(md.metadata_xml(meta, validate=False).replace("<保管期限></保管期限>".encode(), b"")
                                           .replace("<保管期限/>".encode(), b""))
    pkg.resign()
    report = pkg.check()
    # metadata-1.xsd requires 保管期限, so U2 (the schema) also notices.
    assert failed(report) == {"I1", "U2"}
    assert "保管期限" in report.item("I1").evidence
    assert_schema_problem(report, "metadata.xml", "保管期限")


def test_I2_fails_on_a_gap_in_the_series(pkg: Pkg) -> None:
    gap = f"{pkg.t.code.rsplit('-', 1)[0]}: 件号 0002 missing"
    report = pkg.check(gap_problems=[gap])
    assert failed(report) == {"I2"} and "0002" in report.item("I2").evidence
    assert pkg.check(gap_problems=None).item("I2").result is Result.NOT_APPLICABLE


def test_I3_fails_without_the_approval_step(pkg: Pkg) -> None:
    claims = pkg.path("content/claims.xml").read_bytes()
    assert b"<action>approve</action>" in claims
    pkg.replace("content/claims.xml", claims.replace(b"<action>approve</action>", b"<action>comment</action>"))
    pkg.resign()
    report = pkg.check()
    assert failed(report) == {"I3"}
    assert "no approve step" in report.item("I3").evidence


def test_I3_fails_without_the_posting_record(pkg: Pkg) -> None:
    voucher = pkg.path("content/voucher.xml").read_bytes()
    start = voucher.index(b"<posted_by>")
    end = voucher.index(b"</posted_by>") + len(b"</posted_by>")
    pkg.replace("content/voucher.xml", voucher[:start] + b"<posted_by/>" + voucher[end:])
    pkg.resign()
    report = pkg.check()
    # record-1.xsd requires a non-empty posted_by, so U2 (the schema) also notices.
    assert failed(report) == {"I3", "U2"} and "posted_by" in report.item("I3").evidence
    assert_schema_problem(report, "content/voucher.xml", "posted_by")


def test_I4_fails_on_a_missing_file(pkg: Pkg) -> None:
    pkg.path("content/voucher.pdf").unlink()
    report = pkg.check()
    assert failed(report) == {"I4"}
    assert "content/voucher.pdf" in report.item("I4").evidence


def test_I5_fails_on_a_file_listed_nowhere(pkg: Pkg) -> None:
    pkg.path("content/extra.json").write_bytes(b"{}")
    report = pkg.check()
    assert failed(report) == {"I5"}
    assert "content/extra.json" in report.item("I5").evidence


# --- usability ---------------------------------------------------------------------------------


def test_U1_fails_on_unreadable_metadata(pkg: Pkg) -> None:
    data = pkg.path(md.METADATA_NAME).read_bytes()
    pkg.path(md.METADATA_NAME).write_bytes(data[: len(data) // 2])  # cut off: not well-formed
    pkg.resign()
    report = pkg.check()
    assert report.item("U1").result is Result.FAIL
    assert "metadata.xml" in report.item("U1").evidence
    assert report.item("A1").result is Result.PASS and report.item("A2").result is Result.PASS


def test_U1_fails_on_metadata_of_another_schema(pkg: Pkg) -> None:
    pkg.path(md.METADATA_NAME).write_bytes(b"<?xml version='1.0' encoding='UTF-8'?><record/>")
    pkg.resign()
    u1 = pkg.check().item("U1")
    assert u1.result is Result.FAIL and "record" in u1.evidence


def test_U2_fails_on_a_file_that_does_not_open(pkg: Pkg) -> None:
    pkg.replace("content/voucher.pdf", b"%PDF-1.7\n" + b"\x00garbage" * 64)
    pkg.resign()
    report = pkg.check()
    assert failed(report) == {"U2"}
    assert "content/voucher.pdf" in report.item("U2").evidence


def test_U2_fails_on_an_invoice_that_does_not_parse(pkg: Pkg) -> None:
    name = _unsigned_invoice(pkg)
    data = pkg.path(name).read_bytes()
    pkg.replace(name, data[: len(data) // 2])  # cut off: still starts as a zip, no longer one
    pkg.resign()
    report = pkg.check()
    assert report.item("U2").result is Result.FAIL and name in report.item("U2").evidence


def test_U3_fails_on_a_format_not_allowed_for_archiving(pkg: Pkg) -> None:
    """A zip that is no OFD, listed everywhere as if it belonged: only its format is wrong."""
    rel = "content/attachment.zip"
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("readme.txt", "附件")
    pkg.path(rel).write_bytes(out.getvalue())
    meta = pkg.meta()
    e = manifest.digest_bytes(rel, out.getvalue())
    meta.files.append({"文件名": rel, "类型": "附件", "格式": "OFD", "大小": str(e.size),
                       "SHA-256": e.sha256, "SM3": e.sm3})
    pkg.write_meta(meta)
    pkg.resign(add=[rel])
    report = pkg.check()
    assert report.item("U3").result is Result.FAIL
    assert rel in report.item("U3").evidence and "ZIP" in report.item("U3").evidence
    assert report.item("I4").result is Result.PASS and report.item("I5").result is Result.PASS


def test_U4_fails_on_private_compression_in_an_ofd(pkg: Pkg) -> None:
    """The same OFD with its members compressed with bzip2: it still reads, but not everywhere."""
    name = _unsigned_invoice(pkg)
    pkg.replace(name, _rezip(pkg.path(name).read_bytes(), zipfile.ZIP_BZIP2))
    pkg.resign()
    report = pkg.check()
    assert "U4" in failed(report)
    assert name in report.item("U4").evidence and "compression method 12" in report.item("U4").evidence


def test_U4_fails_on_an_encrypted_pdf(pkg: Pkg) -> None:
    """voucher.pdf encrypted (empty user password: it still opens, but is encrypted)."""
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.pdf_utils.writer import copy_into_new_writer

    writer = copy_into_new_writer(PdfFileReader(io.BytesIO(pkg.path("content/voucher.pdf").read_bytes())))
    writer.encrypt(owner_pass=b"owner", user_pass=b"")
    out = io.BytesIO()
    writer.write(out)
    pkg.replace("content/voucher.pdf", out.getvalue())
    pkg.resign()
    report = pkg.check()
    assert failed(report) == {"U4"}
    assert "/Encrypt" in report.item("U4").evidence


# --- security ----------------------------------------------------------------------------------


def test_S1_fails_on_the_eicar_test_file(pkg: Pkg) -> None:
    pkg.path("content/eicar.com").write_bytes(malware.EICAR)
    report = pkg.check(scan=True)
    s1 = report.item("S1")
    assert s1.result is Result.FAIL, s1
    assert "content/eicar.com" in s1.evidence and "FOUND" in s1.evidence


def test_S1_fails_on_eicar_inside_an_ofd(pkg: Pkg) -> None:
    """The test string as a member of an invoice's zip, digests redone: only the scan sees it."""
    name = _unsigned_invoice(pkg)
    pkg.replace(name, _rezip(pkg.path(name).read_bytes(), extra={"Doc_0/Res/note.txt": malware.EICAR}))
    pkg.resign()
    report = pkg.check(scan=True)
    assert failed(report) == {"S1"}
    assert name.rsplit("/", 1)[1] in report.item("S1").evidence


def test_S1_is_not_run_without_a_scanner(pkg: Pkg, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    malware.reset_scanner_cache()
    pkg.path("content/eicar.com").write_bytes(malware.EICAR)
    report = pkg.check(scan=True)
    assert report.item("S1").result is Result.NOT_RUN  # never "pass"
    assert "not found" in report.item("S1").evidence
    assert pkg.check(scan=False).item("S1").result is Result.NOT_RUN


def test_S1_uses_the_database_named_in_the_settings(pkg: Pkg, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """FAPIAO_CLAMAV_DB: a database of one signature that matches the voucher's own XML."""
    marker = b"<r:voucher xmlns:r="  # voucher.xml's root element (record schema, prefix r)
    assert marker in pkg.path("content/voucher.xml").read_bytes()
    db = tmp_path / "site.ndb"
    db.write_text(f"Site.Test.VoucherMarker:0:*:{marker.hex()}\n", "ascii")
    monkeypatch.setenv("FAPIAO_CLAMAV_DB", str(db))
    s1 = pkg.check(scan=True).item("S1")
    assert s1.result is Result.FAIL and "Site.Test.VoucherMarker" in s1.evidence
    monkeypatch.setenv("FAPIAO_CLAMAV_DB", str(tmp_path / "missing.ndb"))
    assert pkg.check(scan=True).item("S1").result is Result.NOT_RUN  # a broken setting never passes


def test_S2_fails_when_the_manifest_changed_since_filing(pkg: Pkg) -> None:
    pkg.edit_meta_text("<档号>", "\n<档号>")  # same values, other bytes
    pkg.resign()  # a valid signature over every file, but not the manifest the register recorded
    report = pkg.check(recorded_manifest_sha256=pkg.t.manifest_sha256)
    assert failed(report) == {"S2"}
    assert "recorded at filing" in report.item("S2").evidence
    assert pkg.check(recorded_manifest_sha256=None).item("S2").result is Result.NOT_APPLICABLE


def test_S3_fails_on_a_writable_file_in_the_store(pkg: Pkg) -> None:
    _read_only(pkg.root)
    os.chmod(pkg.path("content/voucher.xml"), 0o644)
    report = pkg.check(write_once=True)
    assert failed(report) == {"S3"}
    assert "content/voucher.xml: writable" in report.item("S3").evidence
    assert pkg.check(write_once=False).item("S3").result is Result.NOT_APPLICABLE


def test_S1_in_the_store_package_and_year_checks(template: Template) -> None:
    """The services a person calls: the EICAR string in a stored package fails S1 of its own
    check and of the year's (one scan over the year's folder), and passes once removed."""
    eicar = template.stored / "content" / "eicar.txt"
    _writable(template.stored)
    eicar.write_bytes(b"note " + malware.EICAR)
    _read_only(template.stored)
    try:
        with session_scope() as s:
            report = check.check_package(s, template.package_id)
            year = check.check_year(s, template.year)
        assert report.item("S1").result is Result.FAIL and "eicar.txt" in report.item("S1").evidence
        assert year.item("S1").result is Result.FAIL and "eicar.txt" in year.item("S1").evidence
        assert report.to_dict()["items"][list(ITEMS).index("S1")]["result_label"] == "不通过"
    finally:
        _writable(template.stored)
        eicar.unlink()
        _read_only(template.stored)
    with session_scope() as s:
        report = check.check_package(s, template.package_id)
        year = check.check_year(s, template.year)
    assert report.item("S1").result is Result.PASS and year.item("S1").result is Result.PASS
    assert report.status == "pass" and year.status == "pass"


def _fake_clamdscan(bin_dir: Path, exit_code: int, output: str) -> None:
    """A clamdscan stand-in: the daemon's answer without a daemon (CI has none)."""
    bin_dir.mkdir(exist_ok=True)
    exe = bin_dir / "clamdscan"
    exe.write_text(f"#!/bin/sh\necho '{output}'\nexit {exit_code}\n")
    exe.chmod(0o755)


def test_S1_falls_back_to_clamscan_when_the_daemon_is_down(pkg: Pkg, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    clamscan = shutil.which("clamscan")
    assert clamscan is not None
    _fake_clamdscan(tmp_path / "bin", 2, "ERROR: Could not connect to clamd")
    (tmp_path / "bin" / "clamscan").symlink_to(clamscan)
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    malware.reset_scanner_cache()
    pkg.path("content/eicar.com").write_bytes(malware.EICAR)
    s1 = pkg.check(scan=True).item("S1")
    assert s1.result is Result.FAIL and s1.evidence.startswith("clamscan:")


def test_S1_uses_the_daemon_when_it_answers(pkg: Pkg, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_clamdscan(tmp_path / "bin", 1, f"{pkg.root}/content/x.pdf: Win.Test.Daemon FOUND")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    malware.reset_scanner_cache()
    s1 = pkg.check(scan=True).item("S1")
    assert s1.result is Result.FAIL and "Win.Test.Daemon" in s1.evidence and s1.evidence.startswith("clamdscan:")
    _fake_clamdscan(tmp_path / "bin", 2, "ERROR: Could not connect to clamd")  # and no clamscan
    malware.reset_scanner_cache()
    assert pkg.check(scan=True).item("S1").result is Result.NOT_RUN
