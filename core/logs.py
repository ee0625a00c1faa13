"""Structured logs: one JSON object per line, each carrying the request id it belongs to.

A log collector (journald, Loki, ELK) indexes the fields instead of parsing prose, and an
operator follows one request across processes by the ``request_id`` that the client sent (or
the server made) in ``X-Request-ID`` and that every response returns. The id travels in a
context variable, so code deep in a service logs it without being handed it; sync routes run
in a thread pool with a copy of the context, so they see it too.

Logs stay English (codes, ids, counts): they are for operators, not for finance staff.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("fapiao_request_id", default=None)

# Attributes every LogRecord has; anything else was passed in ``extra=`` and is logged as a field.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "msg", "request_id", ...extra fields, "exc"}`` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        rid = getattr(record, "request_id", None) or request_id_var.get()
        if rid:
            out["request_id"] = rid
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in out and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


_HANDLER_NAME = "fapiao-json"


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time (test runners swap it)."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


# Our loggers (``fapiao.*`` and the packages' ``__name__`` loggers) and uvicorn's. The root
# logger is left alone, so that a process that only builds the app (a test, a script) keeps
# its own logging of third-party libraries.
_LOGGERS = ("fapiao", "api", "core", "invoice", "accounting", "archive", "uvicorn", "uvicorn.error")


def configure(level: int = logging.INFO) -> None:
    """Send our log lines and uvicorn's through one JSON handler on stderr. Idempotent.

    uvicorn's access log is switched off: ``api.middleware`` writes one access line per
    request with the route, status, duration and request id instead.
    """
    handler = next((h for h in logging.getLogger("fapiao").handlers if h.get_name() == _HANDLER_NAME), None)
    if handler is None:
        handler = _StderrHandler()
        handler.set_name(_HANDLER_NAME)
        handler.setFormatter(JsonFormatter())
    for name in _LOGGERS:
        lg = logging.getLogger(name)
        lg.handlers = [handler]
        lg.setLevel(level)
        lg.propagate = False
    logging.getLogger("uvicorn.access").disabled = True
