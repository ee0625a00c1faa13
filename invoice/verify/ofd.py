"""OFD signatures (GB/T 33190 §18, GB/T 38540): digests, seal, SM2.

``OFD.xml`` DocBody/``Signatures`` → ``Signatures.xml`` → each ``Signature.xml``:

1. every ``Reference``'s ``CheckValue`` = base64(digest(member bytes)) with the
   ``CheckMethod`` of ``References`` (SM3: ``1.2.156.10197.1.401`` or "sm3");
2. ``SignedValue`` (a DER file) is read by :mod:`invoice.verify.ses`: the SM2 signature over
   ``TBS_Sign`` (or the signed attributes of a GB/T 35275 SignedData) with the embedded
   certificate's key, and the seal maker's signature over the seal;
3. the signed ``dataHash`` equals SM3(``Signature.xml`` bytes), which ties 1 and 2 together;
4. a ``Seal.esl`` named by the signature equals the seal inside the signed value.

A digest or signature that does not hold makes the signature ``invalid`` and names the
member; a structure or algorithm that cannot be evaluated makes it ``indeterminate`` with the
reason. Nothing that errored is ever ``valid``.
"""

from __future__ import annotations

import base64
import hashlib
import posixpath
from collections.abc import Callable
from dataclasses import dataclass

from lxml import etree

from invoice.errors import InvoiceError
from invoice.ofd.package import OfdPackage
from invoice.verify import ses, sm2
from invoice.verify.report import ReferenceCheck, RefResult, SignatureReport, VerifyStatus
from invoice.xmlsafe import parse_xml

_DIGESTS: dict[str, tuple[str, Callable[[bytes], bytes]]] = {
    "1.2.156.10197.1.401": ("SM3", sm2.sm3),
    "sm3": ("SM3", sm2.sm3),
    "2.16.840.1.101.3.4.2.1": ("SHA-256", lambda b: hashlib.sha256(b).digest()),
    "sha256": ("SHA-256", lambda b: hashlib.sha256(b).digest()),
    "sha-256": ("SHA-256", lambda b: hashlib.sha256(b).digest()),
}


def _local(tag: object) -> str:
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def _children(el: etree._Element, name: str) -> list[etree._Element]:
    return [c for c in el if _local(c.tag) == name]


def _first(el: etree._Element, name: str) -> etree._Element | None:
    for c in el.iter():
        if _local(c.tag) == name:
            return c
    return None


def _text(el: etree._Element | None) -> str | None:
    if el is None or el.text is None:
        return None
    return el.text.strip() or None


@dataclass(frozen=True)
class SignatureEntry:
    """One signature named by a signature list; ``error`` when it cannot even be located."""

    path: str
    id: str
    type: str | None = None
    error: str | None = None


def signature_files(pkg: OfdPackage) -> tuple[list[SignatureEntry], list[str]]:
    """The signatures the package names, and problems met on the way.

    Follows OFD.xml DocBody/Signatures → Signatures.xml/Signature@BaseLoc. A package whose
    DocBody names no Signatures file but stores ``Signatures.xml`` members is read from those
    (with a note), so a signature cannot hide behind a missing pointer.
    """
    problems: list[str] = []
    lists: list[str] = []
    root = pkg.ofd_xml()
    for body in root.iter():
        if _local(body.tag) != "DocBody":
            continue
        for sig_el in _children(body, "Signatures"):
            ref = _text(sig_el)
            if not ref:
                continue
            path = pkg.resolve(ref)
            if path is None:
                problems.append(f"OFD.xml names signature list {ref!r}, which is not in the package")
            elif path not in lists:
                lists.append(path)
    if not lists:
        stray = [n for n in pkg.names() if posixpath.basename(n).lower() == "signatures.xml"]
        if stray:
            problems.append(
                "OFD.xml names no signature list but the package stores "
                + ", ".join(stray)
                + "; read anyway"
            )
            lists = stray
    found: list[SignatureEntry] = []
    for lst in lists:
        base = posixpath.dirname(lst)
        try:
            xml = parse_xml(pkg.read(lst), f"{pkg.where}:{lst}")
        except InvoiceError as exc:
            found.append(SignatureEntry(lst, "?", error=f"the signature list cannot be read: {exc}"))
            continue
        for el in xml.iter():
            if _local(el.tag) != "Signature":
                continue
            loc = el.get("BaseLoc")
            sig_id = el.get("ID") or str(len(found) + 1)
            if not loc:
                found.append(SignatureEntry(lst, sig_id, el.get("Type"),
                                            error=f"{lst}: signature {sig_id} has no BaseLoc"))
                continue
            path = pkg.resolve(loc, base)
            if path is None:
                shown = loc.lstrip("/") if loc.startswith("/") else posixpath.join(base, loc)
                found.append(SignatureEntry(shown, sig_id, el.get("Type")))  # reported missing
                continue
            found.append(SignatureEntry(path, sig_id, el.get("Type")))
    return found, problems


