"""Reading and checking the tamper-evident audit log (auditor, admin)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from sqlmodel import col, func, select

from api.deps import ReadSessionDep, Requires
from core.audit import AuditEntry, verify_and_anchor
from core.users import User

router = APIRouter(tags=["audit"])


@router.get("/audit/verify", summary="Recompute the hash chain and hold it against the signed anchors",
            description="`first_broken` names a changed, deleted or rewritten entry; `missing_after_seq` a "
                        "truncated tail (anchored entries gone); `anchor` the newest signed anchor "
                        "{seq, hash, at}; `anchor_problems` forged anchors. Anchors the head when the chain "
                        "holds and the newest anchor is older than a day.")
def verify(_: Annotated[User, Depends(Requires("audit.verify"))], s: ReadSessionDep) -> dict[str, Any]:
    return verify_and_anchor(s).to_dict()


@router.get("/audit", summary="Audit log entries, newest first")
def entries(_: Annotated[User, Depends(Requires("audit.read"))], s: ReadSessionDep,
            object_type: Annotated[str | None, Query(max_length=32)] = None,
            object_id: Annotated[str | None, Query(max_length=64)] = None,
            action: Annotated[str | None, Query(max_length=64)] = None,
            page: Annotated[int, Query(ge=1)] = 1,
            page_size: Annotated[int, Query(ge=1, le=500)] = 50) -> dict[str, Any]:
    q = select(AuditEntry)
    if object_type:
        q = q.where(AuditEntry.object_type == object_type)
    if object_id:
        q = q.where(AuditEntry.object_id == object_id)
    if action:
        q = q.where(AuditEntry.action == action)
    total = s.exec(select(func.count()).select_from(q.subquery())).one()
    rows = s.exec(q.order_by(col(AuditEntry.seq).desc()).offset((page - 1) * page_size).limit(page_size)).all()
    return {"items": [entry_dict(e) for e in rows], "total": total, "page": page, "page_size": page_size}


def entry_dict(e: AuditEntry) -> dict[str, Any]:
    return {"seq": e.seq, "at": e.at.isoformat(), "actor": e.actor, "action": e.action,
            "object_type": e.object_type, "object_id": e.object_id, "details": e.details,
            "hash": e.hash}
