"""Retention (会计档案管理办法 Annex 1, enterprises), appraisal and destruction (Art 16-19).

Keeping periods are counted from the day after the fiscal year ends: a 2025 voucher kept 30
years is kept through 2055-12-31 and may be appraised from 2056-01-01. Destruction needs an
appraisal opinion (鉴定意见书), the sign-off of the unit head, the heads of the archive and
accounting offices and two clerks (five distinct people), never touches the vouchers of
unsettled matters, and removes the content only: the metadata, the 销毁清册 and the audit
trail stay.
"""

from __future__ import annotations

import io
import os
import shutil
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from sqlmodel import Session, col, select

from archive.errors import bad_input, not_found, refused
from archive.store import (
    ArchivePackage,
    DestructionRequest,
    DestructionStatus,
    PackageStatus,
    archive_root,
    package_dir,
)
from core import audit
from core.clock import today_china
from core.db import advisory_lock, utcnow
from core.spreadsheet import safe_row  # formula-like titles and names are written as text
from core.users import User

PERMANENT = "Y"


@dataclass(frozen=True)
class RetentionRule:
    record_type: str
    code: str  # Y, D30, D10
    years: int | None  # None: permanent


# Annex 1 (enterprises) of 会计档案管理办法 (2016): 30 / 10 years / permanent.
# 固定资产卡片 is kept 5 years after the asset is disposed of: not a fixed period, not here.
RETENTION_TABLE: dict[str, RetentionRule] = {
    name: RetentionRule(name, code, years)
    for name, code, years in [
        ("原始凭证", "D30", 30), ("记账凭证", "D30", 30),
        ("总账", "D30", 30), ("明细账", "D30", 30), ("日记账", "D30", 30),
        ("其他辅助性账簿", "D30", 30), ("会计档案移交清册", "D30", 30),
        ("月度财务会计报告", "D10", 10), ("季度财务会计报告", "D10", 10),
        ("半年度财务会计报告", "D10", 10), ("银行存款余额调节表", "D10", 10),
        ("银行对账单", "D10", 10), ("纳税申报表", "D10", 10),
        ("年度财务会计报告", PERMANENT, None), ("会计档案保管清册", PERMANENT, None),
        ("会计档案销毁清册", PERMANENT, None), ("会计档案鉴定意见书", PERMANENT, None),
    ]
}

VOUCHER_RULE = RETENTION_TABLE["记账凭证"]


def rule_for(record_type: str) -> RetentionRule:
    try:
        return RETENTION_TABLE[record_type]
    except KeyError:
        raise bad_input("unknown_record_type",
                        f"no retention rule for {record_type!r}; known: {', '.join(RETENTION_TABLE)}") from None


def retention_until(fiscal_year: int, rule: RetentionRule = VOUCHER_RULE) -> date | None:
    """The last day of keeping: counted from the day after the fiscal year (31 Dec) ends."""
    if rule.years is None:
        return None
    # Counting starts on 1 January of fiscal_year + 1, so N years end on 31 December of
    # fiscal_year + N.
    return date(fiscal_year + rule.years, 12, 31)


def is_expired(until: date | None, today: date) -> bool:
    return until is not None and today > until


def due_for_appraisal(session: Session, today: date | None = None, limit: int = 1000) -> list[ArchivePackage]:
    """Live packages whose keeping period has ended: they must be appraised (kept or destroyed)."""
    today = today or today_china()
    rows = session.exec(
        select(ArchivePackage)
        .where(ArchivePackage.status == PackageStatus.LIVE,
               col(ArchivePackage.retention_until).is_not(None),
               col(ArchivePackage.retention_until) < today)
        .order_by(col(ArchivePackage.retention_until), col(ArchivePackage.archival_code))
        .limit(limit)
    ).all()
    return list(rows)


def set_unsettled(session: Session, user: User, package_id: str, unsettled: bool, reason: str) -> ArchivePackage:
    """Mark (or clear) a voucher as belonging to an unsettled matter (未结清的债权债务等)."""
    if not reason.strip():
        raise bad_input("reason_required", "say why the unsettled-matter flag changes")
    pkg = session.get(ArchivePackage, package_id)
    if pkg is None:
        raise not_found("package", package_id)
    pkg.unsettled = unsettled
    session.add(pkg)
    audit.append(session, user.username, "archive.unsettled", "archive_package", pkg.id,
                 {"unsettled": unsettled, "reason": reason, "archival_code": pkg.archival_code})
    return pkg


