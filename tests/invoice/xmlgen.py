"""数电票 XMLs built from parameters, with the ``to_dict`` the reader must give for each.

The expected output is computed here from the same parameters the XML is written from, never
by the reader, so a faster reader that drops, shifts or re-spells a value fails the test that
uses it. The variants are the ones real inboxes hold: 红字 (negative) invoices, 免税 lines
whose tax is ``***``, 100-line lists (repeated and distinct lines), UTF-16 files, a default
or prefixed namespace, pretty-printed layout with comments, a missing ``IssueTime``, an
impossible date, an ``EIid`` that differs from the number, sums that do not add up.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import random
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

RATES = ("0.13", "0.09", "0.06", "0.03", "0.01", "0", "免税")
_FACE = {"0.13": "13%", "0.09": "9%", "0.06": "6%", "0.03": "3%", "0.01": "1%", "0": "0%",
         "免税": "免税"}
_CENT = Decimal("0.01")


@dataclass
class Line:
    name: str
    spec: str | None
    unit: str | None
    quantity: str | None
    unit_price: str | None
    amount: Decimal
    rate: str
    tax: Decimal  # 0 for 免税 (printed as ***)


@dataclass
class Spec:
    """One generated invoice: what is written, and how."""

    number: str
    eiid: str
    label_code: str
    label_name: str
    seller: tuple[str, str]
    buyer: tuple[str, str]
    day: str
    issue_time: bool  # False: only RequestTime is written
    lines: list[Line]
    drawer: str | None
    remark: str | None
    total_skew: Decimal = Decimal(0)  # added to the printed total (a sum that does not add up)
    encoding: str = "utf-8"  # or utf-16 (BOM), utf-16-le, utf-16-be (no BOM)
    ns: str = ""  # "", "default" or "prefix"
    pretty: bool = False
    extra_children: bool = False  # unread elements and comments between the read ones

    @property
    def amount(self) -> Decimal:
        return sum((ln.amount for ln in self.lines), Decimal("0.00"))

    @property
    def tax(self) -> Decimal:
        return sum((ln.tax for ln in self.lines), Decimal("0.00"))

    @property
    def total(self) -> Decimal:
        return self.amount + self.tax + self.total_skew


def _money(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(_CENT)


def make_spec(rnd: random.Random, i: int, *, n_lines: int | None = None, red: bool = False,
              repeat_lines: bool = False) -> Spec:
    """A random invoice; ``red`` makes it a 红字 one (every amount negative)."""
    sign = -1 if red else 1
    count = n_lines if n_lines is not None else rnd.randint(1, 8)
    lines: list[Line] = []
    for j in range(count):
        if repeat_lines and lines:
            lines.append(lines[0])
            continue
        cents = sign * rnd.randint(1, 5_000_000)
        rate = rnd.choice(RATES)
        tax = Decimal(0) if rate == "免税" else (_money(cents) * Decimal(rate)).quantize(_CENT)
        qty = rnd.choice(["1", "2", "0.5", None])
        lines.append(Line(
            name=f"*{rnd.choice(['服务', '办公用品', '餐饮服务'])}*项目{j}",
            spec=rnd.choice([f"M{j}", None]), unit=rnd.choice(["次", "箱", None]),
            quantity=qty if qty is None or not red else f"-{qty}",
            unit_price=rnd.choice([f"{abs(cents) / 100:.2f}", "33.3495145631068", None]),
            amount=_money(cents), rate=rate, tax=tax.quantize(_CENT)))
    number = f"{rnd.randint(10**19, 10**20 - 1)}"
    day = f"{rnd.randint(2019, 2026)}-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}"
    special = rnd.random() < 0.3
    return Spec(
        number=number, eiid=number if rnd.random() < 0.9 else f"{int(number) - 1}",
        label_code="01" if special else "02",
        label_name="增值税专用发票" if special else "普通发票",
        seller=(f"91440101MA5AL{rnd.randint(10000, 99999)}", f"销售方{i}有限公司"),
        buyer=(rnd.choice(["91440106068698695J", "91320200796148368w"]), f"购买方{i}科技有限公司"),
        day=day, issue_time=rnd.random() < 0.85, lines=lines,
        drawer=rnd.choice(["开票人", None]), remark=rnd.choice([f"备注{i}", None]),
        total_skew=Decimal("0.01") if rnd.random() < 0.05 else Decimal(0),
        encoding=rnd.choice(["utf-8"] * 6 + ["utf-16", "utf-16-le", "utf-16-be"]),
        ns=rnd.choice(["", "", "default", "prefix"]), pretty=rnd.random() < 0.3,
        extra_children=rnd.random() < 0.3)


def _el(spec: Spec, name: str, body: str | None) -> str:
    tag = f"fp:{name}" if spec.ns == "prefix" else name
    if body is None:
        return ""
    return f"<{tag}>{body}</{tag}>"


def _box(spec: Spec, name: str, *children: str) -> str:
    tag = f"fp:{name}" if spec.ns == "prefix" else name
    sep = "\n  " if spec.pretty else ""
    noise = ""
    if spec.extra_children:
        noise = f"<!-- {name} -->" + _el(spec, "Unread", "x")
    return f"<{tag}>{sep}{noise}{sep.join(children)}{sep}</{tag}>"


def build(spec: Spec) -> bytes:
    """The XML file ``spec`` describes, in its encoding."""
    e, box = (lambda n, b: _el(spec, n, b)), (lambda n, *c: _box(spec, n, *c))
    lines = [box("IssuItemInformation",
                 e("ItemName", ln.name), e("SpecMod", ln.spec if ln.spec is not None else ""),
                 e("MeaUnits", ln.unit), e("Quantity", ln.quantity),
                 e("UnPrice", ln.unit_price), e("Amount", f"{ln.amount}"),
                 e("TaxRate", ln.rate),
                 e("ComTaxAm", "***" if ln.rate == "免税" else f"{ln.tax}"),
                 e("TotaltaxIncludedAmount", f"{ln.amount + ln.tax}"))
             for ln in spec.lines]
    root_tag = "fp:EInvoice" if spec.ns == "prefix" else "EInvoice"
    xmlns = {"": "", "default": ' xmlns="urn:example:einvoice"',
             "prefix": ' xmlns:fp="urn:example:einvoice"'}[spec.ns]
    supervision = [e("InvoiceNumber", spec.number)]
    if spec.issue_time:
        supervision.append(e("IssueTime", f"{spec.day} 10:11:13"))
    body = (
        box("Header", e("EIid", spec.eiid), e("EInvoiceTag", "SWEI4400"),
            box("InherentLabel", box("GeneralOrSpecialVAT", e("LabelCode", spec.label_code),
                                     e("LabelName", spec.label_name))))
        + box("EInvoiceData",
              box("SellerInformation", e("SellerIdNum", spec.seller[0]),
                  e("SellerName", spec.seller[1])),
              box("BuyerInformation", e("BuyerIdNum", spec.buyer[0]),
                  e("BuyerName", spec.buyer[1])),
              box("BasicInformation", e("TotalAmWithoutTax", f"{spec.amount}"),
                  e("TotalTaxAm", f"{spec.tax}"),
                  e("TotalTax-includedAmount", f"{spec.total}"), e("Drawer", spec.drawer),
                  e("RequestTime", f"{spec.day} 09:00:00")),
              *lines,
              box("AdditionalInformation", e("Remark", spec.remark)) if spec.remark else "")
        + box("TaxSupervisionInfo", *supervision))
    enc = {"utf-8": "UTF-8"}.get(spec.encoding, "UTF-16")
    text = f'<?xml version="1.0" encoding="{enc}"?>\n<{root_tag}{xmlns}>{body}</{root_tag}>\n'
    if spec.encoding == "utf-16":
        return codecs.BOM_UTF16_LE + text.encode("utf-16-le")
    return text.encode(spec.encoding)


def expected(spec: Spec, data: bytes) -> dict[str, Any]:
    """What ``invoice.parse(build(spec)).to_dict()`` must be."""
    items = [{"name": ln.name, "spec": ln.spec, "unit": ln.unit, "quantity": ln.quantity,
              "unit_price": ln.unit_price, "amount": f"{ln.amount}", "tax_rate": _FACE[ln.rate],
              "tax": f"{ln.tax}"} for ln in spec.lines]
    extra: dict[str, str] = {}
    if spec.eiid != spec.number:
        extra["eiid"] = spec.eiid
    if spec.total_skew:
        extra["sum_mismatch"] = (f"amount {spec.amount} + tax {spec.tax} != total "
                                 f"{spec.total}")
    sources = ["kind", "number", "issue_date", "buyer.name", "buyer.tax_id", "seller.name",
               "seller.tax_id", "amount", "tax", "total"]
    if spec.drawer:
        sources.append("drawer")
    if spec.remark:
        sources.append("remarks")
    if items:
        sources.append("items")
    return {
        "kind": "digital_special" if spec.label_code == "01" else "digital_ordinary",
        "source_format": "xml", "code": None, "number": spec.number, "issue_date": spec.day,
        "check_code": None,
        "buyer": {"name": spec.buyer[1], "tax_id": spec.buyer[0].upper()},
        "seller": {"name": spec.seller[1], "tax_id": spec.seller[0]},
        "amount": f"{spec.amount}", "tax": f"{spec.tax}", "total": f"{spec.total}",
        "items": items, "drawer": spec.drawer, "remarks": spec.remark, "key": spec.number,
        "sha256": hashlib.sha256(data).hexdigest(),
        "field_sources": dict.fromkeys(sources, "xml"), "field_locations": {}, "extra": extra,
    }


def corpus(n: int = 300, seed: int = 20261127) -> list[tuple[bytes, dict[str, Any]]]:
    """``n`` random invoices plus the fixed hard cases: 红字, 免税, 100 lines, UTF-16."""
    rnd = random.Random(seed)
    specs = [make_spec(rnd, i) for i in range(n)]
    specs += [make_spec(rnd, n, red=True), make_spec(rnd, n + 1, n_lines=100),
              make_spec(rnd, n + 2, n_lines=100, repeat_lines=True),
              make_spec(rnd, n + 3, n_lines=100, red=True), make_spec(rnd, n + 4, n_lines=17)]
    specs[-1].encoding = "utf-16"
    specs[-2].ns = "prefix"
    specs[-3].ns = "default"
    exempt = make_spec(rnd, n + 5, n_lines=3)
    exempt.lines = [Line("*农产品*蔬菜", None, "公斤", "40", "31.54375", Decimal("1261.75"),
                         "免税", Decimal("0.00"))] * 3
    specs.append(exempt)
    out = []
    for s in specs:
        data = build(s)
        out.append((data, expected(s, data)))
    return out


def dumps(d: dict[str, Any]) -> str:
    return json.dumps(d, ensure_ascii=False, sort_keys=True)
