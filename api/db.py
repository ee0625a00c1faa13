"""Read-only database sessions for the API's GET requests.

``core.db`` starts every SQLite transaction with ``BEGIN IMMEDIATE`` so that read-decide-write
sequences are serialised. A request that only reads does not need that lock, and taking it
would queue every list and look-up behind every upload across all workers. In WAL mode a
reader sees a consistent snapshot without blocking or being blocked, so GET requests use a
second engine whose transactions begin ``DEFERRED`` and whose connections are
``query_only`` (a write through it fails loudly instead of silently taking the lock).
PostgreSQL needs none of this: the ordinary engine is returned.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlmodel import Session

from core import db as core_db

_lock = threading.Lock()
_readers: dict[str, Engine] = {}


def _sqlite_reader(url: Any) -> Engine:
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 60},
                           pool_size=20, max_overflow=20)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA busy_timeout=60000")
        cur.execute("PRAGMA query_only=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN DEFERRED")

    return engine


def read_engine() -> Engine:
    """The engine for read-only work: a deferred-transaction twin of the process engine."""
    main = core_db.get_engine()
    if main.dialect.name != "sqlite":
        return main
    key = main.url.render_as_string(hide_password=False)
    with _lock:
        engine = _readers.get(key)
        if engine is None:
            engine = _readers[key] = _sqlite_reader(main.url)
    return engine


@contextmanager
def read_scope() -> Iterator[Session]:
    """A read-only transaction on one consistent snapshot; always rolled back.

    Ended by ``close()``, not ``rollback()``: a rollback first expires every object the
    session loaded (a page of 50 invoices and their facts: a tenth of the request's CPU),
    only for the close to discard them; ``close()`` detaches them and returns the connection,
    which the pool rolls back (``reset_on_return``). Nothing was written, so the two end the
    transaction alike, and objects a caller keeps keep their loaded values.
    """
    session = Session(read_engine(), expire_on_commit=False)
    try:
        yield session
    finally:
        session.close()
