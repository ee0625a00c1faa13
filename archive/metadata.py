"""``metadata.xml``: the DA/T 94-2022-style metadata of one archived voucher (件).

Element names are the Chinese names of DESIGN §2 (DA/T 94 lists metadata by Chinese name;
exact element codes of the standard are unconfirmed, so the names are kept literal). The
same tables drive three things: writing the XML, the integrity check "required metadata
present" and the authenticity check "values well-formed and in range". The XML is described by
``archive/schema/metadata-2.xsd`` (carried in every package) and validated when written.
Version 2 adds the JPEG and PNG formats (scans of paper invoices); packages written with
version 1 are still read, validated against metadata-1.xsd and checked (``READ_VERSIONS``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime

from lxml import etree

from archive import schema
from invoice.xmlsafe import parse_xml

METADATA_NAME = "metadata.xml"
# The schema version this module writes; a change of elements or values is a new version.
SCHEMA_REF = schema.SchemaRef("metadata", 2)
NS = SCHEMA_REF.namespace
# Versions this module reads: a package filed under an older one stays readable and checkable.
READ_VERSIONS = (1, 2)
READ_NAMESPACES = tuple(schema.SchemaRef("metadata", v).namespace for v in READ_VERSIONS)
STANDARD = "DA/T 94-2022"

# Formats by version: version 1 knew OFD, PDF, XML, JSON; version 2 adds scans (JPEG, PNG).
ALLOWED_FORMATS = ("OFD", "PDF", "XML", "JSON", "JPEG", "PNG")
SECRECY = ("公开", "内部", "秘密", "机密", "绝密")
SIGNATURE_STATES = ("valid", "invalid", "unsigned", "indeterminate")

# Package-level elements, in document order.
PACKAGE_ELEMENTS = (
    "全宗号", "立档单位", "档号", "题名", "会计年度", "会计期间", "凭证类别", "凭证字", "凭证号",
    "金额", "附件数", "保管期限", "保管期满日期", "密级", "制单人", "审核人", "记账人",
    "形成时间", "归档时间", "归档人",
)
INVOICE_ELEMENTS = (
    "发票代码", "发票号码", "发票类型", "开票日期", "金额", "税额", "价税合计", "销售方名称", "销售方税号",
    "购买方名称", "购买方税号", "文件名", "格式", "大小", "SHA-256", "SM3", "签名状态",
)
FILE_ELEMENTS = ("文件名", "类型", "格式", "大小", "SHA-256", "SM3")

# Which may legitimately be empty: 数电票 have no 发票代码; a voucher pushed by an ERP may have
# no 审核人 recorded separately from 记账人 in small units; 立档单位 when the org is unset.
OPTIONAL_EMPTY = {"发票代码", "审核人", "立档单位", "税额", "金额@invoice"}
# A scan (格式 JPEG/PNG, metadata-2) is read by OCR: what OCR could not read with certainty is
# left empty rather than guessed (a tax ID must pass its check character), so these may be
# empty for it; the key fields (number, date, total) come from its QR code and stay required.
SCAN_FORMATS = ("JPEG", "PNG")
SCAN_OPTIONAL_EMPTY = {"金额", "销售方名称", "销售方税号", "购买方名称", "购买方税号"}


@dataclass
class Metadata:
    package: dict[str, str] = field(default_factory=dict)
    invoices: list[dict[str, str]] = field(default_factory=list)
    files: list[dict[str, str]] = field(default_factory=list)


def _q(name: str) -> str:
    return f"{{{NS}}}{name}"


def metadata_xml(meta: Metadata, *, validate: bool = True) -> bytes:
    """``metadata.xml``, validated against its XSD (``SCHEMA_REF``; raises ``schema.SchemaError``).

    ``validate=False`` writes the values as they are, valid or not: only for tests that damage
    a package as a forger would, so that the checker is shown to catch what the writer refuses.
    """
    root = etree.Element(_q("电子会计档案"), nsmap={None: NS})
    root.set("standard", STANDARD)
    for name in PACKAGE_ELEMENTS:
        etree.SubElement(root, _q(name)).text = meta.package.get(name, "")
    invs = etree.SubElement(root, _q("发票列表"))
    for inv in meta.invoices:
        el = etree.SubElement(invs, _q("发票"))
        for name in INVOICE_ELEMENTS:
            etree.SubElement(el, _q(name)).text = inv.get(name, "")
    files = etree.SubElement(root, _q("电子文件列表"))
    for f in meta.files:
        el = etree.SubElement(files, _q("电子文件"))
        for name in FILE_ELEMENTS:
            etree.SubElement(el, _q(name)).text = f.get(name, "")
    data = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    if not validate:
        return data
    xsd = schema.shipped_xsd(SCHEMA_REF)
    problems = [f"{SCHEMA_REF.file_name} is not shipped"] if xsd is None else schema.validate_bytes(data, xsd)
    if problems:
        raise schema.SchemaError(METADATA_NAME, problems)
    return data


def _children(el: etree._Element, ns: str) -> dict[str, str]:
    out = {}
    for c in el:
        if isinstance(c.tag, str) and c.tag.startswith("{" + ns + "}"):
            out[c.tag[len(ns) + 2:]] = (c.text or "")
    return out


def is_metadata_root(tag: object) -> bool:
    """Whether an element is the root of metadata.xml in a version this module reads."""
    return isinstance(tag, str) and any(tag == f"{{{ns}}}电子会计档案" for ns in READ_NAMESPACES)


def read_metadata(data: bytes) -> Metadata:
    """Parse ``metadata.xml`` of any version in ``READ_VERSIONS``; raises ParseError when it
    is not well-formed XML."""
    root = parse_xml(data, METADATA_NAME)
    meta = Metadata()
    if not is_metadata_root(root.tag):
        return meta  # the required-elements check reports everything as missing
    ns = etree.QName(root).namespace or NS
    for c in root:
        if not isinstance(c.tag, str):
            continue
        name = c.tag[len(ns) + 2:] if c.tag.startswith("{" + ns + "}") else c.tag
        if name == "发票列表":
            meta.invoices = [_children(i, ns) for i in c if i.tag == f"{{{ns}}}发票"]
        elif name == "电子文件列表":
            meta.files = [_children(i, ns) for i in c if i.tag == f"{{{ns}}}电子文件"]
        elif name in PACKAGE_ELEMENTS:
            meta.package[name] = c.text or ""
    return meta


def missing_required(meta: Metadata) -> list[str]:
    """Required elements absent or empty, named by where they belong."""
    missing = []
    for name in PACKAGE_ELEMENTS:
        if name not in meta.package or (not meta.package[name].strip() and name not in OPTIONAL_EMPTY):
            missing.append(name)
    for i, inv in enumerate(meta.invoices, 1):
        scan = inv.get("格式", "") in SCAN_FORMATS
        for name in INVOICE_ELEMENTS:
            optional = name in OPTIONAL_EMPTY or (scan and name in SCAN_OPTIONAL_EMPTY)
            if name not in inv or (not inv[name].strip() and not optional):
                missing.append(f"发票[{i}]/{name}")
        if not inv.get("发票代码", "").strip() and len(inv.get("发票号码", "")) != 20:
            missing.append(f"发票[{i}]/发票代码")  # only 数电票 (20-digit number) have none
    for i, f in enumerate(meta.files, 1):
        for name in FILE_ELEMENTS:
            if not f.get(name, "").strip():
                missing.append(f"电子文件[{i}]/{name}")
    if not meta.files:
        missing.append("电子文件列表")
    return missing


# --- value formats -----------------------------------------------------------------------

_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffd]")
_MONEY = re.compile(r"^-?\d{1,15}\.\d{2}$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_TAX_ID = re.compile(r"^[0-9A-Z]{15,20}$")
MAX_LEN = 500


def _is_date(v: str) -> bool:
    try:
        date.fromisoformat(v)
        return bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", v))
    except ValueError:
        return False


def _is_aware_datetime(v: str) -> bool:
    try:
        return datetime.fromisoformat(v).tzinfo is not None
    except ValueError:
        return False


def _int_in(lo: int, hi: int) -> Callable[[str], bool]:
    return lambda v: v.isdigit() and lo <= int(v) <= hi


PACKAGE_FORMATS: dict[str, tuple[Callable[[str], bool], str]] = {
    "全宗号": (lambda v: bool(re.fullmatch(r"[A-Za-z0-9]{1,16}", v)), "1-16 letters or digits"),
    "会计年度": (_int_in(1900, 2200), "a 4-digit year"),
    "会计期间": (lambda v: bool(re.fullmatch(r"(0[1-9]|1[0-2])", v)), "a month 01-12"),
    "金额": (lambda v: bool(_MONEY.match(v)), "a decimal with 2 places"),
    "附件数": (_int_in(0, 100000), "a count"),
    "保管期限": (lambda v: bool(re.fullmatch(r"Y|D\d{1,3}", v)), "Y, D10 or D30"),
    "保管期满日期": (lambda v: v == "" or _is_date(v), "YYYY-MM-DD or empty for permanent"),
    "密级": (lambda v: v in SECRECY, "/".join(SECRECY)),
    "形成时间": (_is_aware_datetime, "ISO 8601 time with offset"),
    "归档时间": (_is_aware_datetime, "ISO 8601 time with offset"),
}
INVOICE_FORMATS: dict[str, tuple[Callable[[str], bool], str]] = {
    "发票代码": (lambda v: v == "" or bool(re.fullmatch(r"\d{10,12}", v)), "10 or 12 digits, or empty for 数电票"),
    "发票号码": (lambda v: bool(re.fullmatch(r"\d{6,20}", v)), "6 to 20 digits"),
    "开票日期": (_is_date, "YYYY-MM-DD"),
    "金额": (lambda v: v == "" or bool(_MONEY.match(v)), "a decimal with 2 places"),
    "税额": (lambda v: v == "" or bool(_MONEY.match(v)), "a decimal with 2 places"),
    "价税合计": (lambda v: bool(_MONEY.match(v)), "a decimal with 2 places"),
    "销售方税号": (lambda v: bool(_TAX_ID.match(v)), "15-20 capital letters or digits"),
    "购买方税号": (lambda v: bool(_TAX_ID.match(v)), "15-20 capital letters or digits"),
    "格式": (lambda v: v in ALLOWED_FORMATS, "/".join(ALLOWED_FORMATS)),
    "大小": (_int_in(1, 1 << 40), "a positive byte count"),
    "SHA-256": (lambda v: bool(_HEX64.match(v)), "64 lowercase hex digits"),
    "SM3": (lambda v: bool(_HEX64.match(v)), "64 lowercase hex digits"),
    "签名状态": (lambda v: v in SIGNATURE_STATES, "/".join(SIGNATURE_STATES)),
}
FILE_FORMATS = {k: INVOICE_FORMATS[k] for k in ("格式", "大小", "SHA-256", "SM3")}


def value_problems(meta: Metadata) -> list[str]:
    """Every value that breaks its format, range, length or character rules."""
    problems: list[str] = []

    def check(where: str, values: dict[str, str], rules: dict[str, tuple[Callable[[str], bool], str]]) -> None:
        for name, value in values.items():
            if len(value) > MAX_LEN:
                problems.append(f"{where}{name}: longer than {MAX_LEN} characters")
            if _FORBIDDEN.search(value):
                problems.append(f"{where}{name}: contains a control or replacement character")
            rule = rules.get(name)
            if rule and value != "" and not rule[0](value):
                problems.append(f"{where}{name}: {value!r} is not {rule[1]}")

    check("", meta.package, PACKAGE_FORMATS)
    for i, inv in enumerate(meta.invoices, 1):
        check(f"发票[{i}]/", inv, INVOICE_FORMATS)
    for i, f in enumerate(meta.files, 1):
        check(f"电子文件[{i}]/", f, FILE_FORMATS)
    pkg = meta.package
    if pkg.get("附件数", "").isdigit() and int(pkg["附件数"]) != len(meta.invoices):
        problems.append(f"附件数 {pkg['附件数']} but {len(meta.invoices)} invoices listed")
    year = pkg.get("会计年度", "")
    code = pkg.get("档号", "")
    if year and code and f"·{year}-" not in code:
        problems.append(f"档号 {code!r} does not carry 会计年度 {year}")
    return problems
