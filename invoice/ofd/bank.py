"""Bank e-receipts (电子回单, 借记/贷记通知) and statements (电子对账单) in OFD.

A bank's receipt is no invoice, but it is the payment behind a reimbursement (the fourth of
the 凭证 "四要素": claim, invoice, voucher, payment) and it is signed by the bank's seal like an
invoice. Banks follow the 财政部 电子凭证会计数据标准: the issuer's data is an XBRL attachment
(``Attachs/bker_issuer_*.xml``, namespace ``.../taxonomy/<date>/bker``; statements ``bkrs``)
whose element names are the same for every bank, while the printed layout differs from bank
to bank. So the attachment is read first (one generic element map), the page second (labels
near values, which is all a bank without an attachment gives, e.g. 中国建设银行), and the two are
cross-checked: every attachment value that the page should print must be found on the page,
and a difference is noted in ``extra["cross_check"]`` (the clerk sees it as a warning).

Numbers of receipts are unique only within one bank, so the invoice ``code`` of a bank kind
holds the issuer's identification code (``IdentificationCodeOfIssuer``, e.g.
``C1030311000455``) or, when the bank gives none, the bank's name as printed; the duplicate
key is ``bank:<code>:<number>`` (``invoice.model.invoice_key``).

Specimen documents that banks publish (labels with empty values, or ``XX`` placeholders like
``中国光大银行XX支行``) are recognised and refused with ``ParseError(BANK_TEMPLATE)``: they
must never be registered as a real payment.
"""

from __future__ import annotations

import posixpath
import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

from lxml import etree

from invoice.errors import ErrorCode, ParseError
from invoice.kinds import BankAccount, BankReceipt, BankStatement, StatementLine
from invoice.model import FieldSource, Invoice, InvoiceKind, SourceFormat
from invoice.ofd import layout
from invoice.ofd.xml import TextObj, local, text_of

if TYPE_CHECKING:
    from invoice.ofd.invoice import _Reader

_RECEIPT_NS = "/bker"
_STATEMENT_NS = "/bkrs"
_CENT = Decimal("0.01")
# Printed titles of bank documents (page 1); an invoice title never contains these.
_BANK_TITLE = re.compile(r"回单|借记通知|贷记通知|对账单")
_BANK_TITLE_BYTES = tuple(w.encode() for w in ("回单", "借记通知", "贷记通知", "对账单"))
_INVOICE_TITLE_BYTES = "发票".encode()
# Placeholders of specimen documents: 中国光大银行XX支行, 62XX000000010001, XX交易记录
_PLACEHOLDER = re.compile(r"(?:XX|ＸＸ|xx)")

# bker element -> field (the same names for every bank, 电子凭证会计数据标准 2021-11-30)
_BKER: dict[str, str] = {
    "NumberOfBankElectronicReceipt": "number",
    "IssueDate": "issue_date",
    "IdentificationCodeOfIssuer": "code",
    "IdentifyingCode": "check_code",
    "TransactionAmountInFigures": "total",
    "Currency": "currency",
    "AccountNameOfPayer": "payer.name",
    "AccountNumberOfPayer": "payer.account",
    "OpeningBankOfPayer": "payer.bank",
    "AccountNameOfPayee": "payee.name",
    "AccountNumberOfPayee": "payee.account",
    "OpeningBankOfPayee": "payee.bank",
    "Usage": "purpose",
    "Notes": "notes",
    "JournalAccountOfBookkeeping": "serial",
    "DateOfBookkeeping": "booked_on",
    "IdentificationOfCreditOrDebit": "debit_credit",
    "AccountNumberOfRecipient": "recipient_account",
    "TypeOfBankElectronicReceipt": "receipt_type",
}
# Attachment values a bank writes where it has none (the element's own name, as 工行 does).
_FILLER = {"Usage", "TypeOfSourceDocument", "NumberOfSourceDocument"}

