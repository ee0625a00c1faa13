"""The tamper-evident audit log: an append-only hash chain.

Each entry stores the SHA-256 of its own canonical content, which includes the previous
entry's hash, so changing, deleting or reordering any row breaks every hash after it.
Appends happen inside the caller's transaction (the entry exists if and only if the change
does) and are serialised by a lock so the chain never forks.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, Session, SQLModel, col, select

from core.db import AwareDateTime, advisory_lock, utcnow

GENESIS = "0" * 64


class AuditEntry(SQLModel, table=True):
    __tablename__ = "audit_log"

    seq: int = Field(primary_key=True)  # 1, 2, 3 ... assigned under the lock
    at: datetime = Field(sa_type=AwareDateTime)
    actor: str = Field(max_length=64)
    action: str = Field(max_length=64, index=True)
    object_type: str = Field(max_length=32)
    object_id: str = Field(max_length=64, index=True)
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64, unique=True)


def _digest(seq: int, at: datetime, actor: str, action: str, object_type: str, object_id: str,
            details: dict[str, Any], prev_hash: str) -> str:
    payload = json.dumps(
        [seq, at.isoformat(timespec="microseconds"), actor, action, object_type, object_id, details, prev_hash],
        ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def append(session: Session, actor: str, action: str, object_type: str, object_id: str,
           details: dict[str, Any] | None = None) -> AuditEntry:
    """Append one entry in the caller's transaction."""
    advisory_lock(session, "audit_log")
    last = session.exec(select(AuditEntry).order_by(col(AuditEntry.seq).desc()).limit(1)).first()
    seq = (last.seq + 1) if last else 1
    prev = last.hash if last else GENESIS
    at = utcnow()
    clean = json.loads(json.dumps(details or {}, ensure_ascii=False, default=str))
    entry = AuditEntry(seq=seq, at=at, actor=actor, action=action, object_type=object_type,
                       object_id=object_id, details=clean, prev_hash=prev,
                       hash=_digest(seq, at, actor, action, object_type, object_id, clean, prev))
    session.add(entry)
    session.flush()
    return entry


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    entries: int
    first_broken: dict[str, Any] | None

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "entries": self.entries, "first_broken": self.first_broken}


def verify_chain(session: Session, batch: int = 5000) -> ChainReport:
    """Recompute every hash in order; name the first entry that does not hold."""
    prev = GENESIS
    expected_seq = 1
    count = 0
    last_seq = 0
    while True:
        rows = session.exec(
            select(AuditEntry).where(AuditEntry.seq > last_seq).order_by(col(AuditEntry.seq)).limit(batch)
        ).all()
        if not rows:
            break
        for e in rows:
            count += 1
            reason = None
            if e.seq != expected_seq:
                reason = f"missing entry: expected seq {expected_seq}, found {e.seq}"
            elif e.prev_hash != prev:
                reason = "prev_hash does not match the previous entry's hash"
            elif e.hash != _digest(e.seq, e.at, e.actor, e.action, e.object_type, e.object_id, e.details, e.prev_hash):
                reason = "content does not match its hash (entry changed)"
            if reason:
                return ChainReport(False, count, {"seq": e.seq, "action": e.action, "object_id": e.object_id,
                                                  "at": e.at.isoformat(), "reason": reason})
            prev = e.hash
            expected_seq += 1
            last_seq = e.seq
    return ChainReport(True, count, None)
