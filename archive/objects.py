"""Archive packages in the S3 bucket (``FAPIAO_STORE=s3``): the bucket holds the record copy.

A package is still assembled, checked and frozen in a folder (``archive/package.py``); when
the store is S3 it is then *published*: every file goes to the bucket under the SHA-256 of its
bytes (``archive/objects/ab/cd/<sha256>``, so the schema files that every package carries are
stored once), written once with Object Lock in COMPLIANCE mode until the package's own
保管期满日期 where the bucket has Object Lock, and a small index (``archive/packages/<id>.json``:
the package's folder name and each file's path, size and SHA-256) is written last. The index is
named by the package row's id, so a build killed before its transaction commits leaves only an
index no row names and content-addressed objects that harm nothing.

The folder under ``archive_dir`` is then a cache: on another machine, or after it was lost,
``package_dir`` rebuilds it from the bucket (each object's SHA-256 checked on the way), and the
four-property check of a stored package always reads a fresh copy from the bucket, so it
proves the record copy, not the cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archive.fsutil import freeze_tree, remove_tree
from core.settings import get_settings

if TYPE_CHECKING:
    from archive.store import ArchivePackage
    from core.s3store import S3Bucket


class PackageObjectError(Exception):
    """The bucket's copy of a package is missing or does not match its index."""


def enabled() -> bool:
    return get_settings().store == "s3"


def _bucket() -> S3Bucket:
    from core.s3store import bucket_from_settings

    return bucket_from_settings()


def object_rel(sha256: str) -> str:
    return f"archive/objects/{sha256[:2]}/{sha256[2:4]}/{sha256}"


def index_rel(package_id: str) -> str:
    return f"archive/packages/{package_id}.json"


def _retain_until(pkg: ArchivePackage) -> datetime | None:
    """The lock lasts as long as the record must be kept (None: the bucket's default years)."""
    until: date | None = pkg.retention_until
    if until is None:
        return None
    return datetime.combine(until + timedelta(days=1), time(0), tzinfo=UTC)


def publish(pkg: ArchivePackage, directory: Path) -> dict[str, Any]:
    """Write every file of ``directory`` and then the index; returns the index."""
    bucket = _bucket()
    until = _retain_until(pkg)
    files: list[dict[str, Any]] = []
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        data = path.read_bytes()
        sha = hashlib.sha256(data).hexdigest()
        if not bucket.put_once(object_rel(sha), data, until):
            info = bucket.head(object_rel(sha))
            if info is None or info.size != len(data):
                raise PackageObjectError(f"object {sha} in {bucket.name} has the wrong size")
        files.append({"path": path.relative_to(directory).as_posix(), "size": len(data), "sha256": sha})
    index = {"package_id": pkg.id, "path": pkg.path, "archival_code": pkg.archival_code,
             "manifest_sha256": pkg.manifest_sha256, "files": files}
    body = json.dumps(index, ensure_ascii=False, indent=1).encode("utf-8")
    if not bucket.put_once(index_rel(pkg.id), body, until):
        raise PackageObjectError(f"package index {pkg.id} already exists in {bucket.name}")
    return index


def load_index(package_id: str) -> dict[str, Any] | None:
    raw = _bucket().get(index_rel(package_id))
    return None if raw is None else dict(json.loads(raw))


def fetch_into(pkg: ArchivePackage, target: Path) -> None:
    """Write the bucket's copy of ``pkg`` into the new folder ``target``, every SHA-256 checked."""
    index = load_index(pkg.id)
    if index is None:
        raise PackageObjectError(f"package {pkg.archival_code} has no index in the bucket")
    bucket = _bucket()
    target.mkdir(parents=True)
    for f in index["files"]:
        rel = Path(f["path"])
        if rel.is_absolute() or ".." in rel.parts:
            raise PackageObjectError(f"package index {pkg.id} names an unsafe path {f['path']!r}")
        data = bucket.get(object_rel(f["sha256"]))
        if data is None:
            raise PackageObjectError(f"object {f['sha256']} ({f['path']}) is missing from {bucket.name}")
        if hashlib.sha256(data).hexdigest() != f["sha256"]:
            raise PackageObjectError(f"object {f['sha256']} ({f['path']}) no longer matches its SHA-256")
        dest = target / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)
    freeze_tree(target)




def materialise(pkg: ArchivePackage, local: Path) -> None:
    """Rebuild the cache folder ``local`` from the bucket when it is missing."""
    if local.exists():
        return
    tmp = local.parent.parent.parent / ".tmp" / f"fetch-{uuid.uuid4().hex}"
    tmp.parent.mkdir(parents=True, exist_ok=True)
    try:
        try:
            fetch_into(pkg, tmp)
        except PackageObjectError:
            return  # nothing to cache: the checks then name the missing package
        local.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(OSError):  # another process cached it first
            os.rename(tmp, local)
    finally:
        remove_tree(tmp)


@contextlib.contextmanager
def fresh_copy(pkg: ArchivePackage) -> Iterator[Path]:
    """A throwaway folder with the bucket's copy (empty when the bucket lacks it)."""
    base = Path(tempfile.mkdtemp(prefix="fapiao-pkg-"))
    target = base / Path(pkg.path).name
    try:
        try:
            fetch_into(pkg, target)
        except PackageObjectError:
            target.mkdir(exist_ok=True)
        yield target
    finally:
        remove_tree(base)
