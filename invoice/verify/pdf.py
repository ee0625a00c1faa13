"""PDF signatures: CMS over ``/ByteRange``, validated by pyHanko.

pyHanko checks the byte range, the digest and the signature over the signed attributes
(RSA, ECDSA, EdDSA). No trust roots are configured, so a signature is reported as intact and
cryptographically valid, with ``trusted`` false and a note that trust was not established.
pyHanko knows nothing of SM2: a CMS signature whose algorithm is SM2 is checked here with
:mod:`invoice.verify.sm2` (SM3 digest of the byte ranges, SM2 over the DER signed attributes).

Incremental updates after a signed revision (``revision_findings``): a signature covers its
own revision; what was appended later is judged by pyHanko's difference analysis
(``DEFAULT_DIFF_POLICY``, for SM2 signatures too). Only a later signature, form filling or
long-term-validation data may follow (``ModificationLevel`` up to ``FORM_FILLING``, within the
signature's /DocMDP permission, ``docmdp_ok``); anything else, or a coverage short of the
signature's own revision (``SignatureCoverageLevel``), makes the signature ``invalid`` with a
reason naming the revision. Besides, the text the invoice fields are read from must be
signed: a page whose content or resources (``invoice.pdf.revisions``) changed in a revision
after the signed one makes the signature ``invalid`` too, naming page and revisions, because
the fields read from that page (``Invoice.field_locations``) come from unsigned content.
"""

from __future__ import annotations

import io
import logging
from typing import Any

from asn1crypto import cms, x509

from invoice.pdf.bounds import check_pdf_stream_sizes
from invoice.pdf.revisions import PageRevisions
from invoice.verify import ses, sm2
from invoice.verify.report import SignatureReport, VerifyStatus

SM2_OIDS = ses.SM2_SIGNATURE_OIDS | {"1.2.156.10197.1.301"}


def _sync_oid_maps() -> None:
    """Make asn1crypto's name→OID maps know what pyHanko registered on import.

    pyHanko adds CMS attributes and X.509 extensions to asn1crypto's ``_map`` only; if any
    such OID was parsed earlier in the process, the cached reverse map misses them and
    pyHanko later fails to build attributes by name.
    """
    import pyhanko.sign.ades.cades_asn1  # noqa: F401  (registers its OIDs)
    from asn1crypto import cms, x509

    for cls in (cms.CMSAttributeType, x509.ExtensionId):
        if cls._reverse_map is not None:
            for oid, name in cls._map.items():
                cls._reverse_map.setdefault(name, oid)


def has_signature_markers(data: bytes) -> bool:
    return b"/ByteRange" in data


def verify_pdf_signatures(data: bytes) -> tuple[list[SignatureReport], list[str]]:
    """One report per signature field; problems are file-level notes."""
    from pyhanko.pdf_utils.misc import PdfReadError
    from pyhanko.pdf_utils.reader import PdfFileReader

    _sync_oid_maps()
    problems: list[str] = []
    if not has_signature_markers(data):
        # A signature dictionary needs /ByteRange, written uncompressed (its offsets must be
        # patchable), so a PDF without the token has no signature to read.
        return [], problems
    # pyHanko inflates streams for its difference analysis: bombs are refused first.
    check_pdf_stream_sizes(data)
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        sigs = list(reader.embedded_signatures)
    except (PdfReadError, ValueError, KeyError, TypeError, IndexError) as exc:
        if has_signature_markers(data):
            return [
                SignatureReport(
                    id="1", location="?", status=VerifyStatus.INDETERMINATE, signature_type="CMS",
                    reasons=(f"the PDF has a /ByteRange but its signatures cannot be read: {exc}",),
                )
            ], problems
        problems.append(f"the PDF's signature fields cannot be read: {exc}")
        return [], problems
    try:
        from invoice.pdf import MAX_PAGES
        from invoice.pdf.revisions import read_page_revisions

        pages: PageRevisions | None = read_page_revisions(reader, MAX_PAGES)
    except Exception as exc:  # then no signature followed by later revisions is "valid"
        pages = None
        problems.append(f"the PDF's page revisions cannot be read: {type(exc).__name__}: {exc}")
    reports = []
    for idx, sig in enumerate(sigs, start=1):
        try:
            reports.append(_verify_one(data, sig, idx, pages))
        except Exception as exc:  # never "valid" after an error
            reports.append(
                SignatureReport(
                    id=str(idx), location=str(getattr(sig, "field_name", "?")),
                    status=VerifyStatus.INDETERMINATE, signature_type="CMS",
                    reasons=(f"verification stopped with an error: {type(exc).__name__}: {exc}",),
                )
            )
    if not sigs and has_signature_markers(data):
        problems.append("the PDF contains /ByteRange but no signature field refers to it")
    return reports, problems


