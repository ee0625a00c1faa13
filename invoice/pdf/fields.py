"""Read invoice fields from positioned text segments: by label and position first, then by
the shape of the values (a 20-digit number, an 18-character credit code, amounts that add up).

The label pass handles the layouts the tax platform and the old VAT e-invoice systems print:
old-style (buyer block above the seller block, code / number / date / check code top right)
and 数电票 (buyer left, seller right, number and date top right). The shape pass exists for
renders whose positions are broken (values drawn off the page, labels overlapping): every value
it accepts must agree with the others (amount + tax = total = the amount in words), so a
guess that does not add up is never returned.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import combinations

from invoice import normalize
from invoice.model import FieldSource, InvoiceKind, Item, Party
from invoice.pdf.text import Segment

_MONEY = re.compile(r"^-?[¥￥]?\s*-?\d[\d,]*\.\d{2}$")
_NUMBER = re.compile(r"^-?\d[\d,]*(\.\d+)?$")
_RATE = re.compile(r"^(\d{1,2}(\.\d+)?%|免税|免征|不征税|\*{3})$")
_USCC = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$")
_TAX_ID = re.compile(r"^[0-9A-Z]{15,20}$")
_STARS = "***"

_ORG_SUFFIX = ("公司", "店", "部", "中心", "厂", "院", "所", "行", "社", "馆", "学校", "大学",
               "局", "站", "处", "室", "会", "队", "场", "坊", "园", "厅", "吧", "铺", "司")
_SEAL_WORDS = ("税务", "监制", "发票专用章")

_CN_DIGITS = {"零": 0, "壹": 1, "贰": 2, "叁": 3, "肆": 4, "伍": 5, "陆": 6, "柒": 7, "捌": 8,
              "玖": 9}
_CN_UNITS = {"拾": 10, "佰": 100, "仟": 1000}
_CN_BIG = {"万": 10_000, "亿": 100_000_000}


def parse_cn_amount(text: str) -> Decimal | None:
    """The amount written in financial capitals (捌仟捌佰壹拾玖圆陆角整) as a Decimal.

    Used only to cross-check the total; None when the text is not such an amount.
    """
    t = text.replace("元", "圆").replace("正", "整").strip()
    t = t.removeprefix("负")
    if not t or any(c not in _CN_DIGITS and c not in _CN_UNITS and c not in _CN_BIG
                    and c not in "圆角分整" for c in t):
        return None
    if "圆" not in t and "角" not in t and "分" not in t:
        return None
    integer_part, _, frac_part = t.partition("圆")
    if "圆" not in t:
        integer_part, frac_part = "", t
    total = 0
    section = 0
    digit = 0
    for c in integer_part:
        if c in _CN_DIGITS:
            digit = _CN_DIGITS[c]
        elif c in _CN_UNITS:
            section += (digit or 1) * _CN_UNITS[c]
            digit = 0
        elif c in _CN_BIG:
            section += digit
            total += section * _CN_BIG[c]
            section = digit = 0
    total += section + digit
    cents = 0
    m = re.search(r"([零壹贰叁肆伍陆柒捌玖])角", frac_part)
    if m:
        cents += 10 * _CN_DIGITS[m.group(1)]
    m = re.search(r"([零壹贰叁肆伍陆柒捌玖])分", frac_part)
    if m:
        cents += _CN_DIGITS[m.group(1)]
    return Decimal(total) + Decimal(cents) / 100


def money(text: str) -> Decimal | None:
    """A ¥ amount with two decimals as printed in the totals (``¥-1,234.50`` for 红字);
    the conversion is ``invoice.normalize.amount``."""
    t = text.replace(" ", "")
    if _MONEY.match(t) is None:
        return None
    try:
        return normalize.amount(t)
    except normalize.Refused:
        return None


def _plain_money(text: str, tax: bool = False) -> Decimal | None:
    """A table cell's amount; ``***`` (and, in a tax cell, 免税/免征/不征税) is 0.00."""
    t = text.replace(" ", "").replace(",", "")
    if t == _STARS or (tax and t in normalize.NO_TAX_WORDS):
        return Decimal("0.00")
    if not re.fullmatch(r"-?\d+(\.\d+)?", t):
        return None
    try:
        return normalize.amount(t)
    except normalize.Refused:
        return None