def verify_ofd_signatures(
    pkg: OfdPackage,
) -> tuple[list[SignatureReport], list[str]]:
    """Check every signature of an OFD package; problems are package-level notes."""
    files, problems = signature_files(pkg)
    reports = [verify_signature_xml(pkg, e) for e in files]
    if reports:
        covered = {r.path for rep in reports for r in rep.references}
        signs = {posixpath.dirname(e.path) for e in files}
        uncovered = [
            n for n in pkg.names()
            if n not in covered
            and not any(n == d or n.startswith(d + "/") for d in signs)
            and posixpath.basename(n).lower() != "signatures.xml"
        ]
        if uncovered:
            problems.append("members not protected by any signature: " + ", ".join(sorted(uncovered)))
    return reports, problems


def verify_signature_xml(pkg: OfdPackage, entry: SignatureEntry) -> SignatureReport:
    """One ``Signature.xml`` checked end to end (never raises for bad content)."""
    if entry.error is not None:
        return SignatureReport(
            id=entry.id, location=entry.path, status=VerifyStatus.INDETERMINATE,
            signature_type=entry.type, reasons=(entry.error,),
        )
    try:
        return _verify_signature_xml(pkg, entry.path, entry.id, entry.type)
    except Exception as exc:  # any unforeseen failure must not read as "valid"
        return SignatureReport(
            id=entry.id,
            location=entry.path,
            status=VerifyStatus.INDETERMINATE,
            signature_type=entry.type,
            reasons=(f"verification stopped with an error: {type(exc).__name__}: {exc}",),
        )


