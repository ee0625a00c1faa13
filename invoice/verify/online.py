"""Online check (查验) against a tax-platform-style service, behind a small interface.

The statuses are those real 查验 services return. Two are decided locally before any call:
an invoice issued today cannot be checked until the next day (``same_day``), and the service
only answers for the last five years (``too_old``). Each invoice may be checked at most
``settings.online_check_daily_limit`` times a day (the services lock an invoice after a few
attempts); counts live in a ``CounterStore``, in memory by default, replaceable by a
persistent one.

HTTP adapter protocol (``HttpVerifier``), JSON both ways::

    POST <url>            Authorization: Bearer <key>     Content-Type: application/json
    {"invoice_code": "050001700111" | null, "invoice_number": "99999951",
     "issue_date": "2020-10-10", "check_code_last6": "772523" | null,
     "amount": "300.00" | null, "total": "318.00" | null}

    200 {"status": "success" | "not_found" | "mismatch" | "voided" | "red_reversed"
                   | "same_day" | "too_old" | "rate_limited" | "error",
         "message": "…",
         "invoice": {"seller_tax_id": …, "buyer_tax_id": …, "total": "318.00", …}}  (optional)
    429 → rate_limited; other statuses, bad JSON or a network error → error.

A ``success`` whose returned ``invoice`` facts differ from the file's is reported as
``mismatch`` naming the fields.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, Protocol

import httpx

from core.clock import now, today_china
from invoice.model import Invoice, money_str


class CheckStatus(StrEnum):
    NOT_CHECKED = "not_checked"
    SUCCESS = "success"
    NOT_FOUND = "not_found"
    MISMATCH = "mismatch"
    VOIDED = "voided"  # 作废
    RED_REVERSED = "red_reversed"  # 红冲
    SAME_DAY = "same_day"  # issued today: checkable from tomorrow
    TOO_OLD = "too_old"  # older than five years
    RATE_LIMITED = "rate_limited"
    ERROR = "error"


@dataclass(frozen=True)
class OnlineResult:
    status: CheckStatus
    message: str
    checked_at: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "message": self.message,
            "checked_at": self.checked_at,
            "details": dict(self.details),
        }


class OnlineVerifier(Protocol):
    def check(self, invoice: Invoice) -> OnlineResult: ...


class NotConfigured:
    """No service configured: every invoice is ``not_checked``."""

    def check(self, invoice: Invoice) -> OnlineResult:
        return OnlineResult(CheckStatus.NOT_CHECKED, "no online check service is configured")


# -- daily limit ---------------------------------------------------------------------------


class CounterStore(Protocol):
    def increment(self, key: str, day: date) -> int:
        """Add one use of ``key`` on ``day``; return the new count."""
        ...

    def count(self, key: str, day: date) -> int: ...


class MemoryCounterStore:
    """Counts in a dict (thread-safe); old days are dropped as new ones arrive."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, date], int] = {}
        self._lock = threading.Lock()

    def increment(self, key: str, day: date) -> int:
        with self._lock:
            for k in [k for k in self._counts if k[1] < day]:
                del self._counts[k]
            n = self._counts.get((key, day), 0) + 1
            self._counts[(key, day)] = n
            return n

    def count(self, key: str, day: date) -> int:
        with self._lock:
            return self._counts.get((key, day), 0)


class DailyLimiter:
    """At most ``limit`` checks of one invoice per (China) calendar day."""

    def __init__(self, limit: int, store: CounterStore | None = None,
                 today: Callable[[], date] = today_china) -> None:
        self.limit = limit
        self.store: CounterStore = store or MemoryCounterStore()
        self._today = today

    def try_acquire(self, key: str) -> bool:
        day = self._today()
        if self.store.count(key, day) >= self.limit:
            return False
        return self.store.increment(key, day) <= self.limit

    def remaining(self, key: str) -> int:
        return max(0, self.limit - self.store.count(key, self._today()))