def _mechanism(sig: Any) -> str:
    si = sig.signer_info
    return str(si["signature_algorithm"]["algorithm"].dotted)


def _level_name(value: Any) -> str:
    return str(getattr(value, "name", value))


def revision_findings(sig: Any, coverage: Any, diff_result: Any, docmdp_ok: bool | None,
                      pages: PageRevisions | None) -> list[str]:
    """Why what follows the signed revision makes this signature ``invalid`` (empty: nothing).

    ``coverage``/``diff_result``/``docmdp_ok`` are pyHanko's (``SignatureCoverageLevel``,
    ``DiffResult`` or ``SuspiciousModification``, the /DocMDP verdict); ``pages`` the revision
    each page's content was last changed in (1-based), ``None`` when unknown.
    """
    from pyhanko.sign.diff_analysis import DiffResult, ModificationLevel
    from pyhanko.sign.validation.status import SignatureCoverageLevel

    signed = int(sig.signed_revision) + 1  # 1-based, as in Invoice.field_locations
    total = int(sig.reader.xrefs.total_revisions)
    found: list[str] = []
    if coverage is None or coverage < SignatureCoverageLevel.ENTIRE_REVISION:
        found.append(f"the signature does not cover its own revision {signed} "
                     f"(coverage {_level_name(coverage)}): the signed bytes are not a whole revision")
        return found
    if coverage == SignatureCoverageLevel.ENTIRE_FILE:
        return found
    later = f"revision {signed + 1}" if total == signed + 1 else f"revisions {signed + 1}-{total}"
    if isinstance(diff_result, DiffResult):
        level = diff_result.modification_level
        if level > ModificationLevel.FORM_FILLING:
            found.append(f"{later} (after the signed revision {signed}) changes the document "
                         f"beyond form filling or a later signature ({_level_name(level)})")
        elif docmdp_ok is False:
            found.append(f"{later} (after the signed revision {signed}) makes changes the "
                         f"signature's /DocMDP permission forbids ({_level_name(level)})")
    elif diff_result is not None:  # SuspiciousModification
        found.append(f"{later} (after the signed revision {signed}) changes the document "
                     f"beyond form filling or a later signature: {diff_result}")
    else:
        found.append(f"{later} (after the signed revision {signed}) could not be analysed")
    if pages is None:
        found.append("the revisions of the pages cannot be read, so the invoice text cannot "
                     "be shown to be signed")
    else:
        for i, rev in enumerate(pages.pages):
            if rev > signed:
                found.append(f"page {i + 1}'s content was changed in revision {rev}, after the "
                             f"signed revision {signed}: fields read from page {i + 1} are not "
                             "signed")
    return found


def _verify_one(data: bytes, sig: Any, idx: int, pages: PageRevisions | None) -> SignatureReport:
    from pyhanko.sign.diff_analysis import DEFAULT_DIFF_POLICY
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    name = str(sig.field_name)
    mech = _mechanism(sig)
    cert = sig.signer_cert
    signer = ses.cert_info(cert.dump())[0] if cert is not None else None
    if mech in SM2_OIDS:
        return _verify_sm2(data, sig, idx, name, signer, pages)
    vc = ValidationContext(trust_roots=[], allow_fetching=False)
    # With no trust roots pyHanko logs a full traceback for every self-signed or unknown
    # chain; that is expected here (reported as trusted=False), so keep it off the console.
    quiet = logging.getLogger("pyhanko.sign.validation")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)
    try:
        status = validate_pdf_signature(sig, vc, diff_policy=DEFAULT_DIFF_POLICY, skip_diff=False)
    finally:
        quiet.setLevel(level)
    reasons: list[str] = []
    if not status.intact:
        reasons.append("the signed byte ranges do not match the signed digest: the file was changed")
    elif not status.valid:
        reasons.append("the signature over the signed attributes does not verify")
    later = revision_findings(sig, status.coverage, status.diff_result, status.docmdp_ok, pages)
    reasons.extend(later)
    if not later and status.coverage is not None and _level_name(status.coverage) != "ENTIRE_FILE":
        reasons.append(f"later revisions only fill forms or add signatures "
                       f"({_level_name(status.modification_level)})")
    reasons.append("trust not established: no trust roots are configured")
    verdict = (VerifyStatus.VALID if status.intact and status.valid and not later
               else VerifyStatus.INVALID)
    when = status.signer_reported_dt.isoformat() if status.signer_reported_dt else None
    return SignatureReport(
        id=str(idx),
        location=name,
        status=verdict,
        format="CMS (PDF /ByteRange)",
        signature_type="CMS",
        signature_algorithm=mech,
        signer=signer,
        signing_time=when,
        data_hash_ok=bool(status.intact),
        signature_ok=bool(status.valid),
        trusted=bool(status.trusted),
        reasons=tuple(reasons),
    )


