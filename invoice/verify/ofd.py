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
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from lxml import etree

from invoice.errors import InvoiceError
from invoice.model import BANK_KINDS, FieldSource, Invoice, Item
from invoice.ofd.bank import BANK_FIELDS, bank_values
from invoice.ofd.invoice import OfdReading, read_ofd
from invoice.ofd.package import OfdPackage
from invoice.ofd.xml import (
    annotation_files,
    parse_member,
    read_document,
    template_ids,
    text_objects,
)
from invoice.verify import ses, sm2
from invoice.verify.report import (
    FieldCoverage,
    Issue,
    PartCoverage,
    ReferenceCheck,
    RefResult,
    Severity,
    SignatureReport,
    VerifyStatus,
)
from invoice.xmlsafe import parse_xml

_DIGESTS: dict[str, tuple[str, Callable[[bytes], bytes]]] = {
    "1.2.156.10197.1.401": ("SM3", sm2.sm3),
    "sm3": ("SM3", sm2.sm3),
    "2.16.840.1.101.3.4.2.1": ("SHA-256", lambda b: hashlib.sha256(b).digest()),
    "sha256": ("SHA-256", lambda b: hashlib.sha256(b).digest()),
    "sha-256": ("SHA-256", lambda b: hashlib.sha256(b).digest()),
}


# A signature names each member at most once; an OFD invoice has a few dozen members. The
# cap is generous (twice the members, at least 64) and still stops a hostile list early.
_MIN_REFERENCE_LIMIT = 64


def max_references(pkg: OfdPackage) -> int:
    """How many References one signature of this package may list before it is refused."""
    return max(_MIN_REFERENCE_LIMIT, 2 * len(pkg.names()))


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
    issues: list[Issue] = []
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
        ref_els = _children(refs_el, "Reference")
        limit = max_references(pkg)
        if len(ref_els) > limit:
            # no honest signature names a member twice, let alone hundreds of times: refuse
            # before any hashing (each member is hashed once anyway, see OfdPackage.digest)
            undetermined.append(
                f"{path} lists {len(ref_els)} references, more than the limit of {limit} "
                f"for a package of {len(pkg.names())} members: not evaluated")
            issues.append(Issue("references_too_many", Severity.INDETERMINATE, (
                ("signature", sig_id), ("count", str(len(ref_els))), ("limit", str(limit)))))
            ref_els = []
            refs.append(ReferenceCheck(path, check_method, RefResult.UNSUPPORTED, None))
        for ref_el in ref_els:
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
            actual = base64.b64encode(pkg.digest(member, name, fn)).decode("ascii")
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
        issues=tuple(issues),
    )


# ---------------------------------------------------------------- signed means signed
#
# A signature protects the members its references name, nothing else. An OFD reader shows
# whatever the package holds, and the invoice reader takes fields from up to four places, so a
# genuinely signed file with one unsigned member added (an ``original_invoice.xml`` naming
# another buyer, an edited CustomData, a DocRoot swapped to an unsigned copy) still carries a
# valid signature. ``check_coverage`` closes that gap: the fields the service uses must come
# from members a verified signature covers, unsigned members may not contradict them, the
# signed page must show the same values, and every part a reader displays must be covered.

# The fields the service relies on (keys, checks, claims, vouchers).
USED_FIELDS = ("code", "number", "issue_date", "check_code", "buyer.name", "buyer.tax_id",
               "seller.name", "seller.tax_id", "amount", "tax", "total", "items")
_PAGE_COMPARED = ("code", "number", "issue_date", "check_code", "buyer.name", "buyer.tax_id",
                  "seller.name", "seller.tax_id", "amount", "tax", "total")
_BANK_PAGE_COMPARED = ("number", "total")
# Text in a template that reads as a field value: money with cents, a date, an 8+ digit
# number, a tax ID. A form template (labels only) has none of these.
_VALUE_LIKE = re.compile(
    r"^(?:[¥￥]?-?\d[\d,]*\.\d{1,2}|\d{4}\D{1,3}\d{1,2}\D{1,3}\d{1,2}\D?|\d{8,}|"
    r"(?=[0-9A-Z]*\d)[0-9A-Z]{15,20})$")


