"""The content-addressed store: write-once, atomic, verified on request."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import pytest

from core.blobstore import BlobBackend, BlobError, BlobStore, S3BlobStore, get_blobstore
from core.errors import ErrorKind
from core.settings import Settings, override_settings


def test_put_get_roundtrip_sharded(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    data = b"%PDF-1.7 invoice bytes \x00\xff"
    sha = store.put(data)
    assert sha == hashlib.sha256(data).hexdigest()
    assert store.path(sha) == tmp_path / sha[:2] / sha[2:4] / sha
    assert store.exists(sha)
    assert store.get(sha) == data
    assert store.get(sha, verify=True) == data
    assert isinstance(store, BlobBackend)


def test_existing_blob_is_never_rewritten(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    sha = store.put(b"one")
    p = store.path(sha)
    before = p.stat()
    assert store.put(b"one") == sha
    after = p.stat()
    assert (before.st_ino, before.st_mtime_ns) == (after.st_ino, after.st_mtime_ns)
    assert p.stat().st_mode & 0o222 == 0


def test_no_temporary_files_left(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    for i in range(5):
        store.put(f"file {i}".encode())
    leftovers = [p for p in tmp_path.rglob(".tmp-*")]
    assert leftovers == []
    assert len([p for p in tmp_path.rglob("*") if p.is_file()]) == 5


def test_concurrent_puts_of_the_same_bytes(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    data = os.urandom(200_000)
    shas: list[str] = []
    threads = [threading.Thread(target=lambda: shas.append(store.put(data))) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(shas)) == 1
    assert store.get(shas[0], verify=True) == data
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == [shas[0]]


def test_missing_and_corrupt_blobs_are_reported(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    with pytest.raises(BlobError) as missing:
        store.get("a" * 64)
    assert missing.value.kind is ErrorKind.NOT_FOUND and missing.value.code == "blob_missing"
    sha = store.put(b"genuine")
    p = store.path(sha)
    p.chmod(0o644)
    p.write_bytes(b"altered")
    assert store.get(sha) == b"altered"  # plain read does not check
    with pytest.raises(BlobError) as corrupt:
        store.get(sha, verify=True)
    assert corrupt.value.code == "blob_corrupt"


@pytest.mark.parametrize("name", ["../../etc/passwd", "ABC", "g" * 64, "A" * 64, ""])
def test_names_must_be_sha256(tmp_path: Path, name: str) -> None:
    with pytest.raises(BlobError) as exc:
        BlobStore(tmp_path).path(name)
    assert exc.value.code == "bad_sha256"


def test_get_blobstore_follows_settings(settings: Settings) -> None:
    if settings.store == "s3":  # the pg-s3 pass: the bucket of the test's settings
        bucket_store = get_blobstore()
        assert isinstance(bucket_store, S3BlobStore) and bucket_store.bucket.config.bucket == settings.s3_bucket
        assert bucket_store.get(bucket_store.put(b"x")) == b"x"
        settings = settings.model_copy(update={"store": "disk"})
        override_settings(settings)
    store = get_blobstore()
    assert isinstance(store, BlobStore) and store.root == settings.files_dir
    sha = store.put(b"x")
    assert (settings.files_dir / sha[:2] / sha[2:4] / sha).read_bytes() == b"x"
