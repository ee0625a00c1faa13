"""``fapiao parse``: table, JSON array, per-file errors, exit status."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from api.cli import main
from core import messages
from tests.samples import DIGITAL_PDF, SAMPLES

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).resolve().parents[2]
PDF = DIGITAL_PDF
OLD_PDF = SAMPLES / "invoices/renoyuan__easyofd/test.pdf"
XML = FIXTURES / "digital_ordinary.xml"


def test_json_array_one_object_per_file(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["parse", str(PDF), str(XML), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert status == 0
    assert [o["file"] for o in out] == [str(PDF), str(XML)]
    first = out[0]
    assert first["number"] == "25447000001115703415"
    assert first["total"] == "50.00" and first["kind"] == "digital_ordinary"
    assert first["buyer"] == {"name": "广州华栈天城科技有限公司", "tax_id": "91440106068698695J"}
    for key in ("kind", "source_format", "code", "number", "issue_date", "check_code", "buyer",
                "seller", "amount", "tax", "total", "items", "drawer", "remarks", "key",
                "sha256", "field_sources"):
        assert key in first, key
    assert len(first["sha256"]) == 64
    assert out[1]["source_format"] == "xml" and out[1]["total"] == "153.00"


def test_failed_file_gives_error_object_and_status_2(capsys: pytest.CaptureFixture[str],
                                                     tmp_path: Path) -> None:
    empty = tmp_path / "empty.pdf"
    empty.write_bytes(b"")
    missing = tmp_path / "missing.ofd"
    # a VAT invoice preview (仅供预览) is refused (the air itinerary preview is read and marked)
    from tests.invoice.pdfbuild import pdf_of

    preview = tmp_path / "preview.pdf"
    preview.write_bytes(pdf_of([(10, 5, "仅供预览"), (60, 5, "电子发票（普通发票）", 14),
                                (130, 15, "发票号码:25447000001115703415")]))
    status = main(["parse", str(PDF), str(empty), str(missing), str(preview), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert status == 2
    assert out[0]["number"] == "25447000001115703415"
    assert out[1] == {"file": str(empty), "error": {"code": "empty_file",
                                                    "message": messages.text("empty_file"),
                                                    "detail": "the file is empty"}}
    assert out[2]["file"] == str(missing) and out[2]["error"]["code"] == "unreadable"
    assert out[3]["error"]["code"] == "not_an_invoice"
    assert set(out[3]) == {"file", "error"}


def test_table_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["parse", str(PDF), str(OLD_PDF)])
    text = capsys.readouterr().out
    assert status == 0
    lines = text.splitlines()
    assert lines[0].split()[:4] == ["file", "kind", "code", "number"]
    assert "25447000001115703415" in text and "50.00" in text
    assert "052002100113" in text and "00008006" in text and "25254.62" in text
    assert "{" not in text  # not JSON


def test_table_lists_errors_with_reason(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.xml"
    bad.write_bytes(b"<EInvoice><EInvoiceData><BasicInformation/></EInvoiceData></EInvoice>")
    status = main(["parse", str(bad)])
    text = capsys.readouterr().out
    assert status == 2
    assert f"error: {bad}: bad_xml:" in text and "EInvoice/EInvoiceData/BasicInformation" in text
    assert "XML 内容格式错误" in text  # the catalogue's Chinese text, not the library's English


def test_installed_console_script() -> None:
    exe = REPO / ".venv" / "bin" / "fapiao"
    proc = subprocess.run([str(exe), "parse", "--json", str(OLD_PDF)], capture_output=True,
                          text=True, timeout=120, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out[0]["code"] == "052002100113" and out[0]["check_code"] == "18001801513030862041"