# Printed labels (normalised: no spaces, ASCII parentheses, no colon) -> field. "side" fields
# are split into payer (left half of the page) and payee (right half) by position.
_PAGE_LABELS: dict[str, str] = {
    "回单编号": "number", "电子回单号": "number", "回单号": "number", "电子回单号码": "number",
    "No": "number", "NO": "number",
    "签发日期": "issue_date", "记账日期": "issue_date", "入账日期": "issue_date",
    "日期": "issue_date", "交易日期": "issue_date",
    "校验码": "check_code", "验证码": "check_code", "检验码": "check_code",
    "业务索引编号": "check_code", "防伪码": "check_code",
    "(小写)": "amount_label", "小写": "amount_label", "金额": "amount_label",
    "交易金额": "amount_label",
    "币别": "currency", "币种": "currency",
    "用途": "purpose", "摘要": "summary", "附言": "postscript",
    "流水号": "serial", "入账流水": "serial", "记账流水": "serial", "交易流水号": "serial",
    "付款人户名": "payer.name", "付款人名称": "payer.name", "付款人全称": "payer.name",
    "付款人账号": "payer.account", "付款人开户行": "payer.bank", "付款人开户银行": "payer.bank",
    "收款人户名": "payee.name", "收款人名称": "payee.name", "收款人全称": "payee.name",
    "收款人账号": "payee.account", "收款人开户行": "payee.bank", "收款人开户银行": "payee.bank",
    "全称": "side.name", "户名": "side.name", "名称": "side.name",
    "账号": "side.account",
    "开户行": "side.bank", "开户银行": "side.bank", "开户机构": "side.bank", "行名": "side.bank",
    "打印机构": "printed_by",
}
_OTHER_LABELS = {"付", "收", "款", "人", "金额大写", "(大写)", "大写", "凭证种类", "凭证号码",
                 "结算方式", "交易码", "渠道", "原始凭证", "入账柜员", "记账柜员", "交易代码",
                 "交易机构号", "备注", "接收人账号", "接收人证件", "接收人信息", "回单类型",
                 "签发机构", "借贷标志", "转账标志", "记账时间", "原始凭证种类", "原始凭证号码",
                 "业务种类", "交易类型", "受理日期", "印章", "打印柜员", "打印卡号"}
_CURRENCIES = {"人民币": "CNY", "人民币(本位币)": "CNY", "人民币元": "CNY", "CNY": "CNY",
               "RMB": "CNY", "美元": "USD", "USD": "USD", "欧元": "EUR", "EUR": "EUR",
               "港币": "HKD", "HKD": "HKD", "日元": "JPY", "JPY": "JPY"}
_MONEY = re.compile(r"[¥￥]?\s*(-?\d[\d,]*(?:\.\d{1,2})?)")
_PAGE_DATE = re.compile(r"(\d{4})\s*(?:[-./年]\s*)?(\d{1,2})\s*(?:[-./月]\s*)?(\d{1,2})\s*日?")
_CN_DIGITS = {"零": 0, "壹": 1, "贰": 2, "叁": 3, "肆": 4, "伍": 5, "陆": 6, "柒": 7, "捌": 8, "玖": 9}
_CN_UNITS = {"拾": 10, "佰": 100, "仟": 1000}
_CN_AMOUNT = re.compile(r"[零壹贰叁肆伍陆柒捌玖拾佰仟万亿元圆角分整正]{2,}")


@dataclass(frozen=True, slots=True)
class Template:
    """Why a bank document is a specimen, not a real payment."""

    kind: InvoiceKind
    reason: str  # "empty" (labels without values) | "placeholder" (XX values)
    fields: tuple[str, ...]  # the fields that are empty or hold placeholders


# ---------------------------------------------------------------- detection


