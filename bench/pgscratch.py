"""A throwaway PostgreSQL database for a bench run, on the server ``scripts/postgres.sh`` starts.

Shared by the benches that measure on PostgreSQL, so that creating, naming and dropping the
database (even when the measurement fails) is written once.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def server_url() -> str:
    """The test server's URL: ``FAPIAO_TEST_PG_URL``, else the one ``scripts/postgres.sh`` starts."""
    return os.environ.get("FAPIAO_TEST_PG_URL") or subprocess.run(
        [str(ROOT / "scripts" / "postgres.sh")], check=True, capture_output=True,
        text=True).stdout.strip().splitlines()[-1]


@contextmanager
def scratch_database(prefix: str) -> Iterator[str]:
    """A new database named ``<prefix>_<pid>``; yields its URL and drops it afterwards."""
    from sqlalchemy import create_engine, text

    server = server_url()
    name = f"{prefix}_{os.getpid()}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
