"""Accounts, sessions and outputs over real HTTP (issue 11's rows), each pass and fail.

Client addresses: Linux routes all of 127.0.0.0/8 to loopback, so a client bound to
127.0.0.21 reaches the server on 127.0.0.1 and is seen as another address — the attacker and
the real user at another desk.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import time
import uuid
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from openpyxl import Workbook, load_workbook

from tests.api.conftest import (
    OFD_WUXI,
    PASSWORD,
    PDF_WUXI,
    Server,
    free_port,
    start_server,
    stop_server,
)


def from_address(server: Server, address: str, token: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    c = httpx.Client(base_url=server.base, transport=httpx.HTTPTransport(local_address=address),
                     headers=headers, timeout=60, follow_redirects=False)
    server.clients.append(c)
    return c


def login(c: httpx.Client, username: str, password: str = PASSWORD) -> httpx.Response:
    return c.post("/api/v1/auth/login", json={"username": username, "password": password})


def audit(server: Server, **params: str) -> list[dict[str, Any]]:
    r = server.admin().get("/api/v1/audit", params={**params, "page_size": 500})
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


def _chinese(text: str) -> bool:
    return re.search(r"[\u4e00-\u9fff]", text) is not None


# --- login throttling ---------------------------------------------------------------------------

def test_guessing_is_slowed_but_the_real_user_still_logs_in(any_server: Server) -> None:
    user = any_server.add_user("clerk")
    name = user["username"]
    attacker = from_address(any_server, "127.0.0.21")
    for _ in range(5):
        r = login(attacker, name, "wrong-password")
        assert r.status_code == 401 and r.json()["error"]["code"] == "bad_credentials"
    # the attacker must now wait, even with the right password
    slowed = login(attacker, name, PASSWORD)
    assert slowed.status_code == 429 and slowed.json()["error"]["code"] == "too_many_failures"
    wait = int(slowed.headers["Retry-After"])
    assert 1 <= wait <= 2 and _chinese(slowed.json()["error"]["message"])
    # the real user, at another desk, with the right password, is not locked out
    desk = from_address(any_server, "127.0.0.22")
    ok = login(desk, name, PASSWORD)
    assert ok.status_code == 200, ok.text
    assert desk.get("/api/v1/me").json()["username"] == name
    # the attacker's waits grow: after the wait one more guess, then twice as long
    time.sleep(wait + 0.2)
    assert login(attacker, name, "wrong-again").status_code == 401
    again = login(attacker, name, "wrong-again")
    assert again.status_code == 429 and 3 <= int(again.headers["Retry-After"]) <= 4
    # failures name the user as the object, never an attacker-chosen actor; 429s are not logged
    failed = audit(any_server, action="auth.login_failed", object_id=user["id"])
    assert len(failed) == 6
    assert {e["actor"] for e in failed} == {"anonymous"}
    assert {e["details"]["client"] for e in failed} == {"127.0.0.21"}


def test_unknown_names_are_counted_per_address_and_never_logged(any_server: Server) -> None:
    attacker = from_address(any_server, "127.0.0.23")
    names = [f"ghost-{uuid.uuid4().hex[:8]}" for _ in range(8)]
    codes = [login(attacker, n, "whatever-1").status_code for n in names]
    assert codes[:5] == [401] * 5 and set(codes[5:]) == {429}
    log = json.dumps(audit(any_server), ensure_ascii=False)
    assert not any(n in log for n in names)
    bursts = audit(any_server, action="auth.login_throttled", object_id="127.0.0.23")
    assert len(bursts) == 1 and bursts[0]["actor"] == "anonymous"
    # a fresh address is not affected by that burst
    assert login(from_address(any_server, "127.0.0.24"), names[0], "whatever-1").status_code == 401


def test_the_counters_are_shared_by_every_api_process(any_server: Server) -> None:
    """A second server process on the same database sees the first one's failures."""
    port = free_port()
    second = subprocess.Popen([sys.executable, "-c", "from api.cli import run; run()", "serve", "--host",
                               "127.0.0.1", "--port", str(port)], env=any_server.env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base2 = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base2 + "/api/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
            assert time.monotonic() < deadline and second.poll() is None
        user = any_server.add_user("clerk")
        first = from_address(any_server, "127.0.0.25")
        for _ in range(5):
            assert login(first, user["username"], "nope-nope").status_code == 401
        other = httpx.Client(base_url=base2, transport=httpx.HTTPTransport(local_address="127.0.0.25"))
        with other:
            r = login(other, user["username"], PASSWORD)
        assert r.status_code == 429 and "Retry-After" in r.headers
    finally:
        second.terminate()
        second.wait(timeout=20)


# --- sessions end with the credentials ------------------------------------------------------------

def _session_and_token(server: Server, role: str = "clerk") -> tuple[dict[str, Any], httpx.Client, httpx.Client]:
    user = server.add_user(role)
    browser = server.client()
    assert login(browser, user["username"]).status_code == 200
    token = server.client(user["token"])
    assert browser.get("/api/v1/me").status_code == 200 and token.get("/api/v1/me").status_code == 200
    return user, browser, token


@pytest.mark.parametrize("change", [{"password": "a-new-password-1"}, {"role": "auditor"}, {"active": False}],
                         ids=["password", "role", "disable"])
def test_reset_role_change_and_disabling_end_sessions_and_tokens(any_server: Server, change: dict[str, Any]) -> None:
    user, browser, token = _session_and_token(any_server)
    _, bystander_browser, bystander_token = _session_and_token(any_server)
    r = any_server.admin().patch(f"/api/v1/users/{user['id']}", json=change)
    assert r.status_code == 200, r.text
    assert browser.get("/api/v1/me").status_code == 401
    assert token.get("/api/v1/me").status_code == 401
    # other users keep working
    assert bystander_browser.get("/api/v1/me").status_code == 200
    assert bystander_token.get("/api/v1/me").status_code == 200
    ended = audit(any_server, action="user.sessions_ended", object_id=user["id"])
    assert len(ended) == 1 and ended[0]["details"]["sessions"] == 1 and ended[0]["details"]["tokens"] == 1
    fresh = any_server.client()
    if "password" in change:
        assert login(fresh, user["username"], change["password"]).status_code == 200
        assert login(any_server.client(), user["username"], PASSWORD).status_code == 401
    elif "role" in change:
        assert login(fresh, user["username"]).status_code == 200
        assert fresh.get("/api/v1/me").json()["role"] == "auditor"
    else:
        assert login(fresh, user["username"]).status_code == 401


def test_a_display_name_change_keeps_sessions(any_server: Server) -> None:
    user, browser, token = _session_and_token(any_server)
    r = any_server.admin().patch(f"/api/v1/users/{user['id']}", json={"display_name": "王小明"})
    assert r.status_code == 200 and r.json()["display_name"] == "王小明"
    assert browser.get("/api/v1/me").json()["display_name"] == "王小明"
    assert token.get("/api/v1/me").status_code == 200
    page = browser.get("/invoices")
    assert page.status_code == 200 and "王小明（" in page.text  # the page names the person


def test_cli_reset_ends_the_session(any_server: Server) -> None:
    user, browser, token = _session_and_token(any_server)
    out = any_server.cli("users", "reset", user["username"], "--as", "admin", "--new-token", "--json",
                         stdin="another-password-9\n")
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    assert info["sessions_ended"] == 1 and info["tokens_revoked"] == 1
    assert browser.get("/api/v1/me").status_code == 401 and token.get("/api/v1/me").status_code == 401
    assert any_server.client(info["token"]).get("/api/v1/me").status_code == 200
    assert login(any_server.client(), user["username"], "another-password-9").status_code == 200
    missing = any_server.cli("users", "reset", "nobody-here", "--as", "admin", stdin="another-password-9\n")
    assert missing.returncode == 2 and "nobody-here" in missing.stderr


def test_secure_cookies_behind_a_tls_proxy(server: Server, tmp_path: Path) -> None:
    user = server.add_user("clerk")
    plain = login(server.client(), user["username"])
    assert not any("Secure" in h for h in plain.headers.get_list("set-cookie"))
    proxied = start_server(tmp_path / "home", FAPIAO_SECURE_COOKIES="1")
    try:
        u = proxied.add_user("clerk")
        r = login(proxied.client(), u["username"])
        cookies = r.headers.get_list("set-cookie")
        assert r.status_code == 200 and len(cookies) == 2
        assert all("Secure" in h for h in cookies)
    finally:
        stop_server(proxied)


# --- usernames ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name,code,status", [
    ("ＡＤＭＩＮ", "user_exists", 409), ("Admin", "user_exists", 409), ("admin\u200b", "bad_username", 400),
    ("\u202enimda", "bad_username", 400), ("ad\u2067min", "bad_username", 400), ("ad min", "bad_username", 400),
])
def test_look_alike_usernames_are_refused(any_server: Server, name: str, code: str, status: int) -> None:
    r = any_server.admin().post("/api/v1/users", json={"username": name, "role": "admin"})
    assert r.status_code == status and r.json()["error"]["code"] == code, r.text
    assert _chinese(r.json()["error"]["message"])


