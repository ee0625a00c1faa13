"""The online check (查验) against a real HTTP server on 127.0.0.1 started here."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from core.settings import Settings
from invoice.model import Invoice, InvoiceKind, Party, SourceFormat
from invoice.verify.online import (
    CheckStatus,
    DailyLimiter,
    HttpVerifier,
    LimitedVerifier,
    MemoryCounterStore,
    NotConfigured,
    get_verifier,
)

KEY = "test-key-123"
TODAY = date(2026, 1, 15)

# What the fake service knows: number -> (status, facts)
RECORDS: dict[str, tuple[str, dict[str, Any]]] = {
    "99999951": ("success", {"seller_tax_id": "91500106MA2CE71F65", "total": "318.00"}),
    "99999952": ("success", {"seller_tax_id": "91500106MA2CE71F65", "total": "999.00"}),
    "99999953": ("voided", {}),
    "99999954": ("red_reversed", {}),
}


class _Handler(BaseHTTPRequestHandler):
    requests: ClassVar[list[dict[str, Any]]] = []

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        return

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _Handler.requests.append({"auth": self.headers.get("Authorization"), "body": body})
        if self.headers.get("Authorization") != f"Bearer {KEY}":
            self._send(401, {"error": "bad key"})
            return
        number = body.get("invoice_number")
        if number == "00000429":
            self._send(429, {"status": "rate_limited"})
            return
        if number == "00000500":
            self.send_response(500)
            self.end_headers()
            return
        if number == "00000bad":
            self._send(200, {"nonsense": True})
            return
        status, facts = RECORDS.get(number, ("not_found", {}))
        self._send(200, {"status": status, "message": f"{status} for {number}", "invoice": facts})

    def _send(self, code: int, obj: dict[str, Any]) -> None:
        raw = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)


@contextmanager
def fake_check_service() -> Iterator[str]:
    """The fake 查验 service (``_Handler``) on 127.0.0.1; yields its URL. Other tests reuse it."""
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}/check"
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(5)


def service_calls(number: str) -> int:
    """How many requests the fake service has had for one invoice number."""
    return sum(1 for r in _Handler.requests if r["body"].get("invoice_number") == number)


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    with fake_check_service() as url:
        yield url


def inv(number: str, issue_date: str = "2025-10-10", total: str = "318.00") -> Invoice:
    return Invoice(
        kind=InvoiceKind.VAT_E_ORDINARY, source_format=SourceFormat.OFD, number=number,
        code="050001700111", issue_date=issue_date, check_code="14754822929856772523",
        seller=Party("杭州融易算企业管理咨询有限公司", "91500106MA2CE71F65"),
        amount=Decimal("300.00"), tax=Decimal("18.00"), total=Decimal(total),
    )


def limited(url: str, limit: int = 5, key: str = KEY) -> LimitedVerifier:
    return LimitedVerifier(HttpVerifier(url, key), DailyLimiter(limit, today=lambda: TODAY),
                           today=lambda: TODAY)


def test_success_sends_documented_request(server_url: str) -> None:
    _Handler.requests.clear()
    res = limited(server_url).check(inv("99999951"))
    assert res.status is CheckStatus.SUCCESS
    sent = _Handler.requests[-1]
    assert sent["auth"] == f"Bearer {KEY}"
    assert sent["body"] == {
        "invoice_code": "050001700111", "invoice_number": "99999951", "issue_date": "2025-10-10",
        "check_code_last6": "772523", "amount": "300.00", "total": "318.00",
    }
    assert res.to_dict()["details"]["invoice"]["total"] == "318.00"


@pytest.mark.parametrize(
    ("number", "status"),
    [("99999953", CheckStatus.VOIDED), ("99999954", CheckStatus.RED_REVERSED),
     ("12345678", CheckStatus.NOT_FOUND), ("00000429", CheckStatus.RATE_LIMITED),
     ("00000500", CheckStatus.ERROR), ("00000bad", CheckStatus.ERROR)],
)
def test_service_statuses_are_mapped(server_url: str, number: str, status: CheckStatus) -> None:
    assert limited(server_url).check(inv(number)).status is status


def test_service_record_differing_from_the_file_is_a_mismatch(server_url: str) -> None:
    res = limited(server_url).check(inv("99999952"))
    assert res.status is CheckStatus.MISMATCH
    assert "total: file 318.00, service 999.00" in res.message


def test_wrong_key_is_an_error(server_url: str) -> None:
    res = limited(server_url, key="wrong").check(inv("99999951"))
    assert res.status is CheckStatus.ERROR and "401" in res.message


def test_daily_limit_per_invoice(server_url: str) -> None:
    _Handler.requests.clear()
    v = limited(server_url, limit=2)
    assert v.check(inv("99999951")).status is CheckStatus.SUCCESS
    assert v.check(inv("99999951")).status is CheckStatus.SUCCESS
    third = v.check(inv("99999951"))
    assert third.status is CheckStatus.RATE_LIMITED
    assert "already checked 2 times today" in third.message
    assert len(_Handler.requests) == 2  # the third never reached the service
    assert v.check(inv("99999953")).status is CheckStatus.VOIDED  # another invoice is not limited


def test_limit_resets_the_next_day_and_store_is_shared() -> None:
    store = MemoryCounterStore()
    day = [TODAY]
    a = DailyLimiter(1, store, today=lambda: day[0])
    b = DailyLimiter(1, store, today=lambda: day[0])
    assert a.try_acquire("k") is True
    assert b.try_acquire("k") is False  # same store: the count is shared
    day[0] = date(2026, 1, 16)
    assert a.try_acquire("k") is True
    assert a.remaining("k") == 0


def test_same_day_and_too_old_are_decided_locally(server_url: str) -> None:
    _Handler.requests.clear()
    v = limited(server_url)
    assert v.check(inv("99999951", issue_date="2026-01-15")).status is CheckStatus.SAME_DAY
    assert v.check(inv("99999951", issue_date="2021-01-14")).status is CheckStatus.TOO_OLD
    assert v.check(inv("99999951", issue_date="2021-01-16")).status is CheckStatus.SUCCESS
    assert len(_Handler.requests) == 1


def test_unreachable_service_is_an_error() -> None:
    res = HttpVerifier("http://127.0.0.1:9/none", KEY, timeout=2).check(inv("99999951"))
    assert res.status is CheckStatus.ERROR
    assert "did not answer" in res.message


def test_no_configuration_means_not_checked(server_url: str) -> None:
    v = get_verifier(Settings(online_check_url=None))
    assert isinstance(v, NotConfigured)
    assert v.check(inv("99999951")).status is CheckStatus.NOT_CHECKED
    configured = get_verifier(Settings(online_check_url=server_url, online_check_key=KEY,
                                       online_check_daily_limit=1))
    assert isinstance(configured, LimitedVerifier) and configured.limiter.limit == 1
