"""``fapiao backup`` then ``fapiao restore`` into a fresh data folder (and database, and bucket).

Data are built through the real services from the real samples (invoices, claims, vouchers,
archive packages); backup, restore and the three checks run through the real CLI in fresh
processes, configured by the environment only, as an operator would run them. Both on
SQLite + disk and on PostgreSQL + the S3 server.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from archive import package, signing
from core.db import session_scope
from core.settings import Settings
from tests.archive.conftest import (
    DIGITAL_OFD,
    DIGITAL_PDF,
    SIGNED,
    SPECIAL5,
    People,
    _people,
    post_voucher_for,
)
from tests.conftest import PG_S3, ROOT, _drop_pg_database, _fresh_pg_database, s3_env, use_s3


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", "from api.cli import run; run()", *args], env=env,
                          capture_output=True, text=True, timeout=300, cwd=ROOT)


def _env(home: Path, url: str, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAPIAO_") and k != "DATABASE_URL"}
    env.update({"FAPIAO_HOME": str(home), "DATABASE_URL": url, "FAPIAO_ENVIRONMENT": "test",
                "PYTHONPATH": str(ROOT), **extra})
    return env


def _store_env(settings: Settings, suffix: str = "") -> dict[str, str]:
    """The S3 settings of the test's bucket (another, fresh one with ``suffix``); {} on disk."""
    if settings.store != "s3":
        return {}
    return s3_env(str(settings.s3_endpoint), settings.s3_bucket + suffix)


