"""The versioned archive schema: packages carry the XSD that describes them, validated at
filing and when checked; the record follows the models, not the API; old versions still check.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from accounting import claims as acc_claims
from accounting import ledger
from archive import check, export, metadata, package, schema
from archive.check import Result
from archive.store import ArchivePackage, package_dir
from core.db import session_scope
from tests.archive.conftest import SAMPLE_SETS, People

Posted = Callable[[list[Path]], str]
RECORD = schema.current("record")  # record-2 since issue 13 (voucher/payments)
RECORD_NS = RECORD.namespace
XMLS = ("content/voucher.xml", "content/claims.xml", "metadata.xml")


def _build(people: People, vid: str) -> ArchivePackage:
    with session_scope() as s:
        return package.build_package(s, people.archivist, vid)


def _root(pkg: ArchivePackage) -> Path:
    with session_scope() as s:
        return package_dir(s.get(ArchivePackage, pkg.id) or pkg)


def _copy(src: Path, dst: Path) -> Path:
    """A writable copy of a package folder, to damage."""
    shutil.copytree(src, dst)
    for p in [dst, *dst.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)
    return dst


def _edit(path: Path, fn: Callable[[etree._Element], None]) -> None:
    doc = etree.fromstring(path.read_bytes())
    fn(doc)
    path.write_bytes(etree.tostring(doc, xml_declaration=True, encoding="UTF-8"))


def test_package_is_described_by_the_xsd_it_carries(db_people: People, db_posted: Posted,
                                                     tmp_path: Path) -> None:
    people = db_people
    pkg = _build(people, db_posted(SAMPLE_SETS[0]))
    root = _root(pkg)
    carried = {"record": root / "schema" / RECORD.file_name,
               "metadata": root / "schema" / metadata.SCHEMA_REF.file_name}
    for kind, path in carried.items():
        version = RECORD.version if kind == "record" else metadata.SCHEMA_REF.version
        assert path.read_bytes() == schema.shipped_xsd(schema.SchemaRef(kind, version))  # published, unchanged
        assert f"schema/{path.name}" in {f["path"] for f in pkg.meta["files"]}  # listed and fixed
    for rel in XMLS:
        doc = etree.parse(str(root / rel))
        kind = "metadata" if rel == "metadata.xml" else "record"
        xsd = etree.XMLSchema(etree.parse(str(carried[kind])))  # the package alone describes it
        assert xsd.validate(doc), (rel, xsd.error_log)
    voucher = etree.parse(str(root / "content/voucher.xml")).getroot()
    assert voucher.tag == f"{{{RECORD_NS}}}voucher" and voucher.get("schemaVersion") == str(RECORD.version)
    assert voucher.findtext("posted_by") == "accountant" and len(voucher.findall("invoices/invoice")) == 2
    assert {p.findtext("flag") for p in voucher.iterfind("postings/posting")} == {"02"}
    claims = etree.parse(str(root / "content/claims.xml")).getroot()
    actions = [s.findtext("action") for s in claims.iterfind("claim/steps/step")]
    assert actions == ["create", "submit", "review", "approve"]
    assert schema.validate_package_xml(root) == []
    with session_scope() as s:
        report = check.check_package(s, pkg.id)
    assert report.item("U2").result is Result.PASS and report.item("I3").result is Result.PASS
    # the export carries the schema with each package, and the receiver validates by it
    job = export.export_year(pkg.year, tmp_path / "out", people.archivist)
    assert job.status == "done", job.error
    exported = [p.parent.parent for p in Path(job.bag_path).rglob(RECORD.file_name)]
    assert len(exported) == 1 and (exported[0] / "schema" / metadata.SCHEMA_REF.file_name).is_file()
    assert schema.validate_package_xml(exported[0]) == []
    assert export.verify_export(job.bag_path)["status"] == "pass"


def test_renaming_an_api_field_does_not_change_the_archived_record(
        people: People, posted: Posted, monkeypatch: pytest.MonkeyPatch) -> None:
    pkg = _build(people, posted(SAMPLE_SETS[0]))
    before = {rel: (_root(pkg) / rel).read_bytes() for rel in ("content/voucher.xml", "content/claims.xml")}

    real_voucher, real_claim = ledger.voucher_to_dict, acc_claims.claim_to_dict

    def renamed_voucher(session: Any, v: Any) -> dict[str, Any]:
        d = real_voucher(session, v)
        d["bookkeeper"] = d.pop("posted_by")
        d["entries"] = d.pop("lines")
        return d

    def renamed_claim(session: Any, c: Any) -> dict[str, Any]:
        d = real_claim(session, c)
        d["approvals"] = d.pop("steps")
        d["amount"] = d.pop("total")
        return d

    monkeypatch.setattr(ledger, "voucher_to_dict", renamed_voucher)
    monkeypatch.setattr(acc_claims, "claim_to_dict", renamed_claim)
    with session_scope() as s:
        assert "bookkeeper" in ledger.voucher_to_dict(s, ledger.get_voucher(s, pkg.voucher_id))  # the API changed
        new = package.supersede_package(s, people.archivist, pkg.id, "重新归档：核对结构化记录")
    after = {rel: (_root(new) / rel).read_bytes() for rel in before}
    assert after == before


def test_damaged_records_fail_validation(people: People, posted: Posted, tmp_path: Path) -> None:
    pkg = _build(people, posted(SAMPLE_SETS[0]))
    src = _root(pkg)

    def remove(path: str) -> Callable[[etree._Element], None]:
        def fn(doc: etree._Element) -> None:
            el = doc.find(path)
            assert el is not None
            el.getparent().remove(el)
        return fn

    def set_text(path: str, value: str) -> Callable[[etree._Element], None]:
        def fn(doc: etree._Element) -> None:
            el = doc.find(path)
            assert el is not None
            el.text = value
        return fn

    m = f"{{{metadata.NS}}}"
    cases = [
        ("content/voucher.xml", remove("posted_by"), "posted_by"),
        ("content/voucher.xml", set_text("total_debit", "十元"), "total_debit"),
        ("content/voucher.xml", set_text("lines/line/debit", "12.5"), "debit"),
        ("content/claims.xml", remove("claim/steps/step/actor"), "actor"),
        ("content/claims.xml", set_text("claim/state", "done"), "state"),
        ("metadata.xml", set_text(f"{m}金额", "abc"), "金额"),
        ("metadata.xml", remove(f"{m}归档时间"), "归档时间"),
    ]
    for n, (rel, damage, word) in enumerate(cases):
        root = _copy(src, tmp_path / f"p{n}")
        assert schema.validate_package_xml(root) == []
        _edit(root / rel, damage)
        problems = schema.validate_package_xml(root)
        assert len(problems) == 1 and rel in problems[0] and word in problems[0], (rel, problems)
        with pytest.raises(schema.SchemaError):
            if rel == "metadata.xml":
                metadata.metadata_xml(metadata.read_metadata((root / rel).read_bytes()))
            else:
                schema.validate_written((root / rel).read_bytes(), "record", rel)
    # a carried XSD edited after publication is reported even though the record still validates
    root = _copy(src, tmp_path / "xsd")
    xsd = root / "schema" / RECORD.file_name
    xsd.write_bytes(xsd.read_bytes().replace(b"<!-- content/voucher.xml -->", b"<!-- edited -->"))
    problems = schema.validate_package_xml(root)
    assert len(problems) == 1 and RECORD.file_name in problems[0] and "不一致" in problems[0]
    # an unknown version that the package does not describe cannot be validated
    root = _copy(src, tmp_path / "v9")
    vx = root / "content" / "voucher.xml"
    vx.write_bytes(vx.read_bytes().replace(RECORD_NS.encode(), b"urn:fapiao-archive:record:9"))
    problems = schema.validate_package_xml(root)
    assert len(problems) == 1 and "schema/record-9.xsd" in problems[0]
    # a carried XSD of that version that reaches outside the package is not used
    (root / "schema" / "record-9.xsd").write_bytes(
        b'<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:fapiao-archive:record:9">'
        b'<xs:include schemaLocation="file:///etc/hostname"/></xs:schema>')
    problems = schema.validate_package_xml(root)
    assert len(problems) == 1 and "包外" in problems[0]


def test_old_version_packages_still_check(people: People, posted: Posted, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A package written under record-1 (before voucher/payments) still checks; new ones carry
    record-2; code that predates record-2 validates a new package by the XSD it carries."""
    with monkeypatch.context() as m:
        m.setitem(schema.CURRENT, "record", 1)
        old = _build(people, posted(SAMPLE_SETS[1]))
    new = _build(people, posted(SAMPLE_SETS[2]))
    v2 = schema.shipped_xsd(schema.SchemaRef("record", 2))
    assert v2 is not None and b'name="payments"' in v2
    old_root, new_root = _root(old), _root(new)
    assert (old_root / "schema" / "record-1.xsd").is_file() and not (old_root / "schema" / "record-2.xsd").exists()
    assert etree.parse(str(old_root / "content/voucher.xml")).getroot().find("payments") is None
    assert (new_root / "schema" / "record-2.xsd").read_bytes() == v2
    new_voucher = etree.parse(str(new_root / "content/voucher.xml")).getroot()
    assert new_voucher.get("schemaVersion") == "2" and new_voucher.find("payments") is not None
    for pkg in (old, new):
        with session_scope() as s:
            report = check.check_package(s, pkg.id)
        assert report.item("U2").result is Result.PASS, report.item("U2").evidence
        assert not report.failed, [(i.id, i.evidence) for i in report.failed]
    # Code that predates version 2 (only record-1 shipped) validates the new package by the XSD
    # it carries, and the old one by its own.
    only_v1 = tmp_path / "v1"
    only_v1.mkdir()
    for name in ("record-1.xsd", "metadata-1.xsd"):
        shutil.copy(Path(schema.__file__).parent / name, only_v1 / name)
    monkeypatch.setattr(schema, "SCHEMA_DIRS", [only_v1])
    assert schema.validate_package_xml(new_root) == []
    assert schema.validate_package_xml(old_root) == []