def attachment(reader: _Reader) -> tuple[str, InvoiceKind] | None:
    """The bank XBRL attachment of the document (path and kind), if any and readable."""
    folder = posixpath.dirname(reader.doc_path)
    prefix = (folder + "/attachs/").lstrip("/").lower()
    for name in reader.pkg.names():
        low = name.lower()
        if not (low.startswith(prefix) and low.endswith((".xml", ".xbrl"))) or low.endswith(
                "/attachments.xml"):
            continue
        head = reader.pkg.read(name)[:4096]
        if b"xbrl" not in head:
            continue
        if _RECEIPT_NS.encode() + b'"' in head or b"/bker/" in head:
            return name, InvoiceKind.BANK_RECEIPT
        if _STATEMENT_NS.encode() + b'"' in head or b"/bkrs/" in head:
            return name, InvoiceKind.BANK_STATEMENT
    return None


def _has_invoice_data(reader: _Reader) -> bool:
    """Does the document carry an e-invoice data file (``eInvoice``) among its attachments?

    Then it is read as an invoice, whatever else it holds, so that an unsigned invoice file
    slipped into a signed bank receipt is still read, and caught, as the invoice it claims.
    """
    folder = posixpath.dirname(reader.doc_path)
    prefix = (folder + "/attachs/").lstrip("/").lower()
    for name in reader.pkg.names():
        low = name.lower()
        if low.startswith(prefix) and low.endswith(".xml") and not low.endswith(
                "/attachments.xml") and b"eInvoice" in reader.pkg.read(name)[:1024]:
            return True
    return False


def detect(reader: _Reader) -> InvoiceKind | None:
    """Is this OFD a bank document? By its XBRL attachment, else by the printed title.

    The title test reads the raw bytes of page 1 and its templates (no parse): a bank word
    (回单, 借记通知, 贷记通知, 对账单) and no 发票 anywhere, so that an invoice whose remark
    mentions a 回单 stays an invoice.
    """
    if _has_invoice_data(reader):
        return None  # an invoice's data file: read as an invoice (and verified as one)
    found = attachment(reader)
    if found is not None:
        return found[1]
    try:
        members = reader.face_members(0)
    except ParseError as exc:
        if exc.code is not ErrorCode.BAD_XML:
            raise  # entities, bombs: refused whatever the file claims to be
        return None  # a broken page: the invoice reader decides what to make of it
    raws = [reader.pkg.read(m) for m in members]
    if not raws or any(_INVOICE_TITLE_BYTES in raw for raw in raws):
        return None
    if any(w in raw for raw in raws for w in _BANK_TITLE_BYTES):
        statement = any("对账单".encode() in raw for raw in raws)
        return InvoiceKind.BANK_STATEMENT if statement else InvoiceKind.BANK_RECEIPT
    return None


# ---------------------------------------------------------------- normalisers


def _clean(value: str | None) -> str | None:
    """Whitespace runs as one space; private-use and format characters dropped (光大 writes a
    U+E5FD glyph code into 用途: no reader can show it, and it would split equal values)."""
    if value is None:
        return None
    value = "".join(c for c in value if unicodedata.category(c) not in ("Co", "Cf"))
    v = re.sub(r"\s+", " ", value).strip()
    return v or None


def _compact(value: str | None) -> str | None:
    v = re.sub(r"\s+", "", value or "")
    return v or None


def _date(value: str | None) -> str | None:
    m = _PAGE_DATE.search(value or "")
    if not m:
        return None
    try:
        day = date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None
    return day.isoformat() if 1990 <= day.year <= 2100 else None


def _money(value: str | None) -> Decimal | None:
    m = _MONEY.search(value or "")
    if not m:
        return None
    try:
        return Decimal(m.group(1).replace(",", "")).quantize(_CENT)
    except InvalidOperation:
        return None