def _tree(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _audit_rows(url: str) -> list[tuple[Any, ...]]:
    eng = create_engine(url)
    try:
        with eng.connect() as conn:
            return [tuple(r) for r in conn.execute(text("SELECT seq, action, object_id, prev_hash, hash "
                                                        "FROM audit_log ORDER BY seq"))]
    finally:
        eng.dispose()


def _audit_tables(url: str) -> list[str]:
    from sqlalchemy import inspect

    if url.startswith("sqlite") and not Path(url.removeprefix("sqlite:///")).exists():
        return []
    eng = create_engine(url)
    try:
        return inspect(eng).get_table_names()
    finally:
        eng.dispose()


def _bucket_tree(settings: Settings) -> dict[str, str]:
    from core.s3store import bucket_from_settings

    b = bucket_from_settings(settings)
    out = {}
    for prefix in ("originals/", "archive/"):
        for info in b.listing(prefix):
            data = b.get(info.key)
            assert data is not None
            out[info.key] = hashlib.sha256(data).hexdigest()
    return out


@pytest.fixture
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """Makes the restore's empty database URL on the same backend as the source."""
    made: list[str] = []

    def make(source_url: str) -> str:
        if source_url.startswith("sqlite"):
            return f"sqlite:///{tmp_path / 'restored' / 'fapiao.sqlite3'}"
        url, name = _fresh_pg_database(request.getfixturevalue("pg_server_url"))
        made.append(name)
        return url

    yield make
    for name in made:
        _drop_pg_database(request.getfixturevalue("pg_server_url"), name)


def _build_year(people: People) -> int:
    years = set()
    for files in ([SIGNED, DIGITAL_OFD], [SPECIAL5], [DIGITAL_PDF]):
        vid = post_voucher_for(people, files)
        with session_scope() as s:
            years.add(package.build_package(s, people.archivist, vid).year)
    assert len(years) == 1
    return years.pop()


@pytest.fixture(params=[*([] if PG_S3 else ["sqlite-disk"]),
                        pytest.param("postgres-s3", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest, settings: Settings) -> Iterator[str]:
    """SQLite + disk (the embedded default) and PostgreSQL + the S3 server (the scale-out)."""
    if request.param == "sqlite-disk":
        yield from _with_engine(settings, f"sqlite:///{settings.home / 'fapiao.sqlite3'}", "disk")
        return
    url, name = _fresh_pg_database(request.getfixturevalue("pg_server_url"))
    try:
        yield from _with_engine(settings, url, "s3")
    finally:
        _drop_pg_database(request.getfixturevalue("pg_server_url"), name)


def _with_engine(settings: Settings, url: str, store: str) -> Iterator[str]:
    from core import db as core_db

    settings.database_url = url
    eng = core_db.make_engine(url)
    core_db.migrate(eng)
    core_db.set_engine(eng)
    try:
        yield store
    finally:
        core_db.set_engine(None)


def test_backup_restore_reproduces_everything_and_checks_pass(
        backend: str, settings: Settings, tmp_path: Path,
        target: Callable[[str], str], request: pytest.FixtureRequest) -> None:
    store = backend
    extra: dict[str, str] = {}
    if store == "s3":
        s3 = request.getfixturevalue("s3_server_url")
        use_s3(settings, s3)
        extra = s3_env(s3, settings.s3_bucket)
    signing.ensure_archive_key()
    people = _people()
    year = _build_year(people)
    src_url = str(settings.database_url)
    src_env = _env(settings.home, src_url, extra)

    out = tmp_path / "backup"
    done = _cli(src_env, "backup", str(out), "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert report["files"] == len(manifest["files"]) and report["audit_entries"] > 0
    assert all(len(f["sha256"]) == 64 for f in manifest["files"].values())
    assert any(k.startswith("database/") for k in manifest["files"])
    assert "home/audit-anchors.jsonl" in manifest["files"]
    assert any(k.startswith("home/keys/") for k in manifest["files"])

    new_home = tmp_path / "restored"
    new_url = target(src_url)
    new_extra = dict(extra)
    if store == "s3":
        new_extra["FAPIAO_S3_BUCKET"] = settings.s3_bucket + "-r"
    new_env = _env(new_home, new_url, new_extra)
    done = _cli(new_env, "restore", str(out), "--json")
    assert done.returncode == 0, done.stderr + done.stdout
    assert json.loads(done.stdout)["restored"] is True

    for args in (["store", "check", "--as", "admin", "--json"],
                 ["archive", "check", "--year", str(year), "--as", "archivist", "--json"],
                 ["audit", "verify", "--json"]):
        done = _cli(new_env, *args)
        assert done.returncode == 0, (args, done.stdout[-3000:], done.stderr[-3000:])
    # Byte for byte: every original, every package, every audit entry.
    assert _audit_rows(new_url)[:len(_audit_rows(src_url))] == _audit_rows(src_url)
    if store == "disk":
        assert _tree(new_home / "files") == _tree(settings.home / "files")
    else:
        restored = settings.model_copy(update={"s3_bucket": settings.s3_bucket + "-r"})
        assert _bucket_tree(restored) == _bucket_tree(settings)
    assert _tree(new_home / "archive" / "packages") == _tree(settings.home / "archive" / "packages")
    assert _tree(new_home / "keys") == _tree(settings.home / "keys")
    for key in (settings.home / "keys").rglob("*"):  # private keys keep their owner-only mode
        assert os.stat(new_home / key.relative_to(settings.home)).st_mode == os.stat(key).st_mode


def test_restore_refuses_a_backup_that_does_not_match_its_manifest(
        engine: Engine, settings: Settings, tmp_path: Path, target: Callable[[str], str]) -> None:
    signing.ensure_archive_key()
    people = _people()
    post_voucher_for(people, [DIGITAL_OFD])
    env = _env(settings.home, str(settings.database_url), _store_env(settings))
    out = tmp_path / "backup"
    assert _cli(env, "backup", str(out)).returncode == 0
    new_url = target(str(settings.database_url))
    new_env = _env(tmp_path / "new", new_url.replace("/restored/", "/new/"), _store_env(settings, "-r"))
    stored = out / ("bucket/originals" if settings.store == "s3" else "home/files")
    original = next(p for p in stored.rglob("*") if p.is_file())
    os.chmod(original, 0o644)
    data = bytearray(original.read_bytes())
    data[10] ^= 0xFF
    original.write_bytes(bytes(data))
    done = _cli(new_env, "restore", str(out), "--json")
    assert done.returncode == 1
    err = json.loads(done.stdout)["error"]
    assert err["code"] == "restore.manifest_mismatch" and "SHA-256 与清单不符" in err["message"]
    assert original.relative_to(out).as_posix() in err["message"]
    assert not (tmp_path / "new").exists()  # nothing was written
    assert not _audit_tables(new_url)
    # An added file is refused too; restoring the byte makes the backup good again.
    data[10] ^= 0xFF
    original.write_bytes(bytes(data))
    (out / "home" / "extra.txt").write_text("planted")
    done = _cli(new_env, "restore", str(out), "--json")
    assert done.returncode == 1 and "多出清单中没有的文件 home/extra.txt" in json.loads(done.stdout)["error"]["message"]
    (out / "home" / "extra.txt").unlink()
    assert _cli(new_env, "restore", str(out)).returncode == 0


def test_restore_refuses_a_data_folder_or_database_that_is_not_empty(
        engine: Engine, settings: Settings, tmp_path: Path, target: Callable[[str], str]) -> None:
    signing.ensure_archive_key()
    _people()
    src_url = str(settings.database_url)
    out = tmp_path / "backup"
    store = _store_env(settings)
    assert _cli(_env(settings.home, src_url, store), "backup", str(out)).returncode == 0
    # Into the very data folder it came from: not empty.
    done = _cli(_env(settings.home, src_url, store), "restore", str(out), "--json")
    assert done.returncode == 1
    err = json.loads(done.stdout)["error"]
    assert err["code"] == "restore.home_not_empty" and "不是空的，拒绝恢复" in err["message"]
    if src_url.startswith("postgresql"):  # an empty folder but a database that has tables
        done = _cli(_env(tmp_path / "empty", src_url, store), "restore", str(out), "--json")
        assert done.returncode == 1
        assert json.loads(done.stdout)["error"]["code"] == "restore.database_not_empty"
    # A backup folder that is not empty is refused as a target.
    done = _cli(_env(settings.home, src_url, store), "backup", str(out), "--json")
    assert done.returncode == 2 and json.loads(done.stdout)["error"]["code"] == "backup.target_not_empty"
    # An empty target works.
    new_url = target(src_url)
    assert _cli(_env(tmp_path / "restored", new_url, _store_env(settings, "-r")), "restore",
                str(out)).returncode == 0
