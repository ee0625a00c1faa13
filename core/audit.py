"""The tamper-evident audit log: an append-only hash chain, anchored outside the database.

Each entry stores the SHA-256 of its own canonical content, which includes the previous
entry's hash, so changing, deleting or reordering any row breaks every hash after it.
Appends happen inside the caller's transaction (the entry exists if and only if the change
does) and are serialised by a lock so the chain never forks.

A chain alone cannot expose someone with owner rights who drops the append-only triggers,
rewrites rows and recomputes every hash after them, or deletes the newest rows: the result is
a consistent chain. So the chain head (sequence number and hash) is **anchored**: signed with
the organisation key (:mod:`core.orgkey`, SM2) and appended to a file outside the database,
``FAPIAO_HOME/audit-anchors.jsonl`` (one JSON object a line, never rewritten), and copied into
every year's export. An anchor is written at every export; at the next audited write (after
its commit) whenever the newest anchor is older than a day; and at every ``audit verify`` that
finds the chain intact and at ``serve`` start, when the head moved on since the last anchor —
so no scheduler is needed. ``verify_chain`` checks the chain against every
anchor: a row that no longer has the anchored hash names a rewrite (between the last anchor
that holds and the first that does not), anchored rows that are gone name a truncated tail
(``missing_after_seq``), and an anchor whose signature fails names a forged anchor. Rows
written after the newest anchor are covered only by the chain itself until the next anchor.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, Column, event
from sqlalchemy import text as sql_text
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Field, Session, SQLModel, col, select

from core import clock, messages, orgkey
from core.db import AwareDateTime, advisory_lock, utcnow
from core.fsutil import fsync_path
from core.settings import get_settings

log = logging.getLogger(__name__)

GENESIS = "0" * 64
ANCHORS_NAME = "audit-anchors.jsonl"
ANCHOR_FORMAT = "fapiao-archive audit anchor 1"
ANCHOR_EVERY = timedelta(days=1)


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


_HEAD = "audit_head"  # session.info: (transaction, seq, hash) of the entry this transaction appended last


def _head_in_transaction(session: Session) -> tuple[int, str] | None:
    """The chain head this transaction wrote last, while it still holds the chain's lock.

    The lock (a transaction-scoped advisory lock on PostgreSQL, the write lock on SQLite) is
    held from the first append until commit or rollback, so no one else can have appended
    since: the head is the entry this transaction added last. A batch of N uploads in one
    transaction thus takes the lock and reads the head once, not N times (two round trips per
    entry saved). The cache is dropped whenever any transaction or savepoint of the session
    ends (``_forget_head``), so a rolled-back savepoint never leaves a stale head.
    """
    got = session.info.get(_HEAD)
    if got is None or got[0] is not session.get_transaction() or session.get_nested_transaction() is not None:
        return None
    return got[1], got[2]


@event.listens_for(Session, "after_transaction_end")
def _forget_head(session: Session, _transaction: Any) -> None:
    session.info.pop(_HEAD, None)


def append(session: Session, actor: str, action: str, object_type: str, object_id: str,
           details: dict[str, Any] | None = None) -> AuditEntry:
    """Append one entry in the caller's transaction."""
    head = _head_in_transaction(session)
    if head is None:
        advisory_lock(session, "audit_log")
        last = session.exec(select(AuditEntry).order_by(col(AuditEntry.seq).desc()).limit(1)).first()
        seq = (last.seq + 1) if last else 1
        prev = last.hash if last else GENESIS
    else:
        seq, prev = head[0] + 1, head[1]
    at = utcnow()
    clean = json.loads(json.dumps(details or {}, ensure_ascii=False, default=str))
    entry = AuditEntry(seq=seq, at=at, actor=actor, action=action, object_type=object_type,
                       object_id=object_id, details=clean, prev_hash=prev,
                       hash=_digest(seq, at, actor, action, object_type, object_id, clean, prev))
    session.add(entry)
    session.flush()
    if head is None:  # once per transaction: the anchor, if due, is written after the commit anyway
        _anchor_after_commit_if_due(session)
    if session.get_nested_transaction() is None:
        session.info[_HEAD] = (session.get_transaction(), seq, entry.hash)
    return entry


# --- anchors ------------------------------------------------------------------------------------


def anchors_path() -> Path:
    return get_settings().home / ANCHORS_NAME