def test_full_width_names_are_folded_and_found_by_any_case(any_server: Server) -> None:
    tag = uuid.uuid4().hex[:6]
    wide = "".join(chr(ord(c) + 0xFEE0) for c in f"Zhao{tag}")  # full-width letters and digits
    r = any_server.admin().post("/api/v1/users", json={"username": wide, "role": "clerk", "password": PASSWORD,
                                                       "display_name": "赵六"})
    assert r.status_code == 201, r.text
    assert r.json()["username"] == f"Zhao{tag}" and r.json()["display_name"] == "赵六"
    c = any_server.client()
    assert login(c, f"ZHAO{tag}").status_code == 200
    me = c.get("/api/v1/me").json()
    assert me["username"] == f"Zhao{tag}" and me["display_name"] == "赵六" and me["role_label"] == "经办"


# --- redirects after login ----------------------------------------------------------------------

@pytest.mark.parametrize("query", [
    "next=/%5Cevil.example/x", "next=//evil.example", "next=/%5C%5Cevil.example", "next=https://evil.example",
    "next=https%3A%2F%2Fevil.example", "next=/%255Cevil.example", "next=%2F%2Fevil.example",
    "next=/%09/evil.example", "next=/%2F%2Fevil.example", "next=javascript:alert(1)", "next=/%0D%0A/evil.example",
])
def test_login_never_sends_the_browser_to_another_site(server: Server, query: str) -> None:
    r = server.client().get(f"/login?{query}")
    assert r.status_code == 200
    assert 'data-next="/"' in r.text and "evil" not in r.text


