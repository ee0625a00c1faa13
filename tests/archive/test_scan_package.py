"""Scans in the archive: metadata-2 lists JPEG/PNG; packages written with metadata-1 still
validate and pass the four-property check (archive/metadata.py ``READ_VERSIONS``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from lxml import etree

from archive import check, metadata, package, schema
from archive.errors import ArchiveError
from archive.store import ArchivePackage, package_dir
from core.db import session_scope
from tests.archive.conftest import SAMPLE_SETS, People
from tests.scans import ScanSpec, make_scan

Posted = Callable[[list[Path]], str]
V1 = schema.SchemaRef("metadata", 1)


def _scan_file(tmp_path: Path) -> Path:
    path = tmp_path / "发票照片.jpg"
    path.write_bytes(make_scan(ScanSpec("MARSCHEN-CN__FapiaoGO/test.pdf", dpi=175, angle=-1.5)))
    return path


def _build(people: People, vid: str) -> tuple[ArchivePackage, Path]:
    with session_scope() as s:
        pkg = package.build_package(s, people.archivist, vid)
        return pkg, package_dir(s.get(ArchivePackage, pkg.id) or pkg)


def _check(pkg: ArchivePackage) -> check.CheckReport:
    with session_scope() as s:
        return check.check_package(s, pkg.id)


def test_a_scan_is_archived_with_its_voucher_under_metadata_2(people: People, posted: Posted,
                                                               tmp_path: Path) -> None:
    pkg, root = _build(people, posted([_scan_file(tmp_path)]))
    doc = etree.parse(str(root / "metadata.xml")).getroot()
    assert etree.QName(doc).namespace == metadata.SCHEMA_REF.namespace == "urn:fapiao-archive:metadata:2"
    meta = metadata.read_metadata((root / "metadata.xml").read_bytes())
    [inv] = meta.invoices
    assert inv["格式"] == "JPEG" and inv["文件名"].endswith(".jpg") and inv["签名状态"] == "unsigned"
    assert (root / inv["文件名"]).read_bytes()[:3] == b"\xff\xd8\xff"  # the scan itself, byte for byte
    assert (root / "schema" / "metadata-2.xsd").is_file()
    assert schema.validate_package_xml(root) == []
    report = _check(pkg)
    assert report.status == "pass", [i.to_dict() for i in report.failed]
    assert report.item("U3").result is check.Result.PASS


def test_a_package_written_with_metadata_1_still_validates_and_checks(
        people: People, posted: Posted, monkeypatch: pytest.MonkeyPatch) -> None:
    vid = posted(SAMPLE_SETS[2])
    with monkeypatch.context() as m:  # the previous release: metadata-1
        m.setattr(metadata, "SCHEMA_REF", V1)
        m.setattr(metadata, "NS", V1.namespace)
        pkg, root = _build(people, vid)
    doc = etree.parse(str(root / "metadata.xml")).getroot()
    assert etree.QName(doc).namespace == "urn:fapiao-archive:metadata:1"
    assert (root / "schema" / "metadata-1.xsd").read_bytes() == schema.shipped_xsd(V1)
    assert not (root / "schema" / "metadata-2.xsd").exists()
    assert schema.validate_package_xml(root) == []
    meta = metadata.read_metadata((root / "metadata.xml").read_bytes())
    assert meta.invoices and meta.invoices[0]["格式"] == "PDF" and meta.package["档号"]
    report = _check(pkg)  # read by today's code
    assert report.status == "pass", [i.to_dict() for i in report.failed]


def test_metadata_1_cannot_hold_a_scan(people: People, posted: Posted, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    vid = posted([_scan_file(tmp_path)])
    monkeypatch.setattr(metadata, "SCHEMA_REF", V1)
    monkeypatch.setattr(metadata, "NS", V1.namespace)
    with pytest.raises(ArchiveError) as ei:  # JPEG is not in metadata-1's format enumeration
        _build(people, vid)
    assert "JPEG" in str(ei.value) or "格式" in str(ei.value)


def test_a_scan_may_leave_what_ocr_could_not_read_empty_but_not_its_key_fields() -> None:
    base = {name: "" for name in metadata.INVOICE_ELEMENTS}
    base.update({"发票号码": "25447000001115703415", "发票类型": "digital_ordinary", "开票日期": "2025-09-23",
                 "价税合计": "50.00", "文件名": "content/invoices/01-x.jpg", "大小": "1",
                 "SHA-256": "0" * 64, "SM3": "0" * 64, "签名状态": "unsigned"})
    pkg = {name: "x" for name in metadata.PACKAGE_ELEMENTS}
    files = [{name: "x" for name in metadata.FILE_ELEMENTS}]
    scan = metadata.Metadata(pkg, [{**base, "格式": "JPEG"}], files)
    assert not [m for m in metadata.missing_required(scan) if m.startswith("发票[1]")]
    pdf = metadata.Metadata(pkg, [{**base, "格式": "PDF"}], files)
    assert {"发票[1]/销售方税号", "发票[1]/购买方税号", "发票[1]/金额"} <= set(metadata.missing_required(pdf))
    no_total = metadata.Metadata(pkg, [{**base, "格式": "JPEG", "价税合计": ""}], files)
    assert "发票[1]/价税合计" in metadata.missing_required(no_total)
