"""Invoice search (seller, item, number fragment, amount; Chinese trigram index), sorting and
filter validation, on SQLite (FTS5 trigram) and PostgreSQL (pg_trgm)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import select

from core.blobstore import get_blobstore
from core.db import session_scope
from core.errors import ServiceError
from invoice import search
from invoice.model import Invoice, InvoiceKind, Item, Party, SourceFormat
from invoice.registry import InvoiceRecord, list_invoices, register

BUYER = Party("海南麒麟云服科技有限公司", "91460300MAA92DJN95")


def _register(number: str, seller: str, item: str, total: str, issue_date: str = "2025-11-03",
              user: str = "clerk1") -> InvoiceRecord:
    t = Decimal(total)
    inv = Invoice(kind=InvoiceKind.DIGITAL_ORDINARY, source_format=SourceFormat.XML, number=number,
                  issue_date=issue_date, buyer=BUYER, seller=Party(seller, "91110108690017781B"),
                  amount=(t / Decimal("1.06")).quantize(Decimal("0.01")), tax=None, total=t,
                  items=[Item(name=item, amount=t)])
    content = f"{number}:{seller}".encode()
    sha = get_blobstore().put(content)
    inv.sha256 = sha
    with session_scope() as s:
        return register(s, inv, {"status": "unsigned"}, sha, f"{number}.xml", user, len(content))


@pytest.fixture
def three(engine: Engine) -> dict[str, str]:
    a = _register("24112000000048540001", "无锡天鹏菜篮子工程有限公司", "*餐饮服务*餐费", "1060.00", "2025-11-03")
    b = _register("24112000000048540002", "北京互联三六五科技有限公司", "*信息技术服务*软件服务费", "181.14",
                  "2025-10-15", user="clerk2")
    c = _register("24112000000048549999", "上海携程国际旅行社有限公司", "*经纪代理服务*火车票代订", "25254.62",
                  "2025-12-01")
    return {"a": a.id, "b": b.id, "c": c.id}


def _ids(**kw: object) -> list[str]:
    with session_scope() as s:
        rows, total = list_invoices(s, **kw)  # type: ignore[arg-type]
        assert total == len(rows)
        return [r.id for r in rows]


def test_search_finds_seller_item_number_fragment_and_amount(three: dict[str, str]) -> None:
    a, b, c = three["a"], three["b"], three["c"]
    assert _ids(q="天鹏菜篮子") == [a]  # part of the seller's name (trigram index)
    assert _ids(q="天鹏") == [a]  # two characters: no trigram, still found
    assert set(_ids(q="1b")) == {a, b, c}  # short and in any case: the seller's tax id ends in 1B
    assert _ids(q="软件服务") == [b]  # an item
    assert _ids(q="携程 火车票") == [c]  # every word must match
    assert _ids(q="携程 餐饮") == []
    assert set(_ids(q="4854")) == {a, b, c}  # a number fragment
    assert _ids(q="49999") == [c]
    assert _ids(q="181.14") == [b]  # the amount
    assert _ids(q="25,254.62") == [c]  # as finance staff write it
    assert _ids(q="¥1060") == [a]
    assert _ids(q="不存在的公司") == []
    assert _ids(q="海南麒麟云服") == []  # the buyer (the organisation itself) is not searched
    assert _ids(q='"%_\\') == []  # LIKE and FTS syntax characters are plain text


def test_search_index_follows_updates_and_deletes(three: dict[str, str]) -> None:
    with session_scope() as s:
        rec = s.get(InvoiceRecord, three["a"])
        assert rec is not None
        rec.seller_name = "苏州新区园林绿化有限公司"
        s.add(rec)
    assert _ids(q="园林绿化") == [three["a"]]
    assert _ids(q="天鹏菜篮子") == []


def test_search_index_is_the_trigram_index_on_each_engine(three: dict[str, str], engine: Engine) -> None:
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            found = conn.execute(text(f"SELECT count(*) FROM {search.FTS_TABLE} WHERE {search.FTS_TABLE} "
                                      "MATCH :q"), {"q": search.fts_phrase("菜篮子")}).scalar()
            assert found == 1
        else:
            index = conn.execute(text("SELECT indexdef FROM pg_indexes WHERE indexname = :n"),
                                 {"n": search.PG_INDEX}).scalar()
            assert index is not None and "gin_trgm_ops" in index


def test_sort_and_filters(three: dict[str, str]) -> None:
    a, b, c = three["a"], three["b"], three["c"]
    assert _ids(sort="-issue_date") == [c, a, b]
    assert _ids(sort="total") == [b, a, c]
    assert _ids(sort="seller_name,-total")[0] in {a, b, c}
    assert _ids(uploaded_by="clerk2") == [b]
    assert _ids(date_from="2025-11-01", date_to="2025-11-30") == [a]
    assert _ids(date_from="", date_to="") == _ids()  # empty is "no filter"
    with session_scope() as s:
        first, total = list_invoices(s, sort="total", page=2, page_size=1)
    assert total == 3 and [r.id for r in first] == [a]


@pytest.mark.parametrize(("kw", "code", "words"), [
    ({"date_from": "2025-13-01"}, "validation_error", "“2025-13-01”不是有效日期"),
    ({"date_to": "yesterday"}, "validation_error", "结束日期"),
    ({"date_from": "2025-12-01", "date_to": "2025-11-01"}, "validation_error", "晚于结束日期"),
    ({"sort": "sha256"}, "bad_sort", "不能按“sha256”排序"),
    ({"sort": "total,total"}, "bad_sort", "可以排序的列"),
    ({"page_size": 501}, "bad_page", "每页条数"),
    ({"status": "lost"}, "bad_filter", "status"),
])
def test_invalid_list_requests_are_refused_in_chinese(three: dict[str, str], kw: dict[str, object], code: str,
                                                      words: str) -> None:
    with pytest.raises(ServiceError) as exc, session_scope() as s:
        list_invoices(s, **kw)  # type: ignore[arg-type]
    assert exc.value.code == code and words in exc.value.message
    assert getattr(exc.value, "http_status", None) == 422


def test_search_text_is_written_on_insert(three: dict[str, str]) -> None:
    with session_scope() as s:
        rec = s.exec(select(InvoiceRecord).where(InvoiceRecord.id == three["b"])).one()
        assert rec.search_text is not None
        for part in ("北京互联三六五科技有限公司", "24112000000048540002", "*信息技术服务*软件服务费", "181.14"):
            assert part in rec.search_text


def test_query_helpers() -> None:
    assert search.as_amount("¥25,254.62") == Decimal("25254.62")
    assert search.as_amount("天鹏") is None and search.as_amount("NaN") is None
    assert search.fts_phrase('a"b') == '"a""b"'
    assert search.like_pattern("5%_") == "%5\\%\\_%"
    assert search.terms("  携程  火车票 携程 ") == ["携程", "火车票"]
    assert search.amount_text("¥1,060") == "1060.00" and search.amount_text("1060元") == "1060.00"
    assert search.amount_text("469883") == "469883"  # a digit fragment stays a fragment
    assert search.amount_text("天鹏.") == "天鹏."


def test_upgrading_a_database_with_invoices_indexes_them(db_url: str) -> None:
    """Invoices registered before the search migration are found after it (backfill + index)."""
    from alembic import command
    from alembic.config import Config

    from core import db as core_db

    engine = core_db.make_engine(db_url)
    cfg = Config()
    cfg.set_main_option("script_location", str(core_db.MIGRATIONS_DIR))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0008_audit_append_only")
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO invoices (id, key, unique_key, sha256, unique_sha256, kind, source_format, number, "
            "seller_name, total, amount, data, verification_status, verification, status, uploaded_by, "
            "uploaded_at, original_filename, size, online_check_status) VALUES ('old1', '24112000000048547777', "
            "'24112000000048547777', :sha, :sha, 'digital_ordinary', 'xml', '24112000000048547777', "
            "'无锡天鹏菜篮子工程有限公司', 1060.00, 1000.00, :data, 'unsigned', '{}', 'ok', 'clerk', "
            "'2025-11-03 00:00:00+00:00', 'old.xml', 1, 'not_checked')"),
            {"sha": "a" * 64, "data": '{"items": [{"name": "*餐饮服务*餐费"}]}'})
    core_db.migrate(engine)
    core_db.set_engine(engine)
    try:
        for q in ("天鹏菜篮子", "餐饮服务", "47777", "¥1,060"):
            assert _ids(q=q) == ["old1"], q
    finally:
        core_db.set_engine(None)
        engine.dispose()
