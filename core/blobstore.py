"""The content-addressed, write-once store of original files.

Every original is kept byte-for-byte under its SHA-256 (``ab/cd/<sha256>``). A blob is
written to a temporary file in its final directory, fsynced, then *linked* into place
(``os.link`` fails rather than overwrite), and the directory is fsynced: a reader sees either
no blob or the whole blob, never a partial one, and an existing blob is never rewritten.

This store is the only code that writes original files. Callers store first and register
second (``invoice.registry``), so a database row never names a missing blob. The reverse — a
blob whose registering transaction failed or was killed — is harmless: the name is the
content, a later upload of the same bytes reuses it, and nothing refers to it.

``BlobBackend`` is the small interface both backends implement: this local store and
``S3BlobStore`` (an S3-compatible bucket, ``FAPIAO_STORE=s3``, see ``core/s3store.py``);
``path()`` exists only on the local store.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from core.errors import ErrorKind, ServiceError
from core.fsutil import fsync_path

if TYPE_CHECKING:
    from datetime import datetime

    from core.s3store import S3Bucket

_SHA_RE = re.compile(r"^[0-9a-f]{64}$")


class BlobError(ServiceError):
    """A blob is missing, corrupt, or its name is not a SHA-256."""


@dataclass(frozen=True)
class StoreEntry:
    """One thing found in a store: a blob (named by its hash) or a leftover of a killed write."""

    name: str
    modified: float  # POSIX seconds of the last write
    remove: Callable[[], bool]  # True when it is gone


@runtime_checkable
class BlobBackend(Protocol):
    """What the rest of the service needs from an original-file store."""

    @property
    def location(self) -> str: ...

    def put(self, data: bytes) -> str: ...

    def get(self, sha256: str, verify: bool = False) -> bytes: ...

    def exists(self, sha256: str) -> bool: ...

    def entries(self) -> Iterator[StoreEntry]: ...

    def abort_stale_uploads(self, older_than: datetime) -> list[str]: ...

    def probe(self) -> None: ...


def _check_name(sha256: str) -> str:
    if not isinstance(sha256, str) or not _SHA_RE.match(sha256):
        raise BlobError(ErrorKind.BAD_INPUT, "bad_sha256",
                        f"{sha256!r} is not a lowercase hexadecimal SHA-256 digest")
    return sha256


class BlobStore:
    """The local-disk backend: ``root/ab/cd/<sha256>``, files made read-only."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    @property
    def location(self) -> str:
        return str(self.root)

    def path(self, sha256: str) -> Path:
        _check_name(sha256)
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def put(self, data: bytes) -> str:
        """Store ``data`` (if not already stored) and return its SHA-256."""
        sha = hashlib.sha256(data).hexdigest()
        final = self.path(sha)
        if final.is_file() and final.stat().st_size == len(data):
            return sha  # write-once: the same name is the same content
        self._make_dirs(final.parent)
        fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", dir=final.parent)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o444)
            self._publish(tmp, final, len(data))
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        fsync_path(final.parent)
        return sha

    def _publish(self, tmp: Path, final: Path, size: int) -> None:
        """Put ``tmp`` at ``final`` without ever replacing an existing blob."""
        try:
            os.link(tmp, final)
        except FileExistsError:
            if final.stat().st_size != size:  # a leftover of a torn write by another tool
                raise BlobError(ErrorKind.CONFLICT, "blob_corrupt",
                                f"stored blob {final.name} has the wrong size; refusing to overwrite it") from None
        except OSError as exc:  # a file system without hard links
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
                raise
            if not final.exists():
                os.replace(tmp, final)

    def _make_dirs(self, directory: Path) -> None:
        if directory.is_dir():
            return
        created = []
        d = directory
        while not d.exists():
            created.append(d)
            d = d.parent
        directory.mkdir(parents=True, exist_ok=True)
        for c in reversed(created):  # make each new directory entry durable
            fsync_path(c.parent)

    def walk(self) -> Iterator[tuple[str, Path]]:
        """Every file under the store's shard folders: blobs by their hash, and leftovers of
        interrupted writes (``.tmp-…``) by their file name. Streams; holds no list."""
        if not self.root.is_dir():
            return
        for first in sorted(self.root.iterdir()):
            if not first.is_dir() or len(first.name) != 2:
                continue
            for second in sorted(first.iterdir()):
                if not second.is_dir():
                    continue
                for f in sorted(second.iterdir()):
                    if f.is_file():
                        yield f.name, f

    def entries(self) -> Iterator[StoreEntry]:
        """``walk()`` as ``StoreEntry`` values (what the store check and sweep read)."""
        for name, path in self.walk():
            try:
                mtime = path.stat().st_mtime
            except FileNotFoundError:
                continue

            def remove(p: Path = path) -> bool:
                try:
                    p.unlink()
                except FileNotFoundError:
                    return False  # removed by a concurrent sweep
                return True

            yield StoreEntry(name, mtime, remove)

    def abort_stale_uploads(self, older_than: datetime) -> list[str]:
        """Nothing to do on disk: a killed write leaves a ``.tmp-`` file, listed by ``entries``."""
        return []

    def probe(self) -> None:
        """Raise unless a file can be written under the root (readiness)."""
        self.root.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=".probe-", dir=self.root)
        os.close(fd)
        os.unlink(name)

    def get(self, sha256: str, verify: bool = False) -> bytes:
        """The stored bytes; with ``verify`` the digest is recomputed (fixity check)."""
        p = self.path(sha256)
        try:
            data = p.read_bytes()
        except FileNotFoundError:
            raise BlobError(ErrorKind.NOT_FOUND, "blob_missing",
                            f"original file {sha256} is missing from the store {self.root}") from None
        if verify and hashlib.sha256(data).hexdigest() != sha256:
            raise BlobError(ErrorKind.CONFLICT, "blob_corrupt",
                            f"original file {sha256} no longer matches its SHA-256 (changed on disk)")
        return data


