"""Paging, sorting and date filters shared by every list (invoices, claims, vouchers, archive
packages, the audit log).

Finance staff sort by any column they see and page through thousands of rows, so every list
takes ``page``, ``page_size`` and ``sort``. ``sort`` is a comma-separated list of public
column names, each optionally prefixed with ``-`` for descending (``-issue_date,total``); only
names a list whitelists are accepted, so a caller can never order by an arbitrary expression,
and a unique column is always appended so that pages never overlap or skip rows.

A filter value that cannot be understood is refused with HTTP 422 and a Chinese message: a
silently ignored date range shows the wrong rows, which is worse than an error.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from core import messages
from core.clock import CHINA
from core.errors import ErrorKind, ServiceError

MAX_PAGE_SIZE = 500


class ListError(ServiceError):
    """A list request whose paging, sorting or filter values are invalid (HTTP 422)."""

    http_status = 422


def list_error(code: str, **details: Any) -> ListError:
    return ListError(ErrorKind.BAD_INPUT, code, messages.text(code, **details), details)


def _query_error(param: str, msg_code: str, kind: str, **details: Any) -> ListError:
    """A bad query parameter, in the shape FastAPI's own validation errors have (code
    ``validation_error``, ``details.errors[].where`` = ``query.<param>``), with a Chinese text."""
    message = messages.text(msg_code, **details)
    return ListError(ErrorKind.BAD_INPUT, "validation_error", message,
                     {"errors": [{"where": f"query.{param}", "problem": message, "type": kind}], **details})


def check_page(page: int, page_size: int) -> None:
    if page < 1 or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise list_error("bad_page", page=page, page_size=page_size)


@dataclass(frozen=True)
class Sorting:
    """The columns a list may be sorted by (public name → column), its default order and the
    unique column that breaks ties."""

    columns: Mapping[str, Any]
    default: str
    tiebreak: Any

    def order_by(self, sort: str | None) -> list[Any]:
        """ORDER BY clauses for ``sort`` (default when empty); an unknown name → 422."""
        spec = (sort or "").strip() or self.default
        clauses: list[Any] = []
        seen: set[str] = set()
        for raw in spec.split(","):
            part = raw.strip()
            if not part:
                continue
            desc = part.startswith("-")
            name = part.lstrip("+-").strip()
            column = self.columns.get(name)
            if column is None or name in seen:
                raise list_error("bad_sort", sort=part, allowed="、".join(self.columns))
            seen.add(name)
            clauses.append(column.desc() if desc else column.asc())
        if not clauses:
            raise list_error("bad_sort", sort=spec, allowed="、".join(self.columns))
        clauses.append(self.tiebreak)
        return clauses


def date_filter(value: date | str | None, param: str, label: str) -> date | None:
    """A ``YYYY-MM-DD`` filter value; empty means no filter, anything else invalid → 422."""
    if value is None or isinstance(value, date):
        return value
    text = str(value).strip()
    if not text:
        return None
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
    except ValueError:
        pass
    raise _query_error(param, "bad_date_filter", "date_from_parsing", label=label, value=text[:40])


def date_range(date_from: date | str | None, date_to: date | str | None,
               params: tuple[str, str] = ("date_from", "date_to"),
               labels: tuple[str, str] = ("开始日期", "结束日期")) -> tuple[date | None, date | None]:
    """Both ends checked, and the start not after the end."""
    d_from = date_filter(date_from, params[0], labels[0])
    d_to = date_filter(date_to, params[1], labels[1])
    if d_from and d_to and d_from > d_to:
        raise _query_error(params[0], "bad_date_range", "date_range",
                           date_from=d_from.isoformat(), date_to=d_to.isoformat())
    return d_from, d_to


def date_bounds(d_from: date | None, d_to: date | None) -> tuple[datetime | None, datetime | None]:
    """China calendar days as an aware ``[start, end)`` range for timestamp columns: a day a
    clerk picks is a day in Beijing, not in UTC."""
    start = datetime.combine(d_from, time.min, CHINA) if d_from else None
    end = datetime.combine(d_to + timedelta(days=1), time.min, CHINA) if d_to else None
    return start, end
