"""Refuse a PDF whose streams would inflate beyond a bound, before any renderer sees it.

pypdfium2, pdfplumber and pyHanko decompress a stream in full when they need it: a 0.4 MB
PDF with one FlateDecode stream of 400 MB of zeros cost 20 s and 800 MB. Here every stream
of the file is measured first, cheaply and with bounded memory:

* the streams are found by qpdf (pikepdf), from the cross-reference table: only objects
  stored directly in the file (xref type 1) are opened, so no object stream is inflated by
  qpdf on the way (objects inside object streams are never streams themselves);
* each stream's raw bytes go through its filter chain with bounded decoders: FlateDecode by
  ``zlib.decompressobj().decompress(data, max_length)`` in 1 MiB steps (never more than the
  limit is produced, and the output is counted, not kept, unless another filter follows),
  RunLengthDecode and LZWDecode are counted without being expanded, the ASCII filters shrink;
* image XObjects are measured by what their pixels need (width × height × 4 bytes).

A stream that decodes beyond ``max_pdf_stream_bytes``, or an image, or all streams together
beyond ``max_pdf_total_bytes``, raises ``ParseError(TOO_COMPLEX)`` naming the object and the limit
(``limit_name`` ``pdf_stream`` or ``pdf_total``, ``limit_value`` the setting in bytes).
"""

from __future__ import annotations

import base64
import binascii
import io
import re
import zlib
from collections.abc import Iterable
from typing import Any

from invoice.errors import ErrorCode, ParseError

__all__ = ["check_pdf_stream_sizes", "inflated_size"]

_STEP = 1 << 20


class _Over(Exception):
    """The decoded size passed the limit."""


def _mib(n: int) -> str:
    return f"{n / (1 << 20):g} MiB" if n >= 1 << 20 else f"{n} bytes"


def inflated_size(raw: bytes, limit: int, keep: bool = False) -> tuple[int, bytes | None]:
    """Bytes a FlateDecode stream inflates to, never producing more than ``limit`` + 1 MiB.

    Raises ``_Over`` past ``limit``. A broken deflate stream counts what came out before the
    damage (the renderers stop there too). With ``keep`` the output is returned as well
    (for a filter that follows), otherwise ``None``.
    """
    d = zlib.decompressobj()
    total = 0
    parts: list[bytes] = []
    buf = raw
    try:
        while buf and not d.eof:
            chunk = d.decompress(buf, _STEP)
            total += len(chunk)
            if total > limit:
                raise _Over
            if keep:
                parts.append(chunk)
            buf = d.unconsumed_tail
            if not chunk and not buf:
                break
        if not d.eof:
            rest = d.flush()
            total += len(rest)
            if total > limit:
                raise _Over
            if keep:
                parts.append(rest)
    except zlib.error:
        pass
    return total, (b"".join(parts) if keep else None)


def _run_length_size(raw: bytes, limit: int) -> int:
    """Decoded size of RunLengthDecode data, counted without expanding it."""
    total, i, n = 0, 0, len(raw)
    while i < n:
        b = raw[i]
        if b == 128:  # EOD
            break
        if b < 128:
            total += b + 1
            i += b + 2
        else:
            total += 257 - b
            i += 2
        if total > limit:
            raise _Over
    return total


def _lzw_size(raw: bytes, limit: int, early: int = 1) -> int:
    """Decoded size of LZWDecode data: the decoder's table of entry *lengths*, not strings."""
    lengths = [1] * 256 + [0, 0]  # 256 clear, 257 EOD
    width, bits, nbits, total, prev = 9, 0, 0, 0, -1
    for byte in raw:
        bits = (bits << 8) | byte
        nbits += 8
        while nbits >= width:
            nbits -= width
            code = (bits >> nbits) & ((1 << width) - 1)
            if code == 256:
                del lengths[258:]
                width, prev = 9, -1
                continue
            if code == 257:
                return total
            if code < len(lengths):
                size = lengths[code]
            elif prev >= 0:
                size = lengths[prev] + 1
            else:
                return total  # broken stream: the renderers stop here too
            total += size
            if total > limit:
                raise _Over
            if prev >= 0 and len(lengths) < 4096:
                lengths.append(lengths[prev] + 1)
            prev = code
            if len(lengths) + early >= (1 << width) and width < 12:
                width += 1
        bits &= (1 << nbits) - 1
    return total


def _ascii_hex(raw: bytes) -> bytes:
    text = re.sub(rb"\s", b"", raw).split(b">", 1)[0]
    if len(text) % 2:
        text += b"0"
    return binascii.unhexlify(text)


def _ascii85(raw: bytes) -> bytes:
    text = re.sub(rb"\s", b"", raw)
    text = text.removeprefix(b"<~").split(b"~>", 1)[0]
    return base64.a85decode(text)


_FLATE = {"/FlateDecode", "/Fl"}
_RUN_LENGTH = {"/RunLengthDecode", "/RL"}
_LZW = {"/LZWDecode", "/LZW"}
_ASCII_HEX = {"/ASCIIHexDecode", "/AHx"}
_ASCII_85 = {"/ASCII85Decode", "/A85"}


def _names(value: Any) -> list[str]:
    import pikepdf

    if value is None:
        return []
    if isinstance(value, pikepdf.Array):
        return [str(v) for v in value]
    return [str(value)]


