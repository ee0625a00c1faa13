"""Read models of the archive package: packages, four-property reports, exports, the archive key.

They are what the API answers and the CLI prints; the archived records themselves are
``archive.records`` under the project's own versioned schema, never these models (a renamed
API field must not change a record kept for 30 years).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import Field
from sqlmodel import Session

from archive.checks.base import Property, Result
from archive.store import (
    ArchivePackage,
    CheckRun,
    CheckRunStatus,
    ExportJob,
    ExportStatus,
    PackageStatus,
)
from core import messages
from core.public import Money, PublicModel, Timestamp


class CheckItemPublic(PublicModel):
    """One of the 19 items of the 四性检测, with its evidence and Chinese labels."""

    id: str
    property: Property
    name: str
    result: Result
    evidence: Any = None
    property_label: str | None = None
    result_label: str | None = None


class CheckRunPublic(PublicModel):
    """The latest stored run of the four-property check (of a package, or before an export)."""

    status: CheckRunStatus
    run_id: str
    at: Timestamp
    trigger: str | None = Field(default=None, description="filing | export | on_demand (packages)")
    items: list[CheckItemPublic] = Field(default_factory=list)
    key_fingerprint_sm3: str | None = None
    summary_text: str | None = None

    @classmethod
    def from_run(cls, run: CheckRun, *, fingerprint_sm3: str | None = None, with_summary: bool = False,
                 with_trigger: bool = False) -> CheckRunPublic:
        from archive.check import summary_text

        counts: dict[str, int] = {}
        for i in run.items:
            counts[i.get("result", "")] = counts.get(i.get("result", ""), 0) + 1
        return cls(status=CheckRunStatus(run.status), run_id=run.id, at=run.at, trigger=run.trigger if with_trigger else None,
                   items=[CheckItemPublic.model_validate(i) for i in run.items], key_fingerprint_sm3=fingerprint_sm3,
                   summary_text=summary_text(run.status, counts, fingerprint_sm3) if with_summary else None)


class CheckReportPublic(PublicModel):
    """``GET /archive/packages/{id}/check`` and ``fapiao archive check``: a fresh run's report."""

    status: CheckRunStatus
    subject: str
    summary: dict[Result, int] = Field(description="items per result")
    items: list[CheckItemPublic]
    status_label: str
    summary_text: str
    key_fingerprint_sm3: str | None = None
    run_id: str | None = None


class RetentionPublic(PublicModel):
    """保管期限: the code (D30, D10, Y), its years and the last day of keeping."""

    code: str
    years: int | None = None
    until: date | None = None


class PackagePublic(PublicModel):
    """An archive package (件) with its 档号, retention, files and latest check."""

    id: str
    voucher_id: str
    voucher_number: str
    archival_code: str
    version: int
    title: str
    year: int
    period: int = Field(description="the month (1-12)")
    item_no: int
    amount: Money
    attachments: int
    retention: RetentionPublic
    status: PackageStatus
    unsettled: bool
    superseded_by: str | None = None
    supersede_reason: str | None = None
    destroyed_at: Timestamp | None = None
    file_count: int
    total_size: int
    manifest_sha256: str | None = None
    manifest_sm3: str | None = None
    key_fingerprint: str | None = None
    key_fingerprint_sm3: str | None = None
    created_by: str
    created_at: Timestamp
    files: list[dict[str, Any]] = Field(default_factory=list, description="path, sha256, sm3, size, role")
    check: CheckRunPublic | None = Field(default=None, description="the latest check run (one package; "
                                                                   "null in lists)")

    @classmethod
    def from_package(cls, session: Session, pkg: ArchivePackage, with_check: bool = True) -> PackagePublic:
        from archive import manifest as mf
        from archive import signing
        from archive.check import latest_run
        from archive.retention import VOUCHER_RULE

        fp_sm3 = signing.sm3_by_sha256(pkg.key_fingerprint) if pkg.key_fingerprint else None
        run = latest_run(session, package_id=pkg.id) if with_check else None
        return cls(
            id=pkg.id, voucher_id=pkg.voucher_id, voucher_number=pkg.voucher_number,
            archival_code=pkg.archival_code, version=pkg.version, title=pkg.title, year=pkg.year,
            period=pkg.period, item_no=pkg.item_no, amount=pkg.amount, attachments=pkg.attachments,
            retention=RetentionPublic(code=pkg.retention,
                                      years=VOUCHER_RULE.years if pkg.retention == "D30" else None,
                                      until=pkg.retention_until),
            status=PackageStatus(pkg.status), unsettled=pkg.unsettled, superseded_by=pkg.superseded_by,
            supersede_reason=pkg.supersede_reason, destroyed_at=pkg.destroyed_at, file_count=pkg.file_count,
            total_size=pkg.total_size, manifest_sha256=pkg.manifest_sha256, manifest_sm3=pkg.manifest_sm3,
            key_fingerprint=pkg.key_fingerprint, key_fingerprint_sm3=fp_sm3, created_by=pkg.created_by,
            created_at=pkg.created_at,
            files=[*pkg.meta.get("files", []), {"path": mf.MANIFEST_NAME, "sha256": pkg.manifest_sha256},
                   {"path": mf.SIGNATURE_NAME}],
            check=(CheckRunPublic.from_run(run, fingerprint_sm3=fp_sm3, with_summary=True, with_trigger=True)
                   if run is not None else None))