def test_login_returns_to_a_page_of_this_site(server: Server) -> None:
    r = server.client().get("/login?next=/claims%3Fstate%3Dsubmitted")
    assert 'data-next="/claims?state=submitted"' in r.text
    # and an unauthenticated page visit sends the browser there with its own path
    visit = server.client().get("/invoices")
    assert visit.status_code == 303 and visit.headers["location"] == "/login?next=/invoices"


# --- paging ---------------------------------------------------------------------------------------

LIST_ROUTES = ["/api/v1/invoices", "/api/v1/claims", "/api/v1/vouchers", "/api/v1/archive/packages",
               "/api/v1/audit", "/api/v1/users"]


@pytest.mark.parametrize("params", [
    {"page": "99999999999999999999"}, {"page": "0"}, {"page": "-1"}, {"page": "abc"}, {"page": "1.5"},
    {"page": "1000001"}, {"page_size": "501"}, {"page_size": "0"}, {"page_size": "99999999999999999999"},
], ids=lambda p: "&".join(f"{k}={v}" for k, v in p.items()))
def test_out_of_range_paging_is_a_422_in_chinese_on_every_list(server: Server, params: dict[str, str]) -> None:
    admin = server.admin()
    for path in [*LIST_ROUTES, "/invoices", "/claims"]:
        r = admin.get(path, params=params)
        assert r.status_code == 422, f"{path} {params}: {r.status_code} {r.text[:200]}"
        if path.startswith("/api/"):
            err = r.json()["error"]
            assert err["code"] == "validation_error" and _chinese(err["message"])
            assert err["details"]["errors"][0]["where"] == "query." + next(iter(params))