def _sm2_revision_findings(sig: Any, pages: PageRevisions | None) -> list[str]:
    """pyHanko's coverage and difference analysis for a signature pyHanko cannot verify."""
    from pyhanko.sign.diff_analysis import DEFAULT_DIFF_POLICY, DiffResult, ModificationLevel

    coverage = sig.evaluate_signature_coverage()
    sig.coverage = coverage
    diff = sig.evaluate_modifications(DEFAULT_DIFF_POLICY)
    docmdp = sig.docmdp_level
    level = diff.modification_level if isinstance(diff, DiffResult) else ModificationLevel.OTHER
    docmdp_ok = not (level == ModificationLevel.OTHER
                     or (docmdp is not None and level.value > docmdp.value))
    return revision_findings(sig, coverage, diff, docmdp_ok, pages)


def _verify_sm2(data: bytes, sig: Any, idx: int, name: str, signer: ses.CertInfo | None,
                pages: PageRevisions | None) -> SignatureReport:
    """SM2/SM3 CMS in a PDF: digest over the byte ranges, SM2 over the signed attributes."""
    reasons: list[str] = []
    br = [int(x) for x in sig.sig_object["/ByteRange"]]
    if len(br) != 4:
        return SignatureReport(id=str(idx), location=name, status=VerifyStatus.INDETERMINATE,
                               signature_type="CMS", reasons=(f"/ByteRange has {len(br)} numbers",))
    a, b, c, d = br
    covered = data[a : a + b] + data[c : c + d]
    whole = a == 0 and c + d == len(data)
    si: cms.SignerInfo = sig.signer_info
    digest_alg = si["digest_algorithm"]["algorithm"].dotted
    if digest_alg not in ses.SM3_OIDS:
        return SignatureReport(id=str(idx), location=name, status=VerifyStatus.INDETERMINATE,
                               signature_type="CMS", signature_algorithm=_mechanism(sig),
                               reasons=(f"SM2 signature with digest {digest_alg}: unsupported",))
    attrs = si["signed_attrs"]
    md: bytes | None = None
    when: str | None = None
    for attr in attrs:
        if attr["type"].dotted == "1.2.840.113549.1.9.4":
            md = bytes(attr["values"][0].native)
        elif attr["type"].dotted == "1.2.840.113549.1.9.5":
            when = ses.read_time(attr["values"][0].chosen)
    if md is None:
        return SignatureReport(id=str(idx), location=name, status=VerifyStatus.INDETERMINATE,
                               signature_type="CMS", reasons=("no messageDigest attribute",))
    intact = md == sm2.sm3(covered)
    cert: x509.Certificate | None = sig.signer_cert
    if cert is None:
        return SignatureReport(id=str(idx), location=name, status=VerifyStatus.INDETERMINATE,
                               signature_type="CMS", reasons=("the signer certificate is not embedded",))
    pub = sm2.point_from_certificate(cert)
    valid = sm2.verify(pub, b"\x31" + attrs.dump()[1:], bytes(si["signature"].native))
    if not intact:
        reasons.append("the signed byte ranges do not match the signed SM3 digest: the file was changed")
    if not valid:
        reasons.append("the SM2 signature over the signed attributes does not verify")
    later = _sm2_revision_findings(sig, pages) if intact and valid else []
    reasons.extend(later)
    if not whole and not later:
        reasons.append("the signature does not cover the whole file: later revisions only "
                       "fill forms or add signatures")
    reasons.append("trust not established: no trust roots are configured")
    return SignatureReport(
        id=str(idx), location=name,
        status=VerifyStatus.VALID if intact and valid and not later else VerifyStatus.INVALID,
        format="CMS (PDF /ByteRange)", signature_type="CMS", signature_algorithm=_mechanism(sig),
        signer=signer, signing_time=when, data_hash_ok=intact, signature_ok=valid, trusted=False,
        reasons=tuple(reasons),
    )
