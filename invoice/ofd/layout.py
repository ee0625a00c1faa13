"""Reading invoice fields from the text printed on an OFD page, by label and position.

This is the last of the four sources (DESIGN §3): used when the attachment, the custom tags
and CustomData leave a field empty (dummy files, 电子凭证 re-issues, 数电票 kinds whose title is
only printed). Labels and values are separate text objects, often in different files (labels
in the template, values on the page), so the page and its templates are merged and a label's
value is the nearest non-label object to its right on the same line. The goods table is read
with its header row as the column guide; rows are told apart by the amount column, so that a
name wrapped over several lines joins up again.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass, field
from functools import lru_cache

from invoice.ofd.xml import TextObj

_SPACE = re.compile(r"\s+")
_TITLE_WORDS = re.compile(r"发票|客票|行程单|回单|通知|对账单|电子凭证|清单")
MONEY = re.compile(r"^-?[¥￥]?-?\d[\d,]*(\.\d+)?$")
RATE = re.compile(r"^(-?\d+(\.\d+)?%|免税|不征税|\*+|零税率|出口零税率|免征)$")

# Normalised label text -> field. Party fields are split into buyer/seller by position.
_LABELS: dict[str, str] = {
    "发票代码": "code",
    "发票号码": "number",
    "开票日期": "issue_date",
    "校验码": "check_code",
    "机器编号": "machine_no",
    "名称": "party.name",
    "纳税人识别号": "party.tax_id",
    "统一社会信用代码/纳税人识别号": "party.tax_id",
    "购买方名称": "buyer.name",
    "销售方名称": "seller.name",
    "统一社会信用代码": "buyer.tax_id",  # railway e-ticket: only the buyer is printed
    "开票人": "drawer",
    "(小写)": "total",
}
# Labels read only when printed with their value in one text ('票价:￥181.00', railway).
_INLINE: dict[str, str] = {"票价": "total", "退票费": "total", "金额": "amount", "税额": "tax",
                           "合计": "total", "填开日期": "issue_date"}
# Other texts that are labels (never a value) though they carry no field we read.
_OTHER_LABELS = {
    "地址、电话", "地址电话", "开户行及账号", "收款人", "复核", "复核人", "价税合计(大写)", "备注", "合计",
    "密码区", "购买方", "销售方", "项目名称", "规格型号", "单位", "数量", "单价", "金额", "税率", "税额",
    "号码", "代码", "所属增值税电子普通发票代码",
}
_HEADERS: dict[str, str] = {
    "项目名称": "name",
    "货物或应税劳务、服务名称": "name",
    "货物或应税劳务名称": "name",
    "规格型号": "spec",
    "单位": "unit",
    "数量": "quantity",
    "单价": "unit_price",
    "金额": "amount",
    "税率": "tax_rate",
    "税率/征收率": "tax_rate",
    "征收率": "tax_rate",
    "税额": "tax",
    "序号": "seq",
}
# The row under the goods lines. Exact words (or a label prefix), so that a goods name such
# as '合同服务费' never ends the table; '合' alone is the template that draws 合 and 计 apart.
_TABLE_END_WORDS = {"合", "合计", "小计", "总计", "折扣", "备注"}
_TABLE_END_PREFIX = ("合计:", "小计:", "总计:", "价税合计")


# A page with more text objects than this is not read by position (an invoice page draws a
# few hundred; a 销货清单 page a few thousand at most).
MAX_OBJECTS_PER_PAGE = 10_000
_MAX_TRIES = 8  # labels of one field whose value is looked for (a real page prints one or two)


def _ends_table(first: str) -> bool:
    return first in _TABLE_END_WORDS or first.startswith(_TABLE_END_PREFIX)


@lru_cache(maxsize=8192)
def norm(text: str) -> str:
    """Label form of a text: no spaces, ASCII parentheses, no trailing colon."""
    t = _SPACE.sub("", text).replace("（", "(").replace("）", ")").replace("：", ":")
    return t.rstrip(":")


def merge_same_box(objs: list[TextObj]) -> list[TextObj]:
    """Join objects drawn in the very same box ('¥' + '4197.17') into one, in drawing order.

    The inputs are never modified (they may be cached): merged objects are new ones.
    """
    groups: dict[tuple[float, float, float, float, bool], list[TextObj]] = {}
    for o in objs:
        groups.setdefault((o.x0, o.y0, o.x1, o.y1, o.from_template), []).append(o)
    out: list[TextObj] = []
    for group in groups.values():
        first = group[0]
        if len(group) == 1:
            if first.text.strip():
                out.append(first)
            continue
        text = "".join(o.text for o in group)
        if text.strip():
            out.append(TextObj(first.id, first.x0, first.y0, first.x1, first.y1, text,
                               first.from_template))
    return out


def _overlap_y(a: TextObj, b: TextObj) -> float:
    inter = min(a.y1, b.y1) - max(a.y0, b.y0)
    return inter / max(min(a.height, b.height), 0.01)


def is_label(o: TextObj) -> bool:
    n = norm(o.text)
    return n in _LABELS or n in _OTHER_LABELS or n in _HEADERS


@dataclass(slots=True)
class Face:
    """Raw strings read off the page, before normalisation."""

    values: dict[str, str] = field(default_factory=dict)
    title: str | None = None
    items: list[dict[str, str]] = field(default_factory=list)
    table_total: tuple[str | None, str | None] = (None, None)  # 合计 row: amount, tax


def find_title(objs: list[TextObj]) -> str | None:
    """The biggest text that names the document kind (发票, 客票, 回单, 对账单 …)."""
    best: TextObj | None = None
    for o in objs:
        t = norm(o.text)
        if len(t) > 40 or not _TITLE_WORDS.search(t):
            continue
        if ":" in t:
            continue
        if best is None or o.height > best.height + 0.01:
            best = o
    return norm(best.text) if best else None


def _value_right_of(label: TextObj, objs: list[TextObj]) -> TextObj | None:
    """The value printed just right of a label on its line (None if another label comes first)."""
    best: TextObj | None = None
    # called for every label over every object: the label's box is read once, and
    # _overlap_y(label, o) is written out (same arithmetic) for the few that get that far
    ly0, ly1, lcx, lx0, height = label.y0, label.y1, label.cx, label.x0, label.height
    x_limit = label.x1 + 15
    for o in objs:
        if o.y1 < ly0 or o.y0 > ly1 or o.cx <= lcx or o.x0 < lx0 or o.x0 > x_limit:
            continue
        if (min(ly1, o.y1) - max(ly0, o.y0)) / max(min(height, o.height), 0.01) < 0.4:
            continue
        if best is None or o.x0 < best.x0:
            best = o
    if best is None or is_label(best):
        return None
    return best


def _inline(text: str) -> tuple[str, str] | None:
    """'发票号码:2211…' -> ('发票号码', '2211…') for labels printed with their value."""
    if ":" not in text and "：" not in text:
        return None
    t = text.replace("：", ":")
    head, _, tail = t.partition(":")
    key = norm(head)
    if (key in _LABELS or key in _INLINE) and tail.strip():
        return key, tail.strip()
    return None


def join_split_labels(objs: list[TextObj]) -> list[TextObj]:
    """Re-join labels some templates draw a glyph or two at a time ('名' … '称：', '数' '量')."""
    short = [o for o in objs if len(o.text.strip()) <= 3]
    if len(short) < 2:
        return objs
    short.sort(key=lambda o: (round(o.cy), o.x0))
    used: set[int] = set()
    joined: list[TextObj] = []
    for i, first in enumerate(short):
        if id(first) in used:
            continue
        run = [first]
        for nxt in short[i + 1:i + 5]:
            prev = run[-1]
            if abs(nxt.cy - first.cy) > 1 or nxt.x0 - prev.x1 > 12 or nxt.x0 < prev.x0:
                break
            run.append(nxt)
            text = "".join(o.text for o in run)
            key = norm(text)
            if key in _LABELS or key in _OTHER_LABELS or key in _HEADERS:
                used.update(id(o) for o in run)
                joined.append(TextObj(run[0].id, run[0].x0, min(o.y0 for o in run), run[-1].x1,
                                      max(o.y1 for o in run), text, run[0].from_template))
                break
    if not joined:
        return objs
    return [o for o in objs if id(o) not in used] + joined


def read_face(objs: list[TextObj]) -> Face:
    """Fields by label, the title, the goods table and its 合计 row from a page's text."""
    objs = join_split_labels(merge_same_box(objs))
    face = Face(title=find_title(objs))
    parties: dict[str, list[tuple[TextObj, str | None]]] = {"party.name": [], "party.tax_id": []}
    # Each label's value is looked for among all objects, so the lookups are bounded: a field
    # already read, a party label beyond the two (buyer, seller) or a field tried
    # _MAX_TRIES times is skipped. This keeps a page of 100,000 labels linear.
    tries: dict[str, int] = {}
    for o in objs:
        key = norm(o.text)
        fld = _LABELS.get(key)
        value: str | None = None
        if fld is None:
            inline = _inline(o.text)
            if inline is None:
                continue
            key, value = inline
            fld = _LABELS.get(key) or _INLINE[key]
        else:
            if len(parties.get(fld, ())) >= 2 or fld in face.values:
                continue
            tries[fld] = tries.get(fld, 0) + 1
            if tries[fld] > _MAX_TRIES:
                continue
            v = _value_right_of(o, objs)
            value = v.text.strip() if v else None
        if fld in parties:
            if len(parties[fld]) < 2:  # kept even when empty: it tells buyer from seller
                parties[fld].append((o, value))
        elif value and fld not in face.values:
            face.values[fld] = value
    for fld, found in parties.items():
        if not found:
            continue
        what = fld.split(".")[1]
        buyer, seller = _split_parties(found)
        if buyer and f"buyer.{what}" not in face.values:
            face.values[f"buyer.{what}"] = buyer
        if seller and f"seller.{what}" not in face.values:
            face.values[f"seller.{what}"] = seller
    face.items, face.table_total = read_table(objs)
    return face