def test_paging_in_range_works_on_every_list(server: Server) -> None:
    admin = server.admin()
    for path in LIST_ROUTES:
        r = admin.get(path, params={"page": "1000000", "page_size": "500"})
        assert r.status_code == 200, f"{path}: {r.text[:200]}"
        assert r.json()["items"] == [] and r.json()["page"] == 1000000
        assert admin.get(path, params={"page": "1", "page_size": "1"}).status_code == 200
    assert admin.get("/invoices", params={"page": "2"}).status_code == 200


# --- download names -------------------------------------------------------------------------------

def _download(c: httpx.Client, invoice_id: str) -> httpx.Response:
    r = c.get(f"/api/v1/invoices/{invoice_id}/original", params={"download": "true"})
    assert r.status_code == 200, r.text
    assert "set-cookie" not in r.headers
    return r


def _utf8_name(disposition: str) -> str:
    m = re.search(r"filename\*=UTF-8''([^;]+)", disposition)
    assert m, disposition
    return unquote(m.group(1))


def test_an_original_named_with_a_newline_stays_downloadable(server: Server, tmp_path: Path) -> None:
    clerk = server.add_user("clerk")
    folder = tmp_path / "in"
    folder.mkdir()
    hostile = folder / "a\nSet-Cookie: x.ofd"
    hostile.write_bytes(OFD_WUXI.read_bytes())
    out = server.cli("import", str(folder), "--as", clerk["username"], "--json")
    assert out.returncode == 0, out.stdout + out.stderr
    invoice_id = re.search(r'"invoice_id": "([^"]+)"', out.stdout).group(1)  # type: ignore[union-attr]
    r = _download(server.client(clerk["token"]), invoice_id)
    assert r.content == OFD_WUXI.read_bytes()
    disposition = r.headers["content-disposition"]
    assert "\n" not in disposition and "\r" not in disposition
    assert disposition.startswith("attachment; filename=\"a_Set-Cookie_x.ofd\"")
    assert _utf8_name(disposition) == "a_Set-Cookie: x.ofd"


