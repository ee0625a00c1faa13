"""Renditions a person reads: the 记账凭证 and the 报销单 as PDF/A-3b.

Finance staff recognise the paper forms, so the PDFs are laid out like them: the 记账凭证
with 单位, 日期, 凭证字号, the 摘要/科目/借方/贷方 table, 合计 in figures and in 大写,
附件张数 and the 制单/审核/记账 names; the 报销单 with 报销人, 部门, 事由, the lines and
their invoices, 合计 大写 and every 审核/审批 step with name and time. Times are China time,
states and actions Chinese (``core.messages`` labels), and the original invoices are listed.

They are made from HTML templates (``archive/templates``) by WeasyPrint, which writes PDF/A
(identification in XMP, an sRGB output intent) and embeds a subset of every font it uses. The
CJK font comes from the operating system (Debian: fonts-wqy-microhei / fonts-wqy-zenhei /
fonts-noto-cjk); without one the rendition would show empty boxes, so rendering refuses.

A rendition is for reading; the evidence is the schema XML and the original invoices beside it.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from archive.records import ClaimRecord, VoucherRecord
from core import messages
from core.clock import CHINA

TEMPLATES = Path(__file__).parent / "templates"
PDF_VARIANT = "pdf/a-3b"
# Families tried in order; each is packaged by Debian (fonts-wqy-microhei, fonts-wqy-zenhei,
# fonts-noto-cjk).
CJK_FAMILIES = ("WenQuanYi Micro Hei", "WenQuanYi Zen Hei", "Noto Sans CJK SC", "Noto Serif CJK SC")

_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_UNITS = ("", "拾", "佰", "仟")
_GROUPS = ("", "万", "亿", "万亿")


class RenditionError(Exception):
    """A rendition cannot be made faithfully (no CJK font, WeasyPrint missing)."""

    def __init__(self, code: str, **params: str) -> None:
        super().__init__(messages.text(code, **params))
        self.code = code
        self.params = params


def rmb_upper(amount: Decimal) -> str:
    """An amount in 大写 as written on vouchers and cheques: 壹仟贰佰叁拾肆元伍角陆分, …元整.

    Zeros follow the usual rules: one 零 for a run of zeros inside the number, none at the
    end of a group, 整 when there are no 角/分; negatives are prefixed 负.
    """
    q = amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    sign = "负" if q < 0 else ""
    cents = abs(int(q * 100))
    yuan, jiao, fen = cents // 100, cents // 10 % 10, cents % 10
    out = ""
    if yuan:
        groups: list[int] = []
        n = yuan
        while n:
            groups.append(n % 10000)
            n //= 10000
        zero_pending = False
        for gi in range(len(groups) - 1, -1, -1):
            g = groups[gi]
            if g == 0:
                zero_pending = bool(out)
                continue
            if out and (zero_pending or g < 1000):
                out += "零"
            zero_pending = False
            part = ""
            gz = False
            for pos in range(3, -1, -1):
                d = g // (10 ** pos) % 10
                if d == 0:
                    gz = bool(part)
                    continue
                if gz:
                    part += "零"
                    gz = False
                part += _DIGITS[d] + _UNITS[pos]
            out += part + _GROUPS[gi]
        out += "元"
    if not jiao and not fen:
        return sign + (out or "零元") + "整"
    if jiao:
        out += _DIGITS[jiao] + "角"
    elif yuan:
        out += "零"
    if fen:
        out += _DIGITS[fen] + "分"
    return sign + out


def china_time(t: datetime | None) -> str:
    """``2025-11-03 14:05`` in Beijing time (the forms say so once in their header)."""
    if t is None:
        return ""
    return t.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")


def china_date(t: datetime) -> str:
    d = t.astimezone(CHINA).date()
    return f"{d.year}年{d.month:02d}月{d.day:02d}日"


def _money(v: Decimal | None) -> str:
    return "" if v is None else f"{v:,.2f}"


# Where Debian's packages put them, for a machine without the fc-list tool.
CJK_FONT_FILES = ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
                  "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
                  "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc")


@lru_cache(maxsize=1)
def cjk_font_installed() -> bool:
    """Whether one of the CJK families is installed (checked once per process)."""
    exe = shutil.which("fc-list")
    if exe is not None:
        out = subprocess.run([exe, ":lang=zh", "family"], capture_output=True, text=True, timeout=30,
                             check=False).stdout
        if any(f in out for f in CJK_FAMILIES):
            return True
    return any(Path(f).is_file() for f in CJK_FONT_FILES)


@lru_cache(maxsize=1)
def _env() -> Environment:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(["html"]),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["money"] = _money
    env.filters["upper_rmb"] = rmb_upper
    env.filters["cn_time"] = china_time
    env.globals["label"] = messages.label
    return env


@dataclass(frozen=True)
class FormContext:
    """What both forms show around the record."""

    org_name: str
    archival_code: str
    reviewers: str
    invoice_files: dict[str, str]  # invoice key -> file name inside the package


def _html_to_pdf(html: str) -> bytes:
    if not cjk_font_installed():
        raise RenditionError("records.render.no_cjk_font", families="、".join(CJK_FAMILIES))
    try:
        import weasyprint
    except ImportError as exc:  # pragma: no cover - a dependency in pyproject
        raise RenditionError("records.render.no_weasyprint", error=str(exc)) from None
    doc = weasyprint.HTML(string=html, base_url=str(TEMPLATES))
    return bytes(doc.write_pdf(pdf_variant=PDF_VARIANT) or b"")


def voucher_html(rec: VoucherRecord, ctx: FormContext) -> str:
    """The 记账凭证 as HTML (also usable by a web page)."""
    return _env().get_template("voucher.html").render(
        v=rec, ctx=ctx, fonts=CJK_FAMILIES, date_cn=f"{rec.date.year}年{rec.date.month:02d}月{rec.date.day:02d}日",
        total_upper=rmb_upper(rec.total_debit))


def claims_html(rec: VoucherRecord, ctx: FormContext) -> str:
    """Every 报销单 of the voucher as HTML, one per page."""
    return _env().get_template("claims.html").render(v=rec, ctx=ctx, fonts=CJK_FAMILIES,
                                                     signers=_claim_signers, china_date=china_date)


def _claim_signers(c: ClaimRecord) -> dict[str, str]:
    """Who signed which box of the paper form: the latest actor of each action."""
    out: dict[str, str] = {}
    for s in c.steps:
        out[s.action] = s.actor
    return out


def voucher_pdf(rec: VoucherRecord, ctx: FormContext) -> bytes:
    """The 记账凭证 as PDF/A-3b."""
    return _html_to_pdf(voucher_html(rec, ctx))


def claims_pdf(rec: VoucherRecord, ctx: FormContext) -> bytes:
    """The 报销单 of the voucher as PDF/A-3b (one page per claim)."""
    return _html_to_pdf(claims_html(rec, ctx))


__all__ = [
    "PDF_VARIANT",
    "FormContext",
    "RenditionError",
    "china_time",
    "cjk_font_installed",
    "claims_html",
    "claims_pdf",
    "rmb_upper",
    "voucher_html",
    "voucher_pdf",
]