def chinese_amount(text: str) -> Decimal | None:
    """'贰拾万壹仟零贰拾柒圆整' -> 201027.00; None when it is no amount in capitals (大写)."""
    m = next((m for m in _CN_AMOUNT.finditer(text) if any(c in m.group(0) for c in "元圆角分")
              and any(c in _CN_DIGITS for c in m.group(0))), None)
    if m is None:
        return None
    s = m.group(0)
    yuan, _, rest = s.partition("圆") if "圆" in s else s.partition("元")
    big = wan = section = digit = 0
    for ch in yuan:
        if ch in _CN_DIGITS:
            digit = _CN_DIGITS[ch]
        elif ch in _CN_UNITS:
            section += (digit or 1) * _CN_UNITS[ch]
            digit = 0
        elif ch == "万":
            wan = (section + digit) * 10_000
            section = digit = 0
        elif ch == "亿":
            big = (big + wan + section + digit) * 100_000_000
            wan = section = digit = 0
    total = big + wan + section + digit
    cents = 0
    last = 0
    for ch in rest:
        if ch in _CN_DIGITS:
            last = _CN_DIGITS[ch]
        elif ch == "角":
            cents += last * 10
            last = 0
        elif ch == "分":
            cents += last
            last = 0
    return (Decimal(total) + Decimal(cents) / 100).quantize(_CENT)


def _normalise(name: str, raw: str | None) -> object | None:
    if name in ("total",):
        return _money(raw)
    if name in ("issue_date", "booked_on"):
        return _date(raw)
    if name == "serial":  # '029402419起息日:2022-06-28 附言:…' prints more after the serial
        m = re.match(r"[0-9A-Za-z][0-9A-Za-z-]*", _compact(raw) or "")
        return m.group(0) if m else None
    if name in ("number", "check_code", "code") or name.endswith(".account"):
        return _compact(raw)
    if name == "currency":
        v = _compact(raw)
        return _CURRENCIES.get(v or "", v)
    return _clean(raw)


def _put(reader: _Reader, name: str, raw: str | None, source: FieldSource,
         members: tuple[str, ...]) -> None:
    """``_Reader.put`` with the bank fields' normalisers: first value wins, every value is
    noted as a claim so that verification sees an unsigned member that disagrees."""
    value = _normalise(name, raw)
    if value is None:
        return
    reader._claim(name, value, members)
    if name in reader.values:
        return
    reader.values[name] = value
    reader.sources[name] = source.value
    reader.members[name] = members


# ---------------------------------------------------------------- source 1: the XBRL attachment


def _leaves(root: etree._Element) -> list[tuple[str, str]]:
    return [(local(el.tag), text_of(el)) for el in root.iter() if len(el) == 0
            and isinstance(el.tag, str)]


def read_receipt_attachment(reader: _Reader, path: str) -> dict[str, str]:
    """bker elements into fields; returns every element (name -> text) for the template test."""
    root = reader._optional(path)
    if root is None:
        return {}
    at = (path,)
    raw: dict[str, str] = {}
    for name, value in _leaves(root):
        raw.setdefault(name, value)
        fld = _BKER.get(name)
        if fld is None or (name in _FILLER and value == name):
            continue
        if fld in ("notes", "booked_on", "debit_credit", "recipient_account", "receipt_type"):
            if value and not value.startswith("{"):
                reader.extra.setdefault(f"bank_{fld}", value)
            continue
        _put(reader, fld, value, FieldSource.ATTACHMENT_XML, at)
    return raw


