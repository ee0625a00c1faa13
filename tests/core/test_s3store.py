"""Originals in an S3 bucket, against the real S3-speaking server process over HTTP.

The server is moto's standalone server (``scripts/s3.sh``): the same REST calls, Object Lock
in COMPLIANCE mode and ``If-None-Match`` conditional writes as AWS S3. Each test owns a fresh
bucket. A raw boto3 client plays the attacker or the crash the store must withstand.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from sqlalchemy.engine import Engine

from core.blobstore import BlobBackend, BlobError, S3BlobStore, get_blobstore
from core.db import session_scope
from core.s3store import S3StoreError, bucket_from_settings
from core.settings import Settings
from invoice.importer import ingest_files
from invoice.storecheck import check_store, sweep_orphans
from tests.conftest import ROOT, s3_env, use_s3
from tests.samples import DIGITAL_OFD, V4SIGNED


def _raw(settings: Settings) -> Any:
    return bucket_from_settings(settings).client


def _key(sha: str) -> str:
    return f"originals/{sha[:2]}/{sha[2:4]}/{sha}"


def test_put_get_under_content_addressed_key_with_compliance_lock(s3_settings: Settings) -> None:
    store = get_blobstore()
    assert isinstance(store, S3BlobStore) and isinstance(store, BlobBackend)
    data = V4SIGNED.read_bytes()
    sha = store.put(data)
    assert sha == hashlib.sha256(data).hexdigest()
    assert store.exists(sha) and store.get(sha) == data
    head = _raw(s3_settings).head_object(Bucket=s3_settings.s3_bucket, Key=_key(sha))
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert head["ObjectLockRetainUntilDate"] > datetime.now(UTC) + timedelta(days=365 * 29)


def test_locked_original_cannot_be_deleted_or_overwritten(s3_settings: Settings) -> None:
    store = get_blobstore()
    data = V4SIGNED.read_bytes()
    sha = store.put(data)
    assert store.put(data) == sha  # the same bytes again: no second version
    raw, bucket = _raw(s3_settings), s3_settings.s3_bucket
    versions = raw.list_object_versions(Bucket=bucket, Prefix=_key(sha))["Versions"]
    assert len(versions) == 1
    with pytest.raises(ClientError) as refused:
        raw.delete_object(Bucket=bucket, Key=_key(sha), VersionId=versions[0]["VersionId"])
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    with pytest.raises(ClientError) as cond:
        raw.put_object(Bucket=bucket, Key=_key(sha), Body=b"forged", IfNoneMatch="*")
    assert cond.value.response["Error"]["Code"] == "PreconditionFailed"
    assert store.get(sha) == data


def test_bucket_without_lock_relies_on_conditional_writes(settings: Settings, s3_server_url: str) -> None:
    use_s3(settings, s3_server_url, object_lock="off")
    store = get_blobstore()
    data = DIGITAL_OFD.read_bytes()
    sha = store.put(data)
    raw, bucket = _raw(settings), settings.s3_bucket
    assert "ObjectLockMode" not in raw.head_object(Bucket=bucket, Key=_key(sha))
    with pytest.raises(ClientError) as cond:
        raw.put_object(Bucket=bucket, Key=_key(sha), Body=data[:-1], IfNoneMatch="*")
    assert cond.value.response["Error"]["Code"] == "PreconditionFailed"
    assert store.get(sha) == data


def test_fixity_on_read_names_a_changed_object(settings: Settings, s3_server_url: str) -> None:
    use_s3(settings, s3_server_url, object_lock="off")
    store = get_blobstore()
    data = DIGITAL_OFD.read_bytes()
    sha = store.put(data)
    forged = bytearray(data)
    forged[100] ^= 0xFF
    # Someone with the bucket's keys overwrites it without a condition (no lock to stop them).
    _raw(settings).put_object(Bucket=settings.s3_bucket, Key=_key(sha), Body=bytes(forged))
    with pytest.raises(BlobError) as exc:
        store.get(sha)
    assert exc.value.code == "blob_corrupt"
    with pytest.raises(BlobError) as missing:
        store.get(hashlib.sha256(b"never stored").hexdigest())
    assert missing.value.code == "blob_missing"


def test_compliance_setting_refuses_a_bucket_without_lock(settings: Settings, s3_server_url: str) -> None:
    use_s3(settings, s3_server_url, object_lock="off")
    settings.s3_object_lock = "compliance"
    settings.s3_prefix = "strict"  # another configuration: asked of the bucket afresh
    with pytest.raises(S3StoreError) as exc:
        get_blobstore().put(b"x")
    assert exc.value.code == "s3_object_lock_missing"


def test_multipart_upload_roundtrip(s3_settings: Settings) -> None:
    s3_settings.s3_multipart_bytes = 5 * 1024 * 1024
    data = (V4SIGNED.read_bytes() * (11 * 1024 * 1024 // len(V4SIGNED.read_bytes()) + 1))[:11 * 1024 * 1024]
    store = get_blobstore()
    sha = store.put(data)
    assert store.get(sha) == data
    head = _raw(s3_settings).head_object(Bucket=s3_settings.s3_bucket, Key=_key(sha))
    assert head["ObjectLockMode"] == "COMPLIANCE" and head["ContentLength"] == len(data)


_KILLED_UPLOAD = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from core.settings import Settings, override_settings
    from core.blobstore import get_blobstore
    flag = Path(sys.argv[1])
    override_settings(Settings(home=sys.argv[2], s3_multipart_bytes=5 * 1024 * 1024))
    store = get_blobstore()
    client = store.bucket.client
    upload_part = client.upload_part
    def slow_upload_part(**kw):
        r = upload_part(**kw)
        flag.write_text("part %d" % kw["PartNumber"])
        time.sleep(60)  # killed here, between parts
        return r
    client.upload_part = slow_upload_part
    data = (Path(sys.argv[3]).read_bytes() * 4000)[:12 * 1024 * 1024]
    store.put(data)
""")


