"""Every error leaves the API as ``{"error": {"code", "message", "details"}}``.

Services raise ``ServiceError`` subclasses with a ``kind``; this module is the one place that
turns a kind into an HTTP status, so no route raises ``HTTPException`` and the mapping cannot
drift between routes. Input the caller got wrong is always a 4xx: a 500 means a bug here,
never bad input, and it carries the request id so the log line can be found.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.permissions import RULES, Forbidden
from core import messages
from core.errors import ErrorKind, ServiceError
from core.users import UserError

log = logging.getLogger("fapiao.api")


class ErrorDetail(BaseModel):
    code: str = Field(description="stable machine-readable code, e.g. duplicate_invoice")
    message: str = Field(description="what went wrong, where and why, for a person")
    details: dict[str, Any] = Field(default_factory=dict)


class ErrorOut(BaseModel):
    """The one shape of every error response."""

    error: ErrorDetail


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": text} for status, text in (
        (400, "bad input"), (401, "no or unknown credentials"), (403, "the role may not do this, or CSRF failed"),
        (404, "no such object"), (409, "refused by a rule, or a conflict"), (413, "upload too large"),
        (422, "the request does not validate"))
}

STATUS_BY_KIND: dict[ErrorKind, int] = {
    ErrorKind.BAD_INPUT: 400,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.REFUSED: 409,
    ErrorKind.CONFLICT: 409,
}

_USER_ERROR_STATUS = {"user_exists": 409, "not_found": 404}


class LoginRequired(Exception):
    """A page was asked for without a login: the handler redirects to the login page."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path
        super().__init__(next_path)


class ApiError(ServiceError):
    """An error the HTTP layer itself raises (authentication, CSRF, idempotency, limits)."""

    def __init__(self, status: int, code: str, message: str, details: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        kind = ErrorKind.NOT_FOUND if status == 404 else (
            ErrorKind.BAD_INPUT if status < 409 or status in (413, 422) else ErrorKind.CONFLICT)
        super().__init__(kind, code, message, details)
        self.status = status
        self.headers = headers or {}


def not_found(what: str, ident: str) -> ApiError:
    return ApiError(404, "not_found", f"no {what} with id {ident!r}", {"type": what, "id": ident})


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": jsonable_encoder(details or {})}}


def error_response(status: int, code: str, message: str, details: dict[str, Any] | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(code, message, details), status_code=status, headers=headers)


def status_for(exc: ServiceError) -> int:
    if isinstance(exc, ApiError):
        return exc.status
    status = getattr(exc, "http_status", None)  # a service may pin a more precise status
    if isinstance(status, int):
        return status
    return STATUS_BY_KIND.get(ErrorKind(exc.kind), 400)


def _request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


def _is_page(request: Request) -> bool:
    path = request.url.path
    return not path.startswith(("/api/", "/static/", "/docs"))


# codes the HTTP layer raises with developer wording -> the catalogue's sentence
_API_CODES = {"unauthenticated": "web.http.unauthenticated", "csrf_failed": "web.http.csrf_failed",
              "no_preview": "web.http.no_preview", "preview_failed": "web.http.preview_failed",
              "too_large": "web.http.too_large"}


def person_message(exc: ServiceError) -> tuple[str, dict[str, Any]]:
    """The message for a person and the details; English wording moves to ``details.reason``.

    Services write their own Chinese messages (their catalogue areas); where a message is
    still developer English, a catalogued sentence for its code replaces it.
    """
    details = dict(exc.details or {})
    code = _API_CODES.get(exc.code)
    if exc.code == "unauthenticated" and "token" in exc.message:
        code = "web.http.bad_token"
    elif exc.code == "unauthenticated" and "Authorization header" in exc.message:
        code = "web.http.bad_auth_header"
    if code is None and exc.code == "not_found" and isinstance(exc, ApiError):
        code = "web.http.record_not_found"
    if code is None and messages.has(exc.code) and not _has_cjk(exc.message):
        code = exc.code
    if code is None or _has_cjk(exc.message):
        return exc.message, details
    details.setdefault("reason", exc.message)
    what = str(details.get("type", ""))
    params: dict[str, Any] = {"what": messages.label("object_type", what) if what else "记录",
                              "limit": f"{_max_upload_mb():.1f} MB"}
    params.update({k: v for k, v in details.items() if isinstance(k, str) and k not in params})
    text = messages.text(code, **params)
    return text, details


def _has_cjk(text: str) -> bool:
    return any("\u3400" <= ch <= "\u9fff" for ch in text or "")


async def _service_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ServiceError)
    headers = exc.headers if isinstance(exc, ApiError) else None
    message, details = person_message(exc)
    if _is_page(request):
        from api.routes.pages import error_page

        return error_page(request, status_for(exc), message)
    return error_response(status_for(exc), exc.code, message, details, headers)


def forbidden_message(operation: str, role: str) -> str:
    """Which role may not do what, and who may, in words (roles and operations by label)."""
    allowed = "、".join(messages.label("role", r.value) for r in sorted(RULES.get(operation, ()), key=str))
    return messages.text("web.http.forbidden", role=messages.label("role", role),
                         operation=messages.label("operation", operation), allowed=allowed or "无")