class LimitedVerifier:
    """Local rules first (same day, older than five years, daily limit), then the service."""

    def __init__(self, inner: OnlineVerifier, limiter: DailyLimiter,
                 today: Callable[[], date] = today_china) -> None:
        self.inner = inner
        self.limiter = limiter
        self._today = today

    def check(self, invoice: Invoice) -> OnlineResult:
        today = self._today()
        if invoice.issue_date:
            try:
                issued = date.fromisoformat(invoice.issue_date)
            except ValueError:
                return OnlineResult(CheckStatus.ERROR, f"issue date {invoice.issue_date!r} is not a date")
            if issued >= today:
                return OnlineResult(CheckStatus.SAME_DAY,
                                    f"issued {issued}: the tax platform can check it from the next day")
            try:
                limit = today.replace(year=today.year - 5)
            except ValueError:  # 29 February
                limit = today.replace(year=today.year - 5, day=28)
            if issued < limit:
                return OnlineResult(CheckStatus.TOO_OLD,
                                    f"issued {issued}: the service answers only for five years")
        key = invoice.key
        if key is None:
            return OnlineResult(CheckStatus.ERROR, "the invoice has no number to check")
        if not self.limiter.try_acquire(key):
            return OnlineResult(
                CheckStatus.RATE_LIMITED,
                f"invoice {key} was already checked {self.limiter.limit} times today",
            )
        return self.inner.check(invoice)


# -- HTTP adapter ------------------------------------------------------------------------------


def request_body(invoice: Invoice) -> dict[str, Any]:
    return {
        "invoice_code": invoice.code,
        "invoice_number": invoice.number,
        "issue_date": invoice.issue_date,
        "check_code_last6": invoice.check_code[-6:] if invoice.check_code else None,
        "amount": money_str(invoice.amount),
        "total": money_str(invoice.total),
    }


def _compare(invoice: Invoice, facts: dict[str, Any]) -> list[str]:
    mine: dict[str, Any] = {
        "seller_tax_id": invoice.seller.tax_id,
        "buyer_tax_id": invoice.buyer.tax_id,
        "amount": invoice.amount,
        "tax": invoice.tax,
        "total": invoice.total,
        "issue_date": invoice.issue_date,
    }
    diffs = []
    for key, theirs in facts.items():
        if key not in mine or mine[key] is None or theirs is None:
            continue
        ours = mine[key]
        if isinstance(ours, Decimal):
            try:
                same = Decimal(str(theirs)).quantize(Decimal("0.01")) == ours.quantize(Decimal("0.01"))
            except InvalidOperation:
                same = False
        else:
            same = str(theirs).strip().upper() == str(ours).strip().upper()
        if not same:
            diffs.append(f"{key}: file {money_str(ours) if isinstance(ours, Decimal) else ours}, service {theirs}")
    return diffs


class HttpVerifier:
    """A 查验 service over HTTP with JSON (protocol in the module docstring)."""

    def __init__(self, url: str, key: str | None, timeout: float = 10.0,
                 client: httpx.Client | None = None) -> None:
        self.url = url
        self.key = key
        self.timeout = timeout
        self._client = client

    def check(self, invoice: Invoice) -> OnlineResult:
        stamp = now().isoformat()
        headers = {"Content-Type": "application/json"}
        if self.key:
            headers["Authorization"] = f"Bearer {self.key}"
        try:
            if self._client is not None:
                resp = self._client.post(self.url, json=request_body(invoice), headers=headers,
                                         timeout=self.timeout)
            else:
                with httpx.Client() as client:
                    resp = client.post(self.url, json=request_body(invoice), headers=headers,
                                       timeout=self.timeout)
        except httpx.HTTPError as exc:
            return OnlineResult(CheckStatus.ERROR, f"the check service did not answer: {exc}", stamp)
        if resp.status_code == 429:
            return OnlineResult(CheckStatus.RATE_LIMITED, "the check service refused: too many requests", stamp)
        if resp.status_code != 200:
            return OnlineResult(CheckStatus.ERROR, f"the check service answered HTTP {resp.status_code}", stamp)
        try:
            body = resp.json()
            status = CheckStatus(str(body["status"]))
        except (ValueError, KeyError, TypeError) as exc:
            return OnlineResult(CheckStatus.ERROR, f"the check service's answer is not understood: {exc}", stamp)
        message = str(body.get("message") or status.value)
        facts = body.get("invoice") if isinstance(body.get("invoice"), dict) else {}
        if status is CheckStatus.SUCCESS and facts:
            diffs = _compare(invoice, facts)
            if diffs:
                return OnlineResult(CheckStatus.MISMATCH, "the service's record differs: " + "; ".join(diffs),
                                    stamp, {"invoice": facts})
        return OnlineResult(status, message, stamp, {"invoice": facts} if facts else {})


def get_verifier(settings: Any = None, store: CounterStore | None = None) -> OnlineVerifier:
    """The configured verifier: ``NotConfigured`` without ``online_check_url``."""
    if settings is None:
        from core.settings import get_settings

        settings = get_settings()
    if not settings.online_check_url:
        return NotConfigured()
    limiter = DailyLimiter(settings.online_check_daily_limit, store)
    return LimitedVerifier(HttpVerifier(settings.online_check_url, settings.online_check_key), limiter)

