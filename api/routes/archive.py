"""Archive packages, the four-property check, and the year-end export (``archive`` package)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field, StringConstraints
from sqlmodel import Session

from api.deps import ReadSessionDep, Requires, SessionDep
from api.permissions import require
from archive import check, export, package, signing
from archive.public import (
    CheckReportPublic,
    ExportPublic,
    ExportVerifyPublic,
    KeyInfoPublic,
    KeyRotatedPublic,
    PackagePublic,
)
from archive.store import PackageStatus
from core import jobs, worker
from core.public import JobPublic, Page
from core.users import User

router = APIRouter(tags=["archive"])

PackageId = Annotated[str, Path(max_length=64)]
ExportId = Annotated[str, Path(max_length=64)]
OverrideReason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class PackageIn(BaseModel):
    voucher_id: str = Field(max_length=64)


class ExportIn(BaseModel):
    year: int = Field(ge=1990, le=2200)
    # Export although the four-property check fails: needs "archive.override", and the reason
    # is kept on the job and the check run and written to the audit log.
    override_reason: OverrideReason | None = Field(
        default=None, description="why the year is exported although its four-property check fails "
                                  "(permission archive.override; audited)")


def export_dict(s: Session, job: Any) -> ExportPublic:
    """The job, plus the four-property report of its pre-export check once there is one (no
    server paths: they are not the caller's business)."""
    return ExportPublic.from_job(s, job)


FingerprintQuery = Annotated[str | None, Query(max_length=200, description=(
    "pin trust: the SM3 fingerprint of the archive key the bag must be signed by (directly or through "
    "the signed key history); any other key fails with trust.code key_mismatch"))]


@router.get("/archive/key", response_model=KeyInfoPublic, summary="The organisation archive key: certificate, SM3 fingerprint, key history",
            description="`fingerprint_sm3` is the SM3 hash of the key's DER SubjectPublicKeyInfo; give it to a "
                        "receiving archive to pin trust (`verify-export --expect-key`).")
def archive_key(_: Annotated[User, Depends(Requires("archive.read"))]) -> KeyInfoPublic:
    return KeyInfoPublic.model_validate(signing.key_info())


@router.post("/archive/key/rotate", response_model=KeyRotatedPublic, summary="Make a new archive key, joined to the signed key history",
             description="Packages and anchors signed by earlier keys keep verifying through the history.")
def rotate_key(user: Annotated[User, Depends(Requires("archive.key_rotate"))], s: SessionDep) -> KeyRotatedPublic:
    return KeyRotatedPublic.model_validate(signing.rotate(s, user))


@router.get("/archive/packages", response_model=Page[PackagePublic], summary="List archive packages (by year)")
def list_packages(_: Annotated[User, Depends(Requires("archive.read"))], s: ReadSessionDep,
                  year: Annotated[int | None, Query(ge=1990, le=2200)] = None,
                  status: Annotated[str | None, Query(max_length=16, description=" | ".join(PackageStatus))] = None,
                  retention: Annotated[str | None, Query(max_length=8, description="D30, D10, Y")] = None,
                  sort: Annotated[str | None, Query(max_length=200, description="e.g. -created_at; archival_code, "
                                                    "year, voucher_number, amount, created_at, retention_until, "
                                                    "status")] = None,
                  page: Annotated[int, Query(ge=1)] = 1,
                  page_size: Annotated[int, Query(ge=1, le=500)] = 50) -> Page[PackagePublic]:
    rows, total = package.list_packages(s, year=year, page=page, page_size=page_size, status=status,
                                        sort=sort, retention=retention)
    return Page[PackagePublic](items=[PackagePublic.from_package(s, p, with_check=False) for p in rows],
                               total=total, page=page, page_size=page_size)


@router.post("/archive/packages", status_code=201, response_model=PackagePublic,
             summary="Build the archive package of a posted voucher")
def create_package(body: PackageIn, user: Annotated[User, Depends(Requires("archive.package"))],
                   s: SessionDep) -> PackagePublic:
    pkg = package.build_package(s, user, body.voucher_id)
    return PackagePublic.from_package(s, pkg)


@router.get("/archive/packages/{package_id}", response_model=PackagePublic, summary="One archive package")
def get_package(_: Annotated[User, Depends(Requires("archive.read"))], s: ReadSessionDep,
                package_id: PackageId) -> PackagePublic:
    return PackagePublic.from_package(s, package.get_package(s, package_id))


@router.get("/archive/packages/{package_id}/check", response_model=CheckReportPublic,
            summary="Run the four-property check (四性检测)")
def check_package(user: Annotated[User, Depends(Requires("archive.check"))], s: SessionDep,
                  package_id: PackageId) -> CheckReportPublic:
    return CheckReportPublic.model_validate(check.check_package(s, package_id, user).to_dict())


@router.post("/archive/exports", status_code=202, response_model=ExportPublic,
             summary="Start the year-end export (移交) of a year")
def start_export(body: ExportIn, user: Annotated[User, Depends(Requires("archive.export"))],
                 s: SessionDep) -> ExportPublic:
    if body.override_reason is not None:
        require(user, "archive.override")
    job = export.start_export(s, user, body.year, override_reason=body.override_reason)
    queued = jobs.enqueue(s, "archive.export", {"export_id": job.id}, key=f"archive.export:{job.id}",
                          created_by=user.username, max_attempts=1)
    s.commit()  # a worker (this process's runner or `fapiao worker`) reads the job row
    worker.kick()
    return export_dict(s, job).model_copy(update={"job_id": queued.id})


@router.post("/archive/years/{year}/packages", status_code=202, response_model=JobPublic,
             summary="Package every posted voucher of a year, in parallel on the workers",
             description="Queues one job per posted voucher without a live package (件号 allocated in the "
                         "database, gap-free). Returns the parent job; follow it at `GET /jobs/{id}`.")
def build_year(user: Annotated[User, Depends(Requires("archive.package"))], s: SessionDep,
               year: Annotated[int, Path(ge=1990, le=2200)]) -> JobPublic:
    from archive.jobs import start_year_build

    job = start_year_build(s, user, year)
    s.commit()
    worker.kick()
    return JobPublic.from_job(job)


@router.get("/archive/exports/{export_id}", response_model=ExportPublic,
            summary="An export job: running, done or failed, and its check")
def get_export(_: Annotated[User, Depends(Requires("archive.read"))], s: ReadSessionDep,
               export_id: ExportId) -> ExportPublic:
    return export_dict(s, export.get_export(s, export_id))


@router.get("/archive/exports/{export_id}/verify", response_model=ExportVerifyPublic,
            response_model_exclude={"bag"},  # server paths are not the caller's business
            summary="Check a finished export as the receiving archive would (optionally pinning the key)")
def verify_export(_: Annotated[User, Depends(Requires("archive.check"))], s: ReadSessionDep,
                  export_id: ExportId, expect_key: FingerprintQuery = None) -> ExportVerifyPublic:
    return ExportVerifyPublic.model_validate(export.verify_job(s, export_id, expect_key))


@router.get("/archive/exports/{export_id}/download", summary="The exported bag as a zip",
            response_class=FileResponse,
            responses={200: {"content": {"application/zip": {}}}})
def download_export(_: Annotated[User, Depends(Requires("archive.export"))], s: ReadSessionDep,
                    export_id: ExportId) -> FileResponse:
    path = export.export_zip(s, export_id)
    return FileResponse(path, media_type="application/zip", filename=path.name)