def test_killed_upload_leaves_nothing_visible_and_the_sweep_aborts_it(
        engine: Engine, s3_settings: Settings, tmp_path: Path) -> None:
    flag = tmp_path / "flag"
    env = {**os.environ, **s3_env(s3_settings.s3_endpoint or "", s3_settings.s3_bucket),
           "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_UPLOAD, str(flag), str(tmp_path / "h"),
                             str(V4SIGNED)], env=env, cwd=ROOT)
    deadline = time.monotonic() + 60
    while not flag.exists():
        assert proc.poll() is None, "the uploader ended before its first part"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    raw, bucket = _raw(s3_settings), s3_settings.s3_bucket
    data = (V4SIGNED.read_bytes() * 4000)[:12 * 1024 * 1024]
    sha = hashlib.sha256(data).hexdigest()
    assert not get_blobstore().exists(sha)
    assert raw.list_objects_v2(Bucket=bucket).get("KeyCount") == 0
    assert len(raw.list_multipart_uploads(Bucket=bucket).get("Uploads", [])) == 1
    with session_scope() as s:
        assert check_store(s).ok and check_store(s).orphans == []
    with session_scope() as s:
        report = sweep_orphans(s, "admin", timedelta(0))
    assert report.removed == [sha]
    assert raw.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    # The same bytes upload cleanly afterwards.
    assert get_blobstore().put(data) == sha


def test_store_check_and_sweep_on_s3(engine: Engine, s3_settings: Settings) -> None:
    result = ingest_files([(DIGITAL_OFD.name, DIGITAL_OFD.read_bytes())], "alice").to_dict()
    assert len(result["imported"]) == 1, result
    registered = hashlib.sha256(DIGITAL_OFD.read_bytes()).hexdigest()
    orphan = get_blobstore().put(b"left by an import killed before it registered")
    with session_scope() as s:
        report = check_store(s)
    assert report.ok and report.checked == 1 and report.orphans == [orphan]
    with session_scope() as s:  # young: kept
        assert sweep_orphans(s, "admin", timedelta(hours=1)).removed == []
    with session_scope() as s:  # an old orphan goes; the registered original stays
        report = sweep_orphans(s, "admin", timedelta(seconds=0))
    assert report.removed == [orphan]
    assert get_blobstore().exists(registered) and not get_blobstore().exists(orphan)
    with session_scope() as s:
        assert check_store(s).ok and check_store(s).orphans == []


def test_store_check_names_a_missing_original_on_s3(engine: Engine, settings: Settings,
                                                    s3_server_url: str) -> None:
    use_s3(settings, s3_server_url, object_lock="off")
    ingest_files([(DIGITAL_OFD.name, DIGITAL_OFD.read_bytes())], "alice")
    sha = hashlib.sha256(DIGITAL_OFD.read_bytes()).hexdigest()
    _raw(settings).delete_object(Bucket=settings.s3_bucket, Key=_key(sha))
    with session_scope() as s:
        report = check_store(s)
    assert not report.ok and report.missing == [sha]
