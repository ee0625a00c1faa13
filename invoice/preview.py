"""Pictures of an original for people: the OFD as SVG, and any original's first page as PNG.

The invoice page shows the original beside the fields read from it. An OFD is drawn by
``invoice.ofd.render`` (SVG, the faithful form: zoomable, text selectable); a PNG of the
first page serves as thumbnail and for places that want a bitmap (lists, tests, a PDF
original beside its OFD twin). OFD pages become PNG by rasterising that SVG with resvg
(a Rust renderer, no browser needed), PDFs by PDFium (``pypdfium2``, the library the PDF
reader already uses).

These functions read untrusted bytes: the web routes run them in the sandbox
(``invoice.sandbox``), like parsing, so a file built to exhaust them costs a worker, not
the server.
"""

from __future__ import annotations

import io

from invoice.errors import ErrorCode, ParseError

MAX_WIDTH = 2400  # px: a PNG wider than this is never made
DEFAULT_WIDTH = 1200
THUMB_WIDTH = 360
# Installed CJK fonts the rasteriser falls back to when the SVG's font list names none it has
# (scripts/test installs the WenQuanYi fonts).
_SANS = "WenQuanYi Micro Hei"
_SERIF = "WenQuanYi Zen Hei"


def _width(width: int) -> int:
    return max(16, min(int(width), MAX_WIDTH))


def svg_to_png(svg: str, width: int = DEFAULT_WIDTH) -> bytes:
    """An SVG (as ``invoice.ofd.render`` writes it) as PNG ``width`` pixels wide, white paper."""
    import resvg_py

    try:
        png = resvg_py.svg_to_bytes(
            svg_string=svg, width=_width(width), dpi=96.0, background="#ffffff",
            font_family=_SANS, sans_serif_family=_SANS, serif_family=_SERIF,
            monospace_family="DejaVu Sans Mono",
        )
    except ValueError as exc:
        raise ParseError(ErrorCode.BAD_OFD, f"the drawing cannot be rasterised: {exc}") from exc
    return bytes(png)


def ofd_png(data: bytes, width: int = DEFAULT_WIDTH) -> bytes:
    """The OFD's first page as PNG."""
    from invoice.ofd.render import render_svg

    return svg_to_png(render_svg(data, max_pages=1), width)


def pdf_png(data: bytes, width: int = DEFAULT_WIDTH) -> bytes:
    """The PDF's first page as PNG (PDFium), ``width`` pixels wide."""
    import pypdfium2 as pdfium

    from invoice.pdf import _pdfium as pdfium_lock  # PDFium is not thread-safe
    from invoice.pdf.bounds import check_pdf_stream_sizes

    if b"%PDF-" not in data[:1024]:
        raise ParseError(ErrorCode.BAD_PDF, "no %PDF- header: not a PDF file")
    check_pdf_stream_sizes(data)
    try:
        with pdfium_lock():
            doc = pdfium.PdfDocument(data)
            try:
                if len(doc) == 0:
                    raise ParseError(ErrorCode.BAD_PDF, "the PDF has no page")
                page = doc[0]
                page_width = page.get_width()
                if page_width <= 0:
                    raise ParseError(ErrorCode.BAD_PDF, "the PDF's first page has no width")
                scale = _width(width) / page_width
                if page.get_height() * scale > 4 * MAX_WIDTH:
                    raise ParseError(ErrorCode.BAD_PDF, "the PDF's first page is too tall to draw")
                img = page.render(scale=scale).to_pil()
            finally:
                doc.close()
    except ParseError:
        raise
    except Exception as exc:  # any PDFium failure is a bad file, never a crash
        raise ParseError(ErrorCode.BAD_PDF, f"the PDF cannot be drawn: {exc}") from exc
    want = _width(width)
    if img.width != want:  # PDFium rounds the scaled page size; the caller asked for a width
        img = img.resize((want, max(1, round(img.height * want / img.width))))
    out = io.BytesIO()
    img.convert("RGB").save(out, "PNG")
    return out.getvalue()


def first_page_png(data: bytes, source_format: str, width: int = DEFAULT_WIDTH) -> bytes:
    """The first page of an OFD or PDF original as PNG; ParseError for other formats."""
    if source_format == "ofd":
        return ofd_png(data, width)
    if source_format == "pdf":
        return pdf_png(data, width)
    raise ParseError(ErrorCode.UNKNOWN_FORMAT, f"a {source_format} original has no page to draw")