class SignoffRole(StrEnum):
    UNIT_HEAD = "unit_head"  # 单位负责人
    ARCHIVE_HEAD = "archive_head"  # 档案管理机构负责人
    ACCOUNTING_HEAD = "accounting_head"  # 会计管理机构负责人
    ARCHIVE_CLERK = "archive_clerk"  # 档案管理机构经办人
    ACCOUNTING_CLERK = "accounting_clerk"  # 会计管理机构经办人


ROLE_LABELS = {
    SignoffRole.UNIT_HEAD: "单位负责人",
    SignoffRole.ARCHIVE_HEAD: "档案管理机构负责人",
    SignoffRole.ACCOUNTING_HEAD: "会计管理机构负责人",
    SignoffRole.ARCHIVE_CLERK: "档案管理机构经办人",
    SignoffRole.ACCOUNTING_CLERK: "会计管理机构经办人",
}

MIN_OPINION_CHARS = 20


def _destroyable(pkg: ArchivePackage, today: date) -> str | None:
    """Why a package may not be destroyed, or None."""
    if pkg.status != PackageStatus.LIVE:
        return f"{pkg.archival_code} is {pkg.status}"
    if pkg.retention_until is None:
        return f"{pkg.archival_code} is kept permanently"
    if not is_expired(pkg.retention_until, today):
        return f"{pkg.archival_code} is kept until {pkg.retention_until.isoformat()}"
    if pkg.unsettled:
        return f"{pkg.archival_code} belongs to an unsettled matter (未结清事项) and may not be destroyed"
    return None


def request_destruction(session: Session, user: User, package_ids: list[str], appraisal_opinion: str,
                        today: date | None = None) -> DestructionRequest:
    """Open a destruction request for expired packages, with the appraisal opinion (鉴定意见书)."""
    today = today or today_china()
    opinion = (appraisal_opinion or "").strip()
    if len(opinion) < MIN_OPINION_CHARS:
        raise bad_input("appraisal_required",
                        f"a destruction needs the appraisal opinion (鉴定意见书), at least {MIN_OPINION_CHARS} characters")
    if not package_ids:
        raise bad_input("no_packages", "name at least one package to destroy")
    problems = []
    for pid in dict.fromkeys(package_ids):
        pkg = session.get(ArchivePackage, pid)
        if pkg is None:
            raise not_found("package", pid)
        why = _destroyable(pkg, today)
        if why:
            problems.append(why)
    if problems:
        raise refused("not_destroyable", "these records may not be destroyed: " + "; ".join(problems),
                      {"problems": problems})
    req = DestructionRequest(appraisal_opinion=opinion, package_ids=list(dict.fromkeys(package_ids)),
                             created_by=user.username)
    session.add(req)
    session.flush()
    audit.append(session, user.username, "archive.destruction_requested", "destruction", req.id,
                 {"packages": req.package_ids, "appraisal_opinion": opinion})
    return req


def sign_destruction(session: Session, user: User, request_id: str, role: SignoffRole | str,
                     comment: str | None = None) -> DestructionRequest:
    """One of the five sign-offs; each role once, each by a different person."""
    req = session.get(DestructionRequest, request_id)
    if req is None:
        raise not_found("destruction", request_id)
    if req.status == DestructionStatus.DESTROYED:
        raise refused("already_destroyed", f"destruction {request_id} is already carried out")
    try:
        role = SignoffRole(role)
    except ValueError:
        raise bad_input("bad_signoff_role", f"unknown sign-off role {role!r}; one of {', '.join(SignoffRole)}") from None
    for s in req.signoffs:
        if s["role"] == role.value:
            raise refused("already_signed", f"{ROLE_LABELS[role]} has already signed (by {s['username']})")
        if s["username"] == user.username:
            raise refused("same_person", f"{user.username} has already signed as {s['role']}: the five "
                                         "sign-offs must come from five different people")
    req.signoffs = [*req.signoffs, {"role": role.value, "label": ROLE_LABELS[role], "username": user.username,
                                    "at": utcnow().isoformat(), "comment": comment}]
    if len(req.signoffs) == len(SignoffRole):
        req.status = DestructionStatus.APPROVED
    session.add(req)
    audit.append(session, user.username, "archive.destruction_signed", "destruction", req.id,
                 {"role": role.value})
    return req


