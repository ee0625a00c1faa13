"""Full-text search over invoices: seller, items, number fragments and amounts, in Chinese.

Finance staff look an invoice up by a piece of what is printed on it: part of the seller's
name (``天鹏``), an item (``餐饮服务``), the last digits of the number, or the amount. Chinese
has no spaces between words, so a word tokenizer finds nothing; trigram indexes (every run of
three characters) serve substring search in any script:

* SQLite: an FTS5 table with the ``trigram`` tokenizer (SQLite ≥ 3.34) over the column
  ``invoices.search_text`` (external content, rows matched by ``rowid``), kept in sync by
  triggers on ``invoices``, so every insert, update and delete updates the index in the same
  transaction.
* PostgreSQL: a ``pg_trgm`` GIN index on ``invoices.search_text``; ``ILIKE '%…%'`` uses it.
  (pg_trgm takes CJK characters as word characters under a UTF-8 ``LC_CTYPE`` such as
  ``C.UTF-8`` or ``zh_CN.UTF-8``; under plain ``C`` the search is still right, only slower.)

``search_text`` itself is one line of the searchable fields, written by the registry when a
record is inserted or changed. The buyer is left out: it is the organisation itself on every
invoice, so it would match everything. A term shorter than three characters has no trigram: it
is matched by a plain scan of ``search_text`` (``LIKE`` on SQLite, ``strpos`` on PostgreSQL,
where an ``ILIKE`` would make the planner read the whole GIN index, several times slower). A term written as an amount
(``1,060.00``, ``¥181.14``, ``1060元``) is searched as the amount's text (``1060.00``), which
``search_text`` holds, so amounts use the same index as everything else.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

FTS_TABLE = "invoices_fts"
PG_INDEX = "ix_invoices_search_trgm"
MIN_TRIGRAM = 3
MAX_TERMS = 8

SQLITE_DDL = (
    f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5(search_text, content='invoices', "
    "content_rowid='rowid', tokenize='trigram')",
    f"CREATE TRIGGER {FTS_TABLE}_ai AFTER INSERT ON invoices BEGIN "
    f"INSERT INTO {FTS_TABLE}(rowid, search_text) VALUES (new.rowid, new.search_text); END",
    f"CREATE TRIGGER {FTS_TABLE}_ad AFTER DELETE ON invoices BEGIN "
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, search_text) VALUES ('delete', old.rowid, old.search_text); END",
    f"CREATE TRIGGER {FTS_TABLE}_au AFTER UPDATE OF search_text ON invoices BEGIN "
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, search_text) VALUES ('delete', old.rowid, old.search_text); "
    f"INSERT INTO {FTS_TABLE}(rowid, search_text) VALUES (new.rowid, new.search_text); END",
)
SQLITE_REBUILD = f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')"
SQLITE_DROP = (f"DROP TRIGGER IF EXISTS {FTS_TABLE}_au", f"DROP TRIGGER IF EXISTS {FTS_TABLE}_ad",
               f"DROP TRIGGER IF EXISTS {FTS_TABLE}_ai", f"DROP TABLE IF EXISTS {FTS_TABLE}")
PG_DDL = ("CREATE EXTENSION IF NOT EXISTS pg_trgm",
          f"CREATE INDEX IF NOT EXISTS {PG_INDEX} ON invoices USING gin (search_text gin_trgm_ops)")
PG_DROP = (f"DROP INDEX IF EXISTS {PG_INDEX}",)


def search_text(fields: Mapping[str, Any], items: Iterable[Any] = ()) -> str:
    """The searchable line of one invoice: seller, number, code, key, items, amounts."""
    parts: list[str] = []
    for name in ("seller_name", "seller_tax_id", "number", "code", "key"):
        value = fields.get(name)
        if value:
            parts.append(str(value))
    for item in items or ():
        item_name = item.get("name") if isinstance(item, Mapping) else None
        if item_name:
            parts.append(str(item_name))
    for name in ("total", "amount"):
        value = fields.get(name)
        if value is not None and value != "":
            parts.append(str(value))
    seen: dict[str, None] = dict.fromkeys(p.strip() for p in parts if p and p.strip())
    return " ".join(seen)[:4000]


def terms(q: str) -> list[str]:
    """The words of a query (whitespace separated, duplicates dropped, at most ``MAX_TERMS``)."""
    return list(dict.fromkeys(t for t in q.split() if t))[:MAX_TERMS]


def amount_text(term: str) -> str:
    """The term as ``search_text`` writes amounts when it is written like one (a thousands
    separator, a currency sign, 元, or two decimals), else the term itself: ``¥1,060`` →
    ``1060.00``, while ``469883`` stays a digit fragment (of a number or an amount)."""
    formatted = any(mark in term for mark in (",", "，", "¥", "￥", "元", "."))
    value = as_amount(term) if formatted else None
    return f"{value:.2f}" if value is not None and value >= 0 else term


def fts_phrase(term: str) -> str:
    """One term as an FTS5 phrase: a substring match under the trigram tokenizer."""
    return '"' + term.replace('"', '""') + '"'


def as_amount(term: str) -> Decimal | None:
    """The term as an amount in yuan (``1,060.00``, ``¥181.14``), or None."""
    cleaned = term.replace(",", "").replace("，", "").replace("¥", "").replace("￥", "").replace("元", "")
    if not cleaned or not any(c.isdigit() for c in cleaned):
        return None
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        return None
    if not value.is_finite() or abs(value) >= Decimal("1e15"):
        return None
    return value.quantize(Decimal("0.01"))


def like_pattern(term: str) -> str:
    """``%term%`` with LIKE's wildcards escaped (escape character backslash)."""
    return "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
