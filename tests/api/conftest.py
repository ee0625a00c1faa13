"""The app served by uvicorn on 127.0.0.1 (a random free port, a fresh FAPIAO_HOME), driven
over real HTTP with httpx, exactly as an accounting system or a browser would.

The server is started with the real CLI (``fapiao init`` then ``fapiao serve``) in a
subprocess, so the tests also cover start-up on an initialised data folder. The organisation
is the buyer of the real samples used in the flow (无锡天鹏菜篮子工程有限公司).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.samples import INVOICES

ORG_NAME = "无锡天鹏菜篮子工程有限公司"
ORG_TAX_ID = "91320200796148368W"
# Two distinct real invoices issued to ORG (an OFD 数电票 and a PDF 数电票).
OFD_WUXI = INVOICES / "erma0__fapiao-print" / "sample.ofd"
PDF_WUXI = INVOICES / "ljfdufe__fapiao-print" / "7.22底座.pdf"
MAX_UPLOAD = 2_000_000
PASSWORD = "correct-horse-42"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("FAPIAO_") and k != "DATABASE_URL"}
    env.update({"FAPIAO_HOME": str(home), "FAPIAO_ENVIRONMENT": "test", "PYTHONUNBUFFERED": "1"})
    env.update(extra)
    return env


def run_cli(env: dict[str, str], *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", "from api.cli import run; run()", *args], env=env,
                          capture_output=True, text=True, input=stdin, timeout=120)


@dataclass
class Server:
    base: str
    home: Path
    env: dict[str, str]
    admin_token: str
    proc: subprocess.Popen[bytes]
    log: Path
    clients: list[httpx.Client] = field(default_factory=list)

    @property
    def db_url(self) -> str:
        """The server's database (PostgreSQL in the pg-s3 pass, else its SQLite file)."""
        return self.env.get("DATABASE_URL") or f"sqlite:///{self.db_path}"

    @property
    def db_path(self) -> Path:
        return self.home / "fapiao.sqlite3"

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        c = httpx.Client(base_url=self.base, headers=headers, timeout=60, follow_redirects=False)
        self.clients.append(c)
        return c

    def admin(self) -> httpx.Client:
        return self.client(self.admin_token)

    def add_user(self, role: str, password: str | None = PASSWORD, name: str | None = None) -> dict[str, Any]:
        """A fresh user of ``role`` (its own name, so tests never share users)."""
        name = name or f"{role}-{uuid.uuid4().hex[:8]}"
        body: dict[str, Any] = {"username": name, "role": role}
        if password:
            body["password"] = password
        r = self.admin().post("/api/v1/users", json=body)
        assert r.status_code == 201, r.text
        return dict(r.json())

    def as_role(self, role: str) -> tuple[httpx.Client, dict[str, Any]]:
        user = self.add_user(role)
        return self.client(user["token"]), user

    def cli(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return run_cli(self.env, *args, stdin=stdin)


def _pg_s3_env(extra_env: dict[str, str]) -> dict[str, str]:
    """In the pg-s3 pass a server gets a fresh PostgreSQL database and bucket of its own."""
    from tests.conftest import PG_S3, _fresh_pg_database, s3_env

    if not PG_S3:
        return {}
    env: dict[str, str] = {}
    if "DATABASE_URL" not in extra_env:
        pg = os.environ.get("FAPIAO_TEST_PG_URL") or subprocess.run(
            [str(Path(__file__).resolve().parents[2] / "scripts" / "postgres.sh")],
            check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
        env["DATABASE_URL"], _ = _fresh_pg_database(pg)
    if "FAPIAO_STORE" not in extra_env:
        s3 = os.environ.get("FAPIAO_TEST_S3_URL") or subprocess.run(
            [str(Path(__file__).resolve().parents[2] / "scripts" / "s3.sh"), "start"], check=True,
            capture_output=True, text=True, env={**os.environ, "FAPIAO_PYTHON": sys.executable}
        ).stdout.strip().splitlines()[-1]
        from core.s3store import S3Bucket, S3Config

        bucket = "t-" + uuid.uuid4().hex[:20]
        env.update(s3_env(s3, bucket))
        S3Bucket(S3Config(s3, bucket, "us-east-1", "test", "test", "", "auto", 30, 8 << 20)).ensure()
    return env


def start_server(home: Path, **extra_env: str) -> Server:
    home.mkdir(parents=True, exist_ok=True)
    env = clean_env(home, FAPIAO_MAX_UPLOAD_BYTES=str(MAX_UPLOAD), **_pg_s3_env(extra_env), **extra_env)
    init = run_cli(env, "init", "--org-name", ORG_NAME, "--org-tax-id", ORG_TAX_ID, "--json")
    assert init.returncode == 0, init.stderr
    info = json.loads(init.stdout)
    port = free_port()
    log = home / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-c", "from api.cli import run; run()", "serve",
                                 "--host", "127.0.0.1", "--port", str(port)],
                                env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(base + "/api/v1/health", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("server did not start:\n" + log.read_text(errors="replace"))
        time.sleep(0.1)
    return Server(base, home, env, info["token"], proc, log)


def stop_server(server: Server) -> None:
    for c in server.clients:
        c.close()
    server.proc.terminate()
    try:
        server.proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        server.proc.wait()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("fapiao") / "home")
    yield srv
    stop_server(srv)
    log = srv.log.read_text(errors="replace")
    # No request may have crashed the server: bad input is a 4xx, never a 500.
    assert "Traceback" not in log and '" 500' not in log, log[-5000:]


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The server on SQLite and on a fresh database of the real PostgreSQL."""
    from tests.conftest import _drop_pg_database, _fresh_pg_database

    extra: dict[str, str] = {}
    name = None
    if request.param == "postgres":
        pg = request.getfixturevalue("pg_server_url")
        extra["DATABASE_URL"], name = _fresh_pg_database(pg)
    srv = start_server(tmp_path_factory.mktemp("fapiao") / "home", **extra)
    yield srv
    stop_server(srv)
    if name is not None:
        _drop_pg_database(request.getfixturevalue("pg_server_url"), name)
    log = srv.log.read_text(errors="replace")
    assert "Traceback" not in log and '" 500' not in log, log[-5000:]


def upload(client: httpx.Client, *paths: Path, key: str | None = None) -> httpx.Response:
    files = [("files", (p.name, p.read_bytes(), "application/octet-stream")) for p in paths]
    headers = {"Idempotency-Key": key} if key else {}
    return client.post("/api/v1/invoices", files=files, headers=headers)


# --- the browser (Debian's Chromium driven by Playwright) -------------------------------------

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    ctx = browser.new_context(viewport={"width": 1366, "height": 800}, locale="zh-CN")
    pg = ctx.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    yield pg
    ctx.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def login(page: Page, server: Server, username: str, password: str = PASSWORD) -> None:
    page.goto(server.base + "/invoices")
    expect(page).to_have_url(server.base + "/login?next=/invoices")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    # Password hashing is deliberately slow; on a loaded machine (or PostgreSQL) 5 s can pass.
    expect(page).to_have_url(server.base + "/invoices", timeout=20_000)