def _split_parties(found: list[tuple[TextObj, str | None]]) -> tuple[str | None, str | None]:
    """Buyer first: left of the seller (数电票 side by side) or above it (old layout)."""
    if len(found) == 1:
        return found[0][1], None
    a, b = found[0], found[1]
    if abs(a[0].x0 - b[0].x0) > 40:
        first, second = (a, b) if a[0].x0 < b[0].x0 else (b, a)
    else:
        first, second = (a, b) if a[0].y0 < b[0].y0 else (b, a)
    return first[1], second[1]


@dataclass(slots=True)
class _Col:
    kind: str | None
    obj: TextObj


def _header_row(objs: list[TextObj]) -> list[_Col] | None:
    name_hdr = next((o for o in objs if _HEADERS.get(norm(o.text)) == "name"), None)
    if name_hdr is None:
        return None
    head_cy = name_hdr.cy
    cols = [
        _Col(_HEADERS.get(norm(o.text)), o)
        for o in objs
        if abs(o.cy - head_cy) < 3 and _overlap_y(name_hdr, o) >= 0.5  # cheap test first
    ]
    cols.sort(key=lambda c: c.obj.x0)
    return cols


def _lines(objs: list[TextObj]) -> list[list[TextObj]]:
    lines: list[list[TextObj]] = []
    for o in sorted(objs, key=lambda o: (o.cy, o.x0)):
        if lines and abs(o.cy - lines[-1][0].cy) < 2.0:
            lines[-1].append(o)
        else:
            lines.append([o])
    for line in lines:
        line.sort(key=lambda o: o.x0)
    return lines


