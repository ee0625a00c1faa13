"""Pictures inside an OFD (``MultiMedia`` images, seal pictures) made safe for an SVG page.

An OFD stores pictures as PNG, JPEG, BMP, GIF, TIFF and, in tax-bureau invoices, JBIG2 (the
QR code of older 增值税电子发票 is a ``.jb2``). A browser shows few of these and an SVG
rasteriser fewer, and every one comes from outside. So each picture is decoded here and
written out again as PNG (JPEG kept as JPEG), with a pixel cap against decompression bombs:
what reaches the SVG is always a ``data:`` URI of bytes this module produced, never a link.

JBIG2 has no Python decoder; PDFium (``pypdfium2``, already used for PDFs) has one. A JBIG2
file is the same segments a PDF's ``JBIG2Decode`` stream holds, after a 13-byte file header,
so the picture is wrapped in a one-page PDF and rendered by PDFium.
"""

from __future__ import annotations

import base64
import io
import logging
import struct
import warnings

from PIL import Image

log = logging.getLogger(__name__)

MAX_PIXELS = 16_000_000  # a 4000 x 4000 picture; an invoice's largest is a 1,500 px seal
MAX_MEDIA_BYTES = 8 * 1024 * 1024
_JBIG2_MAGIC = b"\x97JB2\r\n\x1a\n"


def data_uri(raw: bytes) -> str | None:
    """A ``data:image/…;base64`` URI for a picture's bytes, re-encoded; None if unreadable."""
    made = safe_image(raw)
    if made is None:
        return None
    mime, data = made
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def safe_image(raw: bytes) -> tuple[str, bytes] | None:
    """(MIME type, bytes) of the picture decoded and encoded again; None when not a picture
    Pillow or PDFium can read within the caps."""
    if not raw or len(raw) > MAX_MEDIA_BYTES:
        return None
    if raw.startswith(_JBIG2_MAGIC):
        png = jbig2_to_png(raw)
        return ("image/png", png) if png else None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img: Image.Image = Image.open(io.BytesIO(raw))
            if img.width * img.height > MAX_PIXELS:
                return None
            fmt = img.format
            img.load()
    except Exception as exc:  # hostile bytes: any decoder error means "not shown"
        log.info("OFD picture not decoded: %s", exc)
        return None
    out = io.BytesIO()
    if fmt == "JPEG" and img.mode in ("L", "RGB"):
        img.save(out, "JPEG", quality=90)
        return "image/jpeg", out.getvalue()
    if img.mode not in ("1", "L", "LA", "RGB", "RGBA", "P"):
        img = img.convert("RGBA")
    img.save(out, "PNG")
    return "image/png", out.getvalue()


def _jbig2_size(segments: bytes) -> tuple[int, int] | None:
    """Width and height from the page-information segment (type 48) at the start."""
    if len(segments) < 6:
        return None
    flags = segments[4]
    seg_type = flags & 0x3F
    if seg_type != 48:
        return None
    pos = 5
    ref = segments[pos]
    count = ref >> 5
    if count > 4:
        return None  # long form: never used for a page-information segment
    pos += 1 + count  # one byte per referred segment number for small segment numbers
    pos += 4 if flags & 0x40 else 1  # page association
    pos += 4  # data length
    if pos + 8 > len(segments):
        return None
    width, height = struct.unpack(">II", segments[pos:pos + 8])
    if not (0 < width <= 10_000 and 0 < height <= 10_000) or width * height > MAX_PIXELS:
        return None
    return width, height


def _one_image_pdf(stream: bytes, width: int, height: int) -> bytes:
    """A minimal one-page PDF that draws ``stream`` (JBIG2 segments) as a 1-bit image."""
    content = b"q %d 0 0 %d 0 0 cm /Im0 Do Q" % (width, height)
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] "
        b"/Resources << /XObject << /Im0 4 0 R >> >> /Contents 5 0 R >>" % (width, height),
        b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray "
        b"/BitsPerComponent 1 /Filter /JBIG2Decode /Length %d >>\nstream\n"
        % (width, height, len(stream)) + stream + b"\nendstream",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, obj in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out)


def jbig2_to_png(raw: bytes) -> bytes | None:
    """A JBIG2 file (sequential organisation, one page) as PNG, through PDFium; None if not."""
    if len(raw) < 13 or not raw.startswith(_JBIG2_MAGIC):
        return None
    flags = raw[8]
    if flags & 0x01 == 0:  # random-access organisation: segment headers apart from data
        return None
    start = 9 if flags & 0x02 else 13  # page count present unless bit 1 says unknown
    segments = raw[start:]
    size = _jbig2_size(segments)
    if size is None:
        return None
    import pypdfium2 as pdfium

    from invoice.pdf import _pdfium as pdfium_lock  # PDFium is not thread-safe

    try:
        with pdfium_lock():
            doc = pdfium.PdfDocument(_one_image_pdf(segments, *size))
            try:
                img = doc[0].render(scale=1, grayscale=True).to_pil()
            finally:
                doc.close()
    except Exception as exc:  # PDFium refuses broken segments: the picture is not shown
        log.info("JBIG2 picture not decoded: %s", exc)
        return None
    out = io.BytesIO()
    img.convert("L").save(out, "PNG")
    return out.getvalue()