@dataclass(frozen=True)
class CoverageResult:
    """What the verified signatures cover, field by field and part by part; ``invoice`` is
    the invoice as the service reads it (from the same opened package), None if it is none."""

    covered: frozenset[str]
    invoice: Invoice | None = None
    fields: tuple[FieldCoverage, ...] = ()
    parts: tuple[PartCoverage, ...] = ()
    issues: tuple[Issue, ...] = ()
    problems: tuple[str, ...] = ()  # the same findings in English, for logs

    @property
    def failed(self) -> bool:
        return any(i.severity is Severity.FAIL for i in self.issues)


def _shown(value: object) -> str:
    if isinstance(value, list):
        amounts = [i.amount for i in value if isinstance(i, Item) and i.amount is not None]
        total = sum(amounts, Decimal("0"))
        return f"{len(value)} 行明细（金额合计 {total:.2f}）"
    return str(value)


def _field_label(name: str, bank: bool = False) -> str:
    from core import messages

    if bank and name in messages.LABELS.get("bank_field", {}):
        return messages.label("bank_field", name)  # 回单编号, 金额: a receipt's own words
    return messages.label("invoice_field", name)


class _Coverage:
    """One coverage check: accumulates findings, then freezes into a ``CoverageResult``."""

    def __init__(self, pkg: OfdPackage, reports: list[SignatureReport]) -> None:
        self.pkg = pkg
        self.by_member: dict[str, str] = {}
        for rep in reports:
            if rep.status is not VerifyStatus.VALID:
                continue
            for ref in rep.references:
                if ref.result is RefResult.OK:
                    self.by_member.setdefault(ref.path, rep.id)
        self.covered = frozenset(self.by_member)
        self.issues: list[Issue] = []
        self.problems: list[str] = []
        self.fields: list[FieldCoverage] = []
        self.parts: list[PartCoverage] = []
        self.feeding: set[str] = set()  # members that fed a field or are displayed
        self.seen_parts: set[str] = set()
        self.bank = False  # a bank receipt or statement: its fields' labels are the bank's

    def issue(self, code: str, severity: Severity, english: str, **params: object) -> None:
        self.issues.append(Issue(code, severity, tuple((k, str(v)) for k, v in params.items())))
        self.problems.append(english)

    def covered_by(self, members: tuple[str, ...]) -> str | None:
        if not members or any(m not in self.covered for m in members):
            return None
        return self.by_member[members[-1]]

    # -- parts a reader displays

    def check_names(self) -> None:
        seen: dict[str, list[str]] = {}
        for name in self.pkg.names():
            seen.setdefault(name.lower(), []).append(name)
        for names in seen.values():
            if len(names) > 1:
                shown = "、".join(sorted(names))
                self.issue("member_name_ambiguous", Severity.FAIL,
                           f"members differ only by case: {', '.join(sorted(names))}",
                           members=shown)

    def check_parts(self, trees: dict[str, etree._Element]) -> None:
        pkg = self.pkg
        for doc_path in pkg.doc_roots():
            self.part(doc_path, "document")
            try:
                doc = read_document(pkg, doc_path)
            except InvoiceError as exc:
                self.problems.append(f"{doc_path} cannot be read: {exc}")
                continue
            for page in doc.pages:
                if page.path is None:
                    continue
                self.part(page.path, "page")
                try:
                    root = trees.get(page.path)
                    if root is None:
                        root = trees[page.path] = parse_member(pkg, page.path, recover=True)
                except InvoiceError as exc:
                    self.problems.append(f"{page.path} cannot be read: {exc}")
                    continue
                for tid in template_ids(root):
                    tpl = doc.templates.get(tid)
                    if tpl is not None:
                        self.part(tpl, "template", trees)
            if doc.annotations is not None:
                self.part(doc.annotations, "annotation")
                try:
                    files = annotation_files(pkg, doc.annotations)
                except InvoiceError as exc:
                    self.problems.append(f"{doc.annotations} cannot be read: {exc}")
                    files = []
                for path in files:
                    self.part(path, "annotation")

    def part(self, member: str, role: str,
             trees: dict[str, etree._Element] | None = None) -> None:
        if member in self.seen_parts:
            return
        self.seen_parts.add(member)
        self.feeding.add(member)
        by = self.covered_by((member,))
        self.parts.append(PartCoverage(member, role, by))
        if by is not None:
            return
        from core import messages

        if role == "template" and trees is not None and self._form_only(member, trees):
            self.issue("template_unsigned", Severity.NOTE,
                       f"template {member} is not signed; it holds labels only", member=member)
            return
        self.issue("part_unsigned", Severity.FAIL,
                   f"{member} ({role}) is displayed but no verified signature covers it",
                   member=member, role=messages.label("ofd_part", role))

    def _form_only(self, member: str, trees: dict[str, etree._Element]) -> bool:
        """A template of fixed form text (labels, notes): nothing in it reads as a value."""
        try:
            root = trees.get(member)
            if root is None:
                root = trees[member] = parse_member(self.pkg, member, recover=True)
        except InvoiceError:
            return False
        for obj in text_objects(root, from_template=True):
            text = re.sub(r"\s+", "", obj.text)
            if text and _VALUE_LIKE.match(text):
                return False
        return True

    # -- fields

    def check_fields(self, full: OfdReading, read_signed: Callable[[], OfdReading | None],
                     page: OfdReading | None, shown: OfdReading | None = None) -> None:
        inv = full.invoice
        values = _values(inv)
        # Restricted to covered members, the reader makes the very choices it made when every
        # member it touched is covered: only then is the second reading skipped.
        touched = {m for ms in full.members.values() for m in ms}
        touched.update(m for _, _, ms in full.claims for m in ms)
        signed = full if touched <= self.covered else read_signed()
        signed_values = _values(signed.invoice) if signed is not None else {}
        page_values = _values(page.invoice) if page is not None else {}
        trusted: dict[str, object] = {}
        bank = self.bank = inv.kind in BANK_KINDS
        for name in BANK_FIELDS if bank else USED_FIELDS:
            value = values.get(name)
            if value is None:
                continue
            members = full.members.get(name, ())
            self.feeding.update(members)
            location = " + ".join(members)
            label = _field_label(name, bank)
            by = self.covered_by(members)
            if by is not None:
                trusted[name] = value
                self.fields.append(FieldCoverage(name, location, by))
                continue
            unsigned = next((m for m in members if m not in self.covered), location)
            other = signed_values.get(name)
            if other is None:
                self.fields.append(FieldCoverage(name, location, None, "unsigned"))
                self.issue("field_unsigned", Severity.FAIL,
                           f"field {name} comes from unsigned member {unsigned} ({_shown(value)}) "
                           "and no signed member states it",
                           field=label, member=unsigned, value=_shown(value))
            elif other != value:
                assert signed is not None
                signed_at = " + ".join(signed.members.get(name, ()))
                self.fields.append(FieldCoverage(name, location, None, "mismatch"))
                self.issue("field_mismatch", Severity.FAIL,
                           f"field {name} is {_shown(value)} in unsigned member {unsigned} but "
                           f"{_shown(other)} in signed {signed_at}",
                           field=label, member=unsigned, value=_shown(value),
                           signed_member=signed_at, signed_value=_shown(other))
            else:  # a signed member states the same value: that is what is relied on
                assert signed is not None
                signed_members = signed.members.get(name, ())
                trusted[name] = value
                self.fields.append(FieldCoverage(name, " + ".join(signed_members),
                                                 self.covered_by(signed_members)))
        self._check_claims(full, trusted)
        # a bank's page labels other codes than its data file (业务索引编号 vs 电子凭证标识码):
        # the number and the amount are what both must state alike
        compared = _BANK_PAGE_COMPARED if bank else _PAGE_COMPARED
        for name in compared:
            value, seen = trusted.get(name), page_values.get(name)
            if value is None or seen is None or value == seen:
                continue
            assert page is not None
            self.issue("field_page_mismatch", Severity.FAIL,
                       f"field {name} is {_shown(value)} but the signed page shows {_shown(seen)}",
                       field=_field_label(name, self.bank), member=" + ".join(full.members.get(name, ())),
                       value=_shown(value), signed_member=" + ".join(page.members.get(name, ())),
                       signed_value=_shown(seen))
        if shown is None:
            return
        # An unsigned template is displayed with the signed page: what a person reads off the
        # page (its labels decide which value is which) must still agree with the fields.
        shown_values = _values(shown.invoice)
        for name in compared:
            value, seen = trusted.get(name), shown_values.get(name)
            if value is None or seen is None or value == seen or (
                    seen == page_values.get(name)):
                continue
            self.issue("field_display_mismatch", Severity.FAIL,
                       f"field {name} is {_shown(value)} but the page as displayed (with its "
                       f"unsigned template) reads {_shown(seen)}",
                       field=_field_label(name, self.bank), member=" + ".join(full.members.get(name, ())),
                       value=_shown(value), shown_member=" + ".join(shown.members.get(name, ())),
                       shown_value=_shown(seen))

    def _check_claims(self, full: OfdReading, trusted: dict[str, object]) -> None:
        """Values that lost to a better source but were stated by an unsigned member."""
        reported: set[tuple[str, str]] = set()
        for name, value, members in full.claims:
            if name not in trusted or value == trusted[name]:
                continue
            unsigned = [m for m in members if m not in self.covered]
            if not unsigned or (name, unsigned[0]) in reported:
                continue
            reported.add((name, unsigned[0]))
            self.feeding.update(members)
            signed_at = " + ".join(full.members.get(name, ()))
            self.issue("field_mismatch", Severity.FAIL,
                       f"unsigned member {unsigned[0]} states {name} = {_shown(value)}, the signed "
                       f"value is {_shown(trusted[name])}",
                       field=_field_label(name, self.bank), member=unsigned[0], value=_shown(value),
                       signed_member=signed_at, signed_value=_shown(trusted[name]))

    def note_rest(self, signature_dirs: set[str]) -> None:
        rest = [n for n in self.pkg.names()
                if n not in self.covered and n not in self.feeding
                and not any(n.startswith(d + "/") for d in signature_dirs)
                and posixpath.basename(n).lower() != "signatures.xml"]
        if rest:
            self.issues.append(Issue("members_unsigned", Severity.NOTE,
                                     (("members", "、".join(sorted(rest))),)))

    def result(self, invoice: Invoice | None) -> CoverageResult:
        return CoverageResult(self.covered, invoice, tuple(self.fields), tuple(self.parts),
                              tuple(self.issues), tuple(self.problems))


