"""Queued work of the archive: one package, a year's packages in parallel, the export, reminders.

* ``archive.package`` packages one posted voucher. Idempotent: a voucher that already has a live
  package returns that package (a job run again after its worker died builds nothing twice);
  its 件号 comes from ``archive.numbering`` (reserved per voucher, so a rerun keeps its number).
* ``archive.build_year`` fans out: one ``archive.package`` job per posted voucher of the year
  without a live package, keyed ``archive.package:<voucher id>`` so that starting the year again
  adds only the vouchers not yet queued. Any number of workers then build them side by side;
  the parent's ``GET /jobs/{id}`` shows how many children are in each state.
* ``archive.export`` runs a recorded year-end export (``archive.export.run_export``); an export
  that is no longer ``running`` (done, failed) is left as it is.
* ``archive.retention_reminder`` counts the packages whose retention has ended (due for
  appraisal) and writes the count to the audit log once a day.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select

from core import audit, jobs
from core.db import session_scope
from core.users import User, get_user

SYSTEM_USER = "system"


def _user(s: Any, username: str) -> User:
    user = get_user(s, username)
    if user is None:
        raise jobs.JobError("job.no_user", f"user {username} not found", {"username": username})
    return user


def _package(ctx: jobs.JobContext, params: dict[str, Any]) -> dict[str, Any]:
    from archive.package import build_package
    from archive.store import live_package_for_voucher

    voucher_id = str(params["voucher_id"])
    with session_scope(ctx.engine) as s:
        existing = live_package_for_voucher(s, voucher_id)
        if existing is not None:
            ctx.advance(1, already=1)
            return {"package_id": existing.id, "archival_code": existing.archival_code, "already": True}
        pkg = build_package(s, _user(s, str(params["username"])), voucher_id)
        out = {"package_id": pkg.id, "archival_code": pkg.archival_code, "item_no": pkg.item_no,
               "already": False}
    ctx.advance(1, built=1)
    return out


def vouchers_to_package(s: Any, year: int) -> list[str]:
    """Posted vouchers of ``year`` with no live package, in number order."""
    from accounting.ledger import Voucher
    from archive.store import ArchivePackage, PackageStatus

    live = select(ArchivePackage.voucher_id).where(ArchivePackage.status == PackageStatus.LIVE)
    rows = s.exec(select(Voucher.id).where(Voucher.state == "posted",
                                           col(Voucher.period).startswith(f"{year:04d}-"),
                                           col(Voucher.id).not_in(live))
                  .order_by(col(Voucher.period), col(Voucher.seq))).all()
    return [str(r) for r in rows]


def start_year_build(s: Any, user: User, year: int) -> jobs.Job:
    """Queue the packaging of ``year`` (the API's and CLI's entry); returns the parent job."""
    from core.db import utcnow

    return jobs.enqueue(s, "archive.build_year", {"year": year, "username": user.username},
                        key=f"archive.build_year:{year}:{utcnow().isoformat()}", created_by=user.username,
                        max_attempts=3)


def _build_year(ctx: jobs.JobContext, params: dict[str, Any]) -> dict[str, Any]:
    year, username = int(params["year"]), str(params["username"])
    with session_scope(ctx.engine) as s:
        _user(s, username)
        ids = vouchers_to_package(s, year)
        children = [jobs.enqueue(s, "archive.package", {"voucher_id": v, "username": username},
                                 key=f"archive.package:{v}", created_by=username, parent_id=ctx.job_id).id
                    for v in ids]
    ctx.set_total(len(ids))
    ctx.counts = {"queued": len(children)}
    return {"year": year, "children": len(children)}


def _export(ctx: jobs.JobContext, params: dict[str, Any]) -> dict[str, Any]:
    from archive.export import get_export, run_export

    export_id = str(params["export_id"])
    with session_scope(ctx.engine) as s:
        status = get_export(s, export_id).status
    if status == "running":
        status = run_export(export_id, make_zip=bool(params.get("make_zip", True))).status
    ctx.advance(1)
    return {"export_id": export_id, "status": status}


def _retention_reminder(ctx: jobs.JobContext, params: dict[str, Any]) -> dict[str, Any]:
    from archive.retention import due_for_appraisal

    with session_scope(ctx.engine) as s:
        due = due_for_appraisal(s, limit=10000)
        if due:
            audit.append(s, SYSTEM_USER, "archive.retention_due", "archive", "packages",
                         {"due": len(due), "packages": [p.archival_code for p in due[:100]]})
    ctx.counts = {"due": len(due)}
    return {"due": len(due)}


HANDLERS: dict[str, jobs.Handler] = {
    "archive.package": _package,
    "archive.build_year": _build_year,
    "archive.export": _export,
    "archive.retention_reminder": _retention_reminder,
}