def read_statement_attachment(reader: _Reader, path: str) -> BankStatement:
    root = reader._optional(path)
    statement = BankStatement()
    if root is None:
        return statement
    at = (path,)
    head: dict[str, str] = {}
    lines: list[StatementLine] = []
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        name = local(el.tag)
        if name == "InformationOfReconcileDetailsTuple":
            vals = {local(c.tag): text_of(c) for c in el if isinstance(c.tag, str)}
            amount = _money(vals.get("TransactionAmount"))
            debit = vals.get("IdentificationOfCreditOrDebit") == "0"
            lines.append(StatementLine(
                date=_date(vals.get("DateOfBookkeeping")),
                description=_clean(vals.get("NotesOfBankElectronicReceipt")),
                debit=amount if debit else None, credit=None if debit else amount,
                balance=_money(vals.get("AccountBalance")),
                counterparty=_clean(vals.get("NameOfCounterparty"))))
        elif len(el) == 0 and el.getparent() is not None and local(
                el.getparent().tag) != "InformationOfReconcileDetailsTuple":
            head.setdefault(name, text_of(el))
    statement.account = _compact(head.get("CustomerSettlementBankAccount"))
    year, month = head.get("YearOfBankReconciliationStatement"), head.get(
        "MonthOfBankReconciliationStatement")
    if year and month and year.isdigit() and month.isdigit() and 1 <= int(month) <= 12:
        first = date(int(year), int(month), 1)
        nxt = date(first.year + (first.month == 12), first.month % 12 + 1, 1)
        statement.period_start = first.isoformat()
        statement.period_end = date.fromordinal(nxt.toordinal() - 1).isoformat()
    statement.lines = lines
    _put(reader, "code", head.get("IdentificationCodeOfIssuer"), FieldSource.ATTACHMENT_XML, at)
    _put(reader, "payer.name", head.get("NameOfCustomerAccount"), FieldSource.ATTACHMENT_XML, at)
    _put(reader, "currency", head.get("Currency"), FieldSource.ATTACHMENT_XML, at)
    _put(reader, "issue_date", head.get("PrintDate"), FieldSource.ATTACHMENT_XML, at)
    if statement.account and statement.period_start:
        _put(reader, "number", f"{statement.account}-{statement.period_start[:7]}",
             FieldSource.DERIVED, at)
    return statement


# ---------------------------------------------------------------- source 2: the page


@dataclass(frozen=True, slots=True)
class PageText:
    """Page 1 of a bank document: its objects, the members it is drawn from, its width."""

    objects: tuple[TextObj, ...]
    members: tuple[str, ...]
    width: float

    @property
    def text(self) -> str:
        return "\n".join(o.text for o in self.objects)

    @property
    def compact(self) -> str:
        return re.sub(r"[\s,，]", "", self.text)


def page_text(reader: _Reader) -> PageText:
    objs = tuple(o for o in layout.merge_same_box(reader.page_objects(0)) if o.text.strip())
    members = tuple(m for m in reader.face_members(0) if reader.allows(m))
    width = max((o.x1 for o in objs), default=210.0)
    return PageText(objs, members, width)


def _label_of(text: str) -> tuple[str, str] | None:
    """(label, inline value) when the text is a label, perhaps with its value after a colon."""
    t = layout.norm(text)
    if t in _PAGE_LABELS or t in _OTHER_LABELS:
        return t, ""
    m = re.match(r"^([^:：]{1,10})[:：]\s*(.*)$", text.strip().replace(" ", "") if len(
        text) < 12 else text.strip())
    if m:
        lab = layout.norm(m.group(1))
        if lab in _PAGE_LABELS or lab in _OTHER_LABELS:
            return lab, m.group(2).strip()
    return None


def _value_near(label: TextObj, objs: tuple[TextObj, ...], labels: list[TextObj],
                used: set[str]) -> TextObj | None:
    """The nearest non-label object right of the label, on its line or half a line off
    (banks print values a little above their labels), unless another label on the left is
    nearer to it: then it is that label's value."""
    best: tuple[float, TextObj] | None = None
    for o in objs:
        if o is label or o.id in used or _label_of(o.text) is not None:
            continue
        if o.x0 < label.x1 - 1.0 or o.x0 > label.x1 + 80:
            continue
        dy = abs(o.cy - label.cy)
        if dy > 5.5:
            continue
        if any(other is not label and other.x1 <= o.x0 + 1.0 and other.x0 > label.x0 - 60
               and abs(other.cy - o.cy) < dy - 0.5 for other in labels):
            continue
        score = dy * 4 + (o.x0 - label.x1)
        if best is None or score < best[0]:
            best = (score, o)
    return best[1] if best else None


