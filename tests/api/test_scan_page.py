"""A scan over HTTP: uploaded as a JPEG, shown on its page as 扫描件 with what QR and OCR read."""

from __future__ import annotations

from pathlib import Path

from tests.api.conftest import Server, upload
from tests.scans import ScanSpec, make_scan

SPEC = ScanSpec("MARSCHEN-CN__FapiaoGO/test.pdf", dpi=175, angle=2.0)


def test_a_scan_is_uploaded_and_shown_as_a_scan(server: Server, tmp_path: Path) -> None:
    clerk, _ = server.as_role("clerk")
    photo = tmp_path / "发票照片.jpg"
    photo.write_bytes(make_scan(SPEC))
    r = upload(clerk, photo)
    assert r.status_code == 200, r.text
    res = r.json()
    assert len(res["imported"]) == 1, res
    inv_id = res["imported"][0]["invoice_id"]
    inv = clerk.get(f"/api/v1/invoices/{inv_id}").json()
    assert inv["source_format"] == "image" and inv["verification_status"] == "unsigned"
    assert inv["field_sources"]["number"] == "qr_code"
    assert any(i["code"] == "scan.unsigned" for i in inv["verification"]["issues"])
    orig = clerk.get(f"/api/v1/invoices/{inv_id}/original")
    assert orig.content == photo.read_bytes() and orig.headers["content-type"] == "image/jpeg"
    assert orig.headers["content-disposition"].startswith("inline")
    page = clerk.get(f"/invoices/{inv_id}")
    assert page.status_code == 200, page.text[:500]
    html = page.text
    assert "扫描件" in html and 'id="scan-original"' in html
    assert "二维码" in html and "文字识别" in html and inv["number"] in html
    assert 'accept=".ofd,.pdf,.xml,.jpg,.jpeg,.png"' in clerk.get("/upload").text
