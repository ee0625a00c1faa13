"""Anchored audit chain and the archive key over HTTP and the CLI, on SQLite and PostgreSQL.

The attacker drops the append-only triggers and deletes the newest rows: the chain that is
left is consistent, and only the signed anchor in the data folder shows entries are gone.
"""

from __future__ import annotations

import json

from sqlalchemy import create_engine, text

from tests.api.conftest import Server
from tests.tamper import DROP_GUARD


def _db_url(server: Server) -> str:
    return server.env.get("DATABASE_URL") or f"sqlite:///{server.db_path}"


def test_archive_key_shown_and_rotated(any_server: Server) -> None:
    clerk, _ = any_server.as_role("clerk")
    r = clerk.get("/api/v1/archive/key")
    assert r.status_code == 200, r.text
    key = r.json()
    assert len(key["fingerprint_sm3"]) == 64 and key["certificate"].startswith("-----BEGIN CERTIFICATE-----")
    assert [h["fingerprint_sm3"] for h in key["history"]] == [key["fingerprint_sm3"]]
    cli = any_server.cli("archive", "key", "--json")
    assert cli.returncode == 0 and json.loads(cli.stdout)["fingerprint_sm3"] == key["fingerprint_sm3"]
    assert clerk.post("/api/v1/archive/key/rotate").status_code == 403
    rotated = any_server.admin().post("/api/v1/archive/key/rotate")
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()
    assert new["previous_fingerprint_sm3"] == key["fingerprint_sm3"] != new["fingerprint_sm3"]
    assert [h["trusted"] for h in new["history"]] == [True, True]
    assert clerk.get("/api/v1/archive/key").json()["fingerprint_sm3"] == new["fingerprint_sm3"]


def test_truncated_tail_after_an_anchor_is_named(any_server: Server) -> None:
    auditor, _ = any_server.as_role("auditor")
    for _ in range(3):
        any_server.add_user("clerk")
    (any_server.home / "audit-anchors.jsonl").unlink()  # no anchor now: verify makes one of the head
    ok = auditor.get("/api/v1/audit/verify").json()
    assert ok["ok"] is True and ok["anchor"] is not None
    head = ok["anchor"]["seq"]
    assert set(ok["anchor"]) >= {"seq", "hash", "at"}
    engine = create_engine(_db_url(any_server))
    with engine.begin() as conn:
        for statement in DROP_GUARD[engine.dialect.name]:
            conn.execute(text(statement))
        conn.execute(text("DELETE FROM audit_log WHERE seq > :keep"), {"keep": head - 2})
    engine.dispose()
    r = auditor.get("/api/v1/audit/verify").json()
    assert r["ok"] is False and r["missing_after_seq"] == head - 2
    assert r["anchor"]["seq"] == head and r["first_broken"] is None
    assert "末尾的记录被删除" in r["message"]
    cli = any_server.cli("audit", "verify", "--json")
    assert cli.returncode == 1 and json.loads(cli.stdout)["missing_after_seq"] == head - 2