@dataclass(frozen=True)
class Anchor:
    """One signed statement: "the chain had entry ``seq`` with hash ``hash`` at ``at``"."""

    seq: int
    hash: str
    at: str  # ISO 8601 with offset, as signed
    key: str  # fingerprint_sm3 of the signing key
    reason: str
    signature: bytes = b""
    line: int = 0

    def statement(self) -> bytes:
        return json.dumps({"format": ANCHOR_FORMAT, "seq": self.seq, "hash": self.hash, "at": self.at,
                           "key_fingerprint_sm3": self.key, "reason": self.reason},
                          sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")

    def to_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "hash": self.hash, "at": self.at, "key_fingerprint_sm3": self.key,
                "reason": self.reason}

    def to_line(self) -> bytes:
        d = {"format": ANCHOR_FORMAT, **self.to_dict(), "signature": base64.b64encode(self.signature).decode("ascii")}
        return (json.dumps(d, sort_keys=True, separators=(",", ":"), ensure_ascii=True) + "\n").encode("ascii")


def parse_anchors(data: bytes) -> tuple[list[Anchor], list[tuple[int, str]]]:
    """Anchors of a ``.jsonl`` file, and (line, why) for every line that is not one."""
    anchors: list[Anchor] = []
    bad: list[tuple[int, str]] = []
    for n, raw in enumerate(data.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            d = json.loads(raw)
            if not isinstance(d, dict) or d.get("format") != ANCHOR_FORMAT:
                raise ValueError("not an audit anchor")
            seq, h, at, key, reason = d["seq"], d["hash"], d["at"], d["key_fingerprint_sm3"], d["reason"]
            if not isinstance(seq, int) or not all(isinstance(v, str) for v in (h, at, key, reason)):
                raise ValueError("fields of the wrong type")
            datetime.fromisoformat(at)
            anchors.append(Anchor(seq, h, at, key, reason, base64.b64decode(d["signature"], validate=True), n))
        except (ValueError, KeyError, TypeError) as exc:
            bad.append((n, f"unreadable ({exc})"))
    return anchors, bad


def signature_problem(anchor: Anchor, trust: orgkey.Trust | None) -> str | None:
    """Why an anchor is not signed by a trusted organisation key (None: it is)."""
    if trust is None:
        return "no organisation key to check it with"
    for rec in trust.trusted:
        if rec.fingerprint_sm3 == anchor.key:
            if orgkey.verify(rec.public, anchor.statement(), anchor.signature):
                return None
            return f"the signature does not verify with key {anchor.key[:16]}…"
    return f"signed by key {anchor.key[:16]}…, which is not a trusted organisation key"


_newest: dict[str, tuple[tuple[int, int], Anchor | None]] = {}


def last_anchor(path: Path | None = None) -> Anchor | None:
    """The last anchor written to the file (cached on its size and mtime: cheap per write)."""
    path = path or anchors_path()
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    stamp = (st.st_size, st.st_mtime_ns)
    cached = _newest.get(str(path))
    if cached and cached[0] == stamp:
        return cached[1]
    with open(path, "rb") as f:
        f.seek(max(0, st.st_size - 4096))
        tail = f.read()
    anchors, _bad = parse_anchors(tail.split(b"\n", 1)[1] if st.st_size > 4096 else tail)
    last = anchors[-1] if anchors else None
    _newest[str(path)] = (stamp, last)
    return last


def newest_anchor_at(path: Path | None = None) -> datetime | None:
    """Time of the last anchor in the file."""
    last = last_anchor(path)
    return datetime.fromisoformat(last.at) if last else None


def anchor_due(now: datetime | None = None) -> bool:
    """True when the newest anchor is older than a day (or there is none) and a key exists."""
    if not orgkey.key_exists():
        return False
    newest = newest_anchor_at()
    return newest is None or (now or clock.now()) - newest >= ANCHOR_EVERY


def write_anchor(seq: int, hash_: str, reason: str) -> Anchor | None:
    """Sign (seq, hash) with the organisation key and append it to the anchors file.

    One ``write`` of one line on an ``O_APPEND`` descriptor, then fsync: concurrent writers
    never interleave, and an anchor reported written survives a power cut. None when the data
    folder has no organisation key yet (before ``fapiao init``).
    """
    if not orgkey.key_exists():
        return None
    key = orgkey.load_key()
    unsigned = Anchor(seq, hash_, clock.now().isoformat(timespec="microseconds"), key.fingerprint_sm3, reason)
    anchor = Anchor(unsigned.seq, unsigned.hash, unsigned.at, unsigned.key, reason,
                    orgkey.sign(key, unsigned.statement()))
    path = anchors_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    new = not path.exists()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, anchor.to_line())
        os.fsync(fd)
    finally:
        os.close(fd)
    if new:
        fsync_path(path.parent)
    return anchor


