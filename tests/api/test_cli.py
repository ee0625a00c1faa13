"""``fapiao init``, ``users add``, ``serve`` on an empty data folder."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.api.conftest import clean_env, free_port, run_cli


def test_init_users_add_and_tokens_work(tmp_path: Path) -> None:
    env = clean_env(tmp_path / "home")
    r = run_cli(env, "init", "--org-name", "测试有限公司", "--org-tax-id", "91320200796148368W", "--json")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["username"] == "admin" and info["role"] == "admin" and info["token"].startswith("fpa_")
    assert (tmp_path / "home" / "fapiao.sqlite3").is_file()
    assert "FAPIAO_ORG_TAX_ID=91320200796148368W" in (tmp_path / "home" / "settings.env").read_text()
    again = run_cli(env, "init", "--json")
    assert again.returncode == 1 and json.loads(again.stdout)["error"]["code"] == "already_initialised"

    no_actor = run_cli(env, "users", "add", "li", "--role", "clerk", "--json")
    assert no_actor.returncode == 2
    added = run_cli({**env, "FAPIAO_USER": "admin"}, "users", "add", "li", "--role", "clerk", "--password",
                    "--json", stdin="a-long-password\n")
    assert added.returncode == 0, added.stderr
    li = json.loads(added.stdout)
    assert li["username"] == "li" and li["role"] == "clerk" and li["token"].startswith("fpa_")
    dup = run_cli(env, "users", "add", "li", "--role", "clerk", "--as", "admin", "--json")
    assert dup.returncode == 1 and json.loads(dup.stdout)["error"]["code"] == "user_exists"
    weak = run_cli(env, "users", "add", "wang", "--role", "clerk", "--as", "admin", "--password", stdin="short\n")
    assert weak.returncode == 2 and "8 个字符" in weak.stderr
    # A clerk may not add users, on the CLI as over HTTP.
    refused = run_cli(env, "users", "add", "zhao", "--role", "admin", "--as", "li", "--json")
    assert refused.returncode == 1 and json.loads(refused.stdout)["error"]["code"] == "forbidden"
    verify = run_cli(env, "audit", "verify", "--json")
    assert verify.returncode == 0 and json.loads(verify.stdout)["entries"] == 2  # two user.created


def test_serve_on_an_empty_folder_initialises_and_says_how_to_log_in(tmp_path: Path) -> None:
    home = tmp_path / "empty"
    env = clean_env(home)
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", "from api.cli import run; run()", "serve", "--port", str(port)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines: list[str] = []
        assert proc.stdout is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if "Log in at" in line:
                break
        out = "".join(lines)
        password = re.search(r"password \(web page\): (\S+)", out)
        token = re.search(r"API token:\s+(fpa_\S+)", out)
        assert password and token, out
        assert f"http://127.0.0.1:{port}/login" in out
        base = f"http://127.0.0.1:{port}"
        while time.monotonic() < deadline:
            try:
                if httpx.get(base + "/api/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        r = httpx.post(base + "/api/v1/auth/login", json={"username": "admin", "password": password.group(1)})
        assert r.status_code == 200 and r.json()["user"]["role"] == "admin"
        me = httpx.get(base + "/api/v1/me", headers={"Authorization": f"Bearer {token.group(1)}"})
        assert me.json()["username"] == "admin"
    finally:
        proc.terminate()
        proc.wait(timeout=20)
