"""Idempotency-Key: a retried write returns the first answer and changes nothing."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
from sqlalchemy import create_engine, text

from tests.api.conftest import OFD_WUXI, PDF_WUXI, Server, upload


def _count(server: Server, sql: str, *args: object) -> int:
    """Count rows straight from the server's database (SQLite file or PostgreSQL)."""
    url = server.env.get("DATABASE_URL") or f"sqlite:///{server.db_path}"
    parts = sql.split("?")
    named = parts[0] + "".join(f":a{i}{rest}" for i, rest in enumerate(parts[1:]))
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(named), {f"a{i}": a for i, a in enumerate(args)}).scalar_one())
    finally:
        engine.dispose()


def test_upload_retry_returns_first_result(server: Server) -> None:
    clerk, _ = server.as_role("clerk")
    key = uuid.uuid4().hex
    first = upload(clerk, OFD_WUXI, key=key)
    assert first.status_code == 200 and len(first.json()["imported"]) == 1
    n = _count(server, "SELECT count(*) FROM invoices")
    audit = _count(server, "SELECT count(*) FROM audit_log")
    second = upload(clerk, OFD_WUXI, key=key)
    assert second.status_code == 200
    assert second.json() == first.json()  # the first answer, not "duplicate"
    assert second.headers["idempotent-replayed"] == "true"
    assert _count(server, "SELECT count(*) FROM invoices") == n
    assert _count(server, "SELECT count(*) FROM audit_log") == audit
    # Without the key the same file is reported as a duplicate, as it should be.
    assert len(upload(clerk, OFD_WUXI).json()["duplicates"]) == 1
    # The same key for another request is refused rather than answered with the wrong result.
    reuse = upload(clerk, PDF_WUXI, key=key)
    assert reuse.status_code == 422 and reuse.json()["error"]["code"] == "idempotency_key_reused"
    # Keys belong to a user: another user's identical key is a new request.
    other, _ = server.as_role("clerk")
    assert "idempotent-replayed" not in upload(other, PDF_WUXI, key=key).headers


def _pushed_voucher(ref: str) -> dict:
    return {"date": "2025-07-31", "summary": "ERP 推送凭证", "external_ref": ref,
            "lines": [{"account_code": "6602", "account_name": "管理费用", "debit": "100.00", "summary": "办公费"},
                      {"account_code": "1002", "account_name": "银行存款", "credit": "100.00", "summary": "付款"}]}


def test_voucher_push_and_posting_are_idempotent_even_when_concurrent(any_server: Server) -> None:
    server = any_server
    accountant, user = server.as_role("accountant")
    key = "erp-" + uuid.uuid4().hex
    body = _pushed_voucher("ERP-" + uuid.uuid4().hex[:10])
    before = _count(server, "SELECT count(*) FROM vouchers")

    def push(_: int) -> httpx.Response:
        with httpx.Client(base_url=server.base, headers={"Authorization": f"Bearer {user['token']}"},
                          timeout=60) as c:
            return c.post("/api/v1/vouchers", json=body, headers={"Idempotency-Key": key})

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(push, range(4)))
    assert all(r.status_code == 201 for r in results), [r.text for r in results]
    assert len({r.json()["id"] for r in results}) == 1
    assert sum(1 for r in results if r.headers.get("idempotent-replayed") == "true") == 3
    assert _count(server, "SELECT count(*) FROM vouchers") == before + 1
    vid = results[0].json()["id"]

    checker, _ = server.as_role("accountant")  # 审核 by an accountant other than the maker
    assert checker.post(f"/api/v1/vouchers/{vid}/review").status_code == 200
    post_key = "post-" + uuid.uuid4().hex
    p1 = accountant.post(f"/api/v1/vouchers/{vid}/post", headers={"Idempotency-Key": post_key})
    assert p1.status_code == 200 and p1.json()["state"] == "posted"
    p2 = accountant.post(f"/api/v1/vouchers/{vid}/post", headers={"Idempotency-Key": post_key})
    assert p2.status_code == 200 and p2.json() == p1.json()
    assert p2.headers["idempotent-replayed"] == "true"
    # A retry without the key is a second posting attempt, which the ledger refuses.
    assert accountant.post(f"/api/v1/vouchers/{vid}/post").status_code == 409
    assert _count(server, "SELECT count(*) FROM audit_log WHERE action LIKE 'voucher.post%' "
                          "AND object_id = ?", vid) == 1


def test_failed_first_attempt_stores_nothing(server: Server) -> None:
    accountant, _ = server.as_role("accountant")
    key = uuid.uuid4().hex
    bad = _pushed_voucher("ERP-" + uuid.uuid4().hex[:10])
    bad["lines"][1]["credit"] = "99.00"  # unbalanced: the ledger refuses it
    r1 = accountant.post("/api/v1/vouchers", json=bad, headers={"Idempotency-Key": key})
    assert 400 <= r1.status_code < 500
    assert _count(server, "SELECT count(*) FROM idempotency_keys WHERE key = ?", key) == 0
    # After fixing the request the caller must use a new key or the same one: it runs now.
    good = _pushed_voucher(bad["external_ref"])
    r2 = accountant.post("/api/v1/vouchers", json=good, headers={"Idempotency-Key": key})
    assert r2.status_code == 201, r2.text