def _head(conn: Connection | Session) -> tuple[int, str] | None:
    row = conn.execute(sql_text("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")).first()
    return (int(row[0]), str(row[1])) if row else None


def anchor_head(bind: Engine | Session, reason: str) -> Anchor | None:
    """Anchor the newest committed entry (nothing when the log is empty)."""
    if isinstance(bind, Session):
        head = _head(bind)
    else:
        with bind.connect() as conn:
            head = _head(conn)
    return write_anchor(head[0], head[1], reason) if head else None


def anchor_if_due(bind: Engine | Session, reason: str) -> Anchor | None:
    return anchor_head(bind, reason) if anchor_due() else None


def anchor_if_advanced(bind: Engine | Session, reason: str) -> Anchor | None:
    """Anchor the head unless the last anchor already names it (``audit verify``, ``serve``).

    Cheap (one indexed read, one file stat) and bounded by the number of writes, so a check
    leaves the head it vouched for behind, not only a day-old one.
    """
    if not orgkey.key_exists():
        return None
    if isinstance(bind, Session):
        head = _head(bind)
    else:
        with bind.connect() as conn:
            head = _head(conn)
    if head is None:
        return None
    last = last_anchor()
    if last is not None and (last.seq, last.hash) == head:
        return None
    return write_anchor(head[0], head[1], reason)


def _anchor_after_commit_if_due(session: Session) -> None:
    """Arrange an anchor of the committed head once this transaction commits (when one is due)."""
    if not anchor_due():
        return
    session.info["audit_anchor_due"] = True
    if session.info.get("audit_anchor_hooked"):
        return
    session.info["audit_anchor_hooked"] = True

    def after_commit(sess: Session) -> None:
        if not sess.info.pop("audit_anchor_due", False):
            return
        try:
            bind = sess.get_bind()
            engine = bind if isinstance(bind, Engine) else bind.engine
            anchor_if_due(engine, "daily")
        except Exception:  # the change is committed; a missed anchor is retried at the next write
            log.warning("audit anchor not written", exc_info=True)

    def after_rollback(sess: Session) -> None:
        sess.info.pop("audit_anchor_due", None)

    event.listen(session, "after_commit", after_commit)
    event.listen(session, "after_rollback", after_rollback)


# --- verification ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    entries: int
    first_broken: dict[str, Any] | None
    anchor: dict[str, Any] | None = None  # the newest valid anchor checked against the chain
    anchors_checked: int = 0
    missing_after_seq: int | None = None  # the last entry left when anchored entries are gone
    anchor_mismatch: dict[str, Any] | None = None  # rewritten rows: the anchor that no longer holds
    anchor_problems: list[dict[str, Any]] = field(default_factory=list)  # forged or unreadable anchors
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "entries": self.entries, "first_broken": self.first_broken,
                "anchor": self.anchor, "anchors_checked": self.anchors_checked,
                "missing_after_seq": self.missing_after_seq, "anchor_mismatch": self.anchor_mismatch,
                "anchor_problems": self.anchor_problems, "message": self.message}


def _broken(e: AuditEntry, reason: str, code: str, message: str) -> dict[str, Any]:
    return {"seq": e.seq, "action": e.action, "object_id": e.object_id, "at": e.at.isoformat(),
            "reason": reason, "code": code, "message": message}


