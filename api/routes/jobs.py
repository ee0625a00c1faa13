"""Queued jobs: where a long piece of work stands (``core.jobs``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

from api.deps import ReadSessionDep, Requires
from api.permissions import allowed
from core import jobs
from core.errors import ErrorKind, ServiceError
from core.public import Items, JobDetail, JobPublic
from core.users import User

router = APIRouter(tags=["jobs"])

JobId = Annotated[str, Path(max_length=64)]


def _visible(user: User, job: jobs.Job) -> bool:
    """Everyone sees the jobs they started; archivists, auditors and admins see all."""
    return job.created_by == user.username or allowed(user, "job.read_all")


def job_view(s: Any, job: jobs.Job) -> JobDetail:
    """One job with its children's counts (the API and ``fapiao job show``)."""
    return JobDetail.for_job(s, job)


@router.get("/jobs/{job_id}", response_model=JobDetail, summary="One job: state, attempts, progress, counts, result or error",
            description="`state` is queued, running, done or failed; `progress` is {done, total, percent}; "
                        "a fan-out job (archive.build_year) also counts its children by state.")
def get_job(user: Annotated[User, Depends(Requires("job.read"))], s: ReadSessionDep,
            job_id: JobId) -> JobDetail:
    job = jobs.get_job(s, job_id)
    if job is None or not _visible(user, job):
        raise ServiceError(ErrorKind.NOT_FOUND, "job_not_found", f"job {job_id} not found", {"id": job_id})
    return job_view(s, job)


@router.get("/jobs", response_model=Items[JobPublic], summary="Recent jobs (yours; all for archivists, auditors and admins)")
def list_jobs(user: Annotated[User, Depends(Requires("job.read"))], s: ReadSessionDep,
              state: Annotated[str | None, Query(max_length=16, description="queued, running, done, failed")] = None,
              kind: Annotated[str | None, Query(max_length=64)] = None,
              limit: Annotated[int, Query(ge=1, le=500)] = 100) -> Items[JobPublic]:
    rows = [j for j in jobs.list_jobs(s, state=state, kind=kind, limit=limit) if _visible(user, j)]
    return Items[JobPublic](items=[JobPublic.from_job(j) for j in rows], total=len(rows))