class _Columns:
    """Columns by centre, for the nearest one in O(log n) (a hostile header row may hold
    thousands of objects, and every token of every row asks). Answers as
    ``min(cols, key=distance)`` would: on a tie, the column first in header order."""

    __slots__ = ("_cols", "_order", "_xs")

    def __init__(self, cols: list[_Col]) -> None:
        first: dict[float, tuple[int, _Col]] = {}
        for i, c in enumerate(cols):
            first.setdefault(c.obj.cx, (i, c))
        keys = sorted(first)
        self._xs = keys
        self._order = [first[k][0] for k in keys]
        self._cols = [first[k][1] for k in keys]

    def nearest(self, o: TextObj) -> _Col | None:
        i = bisect_left(self._xs, o.cx)
        near = [j for j in (i - 1, i) if 0 <= j < len(self._xs)]
        if not near:
            return None
        j = min(near, key=lambda j: (abs(self._xs[j] - o.cx), self._order[j]))
        return self._cols[j]


def read_table(objs: list[TextObj]) -> tuple[list[dict[str, str]], tuple[str | None, str | None]]:
    """Goods lines (raw strings per column) and the 合计/小计 amount and tax under them."""
    cols = _header_row(objs)
    if not cols:
        return [], (None, None)
    header_ids = {id(c.obj) for c in cols}
    by_kind = {c.kind: c for c in cols if c.kind}
    name_col = by_kind["name"]
    head_y = max(c.obj.y1 for c in cols)
    after_name = [c.obj.x0 for c in cols if c.obj.x0 > name_col.obj.x1 - 0.5]
    name_limit = min(after_name) if after_name else float("inf")
    seq_limit = by_kind["seq"].obj.x1 if "seq" in by_kind else float("-inf")
    rest_cols = [c for c in cols if c.kind not in ("name", "seq")]
    other_cols = _Columns([c for c in rest_cols if c.kind not in ("amount", "tax", "tax_rate")])
    body = [o for o in objs if id(o) not in header_ids and o.cy > head_y]
    items: list[dict[str, str]] = []
    # continuation lines are collected and joined once (no string grown line by line)
    more_name: dict[int, list[str]] = {}
    more_spec: dict[int, list[str]] = {}
    pending_name: list[str] = []
    total: tuple[str | None, str | None] = (None, None)
    for line in _lines(body):
        first = norm(line[0].text)
        if line[0].x0 < name_limit and _ends_table(first):
            if first.startswith(("合", "小计", "总计")):
                total = _total_row(line, by_kind)
            break
        names = [o for o in line if o.cx > seq_limit and not is_label(o) and
                 (o.x0 < name_col.obj.x0 or o.x1 <= name_limit + 0.5)]
        name_ids = {id(o) for o in names}
        others = [o for o in line if id(o) not in name_ids]
        row = _classify(others, by_kind, other_cols)
        name_text = "".join(o.text.strip() for o in names)
        if "amount" in row:
            if name_text or pending_name:
                row["name"] = "".join(pending_name) + name_text
            pending_name = []
            items.append(row)
        elif name_text or row.get("spec"):
            if items:
                last = len(items) - 1
                more_name.setdefault(last, []).append(name_text)
                if row.get("spec"):
                    more_spec.setdefault(last, []).append(row["spec"])
            else:
                pending_name.append(name_text)
    for i, parts in more_name.items():
        items[i]["name"] = items[i].get("name", "") + "".join(parts)
    for i, parts in more_spec.items():
        items[i]["spec"] = items[i].get("spec", "") + "".join(parts)
    return items, total


