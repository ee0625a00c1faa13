"""Retention periods (会计档案管理办法 Annex 1), appraisal and destruction (Art 16-19)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlmodel import select

from archive import package, retention
from archive.codes import parse_code
from archive.errors import ArchiveError
from archive.retention import SignoffRole
from archive.store import ArchivePackage, PackageStatus, archive_root, package_dir
from core.audit import AuditEntry
from core.db import session_scope
from core.users import User, create_user
from tests.archive.conftest import SAMPLE_SETS, People

Posted = Callable[[list[Path]], str]
OPINION = "经鉴定，该批会计凭证保管期满，无未结清债权债务，无继续保存价值，同意销毁。"


def test_retention_periods_count_from_the_day_after_the_fiscal_year() -> None:
    assert retention.retention_until(2025) == date(2055, 12, 31)
    assert retention.retention_until(2025, retention.rule_for("银行对账单")) == date(2035, 12, 31)
    assert retention.retention_until(2025, retention.rule_for("年度财务会计报告")) is None
    assert retention.rule_for("会计档案移交清册").code == "D30"
    assert retention.rule_for("会计档案销毁清册").code == "Y"
    with pytest.raises(ArchiveError):
        retention.rule_for("固定资产卡片")  # 5 years after disposal: no fixed period
    assert not retention.is_expired(date(2055, 12, 31), date(2055, 12, 31))
    assert retention.is_expired(date(2055, 12, 31), date(2056, 1, 1))


def test_archival_code_scheme() -> None:
    c = parse_code("Z001-KU·PZ·2025-D30-0001")
    assert (c.fonds, c.category, c.year, c.retention, c.item_no) == ("Z001", "KU·PZ", 2025, "D30", 1)
    assert str(c) == "Z001-KU·PZ·2025-D30-0001" and c.series == "Z001-KU·PZ·2025"
    for bad in ("Z001-KU·PZ·25-D30-0001", "Z001-KU·PZ·2025-D30-1", "Z001-KU-PZ-2025-D30-0001",
                "Z001-KU·PZ·2025-X-0001", "Z001-KU·PZ·2025-D30-0000"):
        with pytest.raises(ArchiveError):
            parse_code(bad)


@pytest.fixture
def archived(people: People, posted: Posted) -> list[ArchivePackage]:
    out = []
    for files in SAMPLE_SETS[:2]:
        vid = posted(files)
        with session_scope() as s:
            out.append(package.build_package(s, people.archivist, vid))
    return out


@pytest.fixture
def signers(people: People) -> dict[SignoffRole, User]:
    with session_scope() as s:
        return {role: create_user(s, f"signer_{role.value}", "archivist") for role in SignoffRole}


def test_due_for_appraisal(archived: list[ArchivePackage]) -> None:
    until = archived[0].retention_until
    assert until == date(archived[0].year + 30, 12, 31)
    with session_scope() as s:
        assert retention.due_for_appraisal(s, today=until) == []
        due = retention.due_for_appraisal(s, today=date(until.year + 1, 1, 1))
    assert [p.archival_code for p in due] == [p.archival_code for p in archived]


def test_destruction_rules(people: People, archived: list[ArchivePackage], signers: dict[SignoffRole, User]) -> None:
    ids = [p.id for p in archived]
    later = date(archived[0].year + 31, 1, 1)
    with session_scope() as s, pytest.raises(ArchiveError) as exc:
        retention.request_destruction(s, people.archivist, ids, OPINION)  # not expired today
    assert exc.value.code == "not_destroyable"
    with session_scope() as s, pytest.raises(ArchiveError) as exc:
        retention.request_destruction(s, people.archivist, ids, "同意", today=later)
    assert exc.value.code == "appraisal_required"
    with session_scope() as s:  # an unsettled matter may never be destroyed
        retention.set_unsettled(s, people.archivist, ids[1], True, "供应商合同纠纷未结")
    with session_scope() as s, pytest.raises(ArchiveError) as exc:
        retention.request_destruction(s, people.archivist, ids, OPINION, today=later)
    assert "unsettled" in exc.value.message
    with session_scope() as s:
        req = retention.request_destruction(s, people.archivist, ids[:1], OPINION, today=later)
        rid = req.id
    roles = list(SignoffRole)
    with session_scope() as s:
        retention.sign_destruction(s, signers[roles[0]], rid, roles[0])
    with session_scope() as s, pytest.raises(ArchiveError) as exc:  # one person, one sign-off
        retention.sign_destruction(s, signers[roles[0]], rid, roles[1])
    assert exc.value.code == "same_person"
    with session_scope() as s, pytest.raises(ArchiveError) as exc:  # each role once
        retention.sign_destruction(s, signers[roles[1]], rid, roles[0])
    assert exc.value.code == "already_signed"
    for role in roles[1:4]:
        with session_scope() as s:
            retention.sign_destruction(s, signers[role], rid, role)
    with session_scope() as s, pytest.raises(ArchiveError) as exc:  # four of five
        retention.destroy(s, people.archivist, rid, today=later)
    assert exc.value.code == "signoffs_missing" and "会计管理机构经办人" in exc.value.message
    with session_scope() as s:
        retention.sign_destruction(s, signers[roles[4]], rid, roles[4])
    with session_scope() as s:
        req = retention.destroy(s, people.archivist, rid, today=later)
        assert req.status == "destroyed"
        list_path = archive_root() / req.list_path
    with session_scope() as s:
        p = s.get(ArchivePackage, ids[0])
        assert p.status == PackageStatus.DESTROYED and p.live_voucher_id is None
        assert p.meta["files"]  # metadata kept in the register
        kept = s.get(ArchivePackage, ids[1])
        assert kept.status == PackageStatus.LIVE
        actions = [e.action for e in s.exec(select(AuditEntry)).all()]
    root = package_dir(p)
    assert not (root / "content").exists()  # content removed
    assert (root / "metadata.xml").is_file() and (root / "manifest.xml").is_file()  # metadata kept
    wb = load_workbook(list_path, read_only=True)
    rows = [list(r) for r in wb["销毁清册"].iter_rows(values_only=True)]
    wb.close()
    assert any(r[1] == p.archival_code for r in rows if len(r) > 1)
    assert sum(1 for r in rows if r and r[0] in retention.ROLE_LABELS.values()) == 5
    assert actions.count("archive.destruction_signed") == 5 and "archive.destruction_done" in actions
