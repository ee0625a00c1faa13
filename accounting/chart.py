"""The chart of accounts (会计科目表), loaded from a CSV file.

A small default of common accounts (企业会计准则 codes: 1001 库存现金, 2241 其他应付款,
22210101 进项税额, 6602 管理费用 and its expense sub-accounts, ...) ships in
``accounting/data/chart.csv``. An organisation replaces it by putting its own
``chart_of_accounts.csv`` (same columns: ``code,name,category,direction``) in the data folder
(``FAPIAO_HOME``). Sub-accounts extend their parent's code (4 digits, then 2 per level), which
gives the full name shown on vouchers, e.g. ``管理费用—差旅费``. Vouchers naming a code that is
not in the chart are refused.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from accounting.errors import AccountingError, bad_input
from core import messages
from core.settings import get_settings

DEFAULT_CHART = Path(__file__).parent / "data" / "chart.csv"
CHART_FILENAME = "chart_of_accounts.csv"
_CATEGORIES = {"asset", "liability", "equity", "cost", "income", "expense", "common"}
_DIRECTIONS = {"debit", "credit"}


@dataclass(frozen=True, slots=True)
class Account:
    code: str
    name: str
    category: str
    direction: str  # normal balance side: debit | credit
    full_name: str  # parent names joined by "—": 应交税费—应交增值税—进项税额


class Chart:
    """An immutable set of accounts, looked up by code."""

    def __init__(self, accounts: list[Account], source: str) -> None:
        self.source = source
        self._by_code = {a.code: a for a in accounts}

    def __contains__(self, code: object) -> bool:
        return code in self._by_code

    def __len__(self) -> int:
        return len(self._by_code)

    def accounts(self) -> list[Account]:
        return sorted(self._by_code.values(), key=lambda a: a.code)

    def get(self, code: str) -> Account | None:
        return self._by_code.get(code.strip())

    def require(self, code: str, where: str = "") -> Account:
        """The account for ``code``, or a bad-input error naming the code and where it was used."""
        account = self.get(code)
        if account is None:
            details = {"account_code": code, "where": where or "分录", "chart": self.source}
            raise bad_input("unknown_account", messages.text("unknown_account", **details), details)
        return account

    def name_matches(self, code: str, name: str) -> bool:
        """True if ``name`` is the account's own name or its full name (with — or - separators)."""
        account = self.get(code)
        if account is None:
            return False
        given = name.strip().replace("-", "—").replace("－", "—").replace("/", "—")
        return given in {account.name, account.full_name}


def parse_chart(text: str, source: str) -> Chart:
    """Read ``code,name,category,direction`` rows; every problem names its line."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = {"code", "name"} - set(reader.fieldnames or [])
    if missing:
        raise _bad_chart(source, f"表头缺少列 {'、'.join(sorted(missing))}")
    rows: list[tuple[str, str, str, str]] = []
    seen: set[str] = set()
    for lineno, row in enumerate(reader, start=2):
        code = (row.get("code") or "").strip()
        name = (row.get("name") or "").strip()
        category = (row.get("category") or "expense").strip() or "expense"
        direction = (row.get("direction") or "debit").strip() or "debit"
        if not code and not name:
            continue
        if not code.isdigit() or len(code) < 4:
            raise _bad_chart(source, f"第 {lineno} 行科目代码“{code}”应为 4 位或更多数字")
        if not name:
            raise _bad_chart(source, f"第 {lineno} 行科目 {code} 没有名称")
        if category not in _CATEGORIES:
            raise _bad_chart(source, f"第 {lineno} 行科目类别“{category}”应为 "
                                    f"{'、'.join(sorted(_CATEGORIES))} 之一")
        if direction not in _DIRECTIONS:
            raise _bad_chart(source, f"第 {lineno} 行余额方向“{direction}”应为 debit 或 credit")
        if code in seen:
            raise _bad_chart(source, f"第 {lineno} 行科目 {code} 重复出现")
        seen.add(code)
        rows.append((code, name, category, direction))
    names = {code: name for code, name, _, _ in rows}
    accounts = []
    for code, name, category, direction in rows:
        parts = [names[p] for p in _parent_codes(code) if p in names]
        accounts.append(Account(code, name, category, direction, "—".join([*parts, name])))
    if not accounts:
        raise _bad_chart(source, "没有任何科目")
    return Chart(accounts, source)


def _bad_chart(source: str, why: str) -> AccountingError:
    return bad_input("bad_chart", messages.text("bad_chart", source=source, why=why),
                     {"source": source, "why": why})


def _parent_codes(code: str) -> list[str]:
    """Ancestors of a code: 4 digits, then every 2 more (22210101 -> 2221, 222101)."""
    return [code[:n] for n in range(4, len(code), 2)]


_cache: dict[tuple[str, int], Chart] = {}


def load_chart(path: Path | None = None) -> Chart:
    """The chart from ``path``, else the data folder's ``chart_of_accounts.csv``, else the default."""
    if path is None:
        candidate = get_settings().home / CHART_FILENAME
        path = candidate if candidate.is_file() else DEFAULT_CHART
    try:
        stamp = path.stat().st_mtime_ns
    except OSError as exc:
        raise _bad_chart(str(path), f"无法读取（{exc.strerror}）") from None
    key = (str(path), stamp)
    chart = _cache.get(key)
    if chart is None:
        chart = parse_chart(path.read_text(encoding="utf-8"), str(path))
        _cache.clear()
        _cache[key] = chart
    return chart
