"""Reading the audit log the way an auditor asks: who did what to which object, and when.

The log itself (``core.audit``) is an append-only hash chain; this module only reads it. Each
entry comes back with the Chinese name of its action (``messages.label("audit_action", …)``)
beside the stable code, the name of its object type, the actor's display name, and its
details as a JSON object (never a JSON string inside JSON). Dates are China calendar days.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from sqlmodel import Session, col, func, select

from core import messages
from core.audit import AuditEntry
from core.listing import Sorting, check_page, date_bounds, date_range
from core.public import AuditEntryPublic
from core.users import User

AUDIT_SORTING = Sorting(
    columns={"seq": col(AuditEntry.seq), "at": col(AuditEntry.at), "actor": col(AuditEntry.actor),
             "action": col(AuditEntry.action), "object_type": col(AuditEntry.object_type),
             "object_id": col(AuditEntry.object_id)},
    default="-seq", tiebreak=col(AuditEntry.seq))


def list_entries(session: Session, *, actor: str | None = None, action: str | None = None,
                 object_type: str | None = None, object_id: str | None = None,
                 date_from: date | str | None = None, date_to: date | str | None = None,
                 sort: str | None = None, page: int = 1, page_size: int = 50) -> tuple[list[AuditEntry], int]:
    """One page of entries (newest first unless ``sort`` says otherwise) and the total.

    ``action`` is an exact code (``voucher.post``) or a prefix ending in a dot (``voucher.``,
    every voucher action); ``date_from``/``date_to`` are China calendar days, inclusive."""
    check_page(page, page_size)
    conds: list[Any] = []
    if actor:
        conds.append(col(AuditEntry.actor) == actor)
    if action:
        conds.append(col(AuditEntry.action).startswith(action) if action.endswith(".")
                     else col(AuditEntry.action) == action)
    if object_type:
        conds.append(col(AuditEntry.object_type) == object_type)
    if object_id:
        conds.append(col(AuditEntry.object_id) == object_id)
    start, end = date_bounds(*date_range(date_from, date_to))
    if start:
        conds.append(col(AuditEntry.at) >= start)
    if end:
        conds.append(col(AuditEntry.at) < end)
    order = AUDIT_SORTING.order_by(sort)
    total = session.exec(select(func.count()).select_from(AuditEntry).where(*conds)).one()
    rows = session.exec(select(AuditEntry).where(*conds).order_by(*order)
                        .offset((page - 1) * page_size).limit(page_size)).all()
    return list(rows), int(total)


def _details(value: Any) -> Any:
    """The details as a JSON value; a string that holds JSON (older writers) is decoded."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def entry_public(entry: AuditEntry, names: dict[str, str] | None = None) -> AuditEntryPublic:
    """One entry with Chinese labels, China time and the actor's display name."""
    return AuditEntryPublic.from_entry(entry, names, _details(entry.details))


def entry_to_dict(entry: AuditEntry, names: dict[str, str] | None = None) -> dict[str, Any]:
    """The entry as plain data (the page and scripts)."""
    return entry_public(entry, names).to_json()


def display_names(session: Session, usernames: set[str]) -> dict[str, str]:
    """Username → the name shown for a person (display name where recorded)."""
    if not usernames:
        return {}
    users = session.exec(select(User).where(col(User.username).in_(usernames))).all()
    return {u.username: str(getattr(u, "display_name", None) or u.username) for u in users}


def actions() -> list[dict[str, str]]:
    """Every known action code with its Chinese label (for a filter's choices)."""
    return [{"action": code, "label": label}
            for code, label in messages.LABELS.get("audit_action", {}).items()]