async def _forbidden(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Forbidden)
    operation, role = exc.operation, exc.role
    message = forbidden_message(operation, role)
    if _is_page(request):
        from api.routes.pages import error_page

        return error_page(request, 403, message)
    return error_response(403, "forbidden", message, {"operation": operation, "role": role,
                                                      "reason": exc.message})


async def _login_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    return RedirectResponse(f"/login?next={quote(exc.next_path)}", status_code=303)


async def _user_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, UserError)
    return error_response(_USER_ERROR_STATUS.get(exc.code, 400), exc.code, exc.message)


# pydantic error type -> catalogue code of the sentence that explains it
_VALIDATION_CODES: dict[str, str] = {
    "decimal_parsing": "decimal", "decimal_type": "decimal", "decimal_max_places": "decimal_places",
    "decimal_max_digits": "decimal", "decimal_whole_digits": "decimal", "float_parsing": "number",
    "float_type": "number", "int_parsing": "integer", "int_type": "integer", "int_from_float": "integer",
    "date_parsing": "date", "date_from_datetime_parsing": "date", "date_type": "date",
    "datetime_parsing": "date", "datetime_from_date_parsing": "date", "bool_parsing": "bool",
    "bool_type": "bool", "missing": "missing", "string_too_short": "too_short",
    "string_too_long": "too_long", "too_short": "too_few", "too_long": "too_many",
    "greater_than_equal": "too_small", "greater_than": "too_small", "less_than_equal": "too_big",
    "less_than": "too_big", "literal_error": "choice", "enum": "choice",
    "string_pattern_mismatch": "pattern", "string_type": "string", "list_type": "list",
    "dict_type": "object", "model_type": "object", "model_attributes_type": "object",
    "json_invalid": "json", "extra_forbidden": "extra",
}
_LIMIT_KEYS = ("max_length", "min_length", "ge", "gt", "le", "lt", "decimal_places")


def _where(loc: tuple[Any, ...]) -> str:
    """``("body", "lines", 0, "amount")`` → ``第1行的金额``: where the problem is, in words."""
    parts = [p for p in loc if p not in ("body", "query", "path", "header", "cookie", "form")]
    words: list[str] = []
    pending_line: int | None = None
    for i, p in enumerate(parts):
        if isinstance(p, int):
            pending_line = p + 1
            continue
        if i + 1 < len(parts) and isinstance(parts[i + 1], int) and i + 2 < len(parts):
            continue  # "lines", 0, "amount": the line number says enough (第1行的金额)
        name = messages.label("field", str(p))
        if pending_line is not None:
            words.append(messages.text("web.validation.line", n=pending_line))
            pending_line = None
        words.append(name)
    if pending_line is not None:
        words.append(f"第{pending_line}项")
    return "".join(words) or "请求内容"


def validation_message(err: dict[str, Any]) -> str:
    """One pydantic validation error as a sentence for finance staff."""
    kind = _VALIDATION_CODES.get(str(err.get("type", "")), "other")
    ctx = err.get("ctx") or {}
    value = err.get("input")
    limit = next((ctx[k] for k in _LIMIT_KEYS if k in ctx), "")
    choices = ctx.get("expected", "")
    return messages.text(f"web.validation.{kind}", where=_where(tuple(err.get("loc", ()))),
                         value=value if isinstance(value, (str, int, float)) else "",
                         limit=limit, choices=choices)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = []
    for err in exc.errors():
        problems.append({"where": ".".join(str(p) for p in err.get("loc", ())),
                         "problem": err.get("msg", ""), "type": err.get("type", ""),
                         "message": validation_message(err)})
    if not problems:
        problems.append({"where": "request", "problem": "invalid", "type": "", "message":
                         messages.text("web.validation.other", where="请求内容")})
    first = problems[0]["message"]
    message = (messages.text("web.validation.summary_one", first=first) if len(problems) == 1 else
               messages.text("web.validation.summary", count=len(problems), first=first))
    return error_response(422, "validation_error", message, {"errors": problems})


_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 401: "unauthenticated", 403: "forbidden",
               413: "too_large", 400: "bad_request"}


def http_message(status: int, request: Request, detail: str = "") -> str:
    """The Chinese sentence for a bare HTTP error (no route, wrong method, too large …)."""
    code = _HTTP_CODES.get(status)
    if code is None or not messages.has(f"web.http.{code}"):
        return messages.text("web.http.other", status=status)
    limit = f"{_max_upload_mb():.1f} MB"
    return messages.text(f"web.http.{code}", path=request.url.path, method=request.method, limit=limit)


def _max_upload_mb() -> float:
    from core.settings import get_settings

    return get_settings().max_upload_bytes / 1048576


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
    detail = exc.detail if isinstance(exc.detail, str) else code
    return error_response(exc.status_code, code, http_message(exc.status_code, request, detail),
                          {"reason": detail, "method": request.method, "path": request.url.path},
                          headers=getattr(exc, "headers", None))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    rid = _request_id(request)
    log.exception("unhandled error in %s %s (request %s)", request.method, request.url.path, rid)
    return error_response(500, "internal_error", messages.text("web.http.internal_error", request_id=rid or ""),
                          {"request_id": rid})


def install(app: FastAPI) -> None:
    """Register the handlers that give every error the one JSON shape."""
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(Forbidden, _forbidden)
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_exception_handler(UserError, _user_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
