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

from api.permissions import Forbidden
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


async def _service_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ServiceError)
    headers = exc.headers if isinstance(exc, ApiError) else None
    if _is_page(request):
        from api.routes.pages import error_page

        return error_page(request, status_for(exc), exc.message)
    return error_response(status_for(exc), exc.code, exc.message, exc.details, headers)


async def _forbidden(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Forbidden)
    if _is_page(request):
        from api.routes.pages import error_page

        return error_page(request, 403, exc.message)
    return error_response(403, "forbidden", exc.message)


async def _login_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    return RedirectResponse(f"/login?next={quote(exc.next_path)}", status_code=303)


async def _user_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, UserError)
    return error_response(_USER_ERROR_STATUS.get(exc.code, 400), exc.code, exc.message)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = []
    for err in exc.errors():
        problems.append({"where": ".".join(str(p) for p in err.get("loc", ())),
                         "problem": err.get("msg", ""), "type": err.get("type", "")})
    first = problems[0] if problems else {"where": "request", "problem": "invalid"}
    message = f"invalid request: {first['where']}: {first['problem']}"
    if len(problems) > 1:
        message += f" (and {len(problems) - 1} more)"
    return error_response(422, "validation_error", message, {"errors": problems})


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    codes = {404: "not_found", 405: "method_not_allowed", 401: "unauthenticated", 403: "forbidden",
             413: "too_large", 400: "bad_request"}
    code = codes.get(exc.status_code, f"http_{exc.status_code}")
    message = exc.detail if isinstance(exc.detail, str) else code
    if exc.status_code == 404 and message == "Not Found":
        message = f"no such endpoint: {request.method} {request.url.path}"
    return error_response(exc.status_code, code, message, headers=getattr(exc, "headers", None))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    rid = _request_id(request)
    log.exception("unhandled error in %s %s (request %s)", request.method, request.url.path, rid)
    return error_response(500, "internal_error",
                          "an unexpected error occurred; quote the request id to the administrator",
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
