"""Operations over real HTTP: /healthz, /readyz (and each reason it gives 503), /metrics,
JSON access logs carrying the request id. The server is the real CLI's ``serve``."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from core.readiness import head_revision
from tests.api.conftest import OFD_WUXI, Server, start_server, stop_server, upload


@pytest.fixture
def srv(tmp_path: Path) -> Iterator[Server]:
    s = start_server(tmp_path / "home")
    yield s
    stop_server(s)


def _log_lines(server: Server) -> list[dict[str, object]]:
    out = []
    for line in server.log.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            out.append(json.loads(line))
    return out


def _metric(text: str, name: str, **labels: str) -> float | None:
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        m = re.match(r"^([a-z_]+)(\{(.*)\})? ([0-9.e+-]+)$", line)
        if not m or m.group(1) != name:
            continue
        got = dict(re.findall(r'(\w+)="([^"]*)"', m.group(3) or ""))
        if all(got.get(k) == v for k, v in labels.items()):
            return float(m.group(4))
    return None


def test_healthz_and_readyz_when_all_is_well(srv: Server) -> None:
    c = srv.client()
    assert c.get("/healthz").json() == {"ok": True}
    r = c.get("/readyz")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["ready"] is True and body["message"] == "服务就绪"
    assert body["checks"] == {"database": {"ok": True}, "migrations": {"ok": True}, "store": {"ok": True}}


def _break_store(srv: Server) -> None:
    """Take the store away: on disk its root becomes a file; on S3 the bucket is deleted."""
    if srv.env.get("FAPIAO_STORE") == "s3":
        import boto3

        raw = boto3.client("s3", endpoint_url=srv.env["FAPIAO_S3_ENDPOINT"], region_name="us-east-1",
                           aws_access_key_id="test", aws_secret_access_key="test")
        bucket = srv.env["FAPIAO_S3_BUCKET"]
        for v in raw.list_object_versions(Bucket=bucket).get("Versions", []):
            raw.delete_object(Bucket=bucket, Key=v["Key"], VersionId=v["VersionId"])
        raw.delete_bucket(Bucket=bucket)
        return
    files = srv.home / "files"
    if files.exists():
        files.rename(srv.home / "files.moved")
    files.write_bytes(b"not a folder")  # the store's root is now a file: nothing can be written


def test_readyz_503_when_the_store_cannot_be_written(srv: Server) -> None:
    assert srv.client().get("/readyz").status_code == 200
    _break_store(srv)
    r = srv.client().get("/readyz")
    assert r.status_code == 503
    body = r.json()
    assert body["ready"] is False and body["checks"]["store"]["ok"] is False
    assert body["checks"]["database"]["ok"] is True
    assert "无法写入" in body["checks"]["store"]["message"] and "文件存储" in body["message"]


def test_readyz_503_when_migrations_are_behind(srv: Server) -> None:
    eng = create_engine(srv.env.get("DATABASE_URL") or f"sqlite:///{srv.db_path}")
    with eng.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0001_core'"))
    eng.dispose()
    r = srv.client().get("/readyz")
    assert r.status_code == 503
    check = r.json()["checks"]["migrations"]
    assert check["ok"] is False and f"code at {head_revision()}" in check["reason"]
    assert "0001_core" in check["message"] and "不一致" in check["message"]


@pytest.mark.postgres
def test_readyz_503_when_the_database_is_gone(tmp_path: Path, pg_server_url: str) -> None:
    from tests.conftest import _drop_pg_database, _fresh_pg_database

    url, name = _fresh_pg_database(pg_server_url)
    server = start_server(tmp_path / "home", DATABASE_URL=url)
    try:
        assert server.client().get("/readyz").status_code == 200
        _drop_pg_database(pg_server_url, name)
        r = server.client().get("/readyz")
        assert r.status_code == 503
        body = r.json()
        assert body["checks"]["database"]["ok"] is False and "数据库连接不上" in body["message"]
        assert server.client().get("/healthz").status_code == 200  # alive, just not ready
    finally:
        stop_server(server)


def test_request_id_in_and_out_and_in_the_json_log(srv: Server) -> None:
    c = srv.client(srv.admin_token)
    mine = f"trace-{uuid.uuid4().hex[:8]}"
    r = c.get("/api/v1/invoices/nonexistent0000", headers={"X-Request-ID": mine})
    assert r.status_code == 404 and r.headers["x-request-id"] == mine
    bad = c.get("/healthz", headers={"X-Request-ID": "bad id <with> spaces"})
    made = bad.headers["x-request-id"]
    assert made != "bad id <with> spaces" and re.fullmatch(r"[0-9a-f]{32}", made)
    stop_server(srv)  # flush the log
    lines = _log_lines(srv)
    access = [ln for ln in lines if ln.get("logger") == "fapiao.access"]
    mine_line = next(ln for ln in access if ln.get("request_id") == mine)
    assert mine_line["route"] == "/api/v1/invoices/{invoice_id}" and mine_line["status"] == 404
    assert mine_line["method"] == "GET" and isinstance(mine_line["duration_ms"], float)
    assert any(ln.get("request_id") == made for ln in access)
    assert all({"ts", "level", "logger", "msg"} <= set(ln) for ln in lines)


def test_metrics_count_requests_imports_and_verifications(srv: Server) -> None:
    c = srv.client(srv.admin_token)
    assert c.get("/api/v1/invoices/nonexistent0000").status_code == 404
    r = upload(c, OFD_WUXI)
    assert r.status_code in (200, 201), r.text
    status = r.json()["imported"][0]["status"]
    assert upload(c, OFD_WUXI).json()["duplicates"]  # the same invoice again: a duplicate
    text = srv.client().get("/metrics").text
    assert _metric(text, "fapiao_http_requests_total", method="GET", route="/api/v1/invoices/{invoice_id}",
                   status="404") == 1.0
    posts = [_metric(text, "fapiao_http_requests_total", method="POST", route="/api/v1/invoices", status=st)
             for st in ("200", "201", "409")]
    assert sum(p or 0 for p in posts) == 2.0
    assert _metric(text, "fapiao_invoice_imports_total", outcome="imported") == 1.0
    assert _metric(text, "fapiao_invoice_imports_total", outcome="duplicates") == 1.0
    verified = [ln for ln in text.splitlines() if ln.startswith("fapiao_verifications_total{")]
    assert len(verified) == 1 and verified[0].endswith(" 1.0"), verified
    assert status  # registry status of the upload, e.g. "active"
    assert _metric(text, "fapiao_queue_depth") == 0.0
    assert _metric(text, "fapiao_http_request_duration_seconds_count", method="GET",
                   route="/api/v1/invoices/{invoice_id}") == 1.0