# ---------------------------------------------------------------------------------------------
# lines and labels


@dataclass(slots=True)
class Line:
    segments: list[Segment]
    text: str = ""
    # index in ``text`` where each segment starts
    starts: list[int] = field(default_factory=list)

    @property
    def top(self) -> float:
        return min(s.top for s in self.segments)

    @property
    def bottom(self) -> float:
        return max(s.bottom for s in self.segments)

    def segment_at(self, pos: int) -> int:
        idx = 0
        for i, st in enumerate(self.starts):
            if st <= pos:
                idx = i
        return idx

    def x_at(self, pos: int) -> float:
        """Approximate x of the character at ``pos`` (interpolated inside its segment)."""
        i = self.segment_at(pos)
        s = self.segments[i]
        n = max(len(s.compact), 1)
        return s.x0 + (s.x1 - s.x0) * (pos - self.starts[i] + 0.5) / n


def build_lines(segs: list[Segment]) -> list[Line]:
    """Cluster segments into visual lines (top to bottom, each left to right)."""
    lines: list[Line] = []
    for s in sorted(segs, key=lambda s: (s.page, s.cy)):
        for ln in lines[-4:]:
            # Compare with the line's first segment only: chaining through tall neighbours
            # (vertical block labels, the cipher area) would merge two lines into one.
            if s.same_line(ln.segments[0]):
                ln.segments.append(s)
                break
        else:
            lines.append(Line([s]))
    for ln in lines:
        ln.segments.sort(key=lambda s: s.x0)
        pos = 0
        ln.starts = []
        parts = []
        for s in ln.segments:
            ln.starts.append(pos)
            parts.append(s.compact)
            pos += len(s.compact)
        ln.text = "".join(parts)
    return lines


@dataclass(slots=True)
class Label:
    line: Line
    end_seg: int  # index of the segment holding the label's last character
    rest: str  # text after the label inside that segment (after a colon)
    x: float
    y: float


def find_labels(lines: list[Line], pattern: str) -> list[Label]:
    """Every occurrence of a label (regex over the compact line text, colon optional)."""
    rx = re.compile(pattern + r"\s*:?")
    out: list[Label] = []
    for ln in lines:
        for m in rx.finditer(ln.text):
            end = m.end() - 1
            i = ln.segment_at(end)
            seg = ln.segments[i]
            rest = ln.text[m.end(): ln.starts[i] + len(seg.compact)]
            out.append(Label(ln, i, rest, ln.x_at(m.start()), seg.cy))
    return out


def _is_label_like(s: Segment) -> bool:
    t = s.compact
    return t.endswith(":") and not re.fullmatch(r"[\d.:]+", t)


def value_after(label: Label, joiner: str = "") -> str:
    """The value right of a label on its line: the label's own remainder and/or the next
    segments, as long as they follow each other closely (a far segment on the same line is
    another field: a vertical block label, the cipher area, a second column)."""
    parts = [label.rest] if label.rest else []
    segs = label.line.segments
    prev = segs[label.end_seg]
    for s in segs[label.end_seg + 1:]:
        if _is_label_like(s):
            break
        size = max(prev.size, s.size, 1.0)
        # The first value may sit a little away from its label; later pieces must touch.
        limit = 6.0 if not parts else 1.2
        if s.x0 - prev.x1 > limit * size:
            break
        parts.append(s.compact)
        prev = s
    return joiner.join(p for p in parts if p)


def _order_pair(a_xy: tuple[float, float], b_xy: tuple[float, float]) -> bool:
    """True when ``a`` is the buyer's side: left of ``b`` in the 数电 layout (side by side),
    above it in the old layout (stacked)."""
    dx, dy = b_xy[0] - a_xy[0], b_xy[1] - a_xy[1]
    return dx > 0 if abs(dx) > abs(dy) else dy > 0


# ---------------------------------------------------------------------------------------------
# the reader


