"""可用性 (usability): U1–U4.

The metadata reads (U1), every file opens in a reader of its format (U2: invoices parse with
``invoice.parse``, other files with lxml, json or PDFium), its format is one allowed for
archiving (U3), and nothing is encrypted or compressed with a method a future reader may lack
(U4: PDF ``/Encrypt``, zip members with the encryption flag or a method other than stored and
deflated).
"""

from __future__ import annotations

import io
import json
import re
import zipfile

from archive import metadata as md
from archive import xbrl
from archive.checks.base import CheckItem, PackageView, Result, make_item, step, verdict
from archive.schema import validate_package_xml
from invoice.errors import InvoiceError
from invoice.xmlsafe import parse_xml


def format_of(rel: str, data: bytes) -> str:
    """The format the bytes are (not what the name says): OFD, ZIP, PDF, XML, JSON, JPEG, PNG
    or UNKNOWN."""
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data.startswith(b"PK\x03\x04"):
        return "OFD" if rel.lower().endswith(".ofd") else "ZIP"
    if b"%PDF-" in data[:1024]:
        return "PDF"
    head = data[:64].lstrip(b"\xef\xbb\xbf").lstrip()
    if head.startswith(b"<"):
        return "XML"
    if head.startswith((b"{", b"[")):
        return "JSON"
    return "UNKNOWN"


def opens(rel: str, data: bytes) -> str | None:
    """None when the (non-invoice) file opens; else why not."""
    fmt = format_of(rel, data)
    try:
        if fmt == "XML":
            parse_xml(data, rel)
        elif fmt == "JSON":
            json.loads(data.decode("utf-8"))
        elif fmt == "PDF":
            import pypdfium2

            doc = pypdfium2.PdfDocument(data)
            try:
                if len(doc) < 1:
                    return "PDF has no page"
            finally:
                doc.close()
        elif fmt in ("JPEG", "PNG"):
            from core.settings import get_settings
            from invoice.image.load import open_image

            s = get_settings()
            open_image(data, s.scan_max_pixels, s.scan_max_side)  # bounded, fully decoded
        elif fmt == "OFD":
            from invoice.ofd.package import OfdPackage

            if not OfdPackage(data, rel).doc_roots():
                return "OFD without a document"
        else:
            return f"unknown format {fmt}"
    except (InvoiceError, ValueError, UnicodeDecodeError) as exc:
        return str(exc)
    except Exception as exc:  # pypdfium2 raises its own PdfiumError
        return f"{type(exc).__name__}: {exc}"
    return None


def encryption(fmt: str, data: bytes) -> str | None:
    """Why the file is encrypted or privately compressed, or None."""
    if fmt == "PDF" and re.search(rb"/Encrypt\s", data):
        return "PDF is encrypted (/Encrypt)"
    if fmt in ("OFD", "ZIP"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                for info in z.infolist():
                    if info.flag_bits & 0x1:
                        return f"member {info.filename} is encrypted"
                    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                        return f"member {info.filename} uses compression method {info.compress_type}"
        except zipfile.BadZipFile as exc:
            return f"not a readable zip: {exc}"
    return None


@step("U1")
def metadata_readable(view: PackageView) -> CheckItem:
    """metadata.xml is there, well-formed and in this project's metadata namespace."""
    if view.metadata_error is not None:
        return make_item("U1", Result.FAIL, view.metadata_error)
    meta = view.meta
    return make_item("U1", Result.PASS, f"metadata.xml well-formed, {len(meta.package)} package elements, "
                                        f"{len(meta.invoices)} invoices, {len(meta.files)} files")


@step("U2")
def files_open(view: PackageView) -> CheckItem:
    """Each invoice parses as an invoice; every other file opens in a reader of its format."""
    problems = [f"{f.name}: does not parse as an invoice ({f.parse_error})"
                for f in view.invoices.values() if f.parse_error is not None]
    for rel in view.present:
        if rel in view.inv_meta:
            continue
        err = opens(rel, view.contents.get(rel, b""))
        if err:
            problems.append(f"{rel}: {err}")
    problems += validate_package_xml(view.root)  # the archive XML against the XSD it declares
    problems += xbrl.validate_package(view.root)  # 入账信息 against the XSD version it carries
    return verdict("U2", problems, f"all {len(view.present)} files open; {len(view.inv_meta)} invoices parse")


@step("U3")
def allowed_formats(view: PackageView) -> CheckItem:
    """Every file is OFD, PDF, XML, JSON, JPEG or PNG by its content (JPEG/PNG: scans)."""
    problems = [f"{rel}: format {fmt} is not allowed for archiving" for rel in view.present
                if (fmt := format_of(rel, view.contents.get(rel, b""))) not in md.ALLOWED_FORMATS]
    return verdict("U3", problems, f"all {len(view.present)} files are OFD, PDF, XML, JSON, JPEG or PNG")


@step("U4")
def no_encryption(view: PackageView) -> CheckItem:
    """No encrypted PDF, no encrypted or privately compressed OFD/zip member."""
    problems: list[str] = []
    for rel in view.present:
        data = view.contents.get(rel, b"")
        why = encryption(format_of(rel, data), data)
        if why:
            problems.append(f"{rel}: {why}")
    return verdict("U4", problems, "no encrypted PDF or OFD member, no private compression method")
