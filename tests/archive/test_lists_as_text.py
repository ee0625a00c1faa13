"""The 移交清册 and the 销毁清册 write formula-like text as text cells, with the value unchanged.

The 清册 are opened by people in Excel or WPS; a 鉴定意见 or an organisation name typed as
``=HYPERLINK(...)`` must show as the text it is, never run.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from openpyxl import load_workbook

from archive import export, package, retention
from archive.store import DestructionRequest
from core.db import session_scope
from core.settings import Settings
from tests.archive.conftest import SAMPLE_SETS, People
from tests.archive.test_export import Posted

HOSTILE = '=HYPERLINK("http://evil.example","点此")'


def _no_formula(data: bytes) -> None:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        for name in z.namelist():
            if name.startswith("xl/worksheets/"):
                assert "<f>" not in z.read(name).decode(), name


def test_destruction_list_keeps_a_formula_like_opinion_as_text() -> None:
    request = DestructionRequest(id="d1", appraisal_opinion=HOSTILE, package_ids=[], requested_by="a",
                                 signoffs=[{"label": "单位负责人", "username": "@boss", "at": "2026-01-01"}])
    rows = [{"archival_code": "Z001-KU·PZ·2015-D10-0001", "title": "-冲销 记账凭证", "year": 2015,
             "voucher_number": "记-2015-01-0001", "amount": "-100.00", "retention": "D10",
             "retention_until": "2025-12-31", "destroyed_at": "2026-01-02"}]
    data = retention.destruction_list_xlsx(rows, request)
    _no_formula(data)
    values = [list(r) for r in load_workbook(io.BytesIO(data), read_only=True).worksheets[0]
              .iter_rows(values_only=True)]
    assert values[1][3] == HOSTILE and values[3][2] == "-冲销 记账凭证" and values[3][5] == "-100.00"
    assert ["单位负责人", "@boss", "2026-01-01"] in [v[:3] for v in values]


def test_transfer_list_keeps_a_formula_like_organisation_name_as_text(people: People, posted: Posted,
                                                                       settings: Settings, tmp_path: Path) -> None:
    with session_scope() as s:
        pkg = package.build_package(s, people.archivist, posted(SAMPLE_SETS[1]))
    settings.org_name = HOSTILE  # as a careless admin might type it, after the invoices were checked
    job = export.export_year(pkg.year, tmp_path / "out", people.archivist, override_reason="测试：机构名称")
    assert job.status == "done", job.error
    listing = Path(job.bag_path) / "data" / export.list_name(pkg.year)
    _no_formula(listing.read_bytes())
    rows = [list(r) for r in load_workbook(listing, read_only=True)[export.LIST_SHEET].iter_rows(values_only=True)]
    assert rows[1][3] == HOSTILE