def test_an_upload_with_quotes_and_bidi_in_its_name_downloads_with_a_clean_name(server: Server) -> None:
    clerk = server.add_user("clerk")
    c = server.client(clerk["token"])
    boundary = "b" + uuid.uuid4().hex
    name = "发票\u202efdp.exe;.pdf"  # raw UTF-8 in the header, as a browser sends it
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; "
            f"filename=\"{name}\"\r\n"
            "Content-Type: application/pdf\r\n\r\n").encode() + PDF_WUXI.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
    r = c.post("/api/v1/invoices", content=body, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert r.status_code == 200, r.text
    [entry] = r.json()["imported"]
    got = _download(c, entry["invoice_id"])
    assert got.content == PDF_WUXI.read_bytes()
    disposition = got.headers["content-disposition"]
    assert disposition.isascii()
    clean = _utf8_name(disposition)
    assert "\u202e" not in clean and clean.endswith(".pdf") and clean.startswith("发票")
    inline = c.get(f"/api/v1/invoices/{entry['invoice_id']}/original")
    assert inline.headers["content-disposition"].startswith("inline; ")


# --- spreadsheets ----------------------------------------------------------------------------------

def test_journal_export_writes_formula_like_text_as_text(server: Server) -> None:
    acc, _ = server.as_role("accountant")
    hostile = {"department": "=1+1", "employee": "@SUM(A1)"}
    r = acc.post("/api/v1/vouchers", json={"date": "2025-10-08", "summary": "+cmd|' /C calc'!A0", "lines": [
        {"account_code": "1001", "debit": "12.50", "summary": "-2+3", "aux": hostile},
        {"account_code": "1002", "credit": "12.50", "summary": "=HYPERLINK(\"http://evil\",\"x\")"}]})
    assert r.status_code == 201, r.text
    x = acc.get("/api/v1/vouchers/export.xlsx", params={"period": "2025-10"})
    assert x.status_code == 200
    with zipfile.ZipFile(io.BytesIO(x.content)) as z:
        for member in z.namelist():
            if member.startswith("xl/worksheets/"):
                assert "<f>" not in z.read(member).decode(), member
    rows = [list(row) for row in load_workbook(io.BytesIO(x.content), read_only=True)["序时账"]
            .iter_rows(values_only=True)]
    mine = [row for row in rows if row[7] == "=1+1"]
    assert len(mine) == 1 and mine[0][8] == "@SUM(A1)" and mine[0][2] == "-2+3"
    assert mine[0][5] == 12.5  # money stays a number


def _voucher_sheet(rows: list[list[Any]]) -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "凭证导入"
    ws.append(["凭证号", "日期", "摘要", "科目编码", "科目名称", "借方", "贷方", "部门", "职员", "发票"])
    for row in rows:
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _with_sheet(data: bytes, chunks: list[bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            if info.filename != "xl/worksheets/sheet1.xml":
                dst.writestr(info.filename, src.read(info.filename))
                continue
            target = zipfile.ZipInfo(info.filename)
            target.compress_type = zipfile.ZIP_DEFLATED
            with dst.open(target, "w", force_zip64=True) as w:
                for chunk in chunks:
                    w.write(chunk)
    return out.getvalue()


HEAD = (b'<?xml version="1.0" encoding="UTF-8"?><worksheet '
        b'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>')


def _rss_peak_kb(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1))  # type: ignore[union-attr]


def _import(c: httpx.Client, data: bytes, name: str = "凭证.xlsx") -> httpx.Response:
    return c.post("/api/v1/vouchers/import", files={"file": (name, data, "application/octet-stream")})


def test_a_400_mb_cell_is_refused_without_growing_the_server(server: Server) -> None:
    acc, _ = server.as_role("accountant")
    bomb = _with_sheet(_voucher_sheet([]), [HEAD + b'<row r="1"><c r="A1" t="inlineStr"><is><t>',
                                            *([b"A" * (4 << 20)] * 100), b"</t></is></c></row></sheetData></worksheet>"])
    assert len(bomb) < 1_000_000
    before = _rss_peak_kb(server.proc.pid)
    started = time.monotonic()
    r = _import(acc, bomb, "bomb.xlsx")
    assert time.monotonic() - started < 10
    assert r.status_code == 400 and r.json()["error"]["code"] == "xlsx_too_large", r.text
    assert "bomb.xlsx" in r.json()["error"]["message"]
    assert _rss_peak_kb(server.proc.pid) - before < 300 * 1024


def test_an_oversized_cell_within_the_size_limits_is_named_by_row_and_column(server: Server) -> None:
    acc, _ = server.as_role("accountant")
    rows = [["V1", "2025-10-09", "x", "1001", None, "1.00", None, None, None, None],
            ["V1", "2025-10-09", "长" * 200, "1002", None, None, "1.00", None, None, None]]
    ok = _voucher_sheet(rows)
    # openpyxl itself cuts a cell at Excel's 32,767 characters: write the long cell by hand
    with zipfile.ZipFile(io.BytesIO(ok)) as z:
        xml = z.read("xl/worksheets/sheet1.xml")
    long_cell = xml.replace(b"&#38271;" * 200, "长".encode() * 40_000)  # openpyxl writes 长 as &#38271;
    assert long_cell != xml
    r = _import(acc, _with_sheet(ok, [long_cell]))
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["code"] == "xlsx_cell_too_large" and (err["details"]["row"], err["details"]["column"]) == (3, "C")
    assert "第 3 行第 C 列" in err["message"]
    assert _import(acc, ok).status_code == 201
