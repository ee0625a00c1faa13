"""Archive packages in the S3 bucket: published write-once, checked from the bucket, cached.

Against the real S3-speaking server process (moto's standalone server) over HTTP; the
packages are built from the real samples through the real services.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from archive import check, objects, package
from archive.fsutil import remove_tree
from archive.store import ArchivePackage, package_dir
from core.db import session_scope
from core.s3store import bucket_from_settings
from core.settings import Settings
from tests.archive.conftest import DIGITAL_OFD, SIGNED, People, post_voucher_for
from tests.conftest import use_s3


def _build(people: People, files: list[Path]) -> ArchivePackage:
    vid = post_voucher_for(people, files)
    with session_scope() as s:
        pkg = package.build_package(s, people.archivist, vid)
        s.expunge(pkg)
        return pkg

@pytest.fixture
def s3_people(people: People, settings: Settings, s3_server_url: str) -> People:
    use_s3(settings, s3_server_url)
    return people

def _remove_cache(pkg: ArchivePackage) -> None:
    remove_tree(package_dir(pkg))

def test_package_is_published_locked_and_checked_from_the_bucket(s3_people: People, settings: Settings) -> None:
    pkg = _build(s3_people, [SIGNED, DIGITAL_OFD])
    index = objects.load_index(pkg.id)
    assert index is not None and index["path"] == pkg.path
    local = package_dir(pkg)
    on_disk = sorted(p.relative_to(local).as_posix() for p in local.rglob("*") if p.is_file())
    assert sorted(f["path"] for f in index["files"]) == on_disk
    raw = bucket_from_settings(settings).client
    first = index["files"][0]
    head = raw.head_object(Bucket=settings.s3_bucket, Key=objects.object_rel(first["sha256"]))
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert pkg.retention_until is not None
    assert head["ObjectLockRetainUntilDate"].date() > pkg.retention_until
    with session_scope() as s:
        assert check.check_package(s, pkg.id).status == "pass"
    # The cache goes (another machine, a lost disk): the check still passes, from the bucket,
    # and package_dir rebuilds the folder byte for byte.
    _remove_cache(pkg)
    with session_scope() as s:
        assert check.check_package(s, pkg.id).status == "pass"
    rebuilt = package_dir(pkg)
    for f in index["files"]:
        assert hashlib.sha256((rebuilt / f["path"]).read_bytes()).hexdigest() == f["sha256"]
    assert os.stat(rebuilt / first["path"]).st_mode & 0o222 == 0

def test_a_changed_object_in_the_bucket_fails_the_check(settings: Settings, people: People,
                                                        s3_server_url: str) -> None:
    use_s3(settings, s3_server_url, object_lock="off")  # without a lock the keys' holder can overwrite
    pkg = _build(people, [DIGITAL_OFD])
    index = objects.load_index(pkg.id)
    assert index is not None
    victim = next(f for f in index["files"] if f["path"].startswith("content/invoices/"))
    raw = bucket_from_settings(settings).client
    data = bytearray(raw.get_object(Bucket=settings.s3_bucket, Key=objects.object_rel(victim["sha256"]))["Body"].read())
    data[200] ^= 0xFF
    raw.put_object(Bucket=settings.s3_bucket, Key=objects.object_rel(victim["sha256"]), Body=bytes(data))
    with session_scope() as s:
        report = check.check_package(s, pkg.id)
    assert report.status == "fail"  # the local cache is intact; the bucket's copy is not
    _remove_cache(pkg)
    assert not package_dir(pkg).exists()  # a damaged copy is never cached

def test_locked_package_objects_refuse_deletion(s3_people: People, settings: Settings) -> None:
    pkg = _build(s3_people, [DIGITAL_OFD])
    raw = bucket_from_settings(settings).client
    key = objects.index_rel(pkg.id)
    version = raw.list_object_versions(Bucket=settings.s3_bucket, Prefix=key)["Versions"][0]["VersionId"]
    with pytest.raises(ClientError):
        raw.delete_object(Bucket=settings.s3_bucket, Key=key, VersionId=version)
    body = json.loads(raw.get_object(Bucket=settings.s3_bucket, Key=key)["Body"].read())
    assert body["archival_code"] == pkg.archival_code
    assert raw.head_object(Bucket=settings.s3_bucket, Key=key)["ObjectLockRetainUntilDate"] > datetime.now(UTC)

def test_check_fails_when_the_bucket_lost_the_package(s3_people: People, settings: Settings) -> None:
    pkg = _build(s3_people, [DIGITAL_OFD])
    raw = bucket_from_settings(settings).client
    raw.delete_object(Bucket=settings.s3_bucket, Key=objects.index_rel(pkg.id))  # marker, not the version
    with session_scope() as s:
        assert check.check_package(s, pkg.id).status == "fail"

