"""A scan's invoice: QR payload first, OCR for the rest, one ``Invoice`` out.

Order of trust (a scan is only ever ``unsigned``, but some of its fields are better than
others): the QR payload is what the issuing system encoded, so number, code, date, check
code and the QR amount come from it whenever it is readable, and OCR disagreeing with it is
noted (``extra["qr_mismatch"]``), not believed. Everything else is OCR read by the PDF field
reader (``invoice.pdf.fields.read_fields``): labels and positions, and amounts that must add up.
``field_sources`` says ``qr_code`` or ``ocr`` for each field; ``field_locations`` says ``qr``
or ``ocr``; ``source_format`` is ``image``, also for a PDF whose page is only a picture.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from invoice.errors import ErrorCode, ParseError
from invoice.image.deskew import estimate_angle, straighten
from invoice.image.load import open_image
from invoice.image.ocr import recognise
from invoice.image.qr import QrFound, find_qr
from invoice.image.repair import repair_uscc
from invoice.model import FieldSource, Invoice, InvoiceKind, Party, SourceFormat
from invoice.pdf.fields import PdfFields, build_lines, parse_cn_amount, read_fields
from invoice.pdf.text import Segment
from invoice.qr import QrPayload

# The picture OCR works on: a longer side past this is scaled down (a 12-megapixel phone
# photo reads no better than ~250 dpi and costs four times as long).
WORK_MAX_SIDE = 2400
# Image-only PDF pages are rendered at this resolution (a scanner's usual 200 dpi).
PDF_RENDER_DPI = 200


def parse_image(data: bytes) -> Invoice:
    """Read one JPEG or PNG scan; ``ParseError`` when it is unreadable or no invoice."""
    from core.settings import get_settings

    s = get_settings()
    img = open_image(data, s.scan_max_pixels, s.scan_max_side)
    inv = read_picture(img, s.ocr_engine, s.scan_ocr_timeout_seconds)
    inv.extra["scan"] = "image"
    return inv


def parse_image_pdf(page_image: Any) -> Invoice:
    """Read a PDF page that is only a picture (rendered by the PDF reader)."""
    from core.settings import get_settings

    s = get_settings()
    try:
        inv = read_picture(page_image, s.ocr_engine, s.scan_ocr_timeout_seconds)
    except ParseError as exc:
        if exc.code is not ErrorCode.NOT_AN_INVOICE:
            raise
        raise ParseError(ErrorCode.NOT_AN_INVOICE, "no readable text and no invoice QR code in "
                         f"the PDF (its page was read as a scanned picture: {exc.message})",
                         "PDF") from None
    inv.extra["scan"] = "pdf_image"
    return inv


def read_picture(img: Any, engine: str, timeout: float) -> Invoice:
    """QR, straighten, OCR, fields: the whole reading of one decoded picture."""
    from PIL import Image

    if max(img.size) > WORK_MAX_SIDE:
        f = WORK_MAX_SIDE / max(img.size)
        img = img.resize((max(1, int(img.width * f)), max(1, int(img.height * f))),
                         Image.Resampling.LANCZOS)
    low, _high = img.convert("L").getextrema()
    if low > 160:  # nothing darker than light grey: a blank page, nothing to read
        raise ParseError(ErrorCode.NOT_AN_INVOICE, "the picture is blank", "扫描件")
    qr = find_qr(img)
    correction = -qr.angle if qr is not None else estimate_angle(img)
    level = straighten(img, correction)
    ocr_error = None
    try:
        segs = recognise(level, engine, timeout)
    except ParseError as exc:
        if exc.code is not ErrorCode.TIMEOUT or qr is None:
            raise
        segs, ocr_error = [], exc.message  # the QR payload alone still gives the key fields
    fields = read_fields(segs) if segs else PdfFields()
    _fill_from_lines(fields, segs)
    if qr is None and fields.number is None:
        raise ParseError(ErrorCode.NOT_AN_INVOICE,
                         "no invoice QR code and no invoice number could be read from the picture",
                         "扫描件")
    inv = _build(fields, qr)
    inv.extra["scan_angle"] = f"{-correction:.1f}"
    inv.extra["ocr_engine"] = engine
    if ocr_error:
        inv.extra["ocr_error"] = ocr_error
    return inv


def _build(f: PdfFields, found: QrFound | None) -> Invoice:
    ocr = FieldSource.OCR.value
    inv = Invoice(
        kind=f.kind, source_format=SourceFormat.IMAGE, number=f.number, code=f.code,
        issue_date=f.issue_date, check_code=f.check_code, buyer=_party(f.buyer),
        seller=_party(f.seller), amount=f.amount, tax=f.tax, total=f.total, items=list(f.items),
        drawer=f.drawer, remarks=f.remarks,
    )
    inv.field_sources = {k: ocr for k in f.sources}
    _check_tax_ids(inv)
    if found is not None:
        _merge_qr(inv, found.payload, f)
    _settle_amounts(inv, f)
    _check_items(inv)
    if inv.kind is InvoiceKind.UNKNOWN and inv.number and len(inv.number) == 20 and not inv.code:
        inv.kind = InvoiceKind.DIGITAL_ORDINARY
        inv.field_sources["kind"] = FieldSource.DERIVED.value
    inv.field_locations = {k: ("qr" if v == FieldSource.QR_CODE.value else "ocr")
                           for k, v in inv.field_sources.items()}
    if f.notes:
        inv.extra["ocr_notes"] = "; ".join(f.notes)
    if inv.number is None:
        raise ParseError(ErrorCode.NOT_AN_INVOICE, "no invoice number in the picture", "扫描件")
    return inv


def _merge_qr(inv: Invoice, qr: QrPayload, f: PdfFields) -> None:
    """The QR payload wins over OCR; where OCR read something else, it is noted."""
    src = FieldSource.QR_CODE.value
    inv.extra["qr"] = qr.raw
    mismatches: list[str] = []

    def take(name: str, value: object) -> None:
        if value is None:
            return
        current = getattr(inv, name)
        if current is not None and current != value:
            mismatches.append(f"{name}: OCR {current} vs QR {value}")
        setattr(inv, name, value)
        inv.field_sources[name] = src

    take("number", qr.number)
    take("code", qr.code)
    take("issue_date", qr.issue_date)
    take("check_code", qr.check_code)
    if qr.digital:
        take("total", qr.total)
    else:
        take("amount", qr.amount)
    # The title read by OCR names railway tickets and itineraries; the QR type only says
    # 数电/old-style, ordinary/special. OCR's kind stands only where the QR cannot tell.
    if inv.kind not in (InvoiceKind.RAILWAY_TICKET, InvoiceKind.AIR_ITINERARY):
        if inv.kind is not InvoiceKind.UNKNOWN and inv.kind != qr.kind:
            mismatches.append(f"kind: OCR {inv.kind.value} vs QR {qr.kind.value}")
        inv.kind = qr.kind
        inv.field_sources["kind"] = src
    if mismatches:
        inv.extra["qr_mismatch"] = "; ".join(mismatches)


def _settle_amounts(inv: Invoice, f: PdfFields) -> None:
    """Make amount + tax = total hold, preferring the QR values and the total in words.

    OCR misreads digits; the three are kept only when they add up, otherwise the trusted
    ones (QR, or a total that equals the amount in words) decide and the others are derived
    from them (``derived``), with a note of what OCR had read.
    """
    derived = FieldSource.DERIVED.value
    qr = FieldSource.QR_CODE.value
    a, t, total, words = inv.amount, inv.tax, inv.total, f.words_total
    if a is not None and t is not None and total is not None and a + t == total:
        return
    if total is None and words is not None:
        inv.total = total = words
        inv.field_sources["total"] = derived
    total_trusted = total is not None and (inv.field_sources.get("total") in (qr, derived)
                                           or total == words)
    if total is not None and total_trusted:
        if a is not None and (inv.field_sources.get("amount") == qr or t is None) and a <= total:
            if t is not None:
                inv.extra["ocr_tax_unsure"] = f"OCR tax {t} vs total - amount {total - a}"
            inv.tax = total - a
            inv.field_sources["tax"] = derived
        elif t is not None and t <= total:
            if a is not None:
                inv.extra["ocr_amount_unsure"] = f"OCR amount {a} vs total - tax {total - t}"
            inv.amount = total - t
            inv.field_sources["amount"] = derived
    elif a is not None and t is not None:
        if total is not None:
            inv.extra["ocr_total_unsure"] = f"OCR total {total} vs amount + tax {a + t}"
        inv.total = a + t
        inv.field_sources["total"] = derived


_MONEY_IN_TEXT = re.compile(r"(\d[\d,]*\.\d{2})(?!\d)")


def _fill_from_lines(f: PdfFields, segs: list[Segment]) -> None:
    """What the label reader missed because OCR garbled a label, read from whole lines.

    OCR turns 发票号码 into 标号码 or ¥ into 苦; the labels' last characters and the shapes of
    the values survive more often: ``码: <8 or 20 digits>``, a date ``YYYY年MM月DD日``, the
    amount after ``小写``, the amount in words after ``大写``, amount and tax on the 合计 line.
    Number and date are filled only when missing; the total is the one independent readings
    agree on (``_choose_total``). All are marked ``ocr``.
    """
    if not segs:
        return
    src = FieldSource.OCR.value
    lines = build_lines(segs)
    texts = ["".join(ln.text.split()) for ln in lines]
    # Money per segment: joined, "24519.05" "8735.57" would run together as one number.
    tokens = [[m for sg in ln.segments for m in _MONEY_IN_TEXT.findall(sg.compact)] for ln in lines]
    if f.number is not None and (f.number == f.check_code or (f.code and len(f.number) == 20)):
        f.number = None  # the 20-digit check code of an old-style invoice, not its number
        f.sources.pop("number", None)
    if f.number is None:
        for t in texts:
            # 码 of 号码 (not 代码, 校验码, nor 识别号 before a tax ID's first 8 digits)
            m = re.search(r"(?<![代验])码[:：]?(\d{20}|\d{8})(?![\dA-Z])", t)
            if m is None and not f.code:
                m = re.search(r"(?<!\d)(\d{20})(?!\d)", t)
            if m and m.group(1) != f.check_code:
                f.number = m.group(1)
                f.sources["number"] = src
                break
    if f.issue_date is None:
        for t in texts:  # 2022年05月05日, or after 日期 with a separator lost (2022年0505)
            m = (re.search(r"(\d{4})年(\d{1,2})月(\d{1,2})(?:日|$)", t)
                 or re.search(r"日期[:：]?(\d{4})\D?(\d{2})\D?(\d{2})(?!\d)", t))
            if m:
                y, mo, d = (int(g) for g in m.groups())
                if 1990 <= y <= 2100 and 1 <= mo <= 12 and 1 <= d <= 31:
                    f.issue_date = f"{y:04d}-{mo:02d}-{d:02d}"
                    f.sources["issue_date"] = src
                    break
    # Totals: OCR misreads digits, so a total is taken where independent readings agree.
    xiaoxie: Decimal | None = None
    words: Decimal | None = None
    pair: tuple[Decimal, Decimal] | None = None
    for t, money_tokens in zip(texts, tokens, strict=True):
        i = t.find("小写")
        found = _MONEY_IN_TEXT.findall(t[i:]) if i >= 0 else []
        if found and xiaoxie is None:
            xiaoxie = Decimal(max(found, key=len).replace(",", ""))
        j = t.find("大写")
        if j >= 0 and words is None:
            spoken = t[j + 2:].lstrip(")）〉>:：")
            spoken = re.split(r"[(（〈<]|小写", spoken)[0].translate(_CN_LOOKALIKES)
            words = parse_cn_amount(re.sub(r"[^零壹贰叁肆伍陆柒捌玖拾佰仟万亿圆角分整]", "", spoken))
        if "合计" in t and "价税" not in t and "大写" not in t and pair is None:
            found_s = money_tokens
            if len(found_s) >= 2:
                pair = next(((a, b) for a in _variants(found_s[-2]) for b in _variants(found_s[-1])
                             if _tax_fits(a, b)), None)
    if words is not None:  # the whole line's words: the label reader may take one segment only
        f.words_total = words
    # Not ``f.consistent()`` alone: garbage can add up (0.60 + 0.02 = 0.62 read off a 合计 line).
    # The words as read here from the whole 大写 line: the label reader's words_total may be
    # one segment of it ("圆陆角贰分" = 0.62) and its total is often taken from those words.
    total = _choose_total(f.total, xiaoxie, pair, words)
    if total is not None and total != f.total:
        f.total = total
        f.sources["total"] = src
    if pair is not None and f.total == pair[0] + pair[1] and (f.amount, f.tax) != pair:
        f.amount, f.tax = pair
        f.sources["amount"] = f.sources["tax"] = src
    if f.amount is None or f.tax is None:
        # The 合计 line with the tax misread (¥2.83 as 于2.8:): an amount whose tax at a
        # printed rate is exactly what the total leaves over is the amount.
        for t, money_tokens in zip(texts, tokens, strict=True):
            if "合计" not in t or "价税" in t or "大写" in t or f.total is None:
                continue
            found_d = [Decimal(v.replace(",", "")) for v in money_tokens]
            fits = {a for a in found_d if _tax_fits(a, f.total - a)}
            if len(fits) == 1:
                a = fits.pop()
                f.amount, f.tax = a, f.total - a
                f.sources["amount"] = f.sources["tax"] = src
                break


# OCR's misreadings of the financial capitals (仟 as 什 or 千, 佰 as 百, 贰 as 直 or 起 ...);
# none of these characters can stand in an amount in words, so the mapping cannot mislead.
_CN_LOOKALIKES = str.maketrans({"什": "仟", "千": "仟", "百": "佰", "元": "圆", "园": "圆", "十": "拾",
                                "一": "壹", "二": "贰", "三": "叁", "四": "肆", "五": "伍", "六": "陆",
                                "七": "柒", "八": "捌", "九": "玖", "〇": "零", "正": "整",
                                "直": "贰", "起": "贰", "武": "贰"})


def _variants(text: str) -> list[Decimal]:
    """A money token as read, and without its first digit (¥ read as 8 or 4: ``8735.57``)."""
    plain = text.replace(",", "")
    out = [Decimal(plain)]
    if len(plain) > 4 and plain[0].isdigit() and plain[1] != ".":
        out.append(Decimal(plain[1:]))
    return out


def _choose_total(label: Decimal | None, xiaoxie: Decimal | None, pair: tuple[Decimal, Decimal] | None,
                  words: Decimal | None) -> Decimal | None:
    """The total two readings agree on; else amount + tax of a 合计 line whose tax fits a
    rate; else the value after 小写; else the amount in words; else the label reader's."""
    summed = pair[0] + pair[1] if pair is not None else None
    readings = [v for v in (label, xiaoxie, summed, words) if v is not None]
    for v in readings:
        if sum(1 for w in readings if w == v) >= 2:
            return v
    return summed or xiaoxie or words or label


