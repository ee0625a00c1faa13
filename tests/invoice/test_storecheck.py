"""Fixity of the original-file store and the orphan sweep, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import time
from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from api.cli import main
from core.audit import AuditEntry
from core.blobstore import get_blobstore
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
    sha = get_blobstore().put(data)
    then = time.time() - age_seconds
    os.utime(get_blobstore().path(sha), (then, then))
    return sha


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
    young = _orphan(b"upload still registering", 60)
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
    path = get_blobstore().path(sha)
    os.chmod(path, 0o644)
    data = bytearray(path.read_bytes())
    data[100] ^= 0xFF
    path.write_bytes(bytes(data))
    with session_scope() as s:
        report = check_store(s)
    assert not report.ok and report.corrupt == [sha] and report.missing == []
    path.unlink()
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
    get_blobstore().path(sha).unlink()
    assert main(["store", "check", "--as", "root", "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["missing"] == [sha]
