"""How the page writes money, times and labels for Chinese finance staff.

- Money: ``¥25,254.62`` — the yuan sign, thousands separators, always two decimals, from the
  decimal string the services give (never through float).
- Times: China time (Asia/Shanghai), ``2025-11-20 14:05``; the services keep UTC.
- Labels: the catalogue first (``core.messages.label``); for domains other areas own, the
  page's fallback words (``core.messages.web.FALLBACK_LABELS``) only while the owner has none,
  so a code never reaches the page.
- ``readable``: a service message is shown only when it is written for people (Chinese);
  English developer text is replaced by the page's own wording.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from core import messages
from core.messages.web import FALLBACK_LABELS

CHINA = ZoneInfo("Asia/Shanghai")

# Latin words a person may read on the page: format names, units, standards.
ALLOWED_WORDS = frozenset({
    "OFD", "PDF", "XML", "JSON", "ZIP", "zip", "Excel", "xlsx", "SHA", "SM2", "SM3", "SM4", "MB", "KB",
    "GB", "CA", "QR", "BagIt", "DA", "T", "ID", "HTTP", "OFD.xml", "Bearer", "Authorization",
})
_WORD = re.compile(r"[A-Za-z][A-Za-z]+")
_CJK = re.compile(r"[\u3400-\u9fff]")


def money(value: Any, sign: bool = True) -> str:
    """``"25254.62"`` → ``¥25,254.62``; empty for no value; the text itself when not a number."""
    if value is None or value == "":
        return ""
    try:
        d = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    if not d.is_finite():
        return str(value)
    text = f"{d.quantize(Decimal('0.01')):,.2f}"
    if not sign:
        return text
    return f"-¥{text[1:]}" if text.startswith("-") else f"¥{text}"


def china_time(value: Any, seconds: bool = False) -> str:
    """An ISO timestamp (any offset) or datetime in China time, ``YYYY-MM-DD HH:MM``."""
    if value is None or value == "":
        return ""
    if isinstance(value, datetime):
        dt = value
    else:
        try:
            dt = datetime.fromisoformat(str(value))
        except ValueError:
            return str(value)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=ZoneInfo("UTC"))
    return dt.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def day(value: Any) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, (date, datetime)):
        return value.strftime("%Y-%m-%d")
    return str(value)[:10]


def label(domain: str, value: Any) -> str:
    """The Chinese word for ``value`` in ``domain``: the catalogue, else the page's fallback."""
    if value is None or value == "":
        return ""
    key = str(value)
    found = messages.label(domain, key)
    if found != key:
        return found
    return FALLBACK_LABELS.get(domain, {}).get(key, key)


def english_words(text: str) -> list[str]:
    """Latin words in ``text`` other than format names and units (what a person should not read)."""
    return [w for w in _WORD.findall(text or "") if w not in ALLOWED_WORDS]


def readable(text: Any, fallback: str = "") -> str:
    """``text`` when it is written for people (Chinese, no English words), else ``fallback``."""
    if not text:
        return fallback
    s = str(text)
    if _CJK.search(s) and not english_words(_strip_quoted(s)):
        return s
    return fallback


def _strip_quoted(s: str) -> str:
    """Names quoted in a message (file names, seller names) may contain Latin letters."""
    s = re.sub(r"“[^”]*”|「[^」]*」|'[^']*'|\"[^\"]*\"", "", s)
    return re.sub(r"[\w.\-/]+\.(ofd|pdf|xml|OFD|PDF|XML|xlsx|zip)\b", "", s)


JS_DOMAINS = ("check", "check_result", "check_property", "online_status", "export_status", "retention",
              "invoice_status", "verify_status", "claim_state", "voucher_state")


def js_labels() -> dict[str, dict[str, str]]:
    """The labels the page's script needs (report rows, statuses), catalogue over fallback."""
    out: dict[str, dict[str, str]] = {}
    for domain in JS_DOMAINS:
        merged = dict(FALLBACK_LABELS.get(domain, {}))
        merged.update(messages.LABELS.get(domain, {}))
        out[domain] = merged
    return out


def install(env: Any) -> None:
    """Register the filters and globals on a Jinja2 environment."""
    env.filters.update(money=money, china_time=china_time, day=day, readable=readable)
    env.globals.update(label=label, money=money, china_time=china_time, js_labels=js_labels,
                       allowed_words=sorted(ALLOWED_WORDS))
