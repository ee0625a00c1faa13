"""Error shapes, request ids, the upload size limit, OpenAPI."""

from __future__ import annotations

import socket

from tests.api.conftest import MAX_UPLOAD, Server


def _is_error(body: dict, code: str) -> None:
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]


def test_error_shapes(server: Server) -> None:
    admin = server.admin()
    r = admin.get("/api/v1/invoices/no-such-invoice")
    assert r.status_code == 404
    _is_error(r.json(), "invoice_not_found")
    r = admin.get("/api/v1/invoices", params={"date_from": "2024-13-45"})
    assert r.status_code == 422
    _is_error(r.json(), "validation_error")
    assert r.json()["error"]["details"]["errors"][0]["where"] == "query.date_from"
    r = admin.get("/api/v1/invoices", params={"page_size": 100000})
    assert r.status_code == 422
    r = admin.post("/api/v1/claims", content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 422
    _is_error(r.json(), "validation_error")
    r = admin.get("/api/v1/no/such/endpoint")
    assert r.status_code == 404
    _is_error(r.json(), "not_found")
    r = admin.put("/api/v1/invoices")
    assert r.status_code == 405
    _is_error(r.json(), "method_not_allowed")
    r = admin.post("/api/v1/vouchers", json={"claim_ids": ["a"], "lines": [{"account_code": "1"}],
                                             "date": "2025-01-01"})
    assert r.status_code == 422 and "either claim_ids" in r.json()["error"]["details"]["errors"][0]["problem"]
    assert "没有保存" in r.json()["error"]["message"]  # the message is for people, in Chinese
    r = server.client().get("/api/v1/invoices")
    assert r.status_code == 401
    _is_error(r.json(), "unauthenticated")
    assert r.headers["www-authenticate"] == "Bearer"


def test_every_response_has_a_request_id(server: Server) -> None:
    c = server.client()
    seen = set()
    for path in ("/api/v1/health", "/api/v1/invoices", "/login", "/static/app.css", "/nope"):
        r = c.get(path)
        rid = r.headers.get("x-request-id")
        assert rid and len(rid) >= 16
        seen.add(rid)
    assert len(seen) == 5
    r = c.get("/api/v1/health", headers={"X-Request-Id": "erp-call-42"})
    assert r.headers["x-request-id"] == "erp-call-42"
    r = c.get("/api/v1/health", headers={"X-Request-Id": "bad id\twith spaces"})
    assert r.headers["x-request-id"] != "bad id\twith spaces"
    assert r.headers["x-content-type-options"] == "nosniff"


def test_oversized_upload_is_413_json(server: Server) -> None:
    clerk, _ = server.as_role("clerk")
    big = b"%PDF-1.7\n" + b"0" * (MAX_UPLOAD + 200_000)
    r = clerk.post("/api/v1/invoices", files=[("files", ("big.pdf", big, "application/pdf"))])
    assert r.status_code == 413
    body = r.json()
    assert body["error"]["code"] == "too_large" and body["error"]["details"]["limit_bytes"] == MAX_UPLOAD
    assert r.headers["x-request-id"]
    # Without a Content-Length (chunked), the body is counted as it streams in.

    def chunks():
        yield b"--b\r\nContent-Disposition: form-data; name=\"files\"; filename=\"big.pdf\"\r\n\r\n"
        for _ in range(40):
            yield b"0" * 65536
        yield b"\r\n--b--\r\n"

    r = clerk.post("/api/v1/invoices", content=chunks(),
                   headers={"Content-Type": "multipart/form-data; boundary=b"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "too_large"


def test_lying_content_length_does_not_bypass_the_limit(server: Server) -> None:
    port = int(server.base.rsplit(":", 1)[1])
    head = (f"POST /api/v1/invoices HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {server.admin_token}\r\n"
            f"Content-Type: multipart/form-data; boundary=b\r\nContent-Length: {MAX_UPLOAD * 3}\r\n"
            "Connection: close\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(head)
        reply = s.recv(4096).decode("latin-1")
    assert reply.startswith("HTTP/1.1 413")


def test_openapi_documents_the_contract(server: Server) -> None:
    doc = server.client().get("/api/v1/openapi.json").json()
    paths = doc["paths"]
    for p in ("/api/v1/invoices", "/api/v1/invoices/{invoice_id}/original", "/api/v1/invoices/by-key/{key}",
              "/api/v1/claims/{claim_id}/approve", "/api/v1/vouchers", "/api/v1/vouchers/{voucher_id}/post",
              "/api/v1/archive/exports/{export_id}/download", "/api/v1/audit/verify", "/api/v1/users",
              "/api/v1/tokens/{token_id}", "/api/v1/auth/login"):
        assert p in paths, p
    post_vouchers = paths["/api/v1/vouchers"]["post"]
    assert any(par["name"] == "Idempotency-Key" for par in post_vouchers["parameters"])
    assert "/login" not in paths  # the web page is not part of the API
    err = post_vouchers["responses"]["409"]["content"]["application/json"]["schema"]["$ref"]
    assert err.endswith("/ErrorOut") and "ErrorDetail" in doc["components"]["schemas"]
    assert paths["/api/v1/invoices"]["get"]["responses"]["422"]["content"]["application/json"]["schema"]["$ref"] == err


def test_pages_show_errors_in_words_for_people(server: Server) -> None:
    from tests.api.test_auth import login

    clerk = server.add_user("clerk")
    c, _ = login(server, clerk["username"])
    missing = c.get("/invoices/no-such-invoice")
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html")
    assert "找不到" in missing.text and "no-such-invoice" in missing.text
    denied = c.get("/audit")
    assert denied.status_code == 403 and "无权访问" in denied.text
    anon = server.client().get("/upload")
    assert anon.status_code == 303 and anon.headers["location"] == "/login?next=/upload"
