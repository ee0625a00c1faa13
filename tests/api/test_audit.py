"""The audit chain over HTTP and the CLI: tampering with one row is found and named."""

from __future__ import annotations

import json

from sqlalchemy import (
    JSON,
    Column,
    MetaData,
    Table,
    create_engine,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy import text as sql_text
from sqlalchemy.engine import Engine

from tests.api.conftest import Server
from tests.tamper import DROP_GUARD


def test_tampered_row_is_named_by_api_and_cli(server: Server) -> None:
    auditor, _ = server.as_role("auditor")
    clerk, _ = server.as_role("clerk")
    server.add_user("archivist")  # more entries after the one we change
    ok = auditor.get("/api/v1/audit/verify").json()
    assert ok["ok"] is True and ok["first_broken"] is None and ok["entries"] >= 3
    assert ok["missing_after_seq"] is None and ok["anchor"]["seq"] >= 1  # anchored at the first write
    cli_ok = server.cli("audit", "verify", "--json")
    assert cli_ok.returncode == 0 and json.loads(cli_ok.stdout)["ok"] is True

    eng, log = _audit_table(server)
    with eng.begin() as db:
        for statement in DROP_GUARD[eng.dialect.name]:
            db.execute(sql_text(statement))
        seq, details = db.execute(select(log.c.seq, log.c.details).where(log.c.action == "user.created")
                                  .order_by(log.c.seq.desc()).limit(1).offset(1)).one()
        forged = dict(details)
        forged["role"] = "admin"  # someone rewrites history
        db.execute(update(log).where(log.c.seq == seq).values(details=forged))
    try:
        broken = auditor.get("/api/v1/audit/verify").json()
        assert broken["ok"] is False
        assert broken["first_broken"]["seq"] == seq
        assert broken["first_broken"]["action"] == "user.created"
        assert "changed" in broken["first_broken"]["reason"]
        cli = server.cli("audit", "verify", "--json")
        assert cli.returncode == 1
        assert json.loads(cli.stdout)["first_broken"]["seq"] == seq
        text = server.cli("audit", "verify")
        assert text.returncode == 1 and f"BROKEN at entry {seq}" in text.stdout
        assert clerk.get("/api/v1/audit/verify").status_code == 403
    finally:
        with eng.begin() as db:
            db.execute(update(log).where(log.c.seq == seq).values(details=details))
        eng.dispose()
    assert auditor.get("/api/v1/audit/verify").json()["ok"] is True


def _audit_table(server: Server) -> tuple[Engine, Table]:
    """The server's audit table, reflected (SQLite file or, in the pg-s3 pass, PostgreSQL)."""
    eng = create_engine(server.db_url)
    return eng, Table("audit_log", MetaData(), Column("details", JSON), autoload_with=eng)


def test_deleted_row_is_named(server: Server) -> None:
    auditor, _ = server.as_role("auditor")
    server.add_user("clerk")
    eng, log = _audit_table(server)
    with eng.begin() as db:
        for statement in DROP_GUARD[eng.dialect.name]:
            db.execute(sql_text(statement))
        row = dict(db.execute(select(log).order_by(log.c.seq.desc()).limit(1).offset(1)).one()._mapping)
        db.execute(delete(log).where(log.c.seq == row["seq"]))
    try:
        r = auditor.get("/api/v1/audit/verify").json()
        assert r["ok"] is False and r["first_broken"]["seq"] == row["seq"] + 1
        assert "missing entry" in r["first_broken"]["reason"]
    finally:
        with eng.begin() as db:
            db.execute(insert(log).values(**row))
        eng.dispose()
    assert auditor.get("/api/v1/audit/verify").json()["ok"] is True