def _check_items(inv: Invoice) -> None:
    """Keep OCR'd item lines only when their amounts and taxes add up to the invoice's.

    A misread digit in one line would otherwise fail the line-sum cross-check and mark a
    genuine invoice as altered; without lines, the invoice still carries its totals.
    """
    if not inv.items:
        return
    amounts = [i.amount for i in inv.items]
    taxes = [i.tax for i in inv.items]
    adds_up = (inv.amount is not None and None not in amounts
               and sum(a for a in amounts if a is not None) == inv.amount
               and (inv.tax is None or (None not in taxes
                                        and sum(t for t in taxes if t is not None) == inv.tax)))
    if not adds_up:
        inv.extra["ocr_items"] = f"{len(inv.items)} item lines read by OCR do not add up: left out"
        inv.items = []
        inv.field_sources.pop("items", None)


def _check_tax_ids(inv: Invoice) -> None:
    """Keep an OCR'd tax ID only when its check character holds (``repair``)."""
    notes: list[str] = []
    for role in ("buyer", "seller"):
        party: Party = getattr(inv, role)
        if party.tax_id is None:
            continue
        fixed = repair_uscc(party.tax_id)
        if fixed == party.tax_id:
            continue
        if fixed is None:
            notes.append(f"{role}.tax_id: OCR read {party.tax_id}, which does not check: dropped")
            inv.field_sources.pop(f"{role}.tax_id", None)
        else:
            notes.append(f"{role}.tax_id: OCR read {party.tax_id}, repaired to {fixed}")
        setattr(inv, role, Party(party.name, fixed))
    if notes:
        inv.extra["ocr_tax_ids"] = "; ".join(notes)


# VAT rates an invoice prints (13%, 9%, 6% and the 5%, 3%, 1% collection rates).
_RATES = (Decimal("0.13"), Decimal("0.09"), Decimal("0.06"), Decimal("0.05"), Decimal("0.03"),
          Decimal("0.01"))


def _tax_fits(amount: Decimal, tax: Decimal) -> bool:
    """Whether ``tax`` is ``amount`` at one of the VAT rates, to the rounding of line taxes."""
    if amount <= 0 or tax <= 0 or tax >= amount:
        return False
    slack = Decimal("0.01") * max(1, int(amount / 1000) + 1)
    return any(abs(amount * r - tax) <= slack for r in _RATES)


_CN = re.compile(r"[\u4e00-\u9fff]")


def _party(p: Party) -> Party:
    """Upper-case tax IDs, full-width brackets in Chinese names (as registered)."""
    name = p.name
    if name and _CN.search(name):
        name = name.replace("(", "（").replace(")", "）")
    return Party(name, p.tax_id.upper() if p.tax_id else None)
