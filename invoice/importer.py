"""Bringing invoice files in: uploads (``ingest_files``) and folder imports (``import_paths``).

Each file goes through ordered steps: read → parse → verify → (block policy: early
duplicate look-up) → store the original (``core.blobstore``) → register (``invoice.registry``,
UNIQUE keys, audit entry in the same transaction). A step that says no turns into a typed
entry at the boundary, never an exception out of the batch:

    {"imported":   [{"file", "invoice_id"}],
     "duplicates": [{"file", "duplicate_of": {invoice_id, file, uploaded_by, uploaded_at,
                                              claim_id, voucher_id, posted, ...}}],
     "rejected":   [{"file", "error": {"code", "message"}}]}

Every file is parsed and verified in the sandbox (:mod:`invoice.sandbox`): a worker process
under CPU, wall-clock and memory limits; a file over a limit is rejected as ``too_complex``
naming the limit, and the caller stays responsive. What comes back is plain data (the parsed
``Invoice`` and the report), never the bytes.

Folder imports stream: files are walked with generators, handed to sandbox workers with a
bounded number in flight (workers read the file themselves, so only paths cross), and
registered in batches by the parent, one transaction per batch with a savepoint per file.
Killing an import loses at most the uncommitted batch. Running it again recognises every
file the same user already imported (same SHA-256, same uploader) and reports it under
``already_imported`` (exit status 0: nothing was refused); a file another user imported
before is still a duplicate. A blob stored just before the kill stays in the
content-addressed store with no row naming it: harmless, reused when the same bytes are
registered again, and removed by ``fapiao store sweep``.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from core import messages, metrics
from core.blobstore import get_blobstore
from core.clock import today_china
from core.db import session_scope
from core.errors import ErrorKind
from core.settings import get_settings
from invoice.analysis import (
    Analysis,
    _error,
    analyse_path_sandboxed,
    analyse_sandboxed,
)
from invoice.model import sha256_hex
from invoice.registry import InvoiceRecord, RecordStatus, invoice_summary, register, unique_key_for
from invoice.registry_errors import DuplicateInvoice, RegistryError

EntryKind = Literal["imported", "already_imported", "duplicates", "rejected"]


class ImportPathError(RegistryError):
    """A path given to ``import_paths`` does not exist or cannot be read."""


@dataclass
class ImportResult:
    """What happened to each file. With ``keep_entries=False`` only the counts are kept,
    so that an import of millions of files keeps its memory flat."""

    imported: list[dict[str, Any]] = field(default_factory=list)
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    # Files this user imported before (a rerun): neither new nor refused.
    already_imported: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: {"imported": 0, "duplicates": 0, "rejected": 0})
    keep_entries: bool = True
    on_entry: Callable[[str, dict[str, Any]], None] | None = None
    # Folder imports report reruns apart (``already_imported``); uploads keep API.md's three lists.
    reruns: bool = False

    def __post_init__(self) -> None:
        if self.reruns:
            self.counts.setdefault("already_imported", 0)

    def add(self, kind: EntryKind, entry: dict[str, Any]) -> None:
        metrics.count_import(kind)
        self.counts[kind] = self.counts.get(kind, 0) + 1
        if self.keep_entries:
            getattr(self, kind).append(entry)
        if self.on_entry is not None:
            self.on_entry(kind, entry)

    @property
    def refused(self) -> bool:
        """True when any file was not imported (a duplicate is a refusal too)."""
        return bool(self.counts["duplicates"] or self.counts["rejected"])

    @property
    def processed(self) -> int:
        return sum(self.counts.values())

    def to_dict(self) -> dict[str, Any]:
        d = {"imported": self.imported, "duplicates": self.duplicates, "rejected": self.rejected}
        if self.reruns:
            d["already_imported"] = self.already_imported
        return d

    def summary(self) -> str:
        """One Chinese line with the counts (the CLI's last line)."""
        c = self.counts
        return messages.text("import.summary", imported=c["imported"],
                             already_imported=c.get("already_imported", 0),
                             duplicates=c["duplicates"], rejected=c["rejected"])


# --- registering ---------------------------------------------------------------------------------

def _error_entry(file: str, exc: RegistryError) -> dict[str, Any]:
    return {"file": file, "error": {"code": exc.code, "message": exc.message}}


def _known(session: Session, analyses: Sequence[Analysis]) -> dict[str, InvoiceRecord]:
    """Records already holding any of these files or unique keys, by sha256 and unique key."""
    shas = [a.sha256 for a in analyses]
    ukeys = [k for a in analyses if a.invoice is not None
             and (k := unique_key_for(a.invoice, str((a.report or {}).get("status")), a.sha256))]
    if not shas:
        return {}
    rows = session.exec(select(InvoiceRecord).where(or_(col(InvoiceRecord.unique_sha256).in_(shas),
                                                        col(InvoiceRecord.unique_key).in_(ukeys)))).all()
    found: dict[str, InvoiceRecord] = {}
    for r in rows:
        if r.unique_key:
            found.setdefault("k:" + r.unique_key, r)
        if r.unique_sha256:
            found["s:" + r.unique_sha256] = r
    return found


def _earlier(found: dict[str, InvoiceRecord], a: Analysis) -> InvoiceRecord | None:
    if a.invoice is None:
        return None
    ukey = unique_key_for(a.invoice, str((a.report or {}).get("status")), a.sha256)
    return found.get("s:" + a.sha256) or (found.get("k:" + ukey) if ukey else None)


def _duplicate_entry(file: str, summary: dict[str, Any]) -> dict[str, Any]:
    return {"file": file, "duplicate_of": summary}


def _register_all(analyses: Sequence[Analysis], username: str, policy: str,
                  result: ImportResult, optimistic: bool = False) -> None:
    """Register stored files in ONE transaction; entries are reported after the commit.

    Every file given here was stored by this process just before (``store.put`` returned:
    the bucket or the disk store confirmed the bytes under their SHA-256), so ``register``
    is told not to ask the store again: on S3 that question is one HEAD request per file,
    made while the transaction holds the audit chain's lock.

    ``optimistic`` (the files were screened just before): no look-up or savepoint per file,
    and if any file collides after all (a concurrent upload) the whole batch is rolled back
    and registered again file by file with savepoints. A file that repeats the bytes or the
    invoice key of an earlier file *of this batch* (the screen cannot see those: neither is
    registered yet) takes the careful path at once, so that one re-sent invoice in a batch
    of 200 does not send the whole batch through a rollback and a second registration.
    """
    done: list[tuple[EntryKind, dict[str, Any]]] = []
    verified: list[str] = []  # verification outcomes, counted once the batch is committed
    seen: set[str] = set()  # "s:<sha256>" and "k:<unique key>" of the files before in this batch
    try:
        with session_scope() as session:
            for a in analyses:
                assert a.invoice is not None
                careful = not optimistic
                if optimistic:
                    ukey = unique_key_for(a.invoice, str((a.report or {}).get("status")), a.sha256)
                    mine = {"s:" + a.sha256, *(["k:" + ukey] if ukey else [])}
                    careful = bool(mine & seen)
                    seen |= mine
                try:
                    rec = register(session, a.invoice, a.report, a.sha256, a.file, username, a.size,
                                   policy=policy, optimistic=not careful,  # type: ignore[arg-type]
                                   check_blob=False)
                except DuplicateInvoice as exc:
                    done.append(("duplicates", _duplicate_entry(a.file, exc.details)))
                except RegistryError as exc:
                    done.append(("rejected", _error_entry(a.file, exc)))
                else:
                    if rec.status == RecordStatus.DUPLICATE:
                        earlier = session.get(InvoiceRecord, rec.duplicate_of)
                        assert earlier is not None
                        done.append(("duplicates", {**_duplicate_entry(a.file, invoice_summary(earlier, session)),
                                                    "invoice_id": rec.id}))
                    else:
                        done.append(("imported", {"file": a.file, "invoice_id": rec.id, "status": rec.status}))
                        verified.append(str((a.report or {}).get("status", "")))
    except IntegrityError:
        if not optimistic:
            raise
        _register_all(analyses, username, policy, result, optimistic=False)
        return
    for kind, entry in done:
        result.add(kind, entry)
    for status in verified:
        metrics.count_verification(status)


def _already_imported(analyses: Sequence[Analysis], username: str,
                      result: ImportResult) -> list[Analysis]:
    """Report the files this user registered before (same bytes, same uploader) as
    ``already_imported``; return the others. A rerun after a kill finds its own files here."""
    if not analyses:
        return []
    with session_scope() as session:
        shas = list({a.sha256 for a in analyses})
        rows = session.exec(select(InvoiceRecord).where(col(InvoiceRecord.sha256).in_(shas),
                                                        col(InvoiceRecord.uploaded_by) == username)
                            .order_by(col(InvoiceRecord.uploaded_at))).all()
        mine: dict[str, InvoiceRecord] = {}
        for r in rows:
            mine.setdefault(r.sha256, r)
        rest = []
        for a in analyses:
            rec = mine.get(a.sha256)
            if rec is None:
                rest.append(a)
                continue
            at = rec.uploaded_at.isoformat() if rec.uploaded_at else None
            result.add("already_imported", {
                "file": a.file, "invoice_id": rec.id, "status": rec.status, "uploaded_at": at,
                "message": messages.text("already_imported", file=a.file, uploaded_by=username,
                                         uploaded_at=at, invoice_id=rec.id)})
    return rest


def _screen(analyses: Sequence[Analysis], policy: str, result: ImportResult,
            username: str | None = None) -> list[Analysis]:
    """Turn unreadable files into rejected entries, (reruns) files this user imported before
    into ``already_imported``, and (block policy) known ones into duplicates, all before
    anything is stored; return those still to store and register."""
    todo = []
    for a in analyses:
        if a.error is not None or a.invoice is None:
            result.add("rejected", {"file": a.file, "error": a.error or _error(
                "unreadable", "import.unreadable", file=a.file, reason="?")})
        elif not a.invoice.key:  # refused before its bytes are stored
            result.add("rejected", {"file": a.file, "error": _error(
                "no_invoice_number", "import.no_invoice_number", file=a.file)})
        else:
            todo.append(a)
    if result.reruns and username is not None:
        todo = _already_imported(todo, username, result)
    if policy == "warn" or not todo:
        return todo
    with session_scope() as session:
        found = _known(session, todo)
        fresh = []
        for a in todo:
            earlier = _earlier(found, a)
            if earlier is None:
                fresh.append(a)
            else:
                result.add("duplicates", _duplicate_entry(a.file, invoice_summary(earlier, session)))
    return fresh


def ingest_files(items: Iterable[tuple[str, bytes]], username: str, *,
                 policy: Literal["block", "warn"] | None = None) -> ImportResult:
    """Upload one or many files (the API's ``POST /invoices``); one transaction per file."""
    settings = get_settings()
    policy = policy or settings.duplicate_policy
    store = get_blobstore()
    result = ImportResult()
    today = today_china()
    for name, data in items:
        a = analyse_sandboxed(data, name, settings.org_name, settings.org_tax_id, settings.max_upload_bytes,
                              today)
        for b in _screen([a], policy, result):
            store.put(data)
            _register_all([b], username, policy, result)
    return result


# --- folder imports ------------------------------------------------------------------------------

def iter_files(roots: Iterable[Path]) -> Iterator[Path]:
    """Every file under the roots, depth first, sorted per directory; streams (never a full list).

    Hidden entries (names starting with ".") inside folders are skipped; a file named on the
    command line is always taken.
    """
    for root in roots:
        if root.is_file():
            yield root
            continue
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                if not name.startswith("."):
                    p = Path(dirpath) / name
                    if p.is_file():
                        yield p


def count_files(roots: Iterable[Path]) -> int:
    return sum(1 for _ in iter_files(roots))


class Progress:
    """A one-line progress bar on stderr (only used on a terminal)."""

    def __init__(self, total: int | None, stream: Any = None) -> None:
        self.total = total
        self.stream = stream or sys.stderr
        self.start = time.monotonic()
        self.last = 0.0

    def update(self, result: ImportResult, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last < 0.2:
            return
        self.last = now
        done = result.processed
        rate = done / max(now - self.start, 1e-6)
        if self.total:
            filled = int(30 * done / self.total)
            bar = f"[{'#' * filled}{'.' * (30 - filled)}] {done}/{self.total}"
        else:
            bar = f"{done} files"
        c = result.counts
        self.stream.write(f"\r{bar}  {rate:6.1f} files/s  imported {c['imported']}"
                          f"  duplicates {c['duplicates']}  rejected {c['rejected']}")
        self.stream.flush()

    def close(self, result: ImportResult) -> None:
        self.update(result, force=True)
        self.stream.write("\n")
        self.stream.flush()


def _store_batch(batch: Sequence[Analysis], result: ImportResult, threads: ThreadPoolExecutor) -> list[Analysis]:
    """Store the originals (re-read from disk, checked against the parsed digest)."""
    store = get_blobstore()

    def put(a: Analysis) -> dict[str, str] | None:
        try:
            data = Path(a.file).read_bytes()
        except OSError as exc:
            return _error("unreadable", "import.unreadable", file=a.file, reason=exc.strerror or str(exc))
        if sha256_hex(data) != a.sha256:
            return _error("file_changed", "import.file_changed", file=a.file)
        store.put(data)
        return None

    stored = []
    for a, err in zip(batch, threads.map(put, batch), strict=True):
        if err is None:
            stored.append(a)
        else:
            result.add("rejected", {"file": a.file, "error": err})
    return stored


def import_paths(paths: Iterable[str | Path], username: str, workers: int | None = None,
                 progress: bool = False, *, batch_size: int = 200, keep_entries: bool = True,
                 on_entry: Callable[[str, dict[str, Any]], None] | None = None,
                 policy: Literal["block", "warn"] | None = None) -> ImportResult:
    """Import files and folders (recursively): the CLI's ``fapiao import``.

    ``workers`` files are parsed and verified at a time, each in a sandbox worker (default:
    the number of CPUs); this process stores and registers them in batches of ``batch_size``.
    Files this user imported before are reported as ``already_imported``.
    """
    from invoice.sandbox import get_pool

    roots = [Path(p) for p in paths]
    for r in roots:
        if not r.exists():
            raise ImportPathError(ErrorKind.BAD_INPUT, "no_such_path", f"{r}: no such file or folder")
    settings = get_settings()
    policy = policy or settings.duplicate_policy
    workers = max(1, workers or os.cpu_count() or 1)
    get_pool().reserve(workers)
    result = ImportResult(keep_entries=keep_entries, on_entry=on_entry, reruns=True)
    bar = Progress(count_files(roots)) if progress else None
    args = (settings.org_name, settings.org_tax_id, settings.max_upload_bytes, today_china())

    batch: list[Analysis] = []
    # Feeder threads only wait on sandbox workers; the fsyncs of storing overlap in their own.
    with ThreadPoolExecutor(max_workers=8) as threads, ThreadPoolExecutor(max_workers=workers) as feeders:
        def flush() -> None:
            todo = _screen(batch, policy, result, username)
            stored = _store_batch(todo, result, threads)
            if stored:
                _register_all(stored, username, policy, result, optimistic=policy == "block")
            batch.clear()
            if bar:
                bar.update(result)

        inflight: set[Future[Analysis]] = set()
        # Enough in flight that the workers read the next batch while this process stores and
        # registers the current one; still bounded, so memory stays flat.
        limit = workers * 8 + batch_size

        def collect(block: bool) -> None:
            nonlocal inflight
            done, inflight = wait(inflight, timeout=None if block else 0, return_when=FIRST_COMPLETED)
            batch.extend(f.result() for f in done)
            if len(batch) >= batch_size:
                flush()

        try:
            for p in iter_files(roots):
                if len(inflight) >= limit:
                    collect(block=True)
                inflight.add(feeders.submit(analyse_path_sandboxed, str(p), *args))
            while inflight:
                collect(block=True)
        except BaseException:
            for f in inflight:
                f.cancel()
            raise
        if batch:
            flush()
    if bar:
        with contextlib.suppress(Exception):
            bar.close(result)
    return result
