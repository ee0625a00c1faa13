"""Fixity of the original-file store, and its reconciliation with the registry.

Originals are stored before they are registered (store first, register second), so a process
killed between the two leaves a blob that no record names. That is harmless — the content is
addressed by its hash and a later upload of the same bytes reuses it — but the store and the
database then disagree, and over years such leftovers add up. ``sweep_orphans`` removes them
once they are older than a grace period, so that an upload still in flight is never touched.
``check_store`` recomputes the SHA-256 of every registered original (fixity over time, the
安全性 property) and names each file that is missing or changed.

Both work on either backend (``core.blobstore.BlobBackend``): on disk a killed write leaves a
``.tmp-`` file; in an S3 bucket it leaves an incomplete multipart upload, invisible to readers,
which the sweep aborts once it is older than the grace period.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from core import audit
from core.blobstore import BlobBackend, BlobError, StoreEntry, get_blobstore
from core.clock import now
from invoice.registry import StoredFile

_HEX = frozenset("0123456789abcdef")


@dataclass
class StoreReport:
    checked: int = 0
    missing: list[str] = field(default_factory=list)
    corrupt: list[str] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every registered original is present and unchanged."""
        return not self.missing and not self.corrupt

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "checked": self.checked, "missing": self.missing,
                "corrupt": self.corrupt, "orphans": self.orphans, "removed": self.removed}


def _registered_batches(session: Session, batch: int) -> Iterator[list[StoredFile]]:
    last = ""
    while True:
        rows = session.exec(select(StoredFile).where(col(StoredFile.sha256) > last)
                            .order_by(col(StoredFile.sha256)).limit(batch)).all()
        if not rows:
            return
        yield list(rows)
        last = rows[-1].sha256


def _orphans(session: Session, store: BlobBackend, batch: int) -> Iterator[StoreEntry]:
    """Files in the store that no ``stored_files`` row names (leftover temp files included)."""
    pending: list[StoreEntry] = []

    def flush() -> Iterator[StoreEntry]:
        names = [e.name for e in pending if len(e.name) == 64 and set(e.name) <= _HEX]
        known = set(session.exec(select(StoredFile.sha256).where(col(StoredFile.sha256).in_(names))).all())
        for entry in pending:
            if entry.name not in known:
                yield entry
        pending.clear()

    for item in store.entries():
        pending.append(item)
        if len(pending) >= batch:
            yield from flush()
    yield from flush()


def check_store(session: Session, store: BlobBackend | None = None, batch: int = 500) -> StoreReport:
    """Recompute every registered original's SHA-256; list missing, changed and orphan files."""
    store = store or get_blobstore()
    report = StoreReport()
    for rows in _registered_batches(session, batch):
        for row in rows:
            report.checked += 1
            try:
                store.get(row.sha256, verify=True)
            except BlobError as exc:
                (report.missing if exc.code == "blob_missing" else report.corrupt).append(row.sha256)
    report.orphans = [e.name for e in _orphans(session, store, batch)]
    return report


def sweep_orphans(session: Session, username: str, older_than: timedelta,
                  store: BlobBackend | None = None, dry_run: bool = False, batch: int = 500) -> StoreReport:
    """Remove store files no record names, if last written more than ``older_than`` ago.

    Registered originals are never touched. The removal is audited in the caller's transaction.
    """
    store = store or get_blobstore()
    cutoff = (now() - older_than).timestamp()
    report = StoreReport()
    for entry in _orphans(session, store, batch):
        if entry.modified > cutoff:
            continue  # young: an upload may be registering it right now
        report.orphans.append(entry.name)
        if not dry_run and entry.remove():
            report.removed.append(entry.name)
    if not dry_run:  # killed uploads to a bucket: nothing visible, but they hold space
        for name in store.abort_stale_uploads(datetime.fromtimestamp(cutoff, UTC)):
            report.orphans.append(name)
            report.removed.append(name)
    if report.removed:
        audit.append(session, username, "store.sweep", "store", "files",
                     {"removed": len(report.removed), "older_than_hours": older_than.total_seconds() / 3600,
                      "files": report.removed[:100]})
    return report
