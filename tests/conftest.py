"""Shared fixtures: settings in a temporary home, and databases on SQLite and PostgreSQL.

``db`` is parametrised over a SQLite file and the real PostgreSQL server that
``scripts/postgres.sh`` starts (``.ci/run`` starts it too); each test gets a fresh,
migrated database of its own.

``FAPIAO_TEST_BACKEND=pg-s3`` (the second pass of ``scripts/test``) runs every test that
touches storage on PostgreSQL and the S3 server instead: ``settings`` point the original and
archive stores at a fresh bucket of the test's own on the S3 server (``scripts/s3.sh``), every
database fixture is a fresh PostgreSQL database, and servers the API tests start get both.
Tests that use no storage (pure parsing, messages, crypto) are deselected in that pass: the
first pass runs them already.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from core import db as core_db
from core.settings import Settings, override_settings

ROOT = Path(__file__).resolve().parents[1]
PG_S3 = os.environ.get("FAPIAO_TEST_BACKEND", "") == "pg-s3"
# A test whose fixtures include one of these (or that starts a server) touches storage.
STORAGE_FIXTURES = {"settings", "db_url", "engine", "sqlite_engine", "pg_server_url", "s3_server_url"}
_SERVER_MODULES = ("tests/api/", "tests/test_crash.py", "tests/invoice/test_online_store.py")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """In the pg-s3 pass keep only the tests that touch storage."""
    if not PG_S3:
        return
    keep, drop = [], []
    for item in items:
        rel = Path(str(item.fspath)).resolve().relative_to(ROOT).as_posix()
        uses = set(getattr(item, "fixturenames", ())) & STORAGE_FIXTURES
        (keep if uses or rel.startswith(_SERVER_MODULES) else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture
def settings(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Settings]:
    s = Settings(home=tmp_path / "home", environment="test")
    s.home.mkdir(parents=True, exist_ok=True)
    if PG_S3 and request.node.get_closest_marker("disk_store") is None:
        use_s3(s, request.getfixturevalue("s3_server_url"))
    override_settings(s)
    yield s
    override_settings(None)


@pytest.fixture(scope="session")
def s3_server_url() -> str:
    """The S3-speaking test server (moto's standalone server over HTTP, ``scripts/s3.sh``)."""
    url = os.environ.get("FAPIAO_TEST_S3_URL")
    if url:
        return url
    env = {**os.environ, "FAPIAO_PYTHON": sys.executable}
    out = subprocess.run([str(ROOT / "scripts" / "s3.sh"), "start"], check=True, capture_output=True,
                         text=True, env=env)
    return out.stdout.strip().splitlines()[-1]


def s3_env(server_url: str, bucket: str, object_lock: str = "auto") -> dict[str, str]:
    """The environment that points a service process at ``bucket`` on the test server."""
    return {"FAPIAO_STORE": "s3", "FAPIAO_S3_ENDPOINT": server_url, "FAPIAO_S3_BUCKET": bucket,
            "FAPIAO_S3_ACCESS_KEY": "test", "FAPIAO_S3_SECRET_KEY": "test",
            "FAPIAO_S3_REGION": "us-east-1", "FAPIAO_S3_OBJECT_LOCK": object_lock}


def store_env(settings: Settings) -> dict[str, str]:
    """What a child process (CLI, server) needs to use the same store as ``settings``."""
    if settings.store != "s3":
        return {}
    return s3_env(str(settings.s3_endpoint), settings.s3_bucket, settings.s3_object_lock)


def use_s3(settings: Settings, server_url: str, object_lock: str = "auto") -> str:
    """Point ``settings`` at a fresh bucket of its own (Object Lock on unless ``off``)."""
    from core.s3store import bucket_from_settings

    bucket = "t-" + uuid.uuid4().hex[:20]
    settings.store = "s3"
    settings.s3_endpoint = server_url
    settings.s3_bucket = bucket
    settings.s3_access_key = settings.s3_secret_key = "test"
    settings.s3_object_lock = object_lock  # type: ignore[assignment]
    bucket_from_settings(settings).ensure()
    return bucket


@pytest.fixture
def s3_settings(settings: Settings, s3_server_url: str) -> Settings:
    """Settings whose originals and packages go to a fresh Object-Lock bucket on the S3 server."""
    use_s3(settings, s3_server_url)
    return settings


@pytest.fixture(scope="session")
def pg_server_url() -> str:
    url = os.environ.get("FAPIAO_TEST_PG_URL")
    if url:
        return url
    out = subprocess.run([str(ROOT / "scripts" / "postgres.sh")], check=True, capture_output=True, text=True)
    return out.stdout.strip().splitlines()[-1]


def _fresh_pg_database(server_url: str) -> tuple[str, str]:
    name = "t_" + uuid.uuid4().hex[:12]
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return server_url.rsplit("/", 1)[0] + "/" + name, name


def _drop_pg_database(server_url: str, name: str) -> None:
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


_DB_PARAMS = [pytest.param("postgres", marks=pytest.mark.postgres)] if PG_S3 else \
    ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=_DB_PARAMS)
def db_url(request: pytest.FixtureRequest, settings: Settings) -> Iterator[str]:
    """A fresh, migrated database URL on each backend (only PostgreSQL in the pg-s3 pass)."""
    if request.param == "sqlite":
        url = f"sqlite:///{settings.home / 'test.sqlite3'}"
        name = None
    else:
        server = request.getfixturevalue("pg_server_url")
        url, name = _fresh_pg_database(server)
    yield url
    if name is not None:
        core_db.set_engine(None)
        _drop_pg_database(request.getfixturevalue("pg_server_url"), name)


def _process_engine(settings: Settings, url: str) -> Iterator[Engine]:
    """Point the settings and the process engine at ``url``, migrated; unset it afterwards."""
    settings.database_url = url
    eng = core_db.make_engine(url)
    core_db.migrate(eng)
    core_db.set_engine(eng)
    yield eng
    core_db.set_engine(None)


@pytest.fixture
def engine(db_url: str, settings: Settings) -> Iterator[Engine]:
    """The process engine pointed at a fresh migrated database (both backends)."""
    yield from _process_engine(settings, db_url)


@pytest.fixture
def sqlite_engine(settings: Settings, request: pytest.FixtureRequest) -> Iterator[Engine]:
    """A migrated SQLite database only, for tests where the backend does not matter
    (a fresh PostgreSQL database in the pg-s3 pass)."""
    if not PG_S3:
        yield from _process_engine(settings, f"sqlite:///{settings.home / 'unit.sqlite3'}")
        return
    server = request.getfixturevalue("pg_server_url")
    url, name = _fresh_pg_database(server)
    try:
        yield from _process_engine(settings, url)
    finally:
        _drop_pg_database(server, name)