def _values(inv: Invoice) -> dict[str, object]:
    if inv.kind in BANK_KINDS:
        return bank_values(inv)
    out: dict[str, object] = {
        "code": inv.code, "number": inv.number, "issue_date": inv.issue_date,
        "check_code": inv.check_code, "buyer.name": inv.buyer.name,
        "buyer.tax_id": inv.buyer.tax_id, "seller.name": inv.seller.name,
        "seller.tax_id": inv.seller.tax_id, "amount": inv.amount, "tax": inv.tax,
        "total": inv.total, "items": list(inv.items) or None,
    }
    return {k: v for k, v in out.items() if v is not None}


def check_coverage(pkg: OfdPackage, reports: list[SignatureReport]) -> CoverageResult | None:
    """Field and part coverage of a signed OFD; None when no signature verified (then the
    signatures' own status already says invalid or indeterminate, and nothing is covered).

    Reads the invoice three times from the one opened package, sharing parsed pages: as the
    service does (every source, noting what each states), restricted to covered members, and
    from the covered page text alone.
    """
    if not any(r.status is VerifyStatus.VALID for r in reports):
        return None
    cov = _Coverage(pkg, reports)
    trees = pkg.trees
    cov.check_names()
    cov.check_parts(trees)
    full: OfdReading | None
    try:
        full = read_ofd(pkg, survey=True, known=cov.covered, trees=trees)
    except InvoiceError:
        try:
            full = read_ofd(pkg, trees=trees)
        except InvoiceError:
            full = None  # no invoice (a bank receipt): parts only
    if full is not None:
        covered = cov.covered
        page = _try_read(pkg, covered, (FieldSource.PAGE_TEXT,), trees)
        shown = None
        if any(p.covered_by is None and p.role == "template" for p in cov.parts):
            displayed = covered | {p.member for p in cov.parts}
            shown = _try_read(pkg, displayed, (FieldSource.PAGE_TEXT,), trees)
        cov.check_fields(full, lambda: _try_read(pkg, covered, None, trees), page, shown)
    files, _ = signature_files(pkg)
    cov.note_rest({posixpath.dirname(e.path) for e in files})
    return cov.result(full.invoice if full is not None else None)


def _try_read(pkg: OfdPackage, members: frozenset[str],
              sources: tuple[FieldSource, ...] | None,
              trees: dict[str, etree._Element]) -> OfdReading | None:
    try:
        return read_ofd(pkg, members=members, sources=sources, trees=trees)
    except InvoiceError:
        return None  # the covered members alone give no invoice number