def destruction_list_xlsx(rows: list[dict[str, Any]], request: DestructionRequest) -> bytes:
    """The 销毁清册: one row per destroyed record, then the five signature lines."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("销毁清册")
    ws.append(["会计档案销毁清册"])
    ws.append(safe_row(["销毁申请", request.id, "鉴定意见书", request.appraisal_opinion], ws))
    ws.append(["序号", "档号", "题名", "会计年度", "凭证号", "金额", "保管期限", "保管期满日", "销毁时间"])
    for i, r in enumerate(rows, 1):
        ws.append(safe_row([i, r["archival_code"], r["title"], r["year"], r["voucher_number"], r["amount"],
                   r["retention"], r["retention_until"], r["destroyed_at"]], ws))
    ws.append([])
    for s in request.signoffs:
        ws.append(safe_row([s["label"], s["username"], s["at"]], ws))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def destroy(session: Session, user: User, request_id: str, today: date | None = None) -> DestructionRequest:
    """Carry out an approved request: remove content, keep metadata, write the 销毁清册."""
    today = today or today_china()
    advisory_lock(session, "archive_destruction")
    req = session.get(DestructionRequest, request_id)
    if req is None:
        raise not_found("destruction", request_id)
    if req.status == DestructionStatus.DESTROYED:
        raise refused("already_destroyed", f"destruction {request_id} is already carried out")
    roles = {s["role"] for s in req.signoffs}
    missing = [ROLE_LABELS[r] for r in SignoffRole if r.value not in roles]
    if missing:
        raise refused("signoffs_missing", "destruction needs the sign-off of: " + ", ".join(missing),
                      {"missing": missing})
    pkgs = [session.get(ArchivePackage, pid) for pid in req.package_ids]
    problems = [why for p in pkgs if p is not None and (why := _destroyable(p, today))]
    if problems:  # e.g. flagged unsettled after the request
        raise refused("not_destroyable", "these records may no longer be destroyed: " + "; ".join(problems),
                      {"problems": problems})
    at = utcnow()
    rows = []
    for p in pkgs:
        assert p is not None
        content = package_dir(p) / "content"
        if content.exists():
            _remove_tree(content)
        p.status = PackageStatus.DESTROYED
        p.live_voucher_id = None
        p.destroyed_at = at
        p.destruction_id = req.id
        session.add(p)
        rows.append({"archival_code": p.archival_code, "title": p.title, "year": p.year,
                     "voucher_number": p.voucher_number, "amount": str(p.amount), "retention": p.retention,
                     "retention_until": p.retention_until.isoformat() if p.retention_until else "",
                     "destroyed_at": at.isoformat()})
        audit.append(session, user.username, "archive.destroyed", "archive_package", p.id,
                     {"archival_code": p.archival_code, "destruction_id": req.id})
    out = archive_root() / "destruction" / req.id
    out.mkdir(parents=True, exist_ok=True)
    xlsx = out / "销毁清册.xlsx"
    xlsx.write_bytes(destruction_list_xlsx(rows, req))
    (out / "鉴定意见书.txt").write_text(req.appraisal_opinion + "\n", encoding="utf-8")
    for f in out.iterdir():
        os.chmod(f, 0o444)
    req.status = DestructionStatus.DESTROYED
    req.destroyed_at = at
    req.list_path = str(xlsx.relative_to(archive_root()))
    session.add(req)
    audit.append(session, user.username, "archive.destruction_done", "destruction", req.id,
                 {"packages": req.package_ids, "list": req.list_path})
    return req


def _remove_tree(path: Path) -> None:
    """Content files are read-only (write-once store): lift that only to delete them."""
    for root, dirs, files in os.walk(path):
        os.chmod(root, 0o755)
        for d in dirs:
            os.chmod(os.path.join(root, d), 0o755)
        for f in files:
            os.chmod(os.path.join(root, f), 0o644)
    os.chmod(path.parent, 0o755)
    shutil.rmtree(path)
    os.chmod(path.parent, 0o555)
