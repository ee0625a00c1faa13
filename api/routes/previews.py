"""Pictures of an invoice's original for the web page: the OFD drawn as SVG, first pages as PNG.

- ``GET /invoices/{id}/preview.svg``: the OFD original drawn (``invoice.ofd.render``), seal,
  table lines, QR and all; 404 ``no_preview`` for other formats.
- ``GET /invoices/{id}/preview.png?width=``: the first page of an OFD or PDF original as PNG.
- ``GET /invoices/{id}/thumbnail.png``: the same, 360 px wide.

Page routes (session cookie, ``invoice.read``), like the page that shows them. Drawing reads
untrusted bytes, so it runs in the sandbox (``invoice.sandbox``) as parsing does; the result
is cached per file and size in this process. The SVG is written by this project's code only
(no script, no external reference) and served with a CSP that forbids everything but inline
styles and ``data:`` pictures and fonts, so even a viewer that opens it directly runs nothing.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from api.deps import PageRequires, ReadSessionDep
from api.errors import ApiError
from core.blobstore import get_blobstore
from core.users import User
from invoice import preview, registry
from invoice.errors import InvoiceError
from invoice.ofd.render import render_svg

router = APIRouter(include_in_schema=False)


def Page(operation: str) -> Any:
    """The page's permission check (a login redirect instead of a 401), as in ``pages.py``."""
    return Depends(PageRequires(operation))

SVG_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:")
PNG_CSP = "default-src 'none'"
_CACHE_ENTRIES = 64
_cache: OrderedDict[tuple[str, str, int], bytes] = OrderedDict()
_cache_lock = threading.Lock()
T = TypeVar("T")


def _cached(key: tuple[str, str, int], make: Callable[[], bytes]) -> bytes:
    """One drawing per file, kind and width, kept for the next viewer (files never change:
    the store is content-addressed)."""
    with _cache_lock:
        found = _cache.get(key)
        if found is not None:
            _cache.move_to_end(key)
            return found
    made = make()
    with _cache_lock:
        _cache[key] = made
        while len(_cache) > _CACHE_ENTRIES:
            _cache.popitem(last=False)
    return made


def _sandboxed(fn: Callable[..., T], *args: object) -> T:
    """Run a drawing function in the sandbox; its failures become the page's 422."""
    from invoice.sandbox import SandboxError, TooComplex, run

    try:
        return run(fn, *args, name="preview")
    except TooComplex as exc:
        raise ApiError(422, "render.preview_failed", f"drawing hit a limit: {exc.limit}",
                       {"reason_code": "too_complex"}) from None
    except InvoiceError as exc:
        raise ApiError(422, "render.preview_failed", f"the original cannot be drawn: {exc.message}",
                       {"reason_code": str(exc.code)}) from None
    except SandboxError as exc:
        raise ApiError(422, "render.preview_failed", f"drawing failed: {exc}",
                       {"reason_code": "sandbox"}) from None


@router.get("/invoices/{invoice_id}/preview.svg", response_class=Response)
def invoice_preview(user: Annotated[User, Page("invoice.read")], s: ReadSessionDep, invoice_id: str) -> Response:
    """The OFD original drawn as SVG, so the detail page can show what browsers cannot."""
    record = registry.get_invoice(s, invoice_id)
    if record.source_format != "ofd":
        raise ApiError(404, "no_preview", f"invoice {invoice_id} is {record.source_format}, not OFD: no preview")
    title = f"发票 {record.number or ''}"
    data = get_blobstore().get(record.sha256, verify=True)
    svg = _cached((record.sha256, "svg", 0),
                  lambda: _sandboxed(render_svg, data, title).encode("utf-8"))
    return Response(svg, media_type="image/svg+xml", headers={
        "Cache-Control": "private, max-age=3600", "Content-Security-Policy": SVG_CSP,
        "X-Content-Type-Options": "nosniff"})


def _png(s: ReadSessionDep, invoice_id: str, width: int) -> Response:
    record = registry.get_invoice(s, invoice_id)
    if record.source_format not in ("ofd", "pdf"):
        raise ApiError(404, "no_preview", f"invoice {invoice_id} is {record.source_format}: no page to draw")
    data = get_blobstore().get(record.sha256, verify=True)
    fmt = record.source_format
    png = _cached((record.sha256, "png", width),
                  lambda: _sandboxed(preview.first_page_png, data, fmt, width))
    return Response(png, media_type="image/png", headers={
        "Cache-Control": "private, max-age=3600", "Content-Security-Policy": PNG_CSP,
        "X-Content-Type-Options": "nosniff"})


@router.get("/invoices/{invoice_id}/preview.png", response_class=Response)
def invoice_preview_png(user: Annotated[User, Page("invoice.read")], s: ReadSessionDep, invoice_id: str,
                        width: Annotated[int, Query(ge=16, le=preview.MAX_WIDTH)] = preview.DEFAULT_WIDTH,
                        ) -> Response:
    """The first page of the OFD or PDF original as PNG."""
    return _png(s, invoice_id, width)


@router.get("/invoices/{invoice_id}/thumbnail.png", response_class=Response)
def invoice_thumbnail(user: Annotated[User, Page("invoice.read")], s: ReadSessionDep, invoice_id: str) -> Response:
    """A small PNG of the original's first page, for lists and links."""
    return _png(s, invoice_id, preview.THUMB_WIDTH)
