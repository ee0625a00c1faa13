"""Authenticity and integrity: is this file genuine, tampered, unsigned, or impossible to judge?

``verify(data)`` is pure (bytes in, report out): it checks every signature the file carries
(OFD e-seals, PDF CMS signatures), runs the content cross-checks on the parsed invoice, and
returns a ``VerificationReport``. The online check (查验) is separate
(:mod:`invoice.verify.online`) because it talks to the network.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from invoice.detect import detect_format
from invoice.errors import ErrorCode, InvoiceError, ParseError
from invoice.model import Invoice, SourceFormat, sha256_hex
from invoice.verify.checks import run_checks
from invoice.verify.report import (
    Check,
    CheckResult,
    Issue,
    ReferenceCheck,
    RefResult,
    Severity,
    SignatureReport,
    VerificationReport,
    VerifyStatus,
    combine,
)

if TYPE_CHECKING:
    from invoice.ofd.package import OfdPackage

__all__ = [
    "Check",
    "CheckResult",
    "RefResult",
    "ReferenceCheck",
    "SignatureReport",
    "VerificationReport",
    "VerifyStatus",
    "verify",
    "verify_signatures",
]

# Parse errors that refuse the file itself (reading it would cost more than any invoice),
# not merely its invoice fields: verify raises them instead of reporting the signatures.
_REFUSED = frozenset({ErrorCode.TOO_COMPLEX, ErrorCode.ZIP_BOMB})

XML_SIGNATURE_REASON = (
    "数电票 XML carries a TaxBureauSignature (SM2, detached, in the tax bureau's own format, "
    "KeyInfo empty); which bytes it signs is documented nowhere public, so it cannot be "
    "checked locally: rely on the online check (查验)"
)


def verify_signatures(data: bytes, fmt: SourceFormat | None = None) -> tuple[list[SignatureReport], list[str]]:
    """The signatures of a file and file-level problems; raises ParseError if unreadable."""
    fmt = fmt or detect_format(data)
    if fmt is SourceFormat.OFD:
        from invoice.ofd.package import OfdPackage
        from invoice.verify.ofd import verify_ofd_signatures

        return verify_ofd_signatures(OfdPackage(data))
    if fmt is SourceFormat.PDF:
        from invoice.verify.pdf import verify_pdf_signatures

        return verify_pdf_signatures(data)
    if fmt is SourceFormat.XML:
        from invoice.xmlsafe import parse_xml

        root = parse_xml(data, "xml")
        if any(isinstance(el.tag, str) and el.tag.rpartition("}")[2] == "TaxBureauSignature"
               for el in root.iter()):
            return [
                SignatureReport(
                    id="1", location="TaxBureauSignature", status=VerifyStatus.INDETERMINATE,
                    format="数电票 TaxBureauSignature", signature_type="Sign",
                    signature_algorithm="SM2", reasons=(XML_SIGNATURE_REASON,),
                )
            ], []
        return [], []
    if fmt is SourceFormat.IMAGE:
        return [], []  # a JPEG/PNG scan carries no signature (invoice/image)
    raise ParseError(ErrorCode.UNKNOWN_FORMAT, "not an OFD, PDF or XML file, nor a JPEG or PNG picture")


def verify(
    data: bytes,
    invoice: Invoice | None = None,
    org_name: str | None = None,
    org_tax_id: str | None = None,
    today: date | None = None,
    file: str | None = None,
) -> VerificationReport:
    """Verify one file's signatures and cross-check its content.

    ``invoice`` is parsed from ``data`` when not given; a file that signs correctly but is no
    invoice (a bank receipt) gets its signature verdict and no cross-checks. ``today``
    defaults to the Chinese calendar day. Raises ``ParseError`` only when the bytes are no
    readable OFD, PDF or XML at all, or are refused as too costly to read (``too_complex``,
    ``zip_bomb``: a decompression bomb, signed or not).
    """
    if not data:
        raise ParseError(ErrorCode.EMPTY_FILE, "the file is empty")
    fmt = detect_format(data)
    if fmt is None:
        raise ParseError(ErrorCode.UNKNOWN_FORMAT, "not an OFD, PDF or XML file")
    problems: list[str] = []
    pkg = None
    if fmt is SourceFormat.OFD:  # opened once: signatures, coverage and fields share it
        from invoice.ofd.package import OfdPackage

        pkg = OfdPackage(data)
    try:
        if pkg is not None:
            from invoice.verify.ofd import verify_ofd_signatures

            signatures, sig_problems = verify_ofd_signatures(pkg)
        else:
            signatures, sig_problems = verify_signatures(data, fmt)
    except InvoiceError:
        raise
    except Exception as exc:  # a crash in a verifier is indeterminate, never valid
        signatures = [
            SignatureReport(
                id="?", location="?", status=VerifyStatus.INDETERMINATE,
                reasons=(f"signature verification stopped with an error: {type(exc).__name__}: {exc}",),
            )
        ]
        sig_problems = []
    problems.extend(sig_problems)
    status = combine([s.status for s in signatures])
    coverage = None
    if pkg is not None and signatures:
        try:
            from invoice.verify.ofd import check_coverage

            coverage = check_coverage(pkg, signatures)
        except InvoiceError as exc:  # a member the coverage check needs is unreadable
            problems.append(f"what the signatures cover cannot be established: {exc}")
            if status is VerifyStatus.VALID:
                status = VerifyStatus.INDETERMINATE
        except Exception as exc:  # never valid when a step errored
            problems.append(f"the coverage check failed: {type(exc).__name__}: {exc}")
            if status is VerifyStatus.VALID:
                status = VerifyStatus.INDETERMINATE
    if coverage is not None:
        problems.extend(coverage.problems)
        if coverage.failed:
            status = VerifyStatus.INVALID
    for s in signatures:
        if s.status is VerifyStatus.INVALID:
            members = s.tampered_members
            if members:
                problems.append(f"signature {s.id}: changed after signing: {', '.join(members)}")
            else:
                problems.append(f"signature {s.id}: {s.reasons[0] if s.reasons else 'invalid'}")
        elif s.status is VerifyStatus.INDETERMINATE:
            problems.append(f"signature {s.id} cannot be verified: {s.reasons[0] if s.reasons else '?'}")
    if invoice is None:
        try:
            from invoice import parse

            if pkg is not None:
                invoice = _read_ofd_invoice(data, pkg, coverage.invoice if coverage else None)
            else:
                invoice = parse(data)
        except InvoiceError as exc:
            if exc.code in _REFUSED:  # a bomb is refused whole, signed or not: nothing was read
                raise
            problems.append(f"not read as an invoice, so no cross-checks: {exc}")
        except Exception as exc:  # a parser bug must not hide the signature verdict
            problems.append(f"the invoice parser failed, so no cross-checks: {type(exc).__name__}: {exc}")
    scan_issues: tuple[Issue, ...] = ()
    if fmt is SourceFormat.IMAGE or (invoice is not None and invoice.source_format is SourceFormat.IMAGE):
        status, scan_issues = _cap_scan(status, fmt, signatures, problems)
    checks: list[Check] = []
    if invoice is not None:
        if today is None:
            from core.clock import today_china

            today = today_china()
        checks = run_checks(invoice, today, org_name, org_tax_id)
        problems.extend(f"check {c.id} failed: {c.message}" for c in checks if c.result is CheckResult.FAIL)
    return VerificationReport(
        status=status,
        sha256=sha256_hex(data),
        signatures=tuple(signatures),
        checks=tuple(checks),
        problems=tuple(problems),
        file=file,
        coverage=coverage.fields if coverage else (),
        parts=coverage.parts if coverage else (),
        issues=tuple(i for s in signatures for i in s.issues) + (coverage.issues if coverage else ())
        + scan_issues,
    )


def _cap_scan(status: VerifyStatus, fmt: SourceFormat, signatures: list[SignatureReport],
              problems: list[str]) -> tuple[VerifyStatus, tuple[Issue, ...]]:
    """A scan is never more than ``unsigned``: a picture's content cannot be proven.

    A JPEG/PNG has no signature at all; a PDF whose page is only a picture may be signed,
    but the signature then vouches for the picture's bytes, not for the invoice it shows.
    An invalid signature stays invalid (the file was changed); anything better becomes
    ``unsigned``, with the reason in Chinese for the page and the report.
    """
    issues = [Issue("scan.unsigned", Severity.NOTE,
                    (("format", "JPEG/PNG 图片" if fmt is SourceFormat.IMAGE else "仅含图片的 PDF"),))]
    if signatures and status is not VerifyStatus.INVALID:
        issues.append(Issue("scan.signed_pdf_image", Severity.NOTE))
        problems.append("the PDF page is only a picture (a scan): its signature cannot vouch for "
                        "the invoice shown, so it counts as unsigned")
    elif not signatures:
        problems.append("a scan or photo carries no signature: unsigned, read from QR code and OCR")
    if status is VerifyStatus.INVALID:
        return status, tuple(issues)
    return VerifyStatus.UNSIGNED, tuple(issues)


def _read_ofd_invoice(data: bytes, pkg: OfdPackage, read: Invoice | None) -> Invoice:
    """``parse(data)`` for an OFD already opened by ``verify`` (the same limits and the same
    canonical keys apply); ``read`` is the invoice the coverage check already read from that
    package, if any."""
    from core.settings import get_settings
    from invoice.model import canonicalize_keys
    from invoice.ofd.invoice import read_ofd

    limit = get_settings().max_upload_bytes
    if len(data) > limit:
        raise ParseError(ErrorCode.TOO_LARGE, f"the file is {len(data)} bytes; the limit is {limit}")
    inv = read if read is not None else read_ofd(pkg).invoice
    inv.sha256 = sha256_hex(data)
    return canonicalize_keys(inv)  # as ``invoice.parse`` does: the checks see one spelling