@dataclass(slots=True)
class PdfFields:
    kind: InvoiceKind = InvoiceKind.UNKNOWN
    code: str | None = None
    number: str | None = None
    issue_date: str | None = None
    check_code: str | None = None
    buyer: Party = field(default_factory=Party)
    seller: Party = field(default_factory=Party)
    amount: Decimal | None = None
    tax: Decimal | None = None
    total: Decimal | None = None
    items: list[Item] = field(default_factory=list)
    drawer: str | None = None
    remarks: str | None = None
    words_total: Decimal | None = None
    sources: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    preview: bool = False
    invoice_title: bool = False
    # printed values refused by ``invoice.normalize`` (field, reason): recorded, never used
    refused: list[tuple[str, normalize.Refused]] = field(default_factory=list)

    def score(self) -> int:
        """How complete and self-consistent the reading is (higher is better)."""
        filled = [self.number, self.issue_date, self.buyer.name, self.seller.name,
                  self.seller.tax_id, self.amount, self.tax, self.total]
        s = sum(v is not None for v in filled)
        if self.items:
            s += 1
        if self.consistent():
            s += 3
        return s

    def consistent(self) -> bool:
        if self.amount is None or self.tax is None or self.total is None:
            return False
        if self.amount + self.tax != self.total:
            return False
        if self.words_total is not None and abs(self.words_total) != abs(self.total):
            return False
        if self.items:
            if sum((i.amount or Decimal(0)) for i in self.items) != self.amount:
                return False
            if sum((i.tax or Decimal(0)) for i in self.items) != self.tax:
                return False
        return True

    def missing_required(self) -> list[str]:
        req = {"number": self.number, "issue_date": self.issue_date, "buyer.name": self.buyer.name,
               "seller.name": self.seller.name, "total": self.total}
        return [k for k, v in req.items() if v is None]


def _norm_date(text: str) -> str | None:
    """The first date in the text (``invoice.normalize.find_date``); raises
    ``normalize.Refused`` for an impossible one."""
    return normalize.find_date(text)


def _kind_from_text(all_text: str) -> InvoiceKind:
    t = all_text
    if "铁路电子客票" in t:
        return InvoiceKind.RAILWAY_TICKET
    if "航空运输电子客票行程单" in t:
        return InvoiceKind.AIR_ITINERARY
    if "电子发票(增值税专用发票)" in t:
        return InvoiceKind.DIGITAL_SPECIAL
    if "电子发票(普通发票)" in t:
        return InvoiceKind.DIGITAL_ORDINARY
    if "增值税电子专用发票" in t or "增值税专用发票" in t:
        return InvoiceKind.VAT_E_SPECIAL
    if "增值税电子普通发票" in t or "增值税普通发票" in t:
        return InvoiceKind.VAT_E_ORDINARY
    return InvoiceKind.UNKNOWN