def _decoded_size(raw: bytes, filters: list[str], limit: int) -> int:
    """Size of the stream after its filter chain (image codecs: the encoded size; their
    pixel size is bounded separately). Raises ``_Over`` past ``limit``."""
    data = raw
    for i, name in enumerate(filters):
        last = i == len(filters) - 1
        if name in _FLATE:
            size, out = inflated_size(data, limit, keep=not last)
            if last or out is None:
                return size
            data = out
        elif name in _RUN_LENGTH:
            return _run_length_size(data, limit)  # rarely chained: count and stop
        elif name in _LZW:
            return _lzw_size(data, limit)
        elif name in _ASCII_HEX or name in _ASCII_85:
            try:
                data = _ascii_hex(data) if name in _ASCII_HEX else _ascii85(data)
            except (ValueError, binascii.Error):
                return len(data)
        else:  # DCT, JPX, CCITT, JBIG2, Crypt, unknown: measured as images, if at all
            return len(data)
    return len(data)


def _image_bytes(stream: Any) -> int:
    """Pixels × components × bytes of an image XObject: what a renderer must allocate."""
    if str(stream.get("/Subtype", "")) != "/Image":
        return 0
    try:
        w = int(stream.get("/Width", 0))
        h = int(stream.get("/Height", 0))
        bpc = int(stream.get("/BitsPerComponent", 8) or 8)
    except (TypeError, ValueError):
        return 0
    return max(w, 0) * max(h, 0) * 4 * max(bpc, 8) // 8


def _qpdf_reason(exc: Exception) -> str:
    """qpdf's message without the name of the in-memory stream it prefixes."""
    return re.sub(r"^stream <[^>]*>:?\s*", "", str(exc))


def _direct_streams(pdf: Any) -> Iterable[tuple[str, Any]]:
    """(object label, stream) for every stream stored directly in the file."""
    import pikepdf

    for (num, gen), entry in pdf.get_xref_table().items():
        if entry.type != 1:
            continue
        obj = pdf.get_object((num, gen))
        if isinstance(obj, pikepdf.Stream):
            yield f"object {num} {gen}", obj


def check_pdf_stream_sizes(data: bytes, max_stream: int | None = None,
                           max_total: int | None = None) -> None:
    """Raise ``ParseError(TOO_COMPLEX)`` when a stream (or all together) would decode beyond
    the limits (``settings.max_pdf_stream_bytes``, ``settings.max_pdf_total_bytes``);
    ``ParseError(BAD_PDF)`` when qpdf cannot read the file's structure at all."""
    import pikepdf

    from core.settings import get_settings

    settings = get_settings()
    max_stream = max_stream if max_stream is not None else settings.max_pdf_stream_bytes
    max_total = max_total if max_total is not None else settings.max_pdf_total_bytes
    try:
        # No page-tree walk here (inherit_page_attributes): only the xref table is needed.
        pdf = pikepdf.open(io.BytesIO(data), inherit_page_attributes=False)
    except pikepdf.PasswordError:
        raise ParseError(ErrorCode.BAD_PDF, "the PDF is encrypted with a password") from None
    except (pikepdf.PdfError, ValueError, RuntimeError) as exc:
        # A file whose streams cannot be found cannot be bounded: refused, never rendered.
        raise ParseError(ErrorCode.BAD_PDF, "the PDF cannot be opened safely: qpdf cannot open "
                         f"its structure: {_qpdf_reason(exc)}") from None
    total = 0
    try:
        for where, stream in _direct_streams(pdf):
            try:
                raw = stream.read_raw_bytes()
                filters = _names(stream.get("/Filter"))
            except (pikepdf.PdfError, ValueError, RuntimeError):
                continue  # unreadable stream: the renderers cannot inflate it either
            try:
                size = _decoded_size(raw, filters, max_stream)
            except _Over:
                raise ParseError(
                    ErrorCode.TOO_COMPLEX,
                    f"a stream inflates beyond the limit of {_mib(max_stream)} "
                    "(max_pdf_stream_bytes)", where,
                    limit=_mib(max_stream), setting="FAPIAO_MAX_PDF_STREAM_BYTES",
                    limit_name="pdf_stream", limit_value=max_stream) from None
            pixels = _image_bytes(stream)
            if pixels > max_total:  # a scan may be large; its pixels count towards the total
                raise ParseError(
                    ErrorCode.TOO_COMPLEX,
                    f"an image needs {_mib(pixels)} of pixels, beyond the limit of "
                    f"{_mib(max_total)} (max_pdf_total_bytes)", where,
                    limit=_mib(max_total), setting="FAPIAO_MAX_PDF_TOTAL_BYTES",
                    limit_name="pdf_total", limit_value=max_total)
            total += max(size, pixels)
            if total > max_total:
                raise ParseError(
                    ErrorCode.TOO_COMPLEX,
                    f"the streams together inflate beyond the limit of {_mib(max_total)} "
                    "(max_pdf_total_bytes)", where,
                    limit=_mib(max_total), setting="FAPIAO_MAX_PDF_TOTAL_BYTES",
                    limit_name="pdf_total", limit_value=max_total)
    except pikepdf.PdfError as exc:
        raise ParseError(ErrorCode.BAD_PDF, "the PDF cannot be opened safely: qpdf cannot read "
                         f"its objects: {_qpdf_reason(exc)}") from None
    finally:
        pdf.close()
