"""Readiness: may this process take traffic? (``GET /readyz``; ``/healthz`` is liveness only.)

Three facts, each with a reason when it fails, so a load balancer stops sending requests to a
process that would only answer errors, and an operator reads why:

- **database**: a connection answers ``SELECT 1``;
- **migrations**: the database's Alembic revision is the code's head (a process started
  before ``fapiao migrate``/``init`` finished, or code newer than the schema, is not ready);
- **store**: the original-file store (and, on disk, the archive store) takes a write.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core import messages


@dataclass(frozen=True)
class Probe:
    name: str
    ok: bool
    reason: str = ""  # English, for logs and operators
    message: str = ""  # Chinese, from the catalogue

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"ok": self.ok}
        if not self.ok:
            d.update(reason=self.reason, message=self.message)
        return d


def _database() -> tuple[Probe, Any]:
    from sqlalchemy import text

    from core.db import get_engine

    try:
        engine = get_engine()
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        reason = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
        return Probe("database", False, reason, messages.text("ops.ready.database", reason=reason)), None
    return Probe("database", True), engine


def head_revision() -> str | None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from core.db import MIGRATIONS_DIR

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return ScriptDirectory.from_config(cfg).get_current_head()


def _migrations(engine: Any) -> Probe:
    from alembic.runtime.migration import MigrationContext

    try:
        with engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
        head = head_revision()
    except Exception as exc:
        reason = f"{type(exc).__name__}: {exc}"[:200]
        return Probe("migrations", False, reason, messages.text("ops.ready.migrations", current="?", head="?"))
    if current != head:
        return Probe("migrations", False, f"database at revision {current}, code at {head}",
                     messages.text("ops.ready.migrations", current=current or "无", head=head or "?"))
    return Probe("migrations", True)


def _store() -> Probe:
    from core.blobstore import get_blobstore
    from core.settings import get_settings

    store = get_blobstore()
    try:
        store.probe()
        if get_settings().store == "disk":
            from core.blobstore import BlobStore

            BlobStore(get_settings().archive_dir).probe()
    except Exception as exc:
        reason = f"{type(exc).__name__}: {exc}"[:300]
        return Probe("store", False, reason, messages.text("ops.ready.store", location=store.location, reason=reason))
    return Probe("store", True)


def readiness() -> list[Probe]:
    db, engine = _database()
    probes = [db]
    if engine is not None:
        probes.append(_migrations(engine))
    else:
        probes.append(Probe("migrations", False, "database unreachable",
                            messages.text("ops.ready.migrations", current="?", head="?")))
    probes.append(_store())
    return probes
