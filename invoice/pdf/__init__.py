"""PDF invoices (old-style VAT e-invoices and 数电票): bytes in, ``Invoice`` out.

Hot path: pypdfium2 (C) gives characters with positions in a few milliseconds; the fields are
read by label and position (``fields``). pdfplumber (pdfminer, pure Python, ~10x slower) runs
only when the fast reading is incomplete or does not add up: it maps some fonts pdfium drops.
The QR code (embedded image first, a rendered page only when needed) fills fields the text
lacks and cross-checks number, date and amount. Text made of unmapped glyphs (``(cid:NNN)``,
private-use code points) is never returned: the other extractor or the QR payload is used.

Every library error becomes ``ParseError`` (BAD_PDF, naming the reason); the whole parse runs
under ``settings.parse_timeout_seconds`` (``guard.deadline``), and before any library inflates
a stream, ``bounds.check_pdf_stream_sizes`` refuses decompression bombs (TOO_COMPLEX).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from invoice import normalize
from invoice.errors import ErrorCode, InvoiceError, ParseError
from invoice.model import FieldSource, Invoice, InvoiceKind, Party, SourceFormat
from invoice.pdf import transport
from invoice.pdf.bounds import check_pdf_stream_sizes
from invoice.pdf.fields import PdfFields, read_fields
from invoice.pdf.guard import deadline
from invoice.pdf.revisions import PageRevisions, location, page_revisions
from invoice.pdf.rotation import upright
from invoice.pdf.text import (
    Segment,
    garbage_ratio,
    group_segments,
    is_letter_spaced,
    normalise,
    pdfium_chars,
    plumber_chars,
)
from invoice.qr import QrPayload, parse_qr

__all__ = ["field_locations", "parse_pdf"]

MAX_PAGES = 10  # invoices are one page, a sales list adds a few
GARBAGE_LIMIT = 0.15
TEXTLESS_CHARS = 10  # a first page with fewer drawn characters is a scan (invoice/image)
_QR_MIN_PX, _QR_MAX_PX = 40, 3000

_QR_FORMATS: Any = None


def _qr_formats() -> Any:
    global _QR_FORMATS
    if _QR_FORMATS is None:
        import zxingcpp

        _QR_FORMATS = zxingcpp.BarcodeFormat.QRCode
    return _QR_FORMATS


# PDFium is not thread-safe: every call into it goes through this lock.
_PDFIUM_LOCK = threading.Lock()


@contextmanager
def _pdfium() -> Iterator[None]:
    # Poll rather than block, so that the deadline's asynchronous exception can land.
    while not _PDFIUM_LOCK.acquire(timeout=0.05):
        pass
    try:
        yield
    finally:
        _PDFIUM_LOCK.release()


def parse_pdf(data: bytes) -> Invoice:
    """Read one PDF invoice; ParseError (BAD_PDF, NOT_AN_INVOICE, TIMEOUT) when impossible."""
    from core.settings import get_settings

    if not data:
        raise ParseError(ErrorCode.EMPTY_FILE, "the file is empty")
    if b"%PDF-" not in data[:1024]:
        raise ParseError(ErrorCode.BAD_PDF, "no %PDF- header: not a PDF file")
    if b"%%EOF" not in data[-4096:]:
        raise ParseError(ErrorCode.BAD_PDF, "the PDF is truncated: no %%EOF marker at its end")
    with deadline(get_settings().parse_timeout_seconds, "pdf"):
        try:
            check_pdf_stream_sizes(data)  # before any renderer inflates a bomb
            return _parse(data)
        except InvoiceError:
            raise
        except RecursionError:
            raise ParseError(ErrorCode.BAD_PDF,
                             "the PDF nests its objects too deeply to be read safely") from None
        except MemoryError:
            raise ParseError(ErrorCode.BAD_PDF, "the PDF needs too much memory to read") from None
        except Exception as exc:  # any library failure is a bad file, never a crash
            raise ParseError(ErrorCode.BAD_PDF,
                             f"the PDF cannot be read: {type(exc).__name__}: {exc}") from exc


# ---------------------------------------------------------------------------------------------


def _fast_read(data: bytes) -> tuple[list[Segment], float, QrPayload | None, int]:
    """pdfium text segments, garbage share, the QR payload from embedded images, and how many
    characters are drawn outside the page box (a broken render: the viewer hides them)."""
    import pypdfium2 as pdfium

    with _pdfium():
        try:
            pdf = pdfium.PdfDocument(data)
        except pdfium.PdfiumError as exc:
            raise ParseError(ErrorCode.BAD_PDF, f"PDFium cannot open the file: {exc}") from None
        try:
            n_pages = len(pdf)
            if n_pages == 0:
                raise ParseError(ErrorCode.BAD_PDF, "the PDF has no pages")
            segs: list[Segment] = []
            chars_all = []
            y_offset = 0.0
            qr = None
            off_page = 0
            for i in range(min(n_pages, MAX_PAGES)):
                try:
                    page = pdf[i]
                except pdfium.PdfiumError as exc:
                    raise ParseError(ErrorCode.BAD_PDF, f"PDFium cannot load the page ({exc}): "
                                     "a broken or too deeply nested page tree",
                                     f"page {i + 1}") from None
                try:
                    tp = page.get_textpage()
                    try:
                        chars = upright(pdfium_chars(page, tp, i), page.get_rotation(),
                                        page.get_height(), page.get_mediabox()[2])
                    finally:
                        tp.close()
                    if i == 0:
                        qr = _qr_from_images(page)
                    w, h = page.get_size()
                finally:
                    page.close()
                chars_all.extend(chars)
                off_page += sum(1 for c in chars
                                if c.x1 < 0 or c.x0 > w or c.bottom < 0 or c.top > h)
                for s in group_segments(chars, i, is_letter_spaced(chars)):
                    s.top += y_offset
                    s.bottom += y_offset
                    segs.append(s)
                y_offset += h
            return segs, garbage_ratio(chars_all), qr, off_page
        finally:
            pdf.close()


def _qr_from_images(page: Any) -> QrPayload | None:
    import pypdfium2.raw as raw

    candidates = []
    for obj in page.get_objects(filter=(raw.FPDF_PAGEOBJ_IMAGE,), max_depth=2):
        try:
            w, h = obj.get_px_size()
        except Exception:
            continue
        if not (_QR_MIN_PX <= w <= _QR_MAX_PX and _QR_MIN_PX <= h <= _QR_MAX_PX):
            continue
        if abs(w - h) > 0.1 * max(w, h):  # QR codes are square
            continue
        candidates.append((w * h, obj))
    candidates.sort(key=lambda c: -c[0])
    for _, obj in candidates[:3]:
        try:
            bitmap = obj.get_bitmap(render=False)
        except Exception:
            continue
        qr = _decode_qr(_bitmap_image(bitmap))
        if qr is not None:
            return qr
    return None


def _bitmap_image(bitmap: Any) -> Any:
    """The bitmap as a PIL image of its own; the PDFium bitmap is closed."""
    # Copy out of PDFium's buffer and free it now, under the PDFium lock, rather than
    # leave the release to a finaliser running in some other thread.
    try:
        return bitmap.to_pil().copy()
    finally:
        bitmap.close()


def _decode_qr(img: Any) -> QrPayload | None:
    """The first QR code in the image that reads as an invoice QR payload, if any."""
    import zxingcpp

    for res in zxingcpp.read_barcodes(img, formats=_qr_formats()):
        qr = parse_qr(res.text)
        if qr is not None:
            return qr
    return None


def _qr_from_render(data: bytes) -> QrPayload | None:
    """Render the first page and look for the QR code there (vector-drawn QR codes, or an
    image the embedded-image pass could not decode)."""
    import pypdfium2 as pdfium

    with _pdfium():
        pdf = pdfium.PdfDocument(data)
        try:
            page = pdf[0]
            try:
                w, h = page.get_size()
                scale = min(2.0, 2400.0 / max(w, h, 1.0))
                img = _bitmap_image(page.render(scale=scale, grayscale=True))
            finally:
                page.close()
        finally:
            pdf.close()
    return _decode_qr(img)


def _plumber_read(data: bytes) -> tuple[list[Segment], float]:
    import io

    import pdfplumber

    # pdfminer logs a warning per oddity of broken files (missing FontBBox, ...): they are
    # expected here and would drown the CLI's output. Only when nobody configured it.
    log = logging.getLogger("pdfminer")
    if log.level == logging.NOTSET:
        log.setLevel(logging.ERROR)
    segs: list[Segment] = []
    chars_all = []
    y_offset = 0.0
    with pdfplumber.open(io.BytesIO(data)) as pdf:
        for i, page in enumerate(pdf.pages[:MAX_PAGES]):
            chars = plumber_chars(page)
            chars_all.extend(chars)
            for s in group_segments(chars, i, is_letter_spaced(chars)):
                s.top += y_offset
                s.bottom += y_offset
                segs.append(s)
            y_offset += float(page.height)
            page.close()
    return segs, garbage_ratio(chars_all)


def _caused_by_recursion(exc: BaseException) -> bool:
    seen: list[BaseException] = []
    todo: list[BaseException] = [exc]
    while todo and len(seen) < 10:
        e = todo.pop()
        if isinstance(e, RecursionError):
            return True
        seen.append(e)
        todo.extend(x for x in (e.__cause__, e.__context__, *e.args)
                    if isinstance(x, BaseException) and x not in seen)
    return False


def _render_first_page(data: bytes, dpi: int) -> Any:
    """The first page as a PIL image at ``dpi`` (a scanned page's picture, for OCR)."""
    import pypdfium2 as pdfium

    with _pdfium():
        pdf = pdfium.PdfDocument(data)
        try:
            page = pdf[0]
            try:
                w, h = page.get_size()
                scale = min(dpi / 72.0, 3200.0 / max(w, h, 1.0))
                return _bitmap_image(page.render(scale=scale, grayscale=True))
            finally:
                page.close()
        finally:
            pdf.close()


def _parse(data: bytes) -> Invoice:
    segs, garbage, qr, off_page = _fast_read(data)
    tkind = transport.kind_of(segs) if garbage <= GARBAGE_LIMIT else None
    if tkind in (InvoiceKind.RAILWAY_TICKET, InvoiceKind.AIR_ITINERARY) or (
            tkind is InvoiceKind.TOLL_BILL and transport.toll_bill_face(segs)):
        return _parse_transport(data, segs, tkind, qr)
    fields: PdfFields | None = None
    alt_fields: PdfFields | None = None
    psegs: list[Segment] = []
    notes: list[str] = []
    if off_page:
        notes.append(f"{off_page} characters are drawn outside the page box (hidden when "
                     "viewed); fields read from the full text layer")
    if garbage <= GARBAGE_LIMIT and segs:
        fields = read_fields(segs)
    elif segs:
        notes.append(f"PDFium text unusable ({garbage:.0%} unmapped glyphs)")
    if fields is None or fields.missing_required() or not fields.consistent():
        try:
            psegs, pgarbage = _plumber_read(data)
        except RecursionError:
            raise
        except Exception as exc:
            if _caused_by_recursion(exc):  # pdfplumber wraps pdfminer's RecursionError
                raise RecursionError from exc
            notes.append(f"pdfplumber failed: {type(exc).__name__}")
            psegs, pgarbage = [], 1.0
        if psegs and pgarbage <= GARBAGE_LIMIT:
            alt = read_fields(psegs)
            if fields is None or alt.score() > fields.score():
                fields = alt_fields = alt
                notes.append("fields read with pdfplumber")
        elif psegs:
            notes.append(f"pdfplumber text unusable ({pgarbage:.0%} unmapped glyphs)")
    if sum(len(s.compact) for s in (*segs, *psegs)) < TEXTLESS_CHARS:
        # No text layer for either extractor: a scanned page saved as PDF. Read its picture
        # like a JPEG scan (invoice/image): QR, then OCR; source_format becomes ``image``.
        from invoice.image.fields import PDF_RENDER_DPI, parse_image_pdf

        return parse_image_pdf(_render_first_page(data, PDF_RENDER_DPI))
    if qr is None and (fields is None or fields.number is None or fields.total is None
                       or fields.issue_date is None):
        qr = _qr_from_render(data)
    if fields is None and qr is None:
        raise ParseError(ErrorCode.NOT_AN_INVOICE,
                         "no readable text and no invoice QR code in the PDF"
                         + (f" ({'; '.join(notes)})" if notes else ""))
    if fields is not None and fields.preview:
        raise ParseError(ErrorCode.NOT_AN_INVOICE,
                         "the PDF is a preview (仅供预览), not an issued invoice")
    if qr is None and fields is not None and (
            not fields.invoice_title or (fields.number is None and fields.total is None)):
        raise ParseError(ErrorCode.NOT_AN_INVOICE,
                         "the PDF has no invoice title, number or total: not an invoice")
    inv = _build(fields, qr, notes)
    used = psegs if fields is not None and fields is alt_fields else segs
    if tkind is InvoiceKind.TOLL_BILL or (tkind is None and transport.kind_of(used)
                                          is InvoiceKind.TOLL_BILL):
        transport.add_toll(inv, used)
    inv.field_locations = field_locations(inv, used, page_revisions(data, MAX_PAGES))
    return inv


def _parse_transport(data: bytes, segs: list[Segment], kind: InvoiceKind,
                     qr: QrPayload | None) -> Invoice:
    """A railway ticket or air itinerary: its face by the transport rules (``transport``),
    read again with pdfplumber when PDFium's text leaves number, date or total out."""
    notes: list[str] = []
    reading = transport.read(segs, kind)
    used = segs
    if not transport.complete(reading):
        try:
            psegs, pgarbage = _plumber_read(data)
        except RecursionError:
            raise
        except Exception as exc:
            if _caused_by_recursion(exc):
                raise RecursionError from exc
            psegs, pgarbage = [], 1.0
        if psegs and pgarbage <= GARBAGE_LIMIT:
            alt = transport.read(psegs, kind)
            if transport.better(reading, alt) is alt:
                reading, used = alt, psegs
                notes.append("fields read with pdfplumber")
    if qr is None and not transport.complete(reading):
        qr = _qr_from_render(data)
    inv = transport.build(reading, qr, notes)
    if inv.number is None:
        raise ParseError(ErrorCode.NOT_AN_INVOICE,
                         f"no invoice number found on the {kind.value} PDF")
    inv.field_locations = field_locations(inv, used, page_revisions(data, MAX_PAGES))
    return inv


def _value_texts(inv: Invoice, name: str) -> list[str]:
    """How a field's value may be printed, to find the page it was read from."""
    if name == "items":
        return [i.name for i in inv.items if i.name][:1]
    value: object
    if "." in name:
        party, attr = name.split(".", 1)
        value = getattr(getattr(inv, party), attr)
    else:
        value = getattr(inv, name, None)
    if value is None:
        return []
    text = str(value)
    if name == "issue_date":
        y, m, d = text.split("-")
        return [f"{y}年{m}月{d}日", f"{y}年{int(m)}月{int(d)}日", text]
    return [text[:20]]


def field_locations(inv: Invoice, segs: list[Segment], revs: PageRevisions | None) -> dict[str, str]:
    """Where each field was read: ``revision N, page P`` for page text (the page where its
    value is printed, page 1 when it cannot be found), ``qr`` for the QR payload; a derived
    field takes the location of the field it is derived from."""
    pages: dict[int, str] = {}
    for s in segs:
        pages[s.page] = pages.get(s.page, "") + "".join(normalise(s.text).split())
    out: dict[str, str] = {}
    for name, src in inv.field_sources.items():
        if src == FieldSource.QR_CODE.value:
            out[name] = "qr"
        elif src == FieldSource.PAGE_TEXT.value:
            page = 0
            for want in _value_texts(inv, name):
                want = "".join(normalise(want).split())
                hits = [p for p, text in sorted(pages.items()) if want and want in text]
                if hits:
                    page = hits[0]
                    break
            out[name] = location(revs.of_page(page) if revs else None, page)
    for name, src in inv.field_sources.items():
        if src == FieldSource.DERIVED.value:
            base = "number" if name == "kind" else "total"
            if base in out:
                out[name] = out[base]
    return out


def _build(f: PdfFields | None, qr: QrPayload | None, notes: list[str]) -> Invoice:
    f = f or PdfFields()
    inv = Invoice(
        kind=f.kind, source_format=SourceFormat.PDF, number=f.number, code=f.code,
        issue_date=f.issue_date, check_code=f.check_code, buyer=f.buyer, seller=f.seller,
        amount=f.amount, tax=f.tax, total=f.total, items=list(f.items), drawer=f.drawer,
        remarks=f.remarks,
    )
    inv.field_sources = dict(f.sources)
    notes = notes + f.notes
    for name, exc in f.refused:  # printed but impossible: recorded, and no other source fills it
        normalize.record(inv.extra, name, exc)
    if qr is not None:
        _merge_qr(inv, qr)
    if inv.kind is InvoiceKind.UNKNOWN and inv.number:
        inv.kind = (InvoiceKind.DIGITAL_ORDINARY if len(inv.number) == 20 and not inv.code
                    else InvoiceKind.UNKNOWN)
        if inv.kind is not InvoiceKind.UNKNOWN:
            inv.field_sources["kind"] = FieldSource.DERIVED.value
    if inv.tax is None and inv.amount is not None and inv.total is not None:
        inv.tax = inv.total - inv.amount
        inv.field_sources["tax"] = FieldSource.DERIVED.value
    inv.buyer = _party(inv.buyer)
    inv.seller = _party(inv.seller)
    if notes:
        inv.extra["pdf_notes"] = "; ".join(notes)
    if inv.number is None:
        raise ParseError(ErrorCode.NOT_AN_INVOICE, "no invoice number found in the PDF")
    return inv


def _party(p: Party) -> Party:
    """Tax IDs upper-case; names with the full-width brackets Chinese names are registered
    with (text extraction is NFKC-normalised, which turns （北京） into (北京))."""
    name = p.name
    if name and re.search(r"[\u4e00-\u9fff]", name):
        name = name.replace("(", "（").replace(")", "）")
    return Party(name, normalize.tax_id(p.tax_id))


def _merge_qr(inv: Invoice, qr: QrPayload) -> None:
    """Fill what the text lacks from the QR payload; record where they disagree."""
    src = FieldSource.QR_CODE.value
    inv.extra["qr"] = qr.raw
    mismatches: list[str] = []
    refused = {r.field for r in normalize.refused(inv.extra)}

    def fill(name: str, current: object, value: object) -> bool:
        if value is None or name in refused:
            return False
        if current is None:
            inv.field_sources[name] = src
            return True
        if current != value:
            mismatches.append(f"{name}: text {current} vs QR {value}")
        return False

    if fill("number", inv.number, qr.number):
        inv.number = qr.number
    if fill("code", inv.code, qr.code):
        inv.code = qr.code
    if fill("issue_date", inv.issue_date, qr.issue_date):
        inv.issue_date = qr.issue_date
    if fill("check_code", inv.check_code, qr.check_code):
        inv.check_code = qr.check_code
    if qr.digital:
        if fill("total", inv.total, qr.total):
            inv.total = qr.total
    elif fill("amount", inv.amount, qr.amount):
        inv.amount = qr.amount
    if inv.kind is InvoiceKind.UNKNOWN:
        inv.kind = qr.kind
        inv.field_sources["kind"] = src
    elif inv.kind != qr.kind:
        mismatches.append(f"kind: text {inv.kind.value} vs QR {qr.kind.value}")
    if mismatches:
        inv.extra["qr_mismatch"] = "; ".join(mismatches)