def read_fields(segs: list[Segment]) -> PdfFields:
    """All fields the text layer gives, with ``sources`` naming ``page_text`` for each."""
    f = PdfFields()
    lines = build_lines(segs)
    all_text = "".join(ln.text for ln in lines)
    f.kind = _kind_from_text(all_text)
    f.invoice_title = "发票" in all_text
    f.preview = "仅供预览" in all_text
    src = FieldSource.PAGE_TEXT.value

    # -- code, number, date, check code ------------------------------------------------------
    for lab in find_labels(lines, r"发票代码"):
        m = re.match(r"\d{10,12}", value_after(lab))
        if m:
            f.code = m.group(0)
            break
    for lab in find_labels(lines, r"发票号码"):
        m = re.match(r"\d{8,20}", value_after(lab))
        if m:
            f.number = m.group(0)
            break
    if f.number is None:
        for s in segs:
            if re.fullmatch(r"\d{20}", s.compact):
                f.number = s.compact
                break
    for lab in find_labels(lines, r"(开票日期|填开日期)"):
        try:
            d = normalize.label_date(value_after(lab))
        except normalize.Refused as exc:  # printed as the date but impossible: refused
            f.refused.append(("issue_date", exc))
            break
        if d:
            f.issue_date = d
            break
    if f.issue_date is None and not f.refused:
        first_refused: normalize.Refused | None = None
        for ln in lines:
            try:
                d = _norm_date(ln.text)
            except normalize.Refused as exc:
                first_refused = first_refused or exc
                continue
            if d:
                f.issue_date = d
                break
        if f.issue_date is None and first_refused is not None:
            f.refused.append(("issue_date", first_refused))
    for lab in find_labels(lines, r"校验码"):
        digits = re.sub(r"\D", "", value_after(lab))
        if len(digits) == 20:
            f.check_code = digits
            break

    # -- parties ---------------------------------------------------------------------------
    f.buyer, f.seller = _read_parties(lines, segs)

    # -- amounts ---------------------------------------------------------------------------
    _read_amounts(f, lines, segs)

    # -- items -----------------------------------------------------------------------------
    f.items = _read_items(lines, segs, f.amount, f.tax)

    # -- drawer ----------------------------------------------------------------------------
    for lab in find_labels(lines, r"开票人"):
        v = value_after(lab)
        if v and not re.search(r"\d", v) and _valid_name(v) and len(v) <= 20:
            f.drawer = v
            break

    f.remarks = _read_remarks(lines, segs, f.drawer)

    for name, value in (("kind", f.kind if f.kind is not InvoiceKind.UNKNOWN else None),
                        ("code", f.code), ("number", f.number), ("issue_date", f.issue_date),
                        ("check_code", f.check_code), ("buyer.name", f.buyer.name),
                        ("buyer.tax_id", f.buyer.tax_id), ("seller.name", f.seller.name),
                        ("seller.tax_id", f.seller.tax_id), ("amount", f.amount), ("tax", f.tax),
                        ("total", f.total), ("drawer", f.drawer), ("remarks", f.remarks)):
        if value is not None:
            f.sources[name] = src
    if f.items:
        f.sources["items"] = src
    return f


def _read_remarks(lines: list[Line], segs: list[Segment], drawer: str | None) -> str | None:
    """Text in the 备注 box: right of the vertical 备/注 label, between the 价税合计 row and
    the signature row (开票人 / 收款人). Only for a sane layout (the label below the totals)."""
    totals = next((ln for ln in lines if "价税合计" in ln.text), None)
    sign = next((ln for ln in lines if re.search(r"开票人|收款人", ln.text)), None)
    label = next((s for s in segs if s.compact == "备"), None)
    if totals is None or sign is None or label is None:
        return None
    if not (totals.bottom - 2 <= label.top and label.bottom <= sign.top + 2):
        return None
    parts = []
    for ln in lines:
        if ln.top < totals.bottom - 1 or ln.bottom > sign.top + 1 or ln is totals:
            continue
        kept = [s for s in ln.segments if s.x0 > label.x1 and s.compact not in ("备", "注")]
        text = ""
        for a, b in zip([None, *kept], kept, strict=False):
            gap = b.x0 - a.x1 if a is not None else 0.0
            text += (" " if a is not None and gap > 0.3 * b.size else "") + b.text.strip()
        if text and text != drawer:
            parts.append(text)
    return "".join(parts) or None