def _classify(tokens: list[TextObj], by_kind: dict[str, _Col], other_cols: _Columns) -> dict[str, str]:
    """Assign a row's tokens (right of the name column) to columns, using their types."""
    row: dict[str, str] = {}
    left = list(tokens)
    rate_col = by_kind.get("tax_rate")
    rate: TextObj | None = None
    amount_obj: TextObj | None = None
    if rate_col is not None:
        # '***' may be the rate (差额征税) or the tax (免税): a printed rate wins, then position
        cands = [o for o in left if RATE.match(norm(o.text))]
        rate = min(cands, key=lambda o: (norm(o.text).startswith("*"), abs(o.cx - rate_col.obj.cx)),
                   default=None)
    if rate is not None:
        row["tax_rate"] = rate.text.strip()
        left.remove(rate)
        right = [o for o in left if o.cx > rate.cx and
                 (MONEY.match(norm(o.text)) or RATE.match(norm(o.text)))]
        if right:
            row["tax"] = right[0].text.strip()
            left.remove(right[0])
        before = [o for o in left if o.cx < rate.cx and MONEY.match(norm(o.text))]
        if before:
            amount_obj = before[-1]
            row["amount"] = amount_obj.text.strip()
            left.remove(amount_obj)
    else:
        for kind in ("tax", "amount"):
            col = by_kind.get(kind)
            if col is None:
                continue
            col_x = col.obj.cx
            cands = [o for o in left if MONEY.match(norm(o.text))]
            best = min(cands, key=lambda o: abs(o.cx - col_x), default=None)
            if best is not None and abs(best.cx - col_x) < 15:
                row[kind] = best.text.strip()
                left.remove(best)
                if kind == "amount":
                    amount_obj = best
    for o in left:
        if amount_obj is not None and o.cx >= amount_obj.x0:
            continue
        col = other_cols.nearest(o)
        if col is None or col.kind is None or col.kind in row:
            continue
        row[col.kind] = o.text.strip()
    return row


def _total_row(line: list[TextObj], by_kind: dict[str, _Col]) -> tuple[str | None, str | None]:
    money = [o for o in line if MONEY.match(norm(o.text))]
    if not money:
        return None, None
    if len(money) >= 2:
        return money[0].text.strip(), money[-1].text.strip()
    amount_col, tax_col = by_kind.get("amount"), by_kind.get("tax")
    o = money[0]
    if tax_col is not None and (amount_col is None or
                                abs(o.cx - tax_col.obj.cx) < abs(o.cx - amount_col.obj.cx)):
        return None, o.text.strip()
    return o.text.strip(), None
