"""Reading and checking the tamper-evident audit log (auditor, admin)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from api.deps import ReadSessionDep, Requires
from core import audit_query
from core.audit import AuditEntry, verify_and_anchor
from core.public import ActionLabel, AuditEntryPublic, ChainReportPublic, Items, Page
from core.users import User

router = APIRouter(tags=["audit"])


@router.get("/audit/verify", response_model=ChainReportPublic, summary="Recompute the hash chain and hold it against the signed anchors",
            description="`first_broken` names a changed, deleted or rewritten entry; `missing_after_seq` a "
                        "truncated tail (anchored entries gone); `anchor` the newest signed anchor "
                        "{seq, hash, at}; `anchor_problems` forged anchors. Anchors the head when the chain "
                        "holds and the newest anchor is older than a day.")
def verify(_: Annotated[User, Depends(Requires("audit.verify"))], s: ReadSessionDep) -> ChainReportPublic:
    return ChainReportPublic.model_validate(verify_and_anchor(s).to_dict())


@router.get("/audit", response_model=Page[AuditEntryPublic], summary="Audit log entries (newest first): filter by user, action, object, dates")
def entries(_: Annotated[User, Depends(Requires("audit.read"))], s: ReadSessionDep,
            user: Annotated[str | None, Query(max_length=64, description="who acted (username)")] = None,
            actor: Annotated[str | None, Query(max_length=64, description="same as user")] = None,
            action: Annotated[str | None, Query(max_length=64, description="e.g. voucher.post, or voucher. "
                                                "for every voucher action")] = None,
            object_type: Annotated[str | None, Query(max_length=32, description="e.g. voucher")] = None,
            object_id: Annotated[str | None, Query(max_length=64)] = None,
            date_from: Annotated[str | None, Query(max_length=40, description="China day YYYY-MM-DD")] = None,
            date_to: Annotated[str | None, Query(max_length=40, description="China day YYYY-MM-DD")] = None,
            sort: Annotated[str | None, Query(max_length=100, description="e.g. -at; columns: "
                                              + ", ".join(audit_query.AUDIT_SORTING.columns))] = None,
            page: Annotated[int, Query(ge=1)] = 1,
            page_size: Annotated[int, Query(ge=1, le=500)] = 50) -> Page[AuditEntryPublic]:
    rows, total = audit_query.list_entries(s, actor=user or actor, action=action, object_type=object_type,
                                           object_id=object_id, date_from=date_from, date_to=date_to,
                                           sort=sort, page=page, page_size=page_size)
    names = audit_query.display_names(s, {e.actor for e in rows})
    return Page[AuditEntryPublic](items=[audit_query.entry_public(e, names) for e in rows], total=total,
                                  page=page, page_size=page_size)


@router.get("/audit/actions", response_model=Items[ActionLabel],
            summary="Every audit action code with its Chinese label")
def action_labels(_: Annotated[User, Depends(Requires("audit.read"))]) -> Items[ActionLabel]:
    items = [ActionLabel.model_validate(a) for a in audit_query.actions()]
    return Items[ActionLabel](items=items, total=len(items))


def entry_dict(e: AuditEntry) -> dict[str, Any]:
    """One entry as the list returns it (kept for callers of the old name)."""
    return audit_query.entry_to_dict(e)
