"""The audit chain over HTTP and the CLI: tampering with one row is found and named."""

from __future__ import annotations

import json
import sqlite3

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

    with sqlite3.connect(server.db_path) as db:
        for statement in DROP_GUARD["sqlite"]:
            db.execute(statement)
        seq, details = db.execute("SELECT seq, details FROM audit_log WHERE action = 'user.created' "
                                  "ORDER BY seq DESC LIMIT 1 OFFSET 1").fetchone()
        forged = json.loads(details)
        forged["role"] = "admin"  # someone rewrites history
        db.execute("UPDATE audit_log SET details = ? WHERE seq = ?", (json.dumps(forged), seq))
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
        with sqlite3.connect(server.db_path) as db:
            db.execute("UPDATE audit_log SET details = ? WHERE seq = ?", (details, seq))
    assert auditor.get("/api/v1/audit/verify").json()["ok"] is True


def test_deleted_row_is_named(server: Server) -> None:
    auditor, _ = server.as_role("auditor")
    server.add_user("clerk")
    with sqlite3.connect(server.db_path) as db:
        for statement in DROP_GUARD["sqlite"]:
            db.execute(statement)
        row = db.execute("SELECT * FROM audit_log ORDER BY seq DESC LIMIT 1 OFFSET 1").fetchone()
        cols = [c[1] for c in db.execute("PRAGMA table_info(audit_log)")]
        db.execute("DELETE FROM audit_log WHERE seq = ?", (row[0],))
    try:
        r = auditor.get("/api/v1/audit/verify").json()
        assert r["ok"] is False and r["first_broken"]["seq"] == row[0] + 1
        assert "missing entry" in r["first_broken"]["reason"]
    finally:
        with sqlite3.connect(server.db_path) as db:
            db.execute(f"INSERT INTO audit_log ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", row)
    assert auditor.get("/api/v1/audit/verify").json()["ok"] is True