def _read_parties(lines: list[Line], segs: list[Segment]) -> tuple[Party, Party]:
    def pick(labels: list[Label], check: re.Pattern[str] | None) -> list[tuple[Label, str | None]]:
        out: list[tuple[Label, str | None]] = []
        for lab in labels:
            v = value_after(lab) or None
            if v is not None and check is not None:
                v = v.upper()
                m = re.match(r"[0-9A-Z]{15,20}", v)
                v = m.group(0) if m else None
            out.append((lab, v))
        return out

    header = re.compile(_NAME_COL + "|规格型号")
    names = [(lab, v if v is not None and _valid_name(v) else None)
             for lab, v in pick(find_labels(lines, r"名称"), None)
             if not header.search(lab.line.text)]  # the item table's 名称 column
    ids = pick(find_labels(lines, r"纳税人识别号"), _TAX_ID)

    def split(pairs: list[tuple[Label, str | None]]) -> tuple[str | None, str | None]:
        if len(pairs) > 2:
            valued = [p for p in pairs if p[1] is not None]
            pairs = valued if len(valued) == 2 else pairs
        if len(pairs) < 2:
            return (None, None)
        a, b = pairs[0], pairs[1]
        if _order_pair((a[0].x, a[0].y), (b[0].x, b[0].y)):
            return a[1], b[1]
        return b[1], a[1]

    bn, sn = split(names)
    bt, st = split(ids)

    # Shape fallback: two credit codes, two organisation names, ordered by position.
    if bt is None and st is None:
        codes = [s for s in segs if _USCC.match(s.compact)]
        if len(codes) == 2:
            a, b = codes
            bt, st = (a.compact, b.compact) if _order_pair((a.cx, a.cy), (b.cx, b.cy)) else (
                b.compact, a.compact)
    if bn is None and sn is None:
        cands = [s for s in segs if _looks_like_org(s.compact)]
        if len(cands) == 2:
            a, b = cands
            bn, sn = (a.compact, b.compact) if _order_pair((a.cx, a.cy), (b.cx, b.cy)) else (
                b.compact, a.compact)
    return Party(bn, bt), Party(sn, st)


_LABEL_WORDS = ("大写", "小写", "合计", "名称", "纳税人", "识别号", "开票人", "项目", "税率",
                "金额", "税额", "单价", "数量", "规格", "备注", "信用代码", "开票日期", "发票号码")


def _valid_name(t: str) -> bool:
    """A party or person name, not a stray label picked up from a broken layout."""
    return (len(t) >= 2 and ":" not in t and not any(w in t for w in _LABEL_WORDS)
            and not re.fullmatch(r"[\d.¥*%-]+", t))


def _looks_like_org(t: str) -> bool:
    if len(t) < 4 or re.search(r"[\d:*¥]", t) or any(w in t for w in _SEAL_WORDS):
        return False
    if "发票" in t or parse_cn_amount(t) is not None:
        return False
    return t.endswith(_ORG_SUFFIX) and bool(re.search(r"[\u4e00-\u9fff]", t))


def _money_segments(lines: list[Line]) -> list[tuple[Segment, Decimal, Line]]:
    """¥-prefixed amounts; a lone ¥ joins the number right of it."""
    out: list[tuple[Segment, Decimal, Line]] = []
    for ln in lines:
        segs = ln.segments
        for i, s in enumerate(segs):
            t = s.compact
            if t in ("¥", "￥") and i + 1 < len(segs):
                v = _plain_money(segs[i + 1].compact)
                if v is not None and re.search(r"\.\d{2}$", segs[i + 1].compact):
                    out.append((segs[i + 1], v, ln))
            elif t.startswith(("¥", "￥")) or t.startswith("(小写)¥"):
                v = money(t.removeprefix("(小写)"))
                if v is not None:
                    out.append((s, v, ln))
    return out


def _read_amounts(f: PdfFields, lines: list[Line], segs: list[Segment]) -> None:
    monies = _money_segments(lines)
    # the amount in words
    for s in segs:
        v = parse_cn_amount(s.compact)
        if v is not None and v > 0:
            f.words_total = v
            break

    total = None
    for lab in find_labels(lines, r"\(小写\)"):
        v = money(value_after(lab))
        if v is not None:
            total = v
            break
    amount = tax = None
    for ln in lines:
        t = ln.text
        if re.search(r"(?<!税)合计", t) and "价税合计" not in t:
            vals = [(s, v) for s, v, mln in monies if mln is ln]
            stars = [s for s in ln.segments if s.compact in (_STARS, "¥***")]
            vals.sort(key=lambda p: p[0].x0)
            if len(vals) >= 2:
                amount, tax = vals[0][1], vals[1][1]
            elif len(vals) == 1 and stars:
                amount, tax = vals[0][1], Decimal("0.00")
            if amount is not None:
                break
    if total is None and f.words_total is not None and any(
            v == f.words_total for _, v, _ in monies):
        total = f.words_total
    if amount is not None and tax is not None and total is not None and amount + tax == total:
        f.amount, f.tax, f.total = amount, tax, total
        return
    # Shape fallback: three ¥ values where two add up to the third (the largest), agreeing
    # with the amount in words when there is one.
    values = sorted({v for _, v, _ in monies})
    for a, b in combinations(values, 2):
        s_ab = a + b
        if s_ab in values and (f.words_total is None or f.words_total == s_ab):
            big, small = (a, b) if a >= b else (b, a)
            f.amount, f.tax, f.total = big, small, s_ab
            f.notes.append("amounts read by their sums (labels and values not aligned)")
            return
    if total is not None or f.words_total is not None:
        f.total = total if total is not None else f.words_total
        if amount is not None and tax is not None and (
                amount + tax == f.total or tax == Decimal("0.00")):
            f.amount, f.tax = amount, tax