class S3BlobStore:
    """Originals in an S3-compatible bucket under ``originals/ab/cd/<sha256>``.

    Write-once comes from the bucket (Object Lock COMPLIANCE and ``If-None-Match: *``, see
    ``core/s3store.py``); every read recomputes the SHA-256 whatever ``verify`` says, because
    the bytes crossed a network and a storage system this process does not control.
    """

    PREFIX = "originals/"

    def __init__(self, bucket: S3Bucket) -> None:
        self.bucket = bucket

    @property
    def location(self) -> str:
        return self.bucket.name + self.PREFIX

    def _rel(self, sha256: str) -> str:
        _check_name(sha256)
        return f"{self.PREFIX}{sha256[:2]}/{sha256[2:4]}/{sha256}"

    def exists(self, sha256: str) -> bool:
        return self.bucket.head(self._rel(sha256)) is not None

    def put(self, data: bytes) -> str:
        sha = hashlib.sha256(data).hexdigest()
        rel = self._rel(sha)
        if not self.bucket.put_once(rel, data):
            info = self.bucket.head(rel)  # there already: the same name must be the same content
            if info is None or info.size != len(data):
                raise BlobError(ErrorKind.CONFLICT, "blob_corrupt",
                                f"stored blob {sha} in {self.location} has the wrong size; refusing to overwrite it")
        return sha

    def get(self, sha256: str, verify: bool = False) -> bytes:
        data = self.bucket.get(self._rel(sha256))
        if data is None:
            raise BlobError(ErrorKind.NOT_FOUND, "blob_missing",
                            f"original file {sha256} is missing from the store {self.location}")
        if hashlib.sha256(data).hexdigest() != sha256:
            raise BlobError(ErrorKind.CONFLICT, "blob_corrupt",
                            f"original file {sha256} no longer matches its SHA-256 (changed in {self.location})")
        return data

    def entries(self) -> Iterator[StoreEntry]:
        for info in self.bucket.listing(self.PREFIX):
            yield StoreEntry(info.key.rsplit("/", 1)[-1], info.modified.timestamp(),
                             functools.partial(self.bucket.delete, info.key))

    def abort_stale_uploads(self, older_than: datetime) -> list[str]:
        return [k.rsplit("/", 1)[-1] for k in self.bucket.abort_stale_uploads(self.PREFIX, older_than)]

    def probe(self) -> None:
        self.bucket.probe()


_stores: dict[Path, BlobStore] = {}


def get_blobstore() -> BlobBackend:
    """The configured store: ``settings.files_dir`` on disk, or the S3 bucket (follows overrides)."""
    from core.settings import get_settings

    s = get_settings()
    if s.store == "s3":
        from core.s3store import bucket_from_settings

        return S3BlobStore(bucket_from_settings(s))
    root = s.files_dir
    store = _stores.get(root)
    if store is None:
        store = _stores[root] = BlobStore(root)
    return store
