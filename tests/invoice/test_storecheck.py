"""Fixity of the original-file store and the orphan sweep, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from api.cli import main
from core.audit import AuditEntry
from core.blobstore import BlobStore, S3BlobStore, get_blobstore
from core.clock import set_clock
from core.db import session_scope
from core.users import create_user
from invoice.importer import ingest_files
from invoice.registry import InvoiceRecord
from invoice.storecheck import check_store, sweep_orphans
from tests.samples import DIGITAL_OFD

TWO_DAYS = 2 * 24 * 3600


def _import_sample() -> str:
    result = ingest_files([(DIGITAL_OFD.name, DIGITAL_OFD.read_bytes())], "alice").to_dict()
    assert len(result["imported"]) == 1, result
    with session_scope() as s:
        record = s.get(InvoiceRecord, result["imported"][0]["invoice_id"])
        assert record is not None
        return record.sha256


def _orphan(data: bytes, age_seconds: float) -> str:
    """An unregistered blob last written ``age_seconds`` ago, on either backend: on disk its
    time is set back; in a bucket (whose times the server sets) the clock is set forward."""
    store = get_blobstore()
    sha = store.put(data)
    if isinstance(store, BlobStore):
        then = time.time() - age_seconds
        os.utime(store.path(sha), (then, then))
    else:
        written = next(e.modified for e in store.entries() if e.name == sha)
        set_clock(lambda: datetime.fromtimestamp(written + age_seconds, UTC))
    return sha


def _young(data: bytes) -> str:
    """An unregistered blob written a minute ago (less than the one-hour grace used below).

    In a bucket the server stamps the time (to the second): the clock is set so that the
    grace period's cutoff falls between the older orphans and this one."""
    store = get_blobstore()
    if isinstance(store, BlobStore):
        sha = store.put(data)
        then = time.time() - 60
        os.utime(store.path(sha), (then, then))
        return sha
    time.sleep(2.1)
    sha = store.put(data)
    written = next(e.modified for e in store.entries() if e.name == sha)
    set_clock(lambda: datetime.fromtimestamp(written - 1 + 3600, UTC))
    return sha


def _corrupt(sha: str) -> None:
    """Change one byte of a stored original behind the store's back."""
    store = get_blobstore()
    data = bytearray(store.get(sha))
    data[100] ^= 0xFF
    if isinstance(store, BlobStore):
        os.chmod(store.path(sha), 0o644)
        store.path(sha).write_bytes(bytes(data))
    else:
        assert isinstance(store, S3BlobStore)  # a new version: the locked one stays, reads see this
        store.bucket.client.put_object(Bucket=store.bucket.config.bucket, Key=store._rel(sha), Body=bytes(data))


def _lose(sha: str) -> None:
    store = get_blobstore()
    if isinstance(store, BlobStore):
        store.path(sha).unlink()
    else:
        assert isinstance(store, S3BlobStore)  # a delete marker hides it from readers
        store.bucket.client.delete_object(Bucket=store.bucket.config.bucket, Key=store._rel(sha))


@pytest.fixture(autouse=True)
def _real_clock() -> Iterator[None]:
    yield
    set_clock(None)


def test_intact_store_passes_and_orphans_are_listed(engine: Engine) -> None:
    sha = _import_sample()
    orphan = _orphan(b"left by a killed import", TWO_DAYS)
    with session_scope() as s:
        report = check_store(s)
    assert report.ok and report.checked == 1
    assert report.orphans == [orphan] and sha not in report.orphans


def test_sweep_removes_only_old_unregistered_files(engine: Engine) -> None:
    sha = _import_sample()
    old = _orphan(b"old orphan", TWO_DAYS)
    young = _young(b"upload still registering")
    with session_scope() as s:
        dry = sweep_orphans(s, "admin", timedelta(hours=1), dry_run=True)
    assert dry.orphans == [old] and dry.removed == [] and get_blobstore().exists(old)
    with session_scope() as s:
        report = sweep_orphans(s, "admin", timedelta(hours=1))
    assert report.removed == [old]
    store = get_blobstore()
    assert not store.exists(old) and store.exists(young) and store.exists(sha)
    with session_scope() as s:
        entry = s.exec(select(AuditEntry).where(AuditEntry.action == "store.sweep")).one()
        assert entry.details["removed"] == 1
        assert check_store(s).ok


def test_changed_and_missing_originals_are_named(engine: Engine) -> None:
    sha = _import_sample()
    _corrupt(sha)
    with session_scope() as s:
        report = check_store(s)
    assert not report.ok and report.corrupt == [sha] and report.missing == []
    _lose(sha)
    with session_scope() as s:
        report = check_store(s)
    assert not report.ok and report.missing == [sha]


def test_cli_exit_statuses(engine: Engine, capsys: pytest.CaptureFixture[str]) -> None:
    with session_scope() as s:
        create_user(s, "root", "admin")
        create_user(s, "clerk", "clerk")
    sha = _import_sample()
    assert main(["store", "check", "--as", "root", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["checked"] == 1
    assert main(["store", "sweep", "--older-than-hours", "0", "--as", "root"]) == 2
    assert "at least 1" in capsys.readouterr().err
    assert main(["store", "sweep", "--as", "clerk"]) == 1  # not an admin
    capsys.readouterr()
    _lose(sha)
    assert main(["store", "check", "--as", "root", "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["missing"] == [sha]