# ---------------------------------------------------------------------------------------------
# items

_NAME_COL = r"(项目名称|货物或应税劳务、?服务名称|货物或应税劳务名称|货物\(劳务\)名称)"
_COLUMNS: tuple[tuple[str, str], ...] = (
    ("seq", r"序号"),  # sales lists (销货清单) number their lines
    ("name", _NAME_COL),
    ("spec", r"规格型号"),
    ("unit", r"单位"),
    ("quantity", r"数量"),
    ("unit_price", r"单价"),
    ("amount", r"金额"),
    ("tax_rate", r"(税率/征收率|征收率|税率)"),
    ("tax", r"税额"),
)


def _header(lines: list[Line], start: int = 0) -> tuple[int, dict[str, float]] | None:
    for idx in range(start, len(lines)):
        ln = lines[idx]
        if not re.search(_NAME_COL, ln.text):
            continue
        centres: dict[str, float] = {}
        for key, rx in _COLUMNS:
            m = re.search(rx, ln.text)
            if m:
                centres[key] = (ln.x_at(m.start()) + ln.x_at(m.end() - 1)) / 2
        if {"name", "amount", "tax"} <= centres.keys():
            xs = [centres[k] for k, _ in _COLUMNS if k in centres]
            if xs == sorted(xs):
                return idx, centres
    return None


def _read_items(lines: list[Line], segs: list[Segment], amount: Decimal | None,
                tax: Decimal | None) -> list[Item]:
    items: list[Item] = []
    head = _header(lines)
    if head is not None:
        items = _items_by_columns(lines, head[0], head[1])
        if any("详见" in (i.name or "") for i in items):
            # The face says 详见销货清单: the items are the lines of the sales list, a later
            # table with its own header (DESIGN §4).
            listed = _header(lines, head[0] + 1)
            if listed is not None:
                lines_items = _items_by_columns(lines, listed[0], listed[1])
                if _items_add_up(lines_items, amount, tax):
                    return lines_items
    if not _items_add_up(items, amount, tax):
        alt = _items_by_shape(lines)
        if alt and (_items_add_up(alt, amount, tax) or not items):
            items = alt
    return items


def _items_add_up(items: list[Item], amount: Decimal | None, tax: Decimal | None) -> bool:
    if not items or amount is None:
        return False
    if sum((i.amount or Decimal(0)) for i in items) != amount:
        return False
    return tax is None or sum((i.tax or Decimal(0)) for i in items) == tax


def _table_end(lines: list[Line], start: int) -> int:
    for j in range(start + 1, len(lines)):
        t = lines[j].text
        if re.search(r"合计|小计|总计", t) or t.startswith("¥") or "(小写)" in t or "(大写)" in t:
            return j
    return len(lines)


