"""Backup and restore of a whole installation: database, originals, archive store, keys, anchors.

会计档案管理办法 Art 8 asks for "a backup system" before records may be kept electronically
only. ``backup`` writes one folder that ``restore`` turns back into a working installation on
an empty data folder (and an empty database), byte for byte.

**Consistent while the service runs**, without stopping it, because of the order of copying
and the write-once stores:

1. the audit anchors, settings and keys are copied first: an anchor only names chain entries
   committed before it was written, so every anchor in the backup names an entry in the
   database copied next;
2. the database is copied in one consistent snapshot (SQLite's online backup API;
   ``pg_dump``, which reads one transaction snapshot);
3. then the originals and the archive store: both are write-once and a file is always
   written *before* the row that names it commits, so every file the database snapshot names
   is already there. Files added meanwhile are copied too and are harmless (an unregistered
   original is an orphan ``store sweep`` knows; a package folder no row names is set aside).
   Keys are copied once more, so a key rotated meanwhile is not lost.

With ``FAPIAO_STORE=s3`` the originals and packages are read from the bucket (every object's
SHA-256 is checked against its key) and restored into the configured, empty bucket.

**The manifest** (``manifest.json``) lists every file of the backup with its size and SHA-256;
``restore`` recomputes them all before it writes anything and refuses a backup where any file
is missing, changed or added.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core import messages
from core.errors import ErrorKind, ServiceError
from core.settings import Settings, get_settings

FORMAT = "fapiao-backup/1"
MANIFEST = "manifest.json"
DB_SQLITE = "database/fapiao.sqlite3"
DB_PG = "database/fapiao.pgdump"
HOME = "home"  # the data folder's files (settings, keys, anchors, originals, archive store)
BUCKET = "bucket"  # objects of the S3 store, by key
# Never copied from the data folder: the live database (copied by its own API), scratch and
# caches that are rebuilt (the local ClamAV test database), leftovers of killed writes.
_SKIP_TOP = {"clamav", ".tmp"}
_SKIP_NAMES = {".tmp", ".orphans"}
_EARLY = ("settings.env", "audit-anchors.jsonl", "keys", "archive/keys")
_LATE = ("keys", "archive/keys")


class BackupError(ServiceError):
    """The backup cannot be written, or a restore is refused."""


def _error(kind: ErrorKind, code: str, **params: Any) -> BackupError:
    return BackupError(kind, code, messages.text(code, **params), {k: str(v) for k, v in params.items()})


@dataclass
class BackupReport:
    directory: str
    database: str
    files: int = 0
    bytes: int = 0
    objects: int = 0
    audit_entries: int = 0
    created_at: str = ""
    restored: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"directory": self.directory, "database": self.database, "files": self.files,
                "bytes": self.bytes, "objects": self.objects, "audit_entries": self.audit_entries,
                "created_at": self.created_at, "restored": self.restored, **self.extra}


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _is_pg(url: str) -> bool:
    return url.startswith(("postgresql", "postgres"))


def _pg_url(url: str) -> str:
    """The libpq form of a SQLAlchemy URL (``postgresql+psycopg://`` → ``postgresql://``)."""
    from sqlalchemy.engine import make_url

    u = make_url(url).set(drivername="postgresql")
    return u.render_as_string(hide_password=False)


# --- backup -------------------------------------------------------------------------------------


def _copy_file(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.exists():
        return  # write-once sources: the same name is the same content
    shutil.copy2(src, dst)  # keeps the mode: private keys stay 0600, stored files 0444


def _walk(root: Path, skip_top: set[str] | None = None) -> Iterator[Path]:
    """Every regular file under ``root`` (sorted), leaving out scratch folders."""
    if not root.is_dir():
        return
    for dirpath, dirnames, filenames in os.walk(root):
        rel = Path(dirpath).relative_to(root)
        dirnames[:] = sorted(d for d in dirnames
                             if d not in _SKIP_NAMES and not (rel == Path(".") and d in (skip_top or set())))
        for name in sorted(filenames):
            p = Path(dirpath) / name
            if p.is_file() and not p.is_symlink():
                yield p


def _copy_tree(src: Path, dst: Path, skip_top: set[str] | None = None, skip_files: set[Path] | None = None) -> None:
    for p in _walk(src, skip_top):
        if skip_files and p in skip_files:
            continue
        _copy_file(p, dst / p.relative_to(src))


def _dump_database(url: str, out: Path) -> str:
    if _is_pg(url):
        target = out / DB_PG
        target.parent.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["pg_dump", "--format=custom", "--no-owner", "--no-privileges",
                               "--file", str(target), "--dbname", _pg_url(url)],
                              capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise _error(ErrorKind.CONFLICT, "backup.database_failed", reason=done.stderr.strip()[-300:])
        return "postgresql"
    from sqlalchemy.engine import make_url

    source = make_url(url).database
    if not source or not Path(source).is_file():
        raise _error(ErrorKind.NOT_FOUND, "backup.no_database", path=source or url)
    target = out / DB_SQLITE
    target.parent.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        with dst:
            src.backup(dst)  # the online backup API: one consistent copy while writers go on
    finally:
        dst.close()
        src.close()
    return "sqlite"


def _sqlite_files(s: Settings) -> set[Path]:
    url = s.effective_database_url
    if _is_pg(url):
        return set()
    from sqlalchemy.engine import make_url

    db = Path(make_url(url).database or "")
    return {db, Path(f"{db}-wal"), Path(f"{db}-shm"), Path(f"{db}-journal")}


def _copy_bucket(out: Path) -> int:
    from core.s3store import bucket_from_settings

    bucket = bucket_from_settings()
    n = 0
    for prefix in ("originals/", "archive/"):
        for info in bucket.listing(prefix):
            rel = info.key[len(bucket.config.prefix):]
            dst = out / BUCKET / rel
            if dst.exists():
                continue
            data = bucket.get(rel)
            if data is None:
                continue  # removed by a sweep meanwhile
            name = rel.rsplit("/", 1)[-1]
            if len(name) == 64 and hashlib.sha256(data).hexdigest() != name:
                raise _error(ErrorKind.CONFLICT, "backup.object_corrupt", key=info.key)
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.write_bytes(data)
            n += 1
    return n


def _audit_count(s: Settings) -> int:
    from sqlalchemy import text

    from core.db import make_engine

    engine = make_engine(s.effective_database_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM audit_log")).scalar() or 0)
    except Exception:
        return 0
    finally:
        engine.dispose()


def backup(directory: Path | str) -> BackupReport:
    """Write a backup of the configured installation into the new or empty ``directory``."""
    s = get_settings()
    out = Path(directory).resolve()
    if out.exists() and any(out.iterdir()):
        raise _error(ErrorKind.BAD_INPUT, "backup.target_not_empty", path=out)
    home = s.home.resolve()
    if out == home or home in out.parents:
        raise _error(ErrorKind.BAD_INPUT, "backup.target_inside_home", path=out, home=home)
    if not home.is_dir():
        raise _error(ErrorKind.NOT_FOUND, "backup.no_home", home=home)
    out.mkdir(parents=True, exist_ok=True)
    os.chmod(out, 0o700)  # keys and the database: owner only, like the data folder
    created = datetime.now(UTC).isoformat()
    for rel in _EARLY:  # 1. anchors, settings, keys
        p = home / rel
        if p.is_file():
            _copy_file(p, out / HOME / rel)
        elif p.is_dir():
            _copy_tree(p, out / HOME / rel)
    kind = _dump_database(s.effective_database_url, out)  # 2. one snapshot of the database
    skip = _sqlite_files(s)  # 3. write-once stores, then keys again
    _copy_tree(home, out / HOME, skip_top=_SKIP_TOP | {"audit-anchors.jsonl"}, skip_files=skip)
    for rel in _LATE:
        _copy_tree(home / rel, out / HOME / rel)
    objects = _copy_bucket(out) if s.store == "s3" else 0
    report = BackupReport(str(out), kind, objects=objects, created_at=created,
                          audit_entries=_audit_count(s))
    files = {}
    for p in _walk(out):
        rel = p.relative_to(out).as_posix()
        if rel == MANIFEST:
            continue
        size = p.stat().st_size
        files[rel] = {"size": size, "sha256": _sha256_file(p)}
        report.files += 1
        report.bytes += size
    manifest = {"format": FORMAT, "created_at": created, "database": kind, "store": s.store,
                "migration": _head(), "audit_entries": report.audit_entries, "files": files}
    (out / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True),
                                encoding="utf-8")
    return report


def _head() -> str | None:
    from core.readiness import head_revision

    return head_revision()


# --- restore ------------------------------------------------------------------------------------


def read_manifest(directory: Path) -> dict[str, Any]:
    """The manifest, after every file of the backup was checked against it (else refused)."""
    path = directory / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise _error(ErrorKind.BAD_INPUT, "restore.no_manifest", path=path) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT or not isinstance(manifest.get("files"), dict):
        raise _error(ErrorKind.BAD_INPUT, "restore.no_manifest", path=path)
    listed: dict[str, Any] = manifest["files"]
    present = {p.relative_to(directory).as_posix() for p in _walk(directory)} - {MANIFEST}
    problems: list[str] = []
    for rel in sorted(set(listed) - present):
        problems.append(messages.text("restore.file_missing", file=rel))
    for rel in sorted(present - set(listed)):
        problems.append(messages.text("restore.file_extra", file=rel))
    for rel in sorted(set(listed) & present):
        p = directory / rel
        if p.stat().st_size != listed[rel]["size"] or _sha256_file(p) != listed[rel]["sha256"]:
            problems.append(messages.text("restore.file_changed", file=rel))
    if problems:
        raise BackupError(ErrorKind.REFUSED, "restore.manifest_mismatch",
                          messages.text("restore.manifest_mismatch", count=len(problems),
                                        first="；".join(problems[:5])),
                          {"problems": problems})
    return manifest


def _database_empty(url: str) -> bool:
    from sqlalchemy import inspect

    from core.db import make_engine

    engine = make_engine(url)
    try:
        return not inspect(engine).get_table_names()
    finally:
        engine.dispose()


def _bucket_empty() -> bool:
    from core.s3store import bucket_from_settings

    bucket = bucket_from_settings()
    bucket.ensure()
    return not any(True for _ in bucket.listing("originals/")) and not any(True for _ in bucket.listing("archive/"))


def restore(directory: Path | str) -> BackupReport:
    """Restore the backup in ``directory`` into the empty data folder and empty database."""
    s = get_settings()
    src = Path(directory).resolve()
    if not src.is_dir():
        raise _error(ErrorKind.NOT_FOUND, "restore.no_backup", path=src)
    manifest = read_manifest(src)
    home = s.home.resolve()
    if home.exists() and any(home.iterdir()):
        raise _error(ErrorKind.REFUSED, "restore.home_not_empty", home=home)
    url = s.effective_database_url
    kind = "postgresql" if _is_pg(url) else "sqlite"
    if manifest["database"] != kind:
        raise _error(ErrorKind.REFUSED, "restore.database_kind", backup=manifest["database"], target=kind)
    if kind == "postgresql" and not _database_empty(url):
        raise _error(ErrorKind.REFUSED, "restore.database_not_empty", database=_pg_url(url).rsplit("/", 1)[-1])
    has_objects = any(rel.startswith(BUCKET + "/") for rel in manifest["files"])
    if has_objects and s.store != "s3":
        raise _error(ErrorKind.REFUSED, "restore.needs_s3")
    if s.store == "s3" and not _bucket_empty():
        raise _error(ErrorKind.REFUSED, "restore.bucket_not_empty", bucket=s.s3_bucket)
    home.mkdir(parents=True, exist_ok=True)
    os.chmod(home, 0o700)
    report = BackupReport(str(src), kind, created_at=str(manifest.get("created_at", "")),
                          audit_entries=int(manifest.get("audit_entries", 0)), restored=True)
    for p in _walk(src / HOME):
        rel = p.relative_to(src / HOME)
        _copy_file(p, home / rel)
        report.files += 1
        report.bytes += p.stat().st_size
    _freeze_stores(home)
    if kind == "sqlite":
        target = s.sqlite_path if not s.database_url else Path(_sqlite_target(url))
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src / DB_SQLITE, target)
        os.chmod(target, 0o600)
    else:
        done = subprocess.run(["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error",
                               "--single-transaction", "--dbname", _pg_url(url), str(src / DB_PG)],
                              capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise _error(ErrorKind.CONFLICT, "restore.database_failed", reason=done.stderr.strip()[-300:])
    if has_objects:
        report.objects = _restore_bucket(src / BUCKET)
    from core import db

    engine = db.make_engine(url)
    try:
        db.migrate(engine)  # a backup of an older version comes up to this version's schema
    finally:
        engine.dispose()
    return report


def _sqlite_target(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).database or ""


def _freeze_stores(home: Path) -> None:
    """Originals and packages are read-only in the store (write-once), as when first written."""
    for sub in ("files", "archive/packages"):
        root = home / sub
        if not root.is_dir():
            continue
        for dirpath, _dirs, filenames in os.walk(root, topdown=False):
            for name in filenames:
                os.chmod(os.path.join(dirpath, name), 0o444)
            if sub == "archive/packages" and Path(dirpath) != root and Path(dirpath).parent != root:
                os.chmod(dirpath, 0o555)  # a package folder and its content; not the year folders


def _restore_bucket(root: Path) -> int:
    """Write every object back under its key, write-once (the bucket's lock applies anew)."""
    from core.s3store import bucket_from_settings

    bucket = bucket_from_settings()
    n = 0
    for p in _walk(root):
        rel = p.relative_to(root).as_posix()
        bucket.put_once(rel, p.read_bytes())
        n += 1
    return n
