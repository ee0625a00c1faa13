"""Scans and photos of invoices (JPEG, PNG, and PDFs whose page is only an image).

A scan carries no signature and no text layer: what it says is read from the picture.
The QR code comes first (``qr``): it gives the number, date, code, check code and amount as
the tax system encoded them, so those fields do not depend on recognition quality. OCR
(``ocr``) then reads the rest (parties, tax IDs, amounts, items) into positioned segments
that the PDF field reader interprets by label and position (``fields``), so a scan and a PDF
of the same invoice are read by the same rules. A scan is never more than ``unsigned``.

Untrusted pictures are bounded before decoding (``load``: pixel and side caps read from the
header; Pillow's decompression-bomb guard as a second line); the sandbox bounds the rest.
"""

from __future__ import annotations

from invoice.image.fields import parse_image, parse_image_pdf
from invoice.image.load import image_type

__all__ = ["image_type", "parse_image", "parse_image_pdf"]
