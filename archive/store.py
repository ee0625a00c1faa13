"""The archive's tables: packages (the 件), 档号 counters, check runs, exports, destruction.

The package content itself lives on disk in the write-once archive store
(``settings.archive_dir``); these rows say what was filed, when, by whom, with which digest
(for fixity over time) and what became of it (superseded, destroyed).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, Column, Numeric, UniqueConstraint
from sqlmodel import Field, Session, SQLModel, col, select

from core.db import AwareDateTime, new_id, utcnow
from core.settings import get_settings


class PackageStatus(StrEnum):
    """States of an archive package (``ArchivePackage.status``)."""

    LIVE = "live"
    SUPERSEDED = "superseded"
    DESTROYED = "destroyed"


class CheckRunStatus(StrEnum):
    """The verdict of a four-property check run: every item passed (or does not apply), or not."""

    PASS = "pass"
    FAIL = "fail"


class DestructionStatus(StrEnum):
    """States of a destruction request (销毁): signed by the five roles, then carried out."""

    PENDING = "pending"
    APPROVED = "approved"
    DESTROYED = "destroyed"


class ExportStatus(StrEnum):
    """States of a year-end export job (``ExportJob.status``)."""

    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class ArchivePackage(SQLModel, table=True):
    """One archived voucher (件) with its invoices; a row is never deleted."""

    __tablename__ = "archive_packages"
    __table_args__ = (UniqueConstraint("series", "item_no", "version", name="uq_archive_item_version"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    voucher_id: str = Field(index=True, max_length=64)
    # = voucher_id while the package is live, NULL once superseded/destroyed: one live per voucher.
    live_voucher_id: str | None = Field(default=None, unique=True, max_length=64)
    series: str = Field(index=True, max_length=64)  # 全宗号-类别号·年度, the 件号 sequence
    archival_code: str = Field(index=True, max_length=80)  # 档号
    fonds_code: str = Field(max_length=16)
    year: int = Field(index=True)
    period: int
    item_no: int
    version: int = 1
    retention: str = Field(max_length=8)  # D30, D10, Y
    retention_until: date | None = None  # last day of keeping; None for permanent
    title: str = Field(max_length=500)
    voucher_number: str = Field(max_length=64)
    amount: Decimal = Field(sa_column=Column(Numeric(18, 2), nullable=False))
    attachments: int = 0  # 附件数: invoices attached
    file_count: int = 0
    total_size: int = 0
    path: str = Field(max_length=500)  # relative to settings.archive_dir
    manifest_sha256: str = Field(max_length=64)
    manifest_sm3: str = Field(max_length=64)
    key_fingerprint: str = Field(max_length=64)
    status: str = Field(default=PackageStatus.LIVE, index=True, max_length=16)
    unsettled: bool = False  # 未结清事项: never destroyed while set
    superseded_by: str | None = Field(default=None, max_length=32)
    supersede_reason: str | None = None
    destroyed_at: datetime | None = Field(default=None, sa_type=AwareDateTime)
    destruction_id: str | None = Field(default=None, max_length=32)
    created_by: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=AwareDateTime)
    # Per-invoice metadata summary and file list, kept after destruction (metadata stays).
    meta: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class ArchivedInvoice(SQLModel, table=True):
    """Which invoice went into which package: an invoice is archived live at most once."""

    __tablename__ = "archive_package_invoices"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    package_id: str = Field(index=True, max_length=32)
    invoice_id: str = Field(index=True, max_length=64)
    invoice_key: str = Field(index=True, max_length=80)
    live_key: str | None = Field(default=None, unique=True, max_length=80)  # = invoice_key while live


class ArchivalCounter(SQLModel, table=True):
    """The last 件号 issued per series; taken under a lock so numbers are gap-free."""

    __tablename__ = "archive_counters"

    series: str = Field(primary_key=True, max_length=64)
    last_no: int = 0


class CheckRun(SQLModel, table=True):
    """One run of the four-property check (at filing, before export, on demand)."""

    __tablename__ = "archive_check_runs"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    scope: str = Field(max_length=16)  # package | year | export
    package_id: str | None = Field(default=None, index=True, max_length=32)
    year: int | None = Field(default=None, index=True)
    trigger: str = Field(max_length=16)  # filing | export | on_demand
    status: str = Field(max_length=8)  # pass | fail
    failed: int = 0
    not_run: int = 0
    items: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    run_by: str = Field(max_length=64)
    at: datetime = Field(default_factory=utcnow, sa_type=AwareDateTime)
    override_reason: str | None = None
    overridden_by: str | None = Field(default=None, max_length=64)


class ExportJob(SQLModel, table=True):
    """A year-end export (移交): the BagIt bag, its 移交清册 and its zip."""

    __tablename__ = "archive_exports"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    year: int = Field(index=True)
    status: str = Field(default="running", max_length=16)  # running | done | failed
    created_by: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=AwareDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=AwareDateTime)
    out_dir: str = Field(max_length=1000)
    bag_path: str | None = Field(default=None, max_length=1000)
    zip_path: str | None = Field(default=None, max_length=1000)
    override_reason: str | None = None
    check_run_id: str | None = Field(default=None, max_length=32)
    package_count: int = 0
    total_size: int = 0
    error: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    # Who runs the job, so that a job left "running" by a crashed process does not block the
    # year forever (see ``archive.export.start_export``): the host, the process id, an opaque
    # identity of that process (boot id and start time, telling a re-used pid apart), and a
    # heartbeat the worker renews while it runs.
    worker_host: str | None = Field(default=None, max_length=255)
    worker_pid: int | None = None
    worker_process: str | None = Field(default=None, max_length=80)
    heartbeat_at: datetime | None = Field(default=None, sa_type=AwareDateTime)


class DestructionRequest(SQLModel, table=True):
    """A request to destroy expired records: appraisal opinion, five sign-offs, 销毁清册."""

    __tablename__ = "archive_destructions"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    status: str = Field(default=DestructionStatus.PENDING, max_length=16)  # DestructionStatus
    appraisal_opinion: str  # 鉴定意见书
    package_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    signoffs: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_by: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=AwareDateTime)
    destroyed_at: datetime | None = Field(default=None, sa_type=AwareDateTime)
    list_path: str | None = Field(default=None, max_length=1000)  # 销毁清册 xlsx


def archive_root() -> Path:
    return get_settings().archive_dir


def package_dir(pkg: ArchivePackage) -> Path:
    """The package's folder; with the S3 store a local cache, rebuilt from the bucket if gone."""
    local = archive_root() / pkg.path
    if get_settings().store == "s3" and pkg.status != PackageStatus.DESTROYED and not local.exists():
        from archive import objects

        objects.materialise(pkg, local)
    return local