def verify_chain(session: Session, batch: int = 5000, anchors: bytes | None = None,
                 anchors_source: str | None = None) -> ChainReport:
    """Recompute every hash in order and hold the chain against every anchor.

    ``anchors``: the anchor lines to use (for instance a year export's
    ``audit-anchors.jsonl``); by default the data folder's file.
    """
    source = anchors_source or str(anchors_path())
    if anchors is None:
        try:
            anchors = anchors_path().read_bytes()
        except FileNotFoundError:
            anchors = b""
    parsed, unreadable = parse_anchors(anchors)
    problems: list[dict[str, Any]] = [{"line": n, "reason": why,
                 "message": messages.text("audit.anchor_forged", path=source, line=n, why=why)}
                for n, why in unreadable]
    trust = orgkey.current_trust() if orgkey.key_exists() else None
    valid: dict[int, list[Anchor]] = {}
    for a in parsed:
        why = signature_problem(a, trust)
        if why:
            problems.append({"line": a.line, "seq": a.seq, "reason": why,
                             "message": messages.text("audit.anchor_forged", path=source, line=a.line, why=why)})
        else:
            valid.setdefault(a.seq, []).append(a)

    prev = GENESIS
    expected_seq = 1
    count = 0
    last_seq = 0
    first_broken: dict[str, Any] | None = None
    mismatch: dict[str, Any] | None = None
    last_good_anchor = 0
    while True:
        rows = session.exec(
            select(AuditEntry).where(AuditEntry.seq > last_seq).order_by(col(AuditEntry.seq)).limit(batch)
        ).all()
        if not rows:
            break
        for e in rows:
            count += 1
            if first_broken is None:
                if e.seq != expected_seq:
                    first_broken = _broken(e, f"missing entry: expected seq {expected_seq}, found {e.seq}",
                                           "row_missing", messages.text("audit.row_missing", expected=expected_seq,
                                                                        seq=e.seq))
                elif e.prev_hash != prev:
                    first_broken = _broken(e, "prev_hash does not match the previous entry's hash", "row_unlinked",
                                           messages.text("audit.row_unlinked", seq=e.seq))
                elif e.hash != _digest(e.seq, e.at, e.actor, e.action, e.object_type, e.object_id, e.details,
                                       e.prev_hash):
                    first_broken = _broken(e, "content does not match its hash (entry changed)", "row_changed",
                                           messages.text("audit.row_changed", seq=e.seq, action=e.action))
            for a in valid.get(e.seq, ()):
                if a.hash == e.hash:
                    if mismatch is None:
                        last_good_anchor = e.seq
                elif mismatch is None:
                    mismatch = {"seq": e.seq, "anchor": a.to_dict(), "row_hash": e.hash, "after_seq": last_good_anchor,
                                "message": messages.text("audit.rewritten", seq=e.seq, at=a.at,
                                                         after=last_good_anchor)}
            prev = e.hash
            expected_seq = e.seq + 1
            last_seq = e.seq
    newest = max((a for lst in valid.values() for a in lst), key=lambda a: (a.seq, a.at), default=None)
    missing_after: int | None = None
    message = ""
    if newest is not None and newest.seq > last_seq:
        missing_after = last_seq
        message = messages.text("audit.truncated", last=last_seq, seq=newest.seq, at=newest.at)
    if mismatch is not None:
        message = mismatch["message"]
        if first_broken is None:
            first_broken = {"seq": mismatch["seq"], "action": None, "object_id": None, "at": None,
                            "reason": f"rewritten: entry {mismatch['seq']} does not have the hash anchored at "
                                      f"{mismatch['anchor']['at']}; entries after {mismatch['after_seq']} were "
                                      "rewritten and the chain recomputed",
                            "code": "rewritten", "message": mismatch["message"]}
    if first_broken is not None and first_broken.get("code") != "rewritten":
        message = first_broken["message"]
    if problems and not message:
        message = str(problems[0]["message"])
    ok = first_broken is None and mismatch is None and missing_after is None and not problems
    if ok:
        message = (messages.text("audit.ok", entries=count, anchors=sum(len(v) for v in valid.values()),
                                 seq=newest.seq, at=newest.at) if newest is not None
                   else messages.text("audit.ok_no_anchor", entries=count))
    return ChainReport(ok, count, first_broken, newest.to_dict() if newest else None,
                       sum(len(v) for v in valid.values()), missing_after, mismatch, problems, message)


def verify_and_anchor(session: Session, reason: str = "verify") -> ChainReport:
    """``audit verify``: check, then anchor the head when the chain holds and has moved on since
    the last anchor (so at least daily while anyone checks, and always right after a check).

    A broken chain is never anchored: an anchor vouches for what it signs.
    """
    report = verify_chain(session)
    if report.ok:
        a = anchor_if_advanced(session, reason)
        if a is not None and report.anchor is None:
            report = ChainReport(report.ok, report.entries, None, a.to_dict(), 1, None, None, [],
                                 messages.text("audit.ok", entries=report.entries, anchors=1, seq=a.seq, at=a.at))
    return report