def _items_by_columns(lines: list[Line], head_idx: int, centres: dict[str, float]) -> list[Item]:
    keys = [k for k, _ in _COLUMNS if k in centres]
    xs = [centres[k] for k in keys]
    bounds = [(xs[i] + xs[i + 1]) / 2 for i in range(len(xs) - 1)]

    name_i = keys.index("name")
    name_lo = bounds[name_i - 1] if name_i > 0 else float("-inf")
    name_hi = bounds[name_i] if name_i < len(bounds) else float("inf")

    def column(s: Segment) -> str:
        # Item names are left-aligned and may run long: a segment starting in the name column
        # belongs to it whatever its width.
        x = s.x0 + min(s.x1 - s.x0, 12.0) / 2 if name_lo <= s.x0 < name_hi else s.cx
        for k, b in zip(keys, bounds, strict=False):
            if x < b:
                return k
        return keys[-1]

    end = _table_end(lines, head_idx)
    cells: list[tuple[str, Segment]] = []
    for ln in lines[head_idx + 1:end]:
        for s in ln.segments:
            cells.append((column(s), s))
    anchors = [s for k, s in cells if k == "amount" and _plain_money(s.compact) is not None]
    if not anchors:
        return []
    anchors.sort(key=lambda s: s.cy)

    def nearest_anchor(s: Segment) -> int:
        return min(range(len(anchors)), key=lambda i: abs(anchors[i].cy - s.cy))

    rows: list[dict[str, list[Segment]]] = [{} for _ in anchors]
    # Names: a new name starts at a line beginning with "*category*" (or the first line);
    # the lines after it continue it.
    name_segs = sorted((s for k, s in cells if k == "name"), key=lambda s: (round(s.cy), s.x0))
    current = -1
    for s in name_segs:
        a = nearest_anchor(s)
        level = abs(anchors[a].cy - s.cy) <= 0.5 * max(anchors[a].bottom - anchors[a].top, 4.0)
        # Without a "*category*" prefix (older invoices), a name line level with another
        # row's amount starts that row; other lines continue the current name.
        if s.compact.startswith("*") or current < 0 or (
                a != current and level and "name" not in rows[a]):
            current = a
        rows[current].setdefault("name", []).append(s)
    for k, s in cells:
        if k in ("name", "amount", "seq"):
            continue
        i = nearest_anchor(s)
        if abs(anchors[i].cy - s.cy) <= max(anchors[i].bottom - anchors[i].top, 4.0):
            rows[i].setdefault(k, []).append(s)
    for i, anchor in enumerate(anchors):
        rows[i]["amount"] = [anchor]
    out: list[Item] = []
    for row in rows:
        def txt(k: str, row: dict[str, list[Segment]] = row) -> str | None:
            segs = row.get(k)
            if not segs:
                return None
            return "".join(s.compact for s in sorted(segs, key=lambda s: (round(s.cy), s.x0)))
        tax_s = txt("tax")
        out.append(Item(
            name=txt("name"), spec=txt("spec"), unit=txt("unit"), quantity=txt("quantity"),
            unit_price=txt("unit_price"), amount=_plain_money(txt("amount") or ""),
            tax_rate=normalize.tax_rate(txt("tax_rate")),
            tax=_plain_money(tax_s, tax=True) if tax_s is not None else None,
        ))
    return out


def _items_by_shape(lines: list[Line]) -> list[Item]:
    """Rows read right to left: [quantity] [unit price] amount rate tax; names in order."""
    rows: list[tuple[str | None, str | None, Decimal, str, Decimal]] = []
    for ln in lines:
        toks = [s.compact for s in ln.segments]
        if len(toks) < 3 or not _RATE.match(toks[-2]):
            continue
        tax_v = _plain_money(toks[-1], tax=True)
        amount_v = _plain_money(toks[-3])
        if tax_v is None or amount_v is None:
            continue
        rest = [t for t in toks[:-3] if _NUMBER.match(t)]
        price = rest[-1] if rest else None
        qty = rest[-2] if len(rest) >= 2 else None
        rows.append((qty, price, amount_v, toks[-2], tax_v))
    names = [s.compact for ln in lines for s in ln.segments
             if re.match(r"^\*[^*]+\*\S", s.compact)]
    if not rows or len(names) != len(rows):
        return []
    return [Item(name=n, quantity=q, unit_price=p, amount=a, tax_rate=normalize.tax_rate(r), tax=t)
            for n, (q, p, a, r, t) in zip(names, rows, strict=True)]
