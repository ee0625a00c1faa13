"""入账信息 as XBRL: the receiver's structured booking data of one e-voucher.

电子凭证会计数据标准 asks the receiver of an e-voucher to keep its 入账信息 as an XBRL instance
(one per e-voucher). The official taxonomy files are not public here; what is followed is
what public, desensitised sample instances show (DESIGN §2; the issuer-side instances
inside the sample bank receipts show the envelope):

- root ``xbrli:xbrl`` with ``link:schemaRef`` to the entry point
  (``einv_receiver_entry_point_2023-12-31.xsd``: the name follows the issuer instances'
  ``bker_issuer_entry_point_2021-11-30.xsd`` pattern and is unconfirmed);
- one context, identifier scheme ``http://xbrl.mof.gov.cn`` with the organisation's unified
  social credit code, an instant period (the posting date); one unit ``CNY`` (iso4217);
- facts in ``einv`` = ``http://xbrl.mof.gov.cn/taxonomy/2023-12-31/einv``: the invoice
  (``InvoiceNumber``, ``SellerName``, ``SellerIdNum``, ``TotalAmWithoutTax``, ``TotalTaxAm``,
  ``TotalTax-includedAmount``, ``RequestTime``), the receiver's
  ``WhetherEinvoiceHasBeenChecked``, ``WhetherEinvoiceHasBeenBooked``,
  ``InformationOfAccountingDocumentsTuple{NumberOfAccountingDocuments, PostingDate,
  AccountingPeriod, InformationOfDebitAndCreditEntryTuple{DebitOrCredit,
  NameOfGeneralLedgerSubject, NameOfSubsidiaryLedgerSubject, RecordedAmount}}``,
  ``UnifiedSocialCreditCodeOfAccountingEntity``, ``NameOfAccountingEntity``; monetary facts
  carry ``unitRef="CNY" decimals="2"``, tuples' children carry the context like the bank
  statement sample's ``InformationOfReconcileDetailsTuple``.

Payment (schema version 2; ``PaymentInformationAbstract`` in the MOF element list for 数电票,
which holds exactly these two): ``WhetherEinvoiceHasBeenPaid`` is always written — ``true``
when confirmed bank e-receipts cover what the booking voucher owes
(``accounting.payments.payment_cover``), else ``false`` — and
``NumberOfBankElectronicReceipt`` names the confirmed receipts (several joined by ``;``: one
fact per context, since XBRL treats two values of one item in one context as inconsistent
duplicates), also when they cover only part. The element list has no payment date or amount,
so none is invented here: the package's ``content/voucher.xml`` ``payments/payment`` carries
each receipt's date and amount. ``InvoiceCode`` (old-style invoices with a 12-digit code) is
this project's addition, unconfirmed.

Validation (``validate``) checks the envelope in code (root, schemaRef, context, unit, every
fact's contextRef/unitRef resolving, the required facts, debits equal to credits) and each
``einv`` fact against this project's XSD of the subset (``schema/einv-entry-info-<N>.xsd``, carried
in every package). A document that fails is never filed. The namespace is the MOF's and stays
the same across versions, so a package's version is the XSD it carries: version 1 packages
(before the payment facts) keep validating against ``einv-entry-info-1.xsd``
(``validate_package``, run by the four-property check's U2).
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

from lxml import etree

from accounting.entry_info import EntryInfo
from archive.schema import schema_for, self_contained
from core import messages
from core.settings import get_settings

EINV = "http://xbrl.mof.gov.cn/taxonomy/2023-12-31/einv"
XBRLI = "http://www.xbrl.org/2003/instance"
LINK = "http://www.xbrl.org/2003/linkbase"
XLINK = "http://www.w3.org/1999/xlink"
ISO4217 = "http://www.xbrl.org/2003/iso4217"
SCHEME = "http://xbrl.mof.gov.cn"
ENTRY_POINT = "einv_receiver_entry_point_2023-12-31.xsd"
NSMAP = {"xbrli": XBRLI, "link": LINK, "xlink": XLINK, "iso4217": ISO4217, "einv": EINV}
VERSION = 2  # the XSD version written; 2 added WhetherEinvoiceHasBeenPaid, NumberOfBankElectronicReceipt
PAID_SINCE = 2
RECEIPT_SEPARATOR = ";"
SCHEMA_DIR = Path(__file__).parent / "schema"
_XSD_RE = re.compile(r"^einv-entry-info-([1-9][0-9]{0,3})\.xsd$")


def xsd_name(version: int | None = None) -> str:
    return f"einv-entry-info-{VERSION if version is None else version}.xsd"


def xsd_package_path(version: int | None = None) -> str:
    """Where a package carries the XSD of ``version`` (default: the one written now)."""
    return f"schema/{xsd_name(version)}"


XSD_NAME = xsd_name()
XSD_PACKAGE_PATH = xsd_package_path()
PACKAGE_FOLDER = "content/entry-info"
XSD_PATH = SCHEMA_DIR / XSD_NAME
UNIT = "CNY"
SIDES = {"debit": "借方", "credit": "贷方"}
# The entity facts (UnifiedSocialCreditCodeOfAccountingEntity, NameOfAccountingEntity) are
# written when the organisation is configured (``fapiao init --org-name --org-tax-id``).
REQUIRED = ("InvoiceNumber", "WhetherEinvoiceHasBeenChecked", "WhetherEinvoiceHasBeenBooked")


class EntryInfoError(Exception):
    """A written 入账信息 document fails its checks (a writer bug or data the schema cannot hold)."""

    def __init__(self, where: str, problems: list[str]) -> None:
        super().__init__(f"{where}: " + "; ".join(problems))
        self.where = where
        self.problems = problems


def shipped_xsd(version: int) -> bytes | None:
    """The published XSD of a version, as shipped with this code; None when this code predates it."""
    path = SCHEMA_DIR / xsd_name(version)
    return path.read_bytes() if path.is_file() else None


def xsd_bytes(version: int | None = None) -> bytes:
    """The XSD of ``version`` (default: the one written now)."""
    data = shipped_xsd(VERSION if version is None else version)
    if data is None:
        raise FileNotFoundError(xsd_name(version))
    return data


def _money(v: Decimal) -> str:
    return f"{Decimal(v).quantize(Decimal('0.01'))}"


def entry_info_xml(info: EntryInfo, version: int | None = None) -> bytes:
    """The XBRL instance of one invoice's 入账信息 under XSD ``version`` (default: ``VERSION``),
    validated (``EntryInfoError`` if not). Version 1 has no payment facts."""
    version = VERSION if version is None else version
    root = etree.Element(f"{{{XBRLI}}}xbrl", nsmap=NSMAP)
    etree.SubElement(root, f"{{{LINK}}}schemaRef",
                     {f"{{{XLINK}}}type": "simple", f"{{{XLINK}}}href": ENTRY_POINT})
    ctx_id = "As_Of_" + info.posting_date.isoformat().replace("-", "_")
    ctx = etree.SubElement(root, f"{{{XBRLI}}}context", id=ctx_id)
    entity = etree.SubElement(ctx, f"{{{XBRLI}}}entity")
    # the organisation's unified social credit code; without one configured, its name, else the
    # archive's 全宗号, so that the context still says whose record this is
    etree.SubElement(entity, f"{{{XBRLI}}}identifier", scheme=SCHEME).text = (
        info.org_tax_id or info.org_name or get_settings().fonds_code)
    period = etree.SubElement(ctx, f"{{{XBRLI}}}period")
    etree.SubElement(period, f"{{{XBRLI}}}instant").text = info.posting_date.isoformat()
    unit = etree.SubElement(root, f"{{{XBRLI}}}unit", id=UNIT)
    etree.SubElement(unit, f"{{{XBRLI}}}measure").text = f"iso4217:{UNIT}"

    def fact(parent: etree._Element, name: str, value: str | None) -> None:
        if value is None or value == "":
            return
        etree.SubElement(parent, f"{{{EINV}}}{name}", contextRef=ctx_id).text = value

    def money(parent: etree._Element, name: str, value: Decimal | None) -> None:
        if value is None:
            return
        etree.SubElement(parent, f"{{{EINV}}}{name}", contextRef=ctx_id, unitRef=UNIT,
                         decimals="2").text = _money(value)

    fact(root, "InvoiceNumber", info.number or info.invoice_key)
    fact(root, "InvoiceCode", info.code)
    fact(root, "RequestTime", info.issue_date.isoformat() if info.issue_date else None)
    fact(root, "SellerName", info.seller_name)
    fact(root, "SellerIdNum", info.seller_tax_id)
    money(root, "TotalAmWithoutTax", info.amount)
    money(root, "TotalTaxAm", info.tax)
    money(root, "TotalTax-includedAmount", info.total)
    fact(root, "WhetherEinvoiceHasBeenChecked", "true" if info.checked else "false")
    fact(root, "WhetherEinvoiceHasBeenBooked", "true" if info.booked else "false")
    docs = etree.SubElement(root, f"{{{EINV}}}InformationOfAccountingDocumentsTuple")
    fact(docs, "NumberOfAccountingDocuments", info.voucher_number)
    fact(docs, "PostingDate", info.posting_date.isoformat())
    fact(docs, "AccountingPeriod", info.period)
    for line in info.lines:
        entry = etree.SubElement(docs, f"{{{EINV}}}InformationOfDebitAndCreditEntryTuple")
        fact(entry, "DebitOrCredit", SIDES[line.side])
        fact(entry, "NameOfGeneralLedgerSubject", line.general_ledger)
        fact(entry, "NameOfSubsidiaryLedgerSubject", line.subsidiary)
        money(entry, "RecordedAmount", line.amount)
    if version >= PAID_SINCE:
        fact(root, "WhetherEinvoiceHasBeenPaid", "true" if info.paid else "false")
        fact(root, "NumberOfBankElectronicReceipt", RECEIPT_SEPARATOR.join(info.bank_receipt_numbers))
    fact(root, "UnifiedSocialCreditCodeOfAccountingEntity", info.org_tax_id)
    fact(root, "NameOfAccountingEntity", info.org_name)
    data: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    problems = validate(data, xsd_bytes(version))
    if problems:
        raise EntryInfoError(f"入账信息 {info.invoice_key}", problems)
    return data


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def validate(data: bytes, xsd: bytes | None = None) -> list[str]:
    """Every problem of an 入账信息 instance (English, for logs and the checker); empty if fine.

    ``xsd`` validates with another version or copy of the subset XSD (the one a package
    carries); by default the version written now."""
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        return [f"not well-formed XML: {exc}"]
    if root.tag != f"{{{XBRLI}}}xbrl":
        return [f"root element is {root.tag}, not xbrli:xbrl"]
    problems: list[str] = []
    schema = schema_for(xsd if xsd is not None else xsd_bytes())
    refs = root.findall(f"{{{LINK}}}schemaRef")
    if len(refs) != 1 or not refs[0].get(f"{{{XLINK}}}href"):
        problems.append("exactly one link:schemaRef with an xlink:href is required")
    contexts = {c.get("id") for c in root.findall(f"{{{XBRLI}}}context")}
    for c in root.findall(f"{{{XBRLI}}}context"):
        ident = c.find(f"{{{XBRLI}}}entity/{{{XBRLI}}}identifier")
        if ident is None or ident.get("scheme") != SCHEME or not (ident.text or "").strip():
            problems.append(f"context {c.get('id')}: entity identifier with scheme {SCHEME} required")
        if c.find(f"{{{XBRLI}}}period/{{{XBRLI}}}instant") is None:
            problems.append(f"context {c.get('id')}: an instant period is required")
    units = {u.get("id") for u in root.findall(f"{{{XBRLI}}}unit")}
    facts = [el for el in root if isinstance(el.tag, str) and etree.QName(el).namespace == EINV]
    present = {etree.QName(el).localname for el in facts}
    for name in REQUIRED:
        if name not in present:
            problems.append(f"einv:{name} is missing")
    for el in facts:
        copy = etree.fromstring(etree.tostring(el), _parser())
        if not schema.validate(copy):
            problems.extend(f"einv:{etree.QName(el).localname}: {e.message}" for e in schema.error_log)
    debit = credit = Decimal(0)
    for el in root.iter(f"{{{EINV}}}*"):
        if len(el):
            continue  # a tuple: its children carry the contexts
        if el.get("contextRef") not in contexts:
            problems.append(f"einv:{etree.QName(el).localname}: contextRef {el.get('contextRef')!r} names no context")
        if el.get("unitRef") is not None and el.get("unitRef") not in units:
            problems.append(f"einv:{etree.QName(el).localname}: unitRef {el.get('unitRef')!r} names no unit")
    for entry in root.iter(f"{{{EINV}}}InformationOfDebitAndCreditEntryTuple"):
        side = entry.findtext(f"{{{EINV}}}DebitOrCredit")
        try:
            amount = Decimal(entry.findtext(f"{{{EINV}}}RecordedAmount") or "")
        except ArithmeticError:
            continue  # the XSD has reported it
        if side == SIDES["debit"]:
            debit += amount
        elif side == SIDES["credit"]:
            credit += amount
    if debit != credit:
        problems.append(f"debits {debit} and credits {credit} of the entries differ")
    booked = root.findtext(f"{{{EINV}}}WhetherEinvoiceHasBeenBooked")
    if booked == "true" and root.find(f"{{{EINV}}}InformationOfAccountingDocumentsTuple") is None:
        problems.append("a booked e-voucher needs einv:InformationOfAccountingDocumentsTuple")
    return problems[:20]


def carried_version(root: Path) -> tuple[int, Path] | None:
    """The newest 入账信息 XSD a package folder carries under ``schema/``: (version, path)."""
    found = [(int(m.group(1)), p) for p in (root / "schema").glob("einv-entry-info-*.xsd")
             if (m := _XSD_RE.match(p.name))] if (root / "schema").is_dir() else []
    return max(found) if found else None


def validate_package(root: Path) -> list[str]:
    """Every problem of a package folder's 入账信息 instances, in Chinese; empty when all validate.

    For the four-property check (U2). Each ``content/entry-info/*.xml`` is validated against
    the XSD version the package carries — the published copy shipped with this code when it
    knows that version (a carried copy that differs is a problem), else the carried one if it
    stands alone — so a version-1 package (no payment facts) checks as it did when filed."""
    folder = root / PACKAGE_FOLDER
    files = sorted(folder.glob("*.xml")) if folder.is_dir() else []
    if not files:
        return []
    carried = carried_version(root)
    if carried is None:
        return [messages.text("entry_info.schema.missing", count=len(files), folder=PACKAGE_FOLDER)]
    version, path = carried
    rel = xsd_package_path(version)
    data = path.read_bytes()
    published = shipped_xsd(version)
    problems: list[str] = []
    if published is not None and data != published:
        problems.append(messages.text("entry_info.schema.carried_differs", file=rel, version=version))
    if published is None and not self_contained(data):
        return [messages.text("records.schema.not_self_contained", xsd=rel)]
    xsd = published or data
    for f in files:
        try:
            errors = validate(f.read_bytes(), xsd)
        except etree.XMLSchemaParseError as exc:
            return [*problems, messages.text("records.schema.unreadable", xsd=rel, error=str(exc))]
        if errors:
            problems.append(messages.text("entry_info.schema.invalid", file=f"{PACKAGE_FOLDER}/{f.name}",
                                          xsd=rel, errors="; ".join(errors[:5])))
    return problems