class ExportPublic(PublicModel):
    """A year-end export job (移交): running, done or failed, and its pre-export check.

    Server paths (``bag_path``, ``zip_path``) are not part of it: the API's caller downloads the
    zip; the CLI, which runs beside the files, prints them from the job itself.
    """

    id: str
    year: int
    status: ExportStatus
    status_label: str
    created_by: str
    created_at: Timestamp
    finished_at: Timestamp | None = None
    package_count: int = 0
    total_size: int = 0
    check_run_id: str | None = None
    override_reason: str | None = None
    error: dict[str, Any] | None = None
    heartbeat_at: Timestamp | None = None
    check: CheckRunPublic | None = None
    job_id: str | None = Field(default=None, description="the queued job that runs it (GET /jobs/{id}); "
                                                         "sent by POST /archive/exports only")

    @classmethod
    def from_job(cls, session: Session | None, job: ExportJob) -> ExportPublic:
        run = session.get(CheckRun, job.check_run_id) if session is not None and job.check_run_id else None
        return cls(id=job.id, year=job.year, status=ExportStatus(job.status),
                   status_label=messages.label("export_status", job.status), created_by=job.created_by,
                   created_at=job.created_at, finished_at=job.finished_at, package_count=job.package_count,
                   total_size=job.total_size, check_run_id=job.check_run_id, override_reason=job.override_reason,
                   error=job.error, heartbeat_at=job.heartbeat_at,
                   check=CheckRunPublic.from_run(run) if run is not None else None)


class ExportLocal(ExportPublic):
    """The job as the CLI, which runs beside the files, prints it: with the bag's folder and zip."""

    bag_path: str | None = None
    zip_path: str | None = None

    @classmethod
    def from_job(cls, session: Session | None, job: ExportJob) -> ExportLocal:
        return cls(**dict(ExportPublic.from_job(session, job)), bag_path=job.bag_path, zip_path=job.zip_path)


class KeyRecordPublic(PublicModel):
    """One key of the archive key history."""

    seq: int
    fingerprint_sm3: str
    fingerprint_sha256: str
    created_at: Timestamp | str
    previous: str | None = None
    current: bool
    trusted: bool
    certificate: str


class KeyInfoPublic(PublicModel):
    """``GET /archive/key``: the current archive key, its certificate and its signed history."""

    fingerprint_sm3: str
    fingerprint_rule: str
    fingerprint_sha256: str
    certificate: str = Field(description="PEM")
    algorithm: str
    history: list[KeyRecordPublic] = Field(default_factory=list)
    history_problems: list[Any] = Field(default_factory=list)


class KeyRotatedPublic(KeyInfoPublic):
    """``POST /archive/key/rotate``: the new key, and the one it replaced."""

    message: str
    previous_fingerprint_sm3: str


class ExportVerifyPublic(PublicModel):
    """``GET /archive/exports/{id}/verify`` and ``fapiao archive verify-export``: the bag checked
    as the receiving archive would, with whose key signed it (``trust``)."""

    status: CheckRunStatus
    bag: str | None = Field(default=None, description="the bag's folder (CLI only; the API leaves it out)")
    packages: int
    summary: dict[Result, int]
    items: list[CheckItemPublic]
    status_label: str
    summary_text: str
    key_fingerprint_sm3: str | None = None
    trust: dict[str, Any] = Field(default_factory=dict, description="pinned, expected, fingerprint_sm3, ...")


__all__ = ["CheckItemPublic", "CheckReportPublic", "CheckRunPublic", "ExportLocal", "ExportPublic", "ExportVerifyPublic",
           "KeyInfoPublic", "KeyRecordPublic", "KeyRotatedPublic", "PackagePublic", "RetentionPublic"]
