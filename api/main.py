"""The FastAPI application: errors, middleware, routers, pages. No logic of its own."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles

import core.tables  # noqa: F401  (every table, and the hooks the services register on import)
from api import errors, homefile, job_kinds
from api.deps import paging_guard
from api.middleware import RequestContextMiddleware
from api.routes import (
    archive,
    audit,
    auth,
    claims,
    health,
    invoices,
    jobs,
    ledger_reports,
    ops,
    pages,
    payments,
    previews,
    users,
    vouchers,
)
from core import logs, worker
from core.settings import get_settings

API_PREFIX = "/api/v1"
STATIC_DIR = Path(__file__).parent / "static"


@asynccontextmanager
async def _lifespan(_app: FastAPI) -> AsyncIterator[None]:
    """Under a server: this process's job runner (``queue_embedded_workers`` threads, scheduled
    work included); stopped after the current jobs when the server stops."""
    s = get_settings()
    # Tests drive jobs through ``worker.kick`` (and their own runners): no background poller there.
    threads = s.queue_embedded_workers if s.environment != "test" else 0
    runner = worker.start_embedded(threads, schedule=s.schedule_daily)
    try:
        yield
    finally:
        if runner is not None:
            worker.stop_embedded()


def create_app() -> FastAPI:
    homefile.load()  # the organisation recorded by `fapiao init` (the environment wins)
    job_kinds.install()  # the handlers the queue runs (core/jobs.py)
    if get_settings().log_format == "json":
        logs.configure()  # in every server process, however many workers serve
    app = FastAPI(title="fapiao-archive", version="0.1.0", openapi_url=f"{API_PREFIX}/openapi.json",
                  docs_url="/docs", redoc_url=None, responses=errors.ERROR_RESPONSES,
                  dependencies=[Depends(paging_guard)],  # ?page= / ?page_size= in range on every route
                  description="Electronic invoices from upload to the electronic accounting archive. "
                              "Errors: {\"error\": {\"code\", \"message\", \"details\"}}.",
                  lifespan=_lifespan)
    errors.install(app)
    for module in (health, auth, users, invoices, claims, vouchers, payments, archive, audit,
                   ledger_reports, jobs):
        app.include_router(module.router, prefix=API_PREFIX)
    app.include_router(ops.router)
    app.include_router(pages.router)
    app.include_router(previews.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_middleware(RequestContextMiddleware, max_body=lambda: get_settings().max_upload_bytes)
    return app