def read_page(reader: _Reader, page: PageText) -> dict[str, str]:
    """Labelled values of page 1, as printed (field -> text); side labels become payer/payee."""
    found: dict[str, str] = {}
    used: set[str] = set()
    mid = page.width / 2
    labels = [o for o in page.objects if _label_of(o.text) is not None]
    for obj in sorted(page.objects, key=lambda o: (o.y0, o.x0)):
        lab = _label_of(obj.text)
        if lab is None or lab[0] not in _PAGE_LABELS:
            continue
        fld = _PAGE_LABELS[lab[0]]
        value = lab[1]
        if not value:
            near = _value_near(obj, page.objects, labels, used)
            if near is None:
                continue
            value = near.text
            used.add(near.id)
        if fld.startswith("side."):
            fld = ("payer." if obj.cx < mid else "payee.") + fld[5:]
        found.setdefault(fld, value.strip())
    title = reader.find_title() or next((o.text for o in page.objects
                                         if _BANK_TITLE.search(o.text)), "")
    if title:
        found.setdefault("title", layout.norm(title))
    # the date printed as '2026 年 05 月 12 日' in separate objects: read the joined lines
    if "issue_date" not in found:
        m = re.search(r"\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日", _lines_text(page))
        if m:
            found["issue_date"] = m.group(0)
    figures = _figures(page, labels)
    if figures:
        found["total"] = figures
    for w in _CN_AMOUNT.findall(page.compact):
        if chinese_amount(w) is not None:
            found.setdefault("total_in_words", w)
            break
    return found


_TOTAL_LABELS = ("(小写)", "小写", "金额", "交易金额")
_FIGURE = re.compile(r"^(?:[(（]小写[)）])?[¥￥]?\s*-?\d[\d,]*(?:\.\d{1,2})?$")


def _figures(page: PageText, labels: list[TextObj]) -> str | None:
    """The amount in figures: a money text on the line of a 小写/金额 label (the label's own
    value may be the amount in words or the currency), else the first ¥-marked figure."""
    for name in _TOTAL_LABELS:
        for lab in labels:
            parsed = _label_of(lab.text)
            if parsed is None or parsed[0] != name:
                continue
            if parsed[1] and _FIGURE.match(parsed[1].replace(" ", "")):
                return parsed[1]
            row = sorted((o for o in page.objects if o.x0 >= lab.x1 - 1.0
                          and abs(o.cy - lab.cy) < 2.5 and o is not lab), key=lambda o: o.x0)
            for o in row:
                if _FIGURE.match(o.text.replace(" ", "")):
                    return o.text
    for o in page.objects:
        t = o.text.replace(" ", "")
        if _FIGURE.match(t) and re.search(r"[¥￥]|小写", t):
            return t
    return None


def _lines_text(page: PageText) -> str:
    rows: list[list[TextObj]] = []
    for o in sorted(page.objects, key=lambda o: (o.cy, o.x0)):
        if rows and abs(rows[-1][0].cy - o.cy) < 2.0:
            rows[-1].append(o)
        else:
            rows.append([o])
    return "\n".join("".join(o.text for o in sorted(r, key=lambda o: o.x0)) for r in rows)


def _bank_name(found: dict[str, str], page: PageText) -> str | None:
    """The issuing bank as printed: the title's bank, the printing branch, the seal's owner."""
    for text in (found.get("title", ""), found.get("printed_by", "")):
        m = re.search(r"^(.{2,16}?银行)", text)
        if m:
            return m.group(1)
    m = re.search(r"(?:该文件为|本回单需加盖)(.{2,12}?)(?:电子签名|电子签章)", page.compact)
    if m:
        return m.group(1)
    return None


def _page_total(found: dict[str, str]) -> Decimal | None:
    figures = _money(found.get("total"))
    words = chinese_amount(found.get("total_in_words", ""))
    if figures is not None and words is not None and figures != words and (
            figures == words * 100):
        return words  # 中国电财 prints '¥375' in a 元角分 grid: cents
    return figures if figures is not None else words


# ---------------------------------------------------------------- assembling


def _s(reader: _Reader, name: str) -> str | None:
    v = reader.values.get(name)
    return v if isinstance(v, str) else None


