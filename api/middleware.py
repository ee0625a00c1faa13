"""Request ids, the request size limit, security headers, metrics, access log, the last-resort 500.

Every request gets an id (the client's ``X-Request-ID`` when it is safe, else a new one),
returned in the response and set in ``core.logs.request_id_var`` so that every log line
written while the request runs carries it. When the response is done one JSON access line
(method, route template, status, duration) is logged and the Prometheus counters are updated
(``core.metrics``).

Written as plain ASGI middleware (not ``BaseHTTPMiddleware``) so that the body is counted as
it streams in: an upload larger than ``settings.max_upload_bytes`` is refused with a JSON 413
without being read into memory, whether or not it announces a ``Content-Length``.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core import metrics
from core.logs import request_id_var

log = logging.getLogger("fapiao.api")
access = logging.getLogger("fapiao.access")

REQUEST_ID_HEADER = "x-request-id"
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# Room for the multipart envelope and form fields around a file of the maximum size.
ENVELOPE_BYTES = 64 * 1024

_SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"SAMEORIGIN"),
    (b"referrer-policy", b"same-origin"),
]
_CSP = (b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        b"img-src 'self' data:; object-src 'self'; frame-src 'self'; frame-ancestors 'self'; "
        b"form-action 'self'; base-uri 'none'")


def _json_message(status: int, code: str, message: str, details: dict[str, Any]) -> tuple[Message, Message]:
    body = json.dumps({"error": {"code": code, "message": message, "details": details}},
                      ensure_ascii=False).encode("utf-8")
    start: Message = {"type": "http.response.start", "status": status,
                      "headers": [(b"content-type", b"application/json"),
                                  (b"content-length", str(len(body)).encode())]}
    return start, {"type": "http.response.body", "body": body}


def _route_template(scope: Scope) -> str | None:
    """The matched route's full template (``/api/v1/invoices/{invoice_id}``), never the raw path.

    FastAPI keeps the prefixed template of an included router in its effective route context;
    the route object itself only knows the path relative to its router.
    """
    ctx = (scope.get("fastapi") or {}).get("effective_route_context")
    path = getattr(ctx, "path", None)
    if isinstance(path, str):
        return path
    path = getattr(scope.get("route"), "path_format", None) or getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) else None


class RequestContextMiddleware:
    """Gives every response an ``X-Request-Id`` and enforces the body size limit."""

    def __init__(self, app: ASGIApp, max_body: Callable[[], int]) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = ""
        length: int | None = None
        for name, value in scope.get("headers", []):
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
            elif name == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    length = None
        request_id = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        path: str = scope.get("path", "")
        extra = [(b"x-request-id", request_id.encode()), *_SECURITY_HEADERS]
        # Swagger UI loads its own scripts; a PDF original is shown by the browser's viewer in
        # an iframe of our page (a CSP on the PDF itself can stop the viewer from rendering it).
        if not path.startswith(("/docs", "/redoc")) and not path.endswith("/original"):
            extra.append(_CSP)
        limit = self.max_body() + ENVELOPE_BYTES
        state: dict[str, Any] = {"started": False, "received": 0, "too_large": False, "status": 500}

        async def send_extra(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["started"] = True
                state["status"] = int(message.get("status", 500))
                message = dict(message)
                headers = message.get("headers", [])
                # a response with its own policy (the OFD preview's stricter one) keeps it alone:
                # two policies would both apply, and the site's would block the SVG's data: fonts
                own_csp = any(k.lower() == _CSP[0] for k, _ in headers)
                message["headers"] = [*headers, *(e for e in extra if not (own_csp and e is _CSP))]
            await send(message)

        async def refuse_too_large() -> None:
            from core import messages

            start, body = _json_message(
                413, "too_large",
                messages.text("web.http.too_large", limit=f"{(limit - ENVELOPE_BYTES) / 1048576:.1f} MB"),
                {"limit_bytes": limit - ENVELOPE_BYTES,
                 "reason": f"the request body is larger than the upload limit of {limit - ENVELOPE_BYTES} bytes"})
            await send_extra(start)
            await send(body)

        try:
            if length is not None and length > limit:
                await refuse_too_large()
                return
            await self._run(scope, receive, send_extra, refuse_too_large, state, limit, request_id, path)
        finally:
            self._observe(scope, state, started, request_id, path)
            request_id_var.reset(token)

    @staticmethod
    def _observe(scope: Scope, state: dict[str, Any], started: float, request_id: str, path: str) -> None:
        """Count the request by its route template and write its access line."""
        seconds = time.perf_counter() - started
        route = _route_template(scope)
        if route is None:
            route = "/static" if path.startswith("/static/") else "unmatched"
        method = str(scope.get("method", ""))
        status = int(state["status"])
        metrics.observe_request(method, route, status, seconds)
        client = scope.get("client") or ("-", 0)
        # The message keeps uvicorn's access-log shape ('"GET /x HTTP/1.1" 200'), which tools grep.
        access.info('%s:%s "%s %s HTTP/%s" %d', client[0], client[1], method, path,
                    scope.get("http_version", "1.1"), status,
                    extra={"method": method, "path": path, "route": route, "status": status,
                           "duration_ms": round(seconds * 1000, 2), "request_id": request_id})

    async def _run(self, scope: Scope, receive: Receive, send_extra: Callable[[Message], Any],
                   refuse_too_large: Callable[[], Any], state: dict[str, Any], limit: int,
                   request_id: str, path: str) -> None:
        send = send_extra

        async def counting_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                state["received"] += len(message.get("body", b""))
                if state["received"] > limit:
                    state["too_large"] = True
                    # End the body here: whatever the app makes of it, we answer 413.
                    return {"type": "http.request", "body": b"", "more_body": False}
            return message

        async def guarded_send(message: Message) -> None:
            if state["too_large"]:
                if message["type"] == "http.response.start" and not state["started"]:
                    await refuse_too_large()
                return
            await send_extra(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if state["too_large"] and not state["started"]:
                await refuse_too_large()
                return
            log.exception("unhandled error in %s %s (request %s)", scope.get("method"), path, request_id)
            if not state["started"]:
                start, body = _json_message(
                    500, "internal_error",
                    "an unexpected error occurred; quote the request id to the administrator",
                    {"request_id": request_id})
                await send_extra(start)
                await send(body)