def get_package(session: Session, package_id: str) -> ArchivePackage | None:
    return session.get(ArchivePackage, package_id)


def live_package_for_voucher(session: Session, voucher_id: str) -> ArchivePackage | None:
    return session.exec(select(ArchivePackage).where(ArchivePackage.live_voucher_id == voucher_id)).first()


def iter_year_packages(session: Session, year: int, batch: int = 500,
                       statuses: tuple[str, ...] = (PackageStatus.LIVE,)) -> Any:
    """Yield a year's packages in 档号 order, ``batch`` rows at a time (flat memory)."""
    last: tuple[str, int, int] = ("", 0, 0)
    while True:
        rows = session.exec(
            select(ArchivePackage)
            .where(ArchivePackage.year == year, col(ArchivePackage.status).in_(statuses))
            .where((col(ArchivePackage.series) > last[0])
                   | ((col(ArchivePackage.series) == last[0]) & (col(ArchivePackage.item_no) > last[1]))
                   | ((col(ArchivePackage.series) == last[0]) & (col(ArchivePackage.item_no) == last[1])
                      & (col(ArchivePackage.version) > last[2])))
            .order_by(col(ArchivePackage.series), col(ArchivePackage.item_no), col(ArchivePackage.version))
            .limit(batch)
        ).all()
        if not rows:
            return
        for r in rows:
            yield r
        last = (rows[-1].series, rows[-1].item_no, rows[-1].version)
        for r in rows:
            session.expunge(r)
