"""Several API processes over one database: any process answers any request.

Two ``fapiao serve`` processes on two ports share the data folder and the database (SQLite file
and PostgreSQL); requests alternate between them. Sessions, login throttling, idempotency
keys and jobs live in the database, so a session opened on one is valid on the other, failed
logins counted on both add up, and a retried upload with the same ``Idempotency-Key`` is
answered by the other process from the stored first answer.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.api.conftest import OFD_WUXI, PASSWORD, Server, free_port, start_server, stop_server


def _second(server: Server, *extra: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    log = server.home / f"server-{port}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-c", "from api.cli import run; run()", "serve",
                                 "--host", "127.0.0.1", "--port", str(port), *extra],
                                env=server.env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            if httpx.get(base + "/api/v1/health", timeout=2).status_code == 200:
                return proc, base
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("second server did not start:\n" + log.read_text(errors="replace"))
        time.sleep(0.1)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def two(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    from tests.conftest import _drop_pg_database, _fresh_pg_database

    extra: dict[str, str] = {}
    name = None
    if request.param == "postgres":
        pg = request.getfixturevalue("pg_server_url")
        extra["DATABASE_URL"], name = _fresh_pg_database(pg)
    srv = start_server(tmp_path_factory.mktemp("multi") / "home", **extra)
    proc, other = _second(srv)
    try:
        yield srv, other
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        stop_server(srv)
        if name is not None:
            _drop_pg_database(request.getfixturevalue("pg_server_url"), name)
    for log in srv.home.glob("server*.log"):
        text = log.read_text(errors="replace")
        assert "Traceback" not in text and '" 500' not in text, text[-5000:]


def test_a_session_opened_on_one_process_works_on_the_other(two: tuple[Server, str]) -> None:
    srv, other = two
    user = srv.add_user("clerk")
    a = httpx.Client(base_url=srv.base, timeout=60)
    b = httpx.Client(base_url=other, timeout=60)
    with a, b:
        r = b.post("/api/v1/auth/login", json={"username": user["username"], "password": PASSWORD})
        assert r.status_code == 200, r.text
        a.cookies = b.cookies  # the browser keeps one cookie jar; the balancer picks any process
        assert a.get("/api/v1/me").json()["username"] == user["username"]
        csrf = b.cookies.get("fapiao_csrf") or ""
        assert a.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 200
        b.cookies = a.cookies
        assert b.get("/api/v1/me").status_code == 401  # logged out everywhere


def test_failed_logins_on_both_processes_add_up(two: tuple[Server, str]) -> None:
    srv, other = two
    user = srv.add_user("clerk")
    codes = []
    for i in range(8):
        base = (srv.base, other)[i % 2]
        r = httpx.post(base + "/api/v1/auth/login", json={"username": user["username"], "password": "wrong-password"},
                       timeout=60)
        codes.append(r.status_code)
    assert codes[:5] == [401] * 5 and 429 in codes[5:], codes  # five free failures in all, not per process


def test_an_upload_retried_on_the_other_process_is_replayed(two: tuple[Server, str]) -> None:
    srv, other = two
    clerk, user = srv.as_role("clerk")
    headers = {"Authorization": f"Bearer {user['token']}", "Idempotency-Key": "upload-1"}
    files = [("files", (OFD_WUXI.name, OFD_WUXI.read_bytes(), "application/octet-stream"))]
    first = clerk.post("/api/v1/invoices", files=files, headers={"Idempotency-Key": "upload-1"})
    assert first.status_code in (200, 201, 207), first.text
    again = httpx.post(other + "/api/v1/invoices", files=files, headers=headers, timeout=60)
    assert again.status_code == first.status_code and again.json() == first.json()
    assert again.headers.get("idempotent-replayed") == "true"
    listed = httpx.get(other + "/api/v1/invoices", headers={"Authorization": headers["Authorization"]}, timeout=60)
    assert listed.json()["total"] == 1


@pytest.mark.postgres
def test_serve_with_several_workers_answers(tmp_path_factory: pytest.TempPathFactory,
                                            pg_server_url: str) -> None:
    """``fapiao serve --workers 2`` (uvicorn worker processes) on PostgreSQL."""
    from tests.conftest import _drop_pg_database, _fresh_pg_database

    url, name = _fresh_pg_database(pg_server_url)
    srv = start_server(tmp_path_factory.mktemp("workers") / "home", DATABASE_URL=url)
    proc, base = _second(srv, "--workers", "2")
    try:
        admin = {"Authorization": f"Bearer {srv.admin_token}"}
        with httpx.Client(base_url=base, headers=admin, timeout=60) as c:
            assert all(c.get("/api/v1/me").status_code == 200 for _ in range(20))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        stop_server(srv)
        _drop_pg_database(pg_server_url, name)