def _cross_check(reader: _Reader, page: PageText, page_total: Decimal | None) -> list[str]:
    """Attachment values the page should print but does not: 'field: attachment vs page'."""
    problems: list[str] = []
    compact = page.compact
    for name in ("number", "payer.name", "payer.account", "payee.name", "payee.account"):
        if reader.sources.get(name) != FieldSource.ATTACHMENT_XML.value:
            continue
        value = _s(reader, name)
        if value and re.sub(r"\s+", "", value) not in compact:
            problems.append(f"{name}={value}")
    total = reader.values.get("total")
    if (reader.sources.get("total") == FieldSource.ATTACHMENT_XML.value
            and isinstance(total, Decimal) and page_total is not None and page_total != total):
        problems.append(f"total={total} page={page_total}")
    return problems


def template_of(kind: InvoiceKind, values: dict[str, object],
                statement: BankStatement | None, page: PageText) -> Template | None:
    """A specimen: empty key values, or placeholder values (XX) in names, accounts, banks."""
    key: dict[str, object]
    if kind is InvoiceKind.BANK_STATEMENT:
        key = {"account": statement.account if statement else None,
               "period_start": statement.period_start if statement else None}
    else:
        key = {"number": values.get("number"), "total": values.get("total")}
    empty = tuple(k for k, v in key.items() if v in (None, ""))
    if empty:
        return Template(kind, "empty", empty)
    marked = [k for k, v in values.items() if isinstance(v, str) and _PLACEHOLDER.search(v)
              and (k.endswith((".name", ".account", ".bank")) or k in ("serial", "number"))
              and not (statement is not None and k == "number")]
    if statement is not None:
        if statement.account and _PLACEHOLDER.search(statement.account):
            marked.append("account")
        marked += [f"lines[{i}]" for i, line in enumerate(statement.lines)
                   if line.counterparty and _PLACEHOLDER.search(line.counterparty)]
    # an 'XX' placeholder printed on the page itself (62XX0001, XX支行)
    if not marked and re.search(r"[0-9]XX|XX[银支分]", page.compact):
        marked.append("page")
    return Template(kind, "placeholder", tuple(dict.fromkeys(marked))) if marked else None


_TEMPLATE_NAMES = {InvoiceKind.BANK_RECEIPT: "银行电子回单", InvoiceKind.BANK_STATEMENT: "银行电子对账单"}


def read_bank(reader: _Reader, kind: InvoiceKind) -> Invoice:
    """Read a bank receipt or statement; ``ParseError(BANK_TEMPLATE)`` for a specimen."""
    reading = read_bank_document(reader, kind)
    if reading.template is not None:
        from core import messages

        t = reading.template
        shown = "、".join(dict.fromkeys(
            messages.label("bank_template_field", f.split("[")[0]) for f in t.fields))
        raise ParseError(
            ErrorCode.BANK_TEMPLATE,
            f"bank document template ({t.kind.value}, {t.reason}: {', '.join(t.fields)}): "
            "a specimen, not a real payment",
            reader.pkg.where, kind=_TEMPLATE_NAMES[t.kind], kind_code=t.kind.value,
            reason=t.reason, fields=shown)
    return reading.invoice


@dataclass(frozen=True, slots=True)
class BankReading:
    invoice: Invoice
    template: Template | None


