"""Web sessions, CSRF, tokens, users: over real HTTP."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
from sqlalchemy import create_engine, text

from tests.api.conftest import PASSWORD, Server


def login(server: Server, username: str, password: str = PASSWORD) -> tuple[httpx.Client, str]:
    c = server.client()
    r = c.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return c, r.json()["csrf_token"]


def test_login_sets_hardened_cookies_and_session_works(server: Server) -> None:
    user = server.add_user("clerk")
    c = server.client()
    r = c.post("/api/v1/auth/login", json={"username": user["username"], "password": PASSWORD})
    assert r.status_code == 200
    cookies = r.headers.get_list("set-cookie")
    session = next(h for h in cookies if h.startswith("fapiao_session="))
    assert "HttpOnly" in session and "SameSite=lax" in session and "Path=/" in session
    csrf_cookie = next(h for h in cookies if h.startswith("fapiao_csrf="))
    assert "HttpOnly" not in csrf_cookie  # the page's JavaScript reads it
    assert r.json()["csrf_token"] in csrf_cookie
    me = c.get("/api/v1/me")
    assert me.status_code == 200 and me.json()["username"] == user["username"]
    assert "invoice.upload" in me.json()["operations"] and "claim.approve" not in me.json()["operations"]
    # The session secret is stored hashed: the cookie value is nowhere in the database.
    raw = c.cookies["fapiao_session"]
    eng = create_engine(server.db_url)
    with eng.connect() as db:
        stored = [row[0] for row in db.execute(text("SELECT token_hash FROM web_sessions"))]
    eng.dispose()
    assert raw not in stored and len(stored) >= 1


def test_unsafe_cookie_requests_need_the_csrf_header(server: Server) -> None:
    user = server.add_user("clerk")
    c, csrf = login(server, user["username"])
    body = {"title": "t", "lines": [{"invoice_id": "nope"}]}
    no_header = c.post("/api/v1/claims", json=body)
    assert no_header.status_code == 403
    assert no_header.json()["error"]["code"] == "csrf_failed"
    wrong = c.post("/api/v1/claims", json=body, headers={"X-CSRF-Token": "forged"})
    assert wrong.json()["error"]["code"] == "csrf_failed"
    right = c.post("/api/v1/claims", json=body, headers={"X-CSRF-Token": csrf})
    assert right.status_code not in (401, 403)  # past auth and CSRF: the service judges the body
    # GET needs no CSRF header.
    assert c.get("/api/v1/claims").status_code == 200


def test_logout_ends_the_session(server: Server) -> None:
    user = server.add_user("auditor")
    c, csrf = login(server, user["username"])
    assert c.get("/api/v1/me").status_code == 200
    raw = c.cookies["fapiao_session"]
    assert c.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 200
    replay = server.client()
    replay.cookies.set("fapiao_session", raw)
    assert replay.get("/api/v1/me").status_code == 401


def test_expired_session_is_refused(server: Server) -> None:
    user = server.add_user("auditor")
    c, _ = login(server, user["username"])
    assert c.get("/api/v1/me").status_code == 200
    eng = create_engine(server.db_url)
    with eng.begin() as db:
        db.execute(text("UPDATE web_sessions SET expires_at = :at WHERE user_id = :uid"),
                   {"at": datetime(2000, 1, 1, tzinfo=UTC) if server.db_url.startswith("postgres")
                    else "2000-01-01 00:00:00.000000", "uid": user["id"]})
    eng.dispose()
    r = c.get("/api/v1/me")
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthenticated"
    # A page redirects to the login page instead.
    page = c.get("/invoices")
    assert page.status_code == 303 and page.headers["location"] == "/login?next=/invoices"


def test_unknown_or_revoked_token_is_401(server: Server) -> None:
    assert server.client("fpa_not-a-token").get("/api/v1/me").status_code == 401
    r = server.client().get("/api/v1/me", headers={"Authorization": "Basic abc"})
    assert r.status_code == 401 and "Bearer" in r.json()["error"]["message"]
    user = server.add_user("clerk")
    c = server.client(user["token"])
    assert c.get("/api/v1/me").status_code == 200
    # The owner may revoke their own token; another non-admin may not.
    other, _ = server.as_role("clerk")
    assert other.delete(f"/api/v1/tokens/{user['token_id']}").status_code == 403
    r = c.delete(f"/api/v1/tokens/{user['token_id']}")
    assert r.status_code == 200 and r.json()["revoked_at"]
    assert c.get("/api/v1/me").status_code == 401
    # An admin may revoke anyone's token; the revocation is audited.
    victim = server.add_user("accountant")
    assert server.admin().delete(f"/api/v1/tokens/{victim['token_id']}").status_code == 200
    assert server.client(victim["token"]).get("/api/v1/me").status_code == 401
    log = server.admin().get("/api/v1/audit", params={"action": "token.revoked",
                                                      "object_id": victim["token_id"]}).json()
    assert log["total"] == 1 and log["items"][0]["actor"] == "admin"


def test_admin_changes_role_and_it_is_audited(server: Server) -> None:
    user = server.add_user("clerk")
    admin = server.admin()
    c = server.client(user["token"])
    assert c.get("/api/v1/audit/verify").status_code == 403
    r = admin.patch(f"/api/v1/users/{user['id']}", json={"role": "auditor"})
    assert r.status_code == 200 and r.json()["role"] == "auditor"
    # the change ends the old credentials; a token issued now carries the new role
    assert c.get("/api/v1/audit/verify").status_code == 401
    fresh = admin.post(f"/api/v1/users/{user['id']}/tokens").json()["token"]
    assert server.client(fresh).get("/api/v1/audit/verify").status_code == 200
    log = admin.get("/api/v1/audit", params={"action": "user.role_changed", "object_id": user["id"]}).json()
    assert log["total"] == 1
    assert log["items"][0]["details"] == {"username": user["username"], "from": "clerk", "to": "auditor"}


def test_users_api_returns_the_token_once_and_refuses_duplicates(server: Server) -> None:
    admin = server.admin()
    name = "dup-" + server.add_user("clerk")["username"]
    first = admin.post("/api/v1/users", json={"username": name, "role": "approver"})
    assert first.status_code == 201 and first.json()["token"].startswith("fpa_")
    again = admin.post("/api/v1/users", json={"username": name, "role": "approver"})
    assert again.status_code == 409 and again.json()["error"]["code"] == "user_exists"
    bad_role = admin.post("/api/v1/users", json={"username": name + "x", "role": "king"})
    assert bad_role.status_code == 422
    listed = admin.get("/api/v1/users", params={"page_size": 500}).json()
    assert name in {u["username"] for u in listed["items"]}
    assert all("token" not in u for u in listed["items"])


def test_last_admin_cannot_be_demoted(server: Server) -> None:
    admin = server.admin()
    me = admin.get("/api/v1/me").json()
    users = admin.get("/api/v1/users", params={"page_size": 500}).json()["items"]
    assert [u["username"] for u in users if u["role"] == "admin"] == ["admin"]  # only init's admin
    r = admin.patch(f"/api/v1/users/{me['id']}", json={"role": "clerk"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "last_admin"
    r = admin.patch(f"/api/v1/users/{me['id']}", json={"active": False})
    assert r.status_code == 409
    assert admin.get("/api/v1/me").json()["role"] == "admin"