def _verify_signature_xml(
    pkg: OfdPackage, path: str, sig_id: str, sig_type: str | None
) -> SignatureReport:
    invalid: list[str] = []
    undetermined: list[str] = []
    notes: list[str] = []
    if pkg.resolve(path) is None:
        return SignatureReport(
            id=sig_id,
            location=path,
            status=VerifyStatus.INDETERMINATE,
            signature_type=sig_type,
            reasons=(f"the signature file {path} named by the signature list is missing",),
        )
    sig_xml = pkg.read(path)
    where = f"{pkg.where}:{path}"
    try:
        root = parse_xml(sig_xml, where)
    except InvoiceError as exc:
        return SignatureReport(
            id=sig_id, location=path, status=VerifyStatus.INDETERMINATE, signature_type=sig_type,
            reasons=(f"{path} cannot be read: {exc}",),
        )
    base = posixpath.dirname(path)
    signed_info = _first(root, "SignedInfo")
    provider_el = _first(root, "Provider")
    provider = None
    if provider_el is not None:
        provider = " ".join(
            v for v in (provider_el.get("Company"), provider_el.get("ProviderName"), provider_el.get("Version")) if v
        ) or None
    method = _text(_first(root, "SignatureMethod"))

    # 1. reference digests
    refs: list[ReferenceCheck] = []
    refs_el = _first(signed_info, "References") if signed_info is not None else None
    if refs_el is None:
        undetermined.append(f"{path} lists no References: nothing is protected")
    else:
        check_method = (refs_el.get("CheckMethod") or "1.2.156.10197.1.401").strip()
        digest = _DIGESTS.get(check_method.lower())
        for ref_el in _children(refs_el, "Reference"):
            file_ref = ref_el.get("FileRef") or ""
            expected = _text(_first(ref_el, "CheckValue"))
            member = pkg.resolve(file_ref)
            shown = member or file_ref.lstrip("/")
            if digest is None:
                refs.append(ReferenceCheck(shown, check_method, RefResult.UNSUPPORTED, expected))
                continue
            name, fn = digest
            if member is None:
                refs.append(ReferenceCheck(shown, name, RefResult.MISSING, expected))
                invalid.append(f"signed member {shown} is missing from the package")
                continue
            actual = base64.b64encode(fn(pkg.read(member))).decode("ascii")
            try:
                want = base64.b64decode(expected or "", validate=False)
            except ValueError:
                want = b""
            ok = want == base64.b64decode(actual)
            refs.append(ReferenceCheck(shown, name, RefResult.OK if ok else RefResult.MISMATCH, expected, actual))
            if not ok:
                invalid.append(f"{shown} was changed after signing: its {name} digest does not match")
        if digest is None:
            undetermined.append(f"unknown digest method {check_method!r}: the references cannot be checked")
        if not refs:
            undetermined.append(f"{path} has no Reference: nothing is protected")

    # 2. the signed value
    sv_ref = _text(_first(root, "SignedValue"))
    result: ses.SignedValueResult | None = None
    data_hash_ok: bool | None = None
    seal_file_ok: bool | None = None
    if not sv_ref:
        undetermined.append(f"{path} names no SignedValue: the signature itself is absent")
    else:
        sv_path = pkg.resolve(sv_ref, base)
        if sv_path is None:
            undetermined.append(f"the signed value {sv_ref} is missing from the package")
        else:
            try:
                result = ses.parse_and_verify(pkg.read(sv_path))
            except ses.SesError as exc:
                undetermined.append(f"{sv_path}: {exc}")
                result = exc.partial  # whose signature it was, and what it committed to
            except InvoiceError as exc:
                undetermined.append(f"{sv_path} cannot be read: {exc}")
    if result is not None:
        notes.extend(result.notes)
        # 3. the signature covers this Signature.xml
        data_hash_ok = result.data_hash == sm2.sm3(sig_xml)
        if not data_hash_ok:
            if result.data_hash is not None and len(result.data_hash) == 32 and result.data_hash == hashlib.sha256(sig_xml).digest():
                undetermined.append("dataHash is SHA-256, not SM3: unsupported for SM2 e-seals")
                data_hash_ok = None
            else:
                invalid.append(f"{path} was changed after signing: the signed dataHash is not its SM3 digest")
        if result.signature_valid is False:
            invalid.append(
                f"the SM2 signature ({result.format}) does not verify with the signer certificate's key"
            )
        if result.seal is not None and result.seal.signature_valid is False:
            invalid.append("the seal maker's signature over the e-seal does not verify: the seal was altered")
        if result.signer_in_seal is False:
            invalid.append("the signer certificate is not one the e-seal lists")
        if method and result.signature_algorithm and method != result.signature_algorithm and not (
            {method, result.signature_algorithm} <= ses.SM2_SIGNATURE_OIDS
        ):
            notes.append(
                f"Signature.xml says method {method}, the signed value uses {result.signature_algorithm}"
            )
        # 4. Seal.esl
        seal_loc = None
        seal_el = _first(signed_info, "Seal") if signed_info is not None else None
        if seal_el is not None:
            seal_loc = _text(_first(seal_el, "BaseLoc")) or _text(seal_el)
        if seal_loc:
            seal_path = pkg.resolve(seal_loc, base)
            if seal_path is None:
                invalid.append(f"the seal file {seal_loc} named by {path} is missing")
                seal_file_ok = False
            elif result.seal is None:
                notes.append(f"{seal_path} present but the signed value carries no seal to compare")
            else:
                seal_file_ok = pkg.read(seal_path) == result.seal.der
                if not seal_file_ok:
                    invalid.append(f"{seal_path} differs from the e-seal inside the signature")
        seal = result.seal
        if seal is not None and result.signing_time and seal.valid_end and (
            result.signing_time[:10] > seal.valid_end[:10]
        ):
            notes.append(
                f"signed on {result.signing_time[:10]}, after the seal's validity ended ({seal.valid_end[:10]})"
            )
    if invalid:
        status = VerifyStatus.INVALID
    elif undetermined:
        status = VerifyStatus.INDETERMINATE
    else:
        status = VerifyStatus.VALID
    notes.append("certificates are not checked against trust roots (none configured)")
    return SignatureReport(
        id=sig_id,
        location=path,
        status=status,
        format=result.format if result else None,
        version=result.version if result else None,
        signature_type=sig_type,
        provider=provider,
        signature_algorithm=(result.signature_algorithm if result else method),
        signer=result.signer if result else None,
        seal=result.seal if result else None,
        signing_time=result.signing_time if result else _text(_first(root, "SignatureDateTime")),
        references=tuple(refs),
        data_hash_ok=data_hash_ok,
        seal_file_ok=seal_file_ok,
        signature_ok=result.signature_valid if result else None,
        trusted=None,
        reasons=tuple(invalid + undetermined + notes),
    )
