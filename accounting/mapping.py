"""Which accounts an expense claim line is booked to (category → account mapping).

The default (``accounting/data/mapping.csv``) maps the eight standard reimbursement
categories to 管理费用 (6602) sub-accounts. An organisation overrides it with
``account_mapping.csv`` in the data folder, columns ``category,debit_account,
input_vat_deductible``. Every voucher built from claims:

* debits the category's expense account with the amount claimed, net of deductible input VAT;
* for a VAT special invoice (``vat_e_special``, ``digital_special``) in a category whose input
  VAT is deductible, debits 22210101 应交税费—应交增值税—进项税额 with the invoice's tax
  (in proportion when only part of the invoice is claimed);
* credits 2241 其他应付款 (the amount owed to the employee, auxiliary item ``employee``), since
  reimbursement is paid later by the cashier through a separate bank voucher.

业务招待费 input VAT is not deductible (财税〔2016〕36号 附件1 第二十七条: 餐饮服务、娱乐服务、
用于个人消费), so the default maps it with ``input_vat_deductible = no``: the whole amount is
expense.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from accounting.chart import Chart, load_chart
from accounting.errors import AccountingError, bad_input
from core import messages
from core.settings import get_settings

DEFAULT_MAPPING = Path(__file__).parent / "data" / "mapping.csv"
MAPPING_FILENAME = "account_mapping.csv"
PAYABLE_ACCOUNT = "2241"  # 其他应付款 (employee as auxiliary item)
INPUT_VAT_ACCOUNT = "22210101"  # 应交税费—应交增值税—进项税额
SPECIAL_KINDS = frozenset({"vat_e_special", "digital_special"})
DEFAULT_CATEGORY = "其他"
_TRUE = {"yes", "y", "true", "1", "是"}
_FALSE = {"no", "n", "false", "0", "否"}


@dataclass(frozen=True, slots=True)
class CategoryRule:
    category: str
    debit_account: str
    input_vat_deductible: bool


class Mapping:
    def __init__(self, rules: list[CategoryRule], source: str) -> None:
        self.source = source
        self._rules = {r.category: r for r in rules}

    def categories(self) -> list[str]:
        return list(self._rules)

    def rule(self, category: str) -> CategoryRule:
        rule = self._rules.get(category)
        if rule is None:
            details = {"category": category, "categories": "、".join(self._rules)}
            raise bad_input("unknown_category", messages.text("unknown_category", **details),
                            {**details, "categories": list(self._rules)})
        return rule


def _bad_mapping(source: str, why: str) -> AccountingError:
    return bad_input("bad_mapping", messages.text("bad_mapping", source=source, why=why),
                     {"source": source, "why": why})


def parse_mapping(text: str, source: str, chart: Chart) -> Mapping:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = {"category", "debit_account"} - set(reader.fieldnames or [])
    if missing:
        raise _bad_mapping(source, f"表头缺少列 {'、'.join(sorted(missing))}")
    rules: list[CategoryRule] = []
    for lineno, row in enumerate(reader, start=2):
        category = (row.get("category") or "").strip()
        account = (row.get("debit_account") or "").strip()
        flag = (row.get("input_vat_deductible") or "yes").strip().lower()
        if not category:
            continue
        if account not in chart:
            raise _bad_mapping(source, f"第 {lineno} 行类别“{category}”的科目“{account}”"
                                       f"不在会计科目表（{chart.source}）中")
        if flag not in _TRUE | _FALSE:
            raise _bad_mapping(source, f"第 {lineno} 行 input_vat_deductible 的值“{flag}”应为 yes 或 no")
        rules.append(CategoryRule(category, account, flag in _TRUE))
    if not rules:
        raise _bad_mapping(source, "没有任何费用类别")
    for code in (PAYABLE_ACCOUNT, INPUT_VAT_ACCOUNT):
        if code not in chart:
            raise _bad_mapping(source, f"会计科目表（{chart.source}）缺少科目 {code}，"
                                       "由报销单生成凭证时要用到它")
    return Mapping(rules, source)


def load_mapping(path: Path | None = None, chart: Chart | None = None) -> Mapping:
    """The mapping from ``path``, else the data folder's ``account_mapping.csv``, else the default."""
    if path is None:
        candidate = get_settings().home / MAPPING_FILENAME
        path = candidate if candidate.is_file() else DEFAULT_MAPPING
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise _bad_mapping(str(path), f"无法读取（{exc.strerror}）") from None
    return parse_mapping(text, str(path), chart or load_chart())
