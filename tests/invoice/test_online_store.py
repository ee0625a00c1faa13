"""The online check with its memory, on SQLite and PostgreSQL, against the real local HTTP
service of ``tests/invoice/test_online.py``: the daily limit counted in the database (across
sessions, processes and threads), the status stored on the invoice, the history kept."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from core.audit import AuditEntry, verify_chain
from core.clock import today_china
from core.db import session_scope
from core.settings import Settings
from core.users import Role, create_user
from invoice.model import sha256_hex
from invoice.online_store import (
    DbCounterStore,
    OnlineCheck,
    OnlineCheckCount,
    online_check_history,
    run_online_check,
)
from invoice.registry import InvoiceRecord, RegistryError, register
from invoice.verify.online import CheckStatus
from tests.api.conftest import OFD_WUXI, clean_env, run_cli, start_server, stop_server, upload
from tests.conftest import store_env
from tests.invoice import test_online
from tests.invoice.test_online import KEY, fake_check_service, inv, service_calls


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    """The fake 查验 service of test_online.py (its handler), on 127.0.0.1."""
    with fake_check_service() as url:
        yield url


def configure(settings: Settings, url: str, limit: int) -> None:
    settings.online_check_url = url
    settings.online_check_key = KEY
    settings.online_check_daily_limit = limit


def registered(engine: Engine, number: str, days_ago: int = 30) -> str:
    """A registered invoice known to the fake service under ``number``; its id."""
    invoice = inv(number, issue_date=(today_china() - timedelta(days=days_ago)).isoformat())
    with session_scope(engine) as s:
        rec = register(s, invoice, {"status": "valid"}, sha256_hex(uuid.uuid4().bytes), f"{number}.ofd",
                       "alice", 100, check_blob=False)
        return rec.id


def check(engine: Engine, invoice_id: str, user: str = "alice") -> CheckStatus:
    with session_scope(engine) as s:
        return run_online_check(s, invoice_id, username=user).status


def stored_status(engine: Engine, invoice_id: str) -> str:
    with session_scope(engine) as s:
        rec = s.get(InvoiceRecord, invoice_id)
        assert rec is not None
        return rec.online_check_status


def history(engine: Engine, invoice_id: str) -> list[dict[str, object]]:
    with session_scope(engine) as s:
        return online_check_history(s, invoice_id)


def test_success_is_stored_with_history_and_audit(engine: Engine, settings: Settings, server_url: str) -> None:
    configure(settings, server_url, 5)
    invoice_id = registered(engine, "99999951")
    assert stored_status(engine, invoice_id) == "not_checked"
    with session_scope(engine) as s:
        result = run_online_check(s, invoice_id, username="bob")
    assert result.status is CheckStatus.SUCCESS
    assert result.details["invoice"]["total"] == "318.00"
    assert stored_status(engine, invoice_id) == "success"
    [row] = history(engine, invoice_id)
    assert row["status"] == "success" and row["by"] == "bob" and row["contacted"] is True
    with session_scope(engine) as s:
        audits = s.exec(select(AuditEntry).where(col(AuditEntry.object_id) == invoice_id,
                                                 col(AuditEntry.action) == "invoice.online_check")).all()
        assert [(a.actor, a.details["status"]) for a in audits] == [("bob", "success")]
        assert verify_chain(s).ok
        counts = s.exec(select(OnlineCheckCount)).all()
    assert [(c.invoice_key, c.day, c.uses) for c in counts] == [("050001700111:99999951", today_china(), 1)]


@pytest.mark.parametrize(
    ("number", "days_ago", "status", "contacted", "says"),
    [("99999952", 30, "mismatch", True, "total: file 318.00, service 999.00"),
     ("99999954", 30, "red_reversed", True, "red_reversed for 99999954"),
     ("12345678", 30, "not_found", True, "not_found for 12345678"),
     ("00000500", 30, "error", True, "HTTP 500"),
     ("99999951", 0, "same_day", False, "from the next day")],
)
def test_each_outcome_is_stored(engine: Engine, settings: Settings, server_url: str, number: str,
                                days_ago: int, status: str, contacted: bool, says: str) -> None:
    configure(settings, server_url, 5)
    invoice_id = registered(engine, number, days_ago)
    before = service_calls(number)
    assert check(engine, invoice_id) == status
    assert stored_status(engine, invoice_id) == status
    [row] = history(engine, invoice_id)
    assert row["status"] == status and row["contacted"] is contacted
    assert says in str(row["message"])
    assert service_calls(number) - before == (1 if contacted else 0)


def test_rate_limit_never_overwrites_a_conclusive_status(engine: Engine, settings: Settings,
                                                        server_url: str) -> None:
    configure(settings, server_url, 1)
    invoice_id = registered(engine, "99999953")
    before = service_calls("99999953")
    assert check(engine, invoice_id) is CheckStatus.VOIDED
    assert check(engine, invoice_id) is CheckStatus.RATE_LIMITED
    assert service_calls("99999953") - before == 1  # the refused check never reached the service
    assert stored_status(engine, invoice_id) == "voided"  # not hidden by the refusal
    rows = history(engine, invoice_id)
    assert [(r["status"], r["contacted"]) for r in rows] == [("voided", True), ("rate_limited", False)]
    assert "already checked 1 times today" in str(rows[1]["message"])


def test_limit_holds_across_sessions_and_processes(engine: Engine, settings: Settings, server_url: str) -> None:
    configure(settings, server_url, 2)
    invoice_id = registered(engine, "99999951")
    with session_scope(engine) as s:
        create_user(s, "clerk1", Role.CLERK)
    env = clean_env(settings.home, DATABASE_URL=engine.url.render_as_string(hide_password=False),
                    FAPIAO_ONLINE_CHECK_URL=server_url, FAPIAO_ONLINE_CHECK_KEY=KEY,
                    FAPIAO_ONLINE_CHECK_DAILY_LIMIT="2", **store_env(settings))
    before = service_calls("99999951")

    assert check(engine, invoice_id) is CheckStatus.SUCCESS  # this process, one session
    cli = run_cli(env, "invoice", "online-check", invoice_id, "--json", "--as", "clerk1")  # another process
    assert cli.returncode == 0, cli.stderr
    out = json.loads(cli.stdout)
    assert out["status"] == "success" and out["online_check_status"] == "success"
    assert check(engine, invoice_id) is CheckStatus.RATE_LIMITED  # a third session: the DB counted both
    cli = run_cli(env, "invoice", "online-check", invoice_id, "--json", "--as", "clerk1")
    assert cli.returncode == 1, cli.stderr
    assert json.loads(cli.stdout)["status"] == "rate_limited"
    assert service_calls("99999951") - before == 2
    assert DbCounterStore(engine).count("050001700111:99999951", today_china()) == 2
    assert [r["by"] for r in history(engine, invoice_id)] == ["alice", "clerk1", "alice", "clerk1"]

    missing = run_cli(env, "invoice", "online-check", "nonexistent0000", "--as", "clerk1")
    assert missing.returncode == 2 and "no invoice 'nonexistent0000'" in missing.stderr
    with session_scope(engine) as s, pytest.raises(RegistryError) as err:
        run_online_check(s, "nonexistent0000", username="alice")
    assert err.value.code == "invoice_not_found"


def test_concurrent_checks_never_exceed_the_limit(engine: Engine, settings: Settings, server_url: str) -> None:
    configure(settings, server_url, 3)
    invoice_id = registered(engine, "99999951")
    before = service_calls("99999951")
    threads_n = 8
    barrier = threading.Barrier(threads_n)
    results: list[CheckStatus] = []
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            barrier.wait(10)
            results.append(check(engine, invoice_id, f"user{i}"))
        except BaseException as exc:  # reported below, never lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert sorted(results) == sorted([CheckStatus.SUCCESS] * 3 + [CheckStatus.RATE_LIMITED] * 5)
    assert service_calls("99999951") - before == 3
    assert stored_status(engine, invoice_id) == "success"
    assert len(history(engine, invoice_id)) == threads_n
    with session_scope(engine) as s:
        assert verify_chain(s).ok


def test_unconfigured_stays_not_checked_and_records_nothing(engine: Engine, settings: Settings) -> None:
    settings.online_check_url = None
    invoice_id = registered(engine, "99999951")
    with session_scope(engine) as s:
        result = run_online_check(s, invoice_id, username="alice")
    assert result.status is CheckStatus.NOT_CHECKED
    assert "no online check service is configured" in result.message
    assert stored_status(engine, invoice_id) == "not_checked"
    with session_scope(engine) as s:
        assert s.exec(select(OnlineCheck)).all() == []
        assert s.exec(select(OnlineCheckCount)).all() == []
        assert s.exec(select(AuditEntry).where(col(AuditEntry.action) == "invoice.online_check")).all() == []


def test_api_endpoint_checks_stores_and_shows_history(tmp_path: Path, server_url: str,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """POST /invoices/{id}/online-check on the real server (uvicorn, SQLite), limit 1 a day."""
    number = "24322000000489101796"  # the 数电票 in OFD_WUXI, issued 2024-12-05
    monkeypatch.setitem(test_online.RECORDS, number,
                        ("success", {"seller_tax_id": "91320211739560225X", "total": "20000.00"}))
    srv = start_server(tmp_path / "home", FAPIAO_ONLINE_CHECK_URL=server_url, FAPIAO_ONLINE_CHECK_KEY=KEY,
                       FAPIAO_ONLINE_CHECK_DAILY_LIMIT="1")
    try:
        clerk, _ = srv.as_role("clerk")
        up = upload(clerk, OFD_WUXI)
        assert up.status_code == 200, up.text
        invoice_id = up.json()["imported"][0]["invoice_id"]
        before = service_calls(number)

        first = clerk.post(f"/api/v1/invoices/{invoice_id}/online-check")
        assert first.status_code == 200, first.text
        assert first.json()["status"] == "success" and first.json()["online_check_status"] == "success"
        second = clerk.post(f"/api/v1/invoices/{invoice_id}/online-check")
        assert second.status_code == 200, second.text
        assert second.json()["status"] == "rate_limited"
        assert second.json()["online_check_status"] == "success"
        assert service_calls(number) - before == 1

        approver, _ = srv.as_role("approver")
        refused = approver.post(f"/api/v1/invoices/{invoice_id}/online-check")
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
        missing = clerk.post("/api/v1/invoices/nonexistent0000/online-check")
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "invoice_not_found"

        detail = approver.get(f"/api/v1/invoices/{invoice_id}").json()
        assert detail["online_check_status"] == "success"
        assert [c["status"] for c in detail["online_checks"]] == ["success", "rate_limited"]
        assert [h["details"]["status"] for h in detail["history"] if h["action"] == "invoice.online_check"] \
            == ["success", "rate_limited"]
    finally:
        stop_server(srv)
    log = srv.log.read_text(errors="replace")
    assert "Traceback" not in log and '" 500' not in log, log[-3000:]