def read_bank_document(reader: _Reader, kind: InvoiceKind) -> BankReading:
    """Every field from the attachment (if allowed), then the page; cross-checked."""
    found_att = attachment(reader)
    statement: BankStatement | None = None
    if kind is InvoiceKind.BANK_STATEMENT:
        statement = BankStatement()
    if (found_att is not None and FieldSource.ATTACHMENT_XML in reader.allowed
            and reader.allows(found_att[0])):
        path = found_att[0]
        reader.extra.setdefault("attachment", posixpath.basename(path))
        if kind is InvoiceKind.BANK_STATEMENT:
            statement = read_statement_attachment(reader, path)
        else:
            read_receipt_attachment(reader, path)
    page = page_text(reader) if FieldSource.PAGE_TEXT in reader.allowed else PageText((), (), 0)
    found = read_page(reader, page) if page.objects else {}
    src, at = FieldSource.PAGE_TEXT, page.members
    page_total: Decimal | None = None
    if kind is InvoiceKind.BANK_RECEIPT and at:
        page_total = _page_total(found)
        for name in ("number", "issue_date", "check_code", "currency", "serial", "payer.name",
                     "payer.account", "payer.bank", "payee.name", "payee.account",
                     "payee.bank"):
            _put(reader, name, found.get(name), src, at)
        if page_total is not None:
            _put(reader, "total", str(page_total), src, at)
        purpose = next((found[k] for k in ("purpose", "summary", "postscript")
                        if found.get(k)), None)
        _put(reader, "purpose", purpose, src, at)
        if "purpose" not in reader.values and reader.extra.get("bank_notes"):
            _put(reader, "purpose", reader.extra["bank_notes"], FieldSource.ATTACHMENT_XML,
                 (found_att[0],) if found_att else ())
        problems = _cross_check(reader, page, page_total)
        if problems:
            reader.extra["cross_check"] = "; ".join(problems)
    bank = _bank_name(found, page) if page.objects else None
    if bank and at:
        _put(reader, "bank", bank, src, at)
    if "code" not in reader.values and bank:
        _put(reader, "code", bank, FieldSource.DERIVED, at)
    if found.get("title"):
        reader.extra.setdefault("title", found["title"])
        reader.title = found["title"]
    reader.sources["kind"] = (FieldSource.ATTACHMENT_XML if found_att else src).value
    template = template_of(kind, reader.values, statement, page)
    v = reader.values

    def acct(role: str) -> BankAccount:
        return BankAccount(_s(reader, f"{role}.name"), _s(reader, f"{role}.account"),
                           _s(reader, f"{role}.bank"))

    details: BankReceipt | BankStatement
    if statement is not None:
        statement.bank = _s(reader, "bank")
        details = statement
    else:
        serial = _s(reader, "serial")
        details = BankReceipt(bank=_s(reader, "bank"), payer=acct("payer"), payee=acct("payee"),
                              currency=_s(reader, "currency") or "CNY",
                              purpose=_s(reader, "purpose"),
                              serial=serial if serial != _s(reader, "number") else None)
    total = v.get("total")
    inv = Invoice(
        kind=kind, source_format=SourceFormat.OFD, number=_s(reader, "number"),
        code=_s(reader, "code"), issue_date=_s(reader, "issue_date"),
        check_code=_s(reader, "check_code"),
        total=total if isinstance(total, Decimal) else None,
        field_sources=dict(reader.sources),
        field_locations={k: " + ".join(m) for k, m in reader.members.items() if m},
        extra=reader.extra, details=details)
    return BankReading(inv, template)


# The fields of a bank kind that the service relies on (verification coverage, issue 10).
BANK_FIELDS = ("code", "number", "issue_date", "check_code", "total", "currency", "bank",
               "purpose", "serial", "payer.name", "payer.account", "payer.bank", "payee.name",
               "payee.account", "payee.bank")


def bank_values(inv: Invoice) -> dict[str, object]:
    """Field name -> value of a bank kind, the names ``_Reader.values`` uses."""
    out: dict[str, object] = {"code": inv.code, "number": inv.number,
                              "issue_date": inv.issue_date, "check_code": inv.check_code,
                              "total": inv.total}
    d = inv.details
    if isinstance(d, BankReceipt):
        out.update({"currency": d.currency, "bank": d.bank, "purpose": d.purpose,
                    "serial": d.serial})
        for role, acc in (("payer", d.payer), ("payee", d.payee)):
            out.update({f"{role}.name": acc.name, f"{role}.account": acc.account,
                        f"{role}.bank": acc.bank})
    elif isinstance(d, BankStatement):
        out.update({"bank": d.bank})
    return {k: v for k, v in out.items() if v is not None}
