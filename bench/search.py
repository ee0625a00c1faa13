"""Benchmark of the invoice search (``GET /invoices?q=…``) at 100,000 invoices, on SQLite (FTS5
trigram) and PostgreSQL (pg_trgm GIN).

    .venv/bin/python bench/search.py [--rows 100000] [--repeat 30] [--no-postgres] [--no-sqlite]

A fresh database is migrated (so the search index and its triggers exist, as in production),
then filled with ``--rows`` synthetic invoices: Chinese seller names built from city, trade
name and industry parts, item names, 20-digit numbers and amounts; ``search_text`` is written
with the registry's own ``invoice.search.search_text``. The fill time includes keeping the
index in step (SQLite triggers, the GIN index on PostgreSQL).

Each query runs through ``invoice.registry.list_invoices`` (the page of 50 and the total
count, exactly what the route runs), ``--repeat`` times: median and p99 in ms, and the number
of hits. The baseline is the same query as a plain ``LIKE '%…%'`` scan over ``search_text``
without the index. Query kinds: a rare seller-name fragment (4 characters), a common one, a
2-character fragment (no trigram: scan), an item name, a number fragment (6 digits), an
amount, two words, and a miss.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pgscratch import scratch_database  # noqa: E402  (bench/ is on the path of a bench script)

CITIES = ["北京", "上海", "广州", "深圳", "杭州", "南京", "苏州", "无锡", "成都", "重庆", "武汉", "西安", "天津",
          "长沙", "郑州", "青岛", "厦门", "宁波", "合肥", "昆明", "海口", "大连", "沈阳", "济南", "福州"]
TRADES = ["天鹏", "互联", "三六五", "携程", "华润", "金山", "蓝海", "明德", "恒信", "东方", "星辰", "瑞丰", "博远",
          "鼎盛", "嘉禾", "同舟", "新元", "卓越", "宏图", "汇通", "永安", "春晖", "佳和", "中科", "远航", "安泰"]
INDUSTRIES = ["科技有限公司", "餐饮管理有限公司", "国际旅行社有限公司", "菜篮子工程有限公司", "酒店管理有限公司",
              "信息技术有限公司", "物流有限公司", "文化传媒有限公司", "贸易有限公司", "建设工程有限公司"]
ITEMS = ["*餐饮服务*餐费", "*住宿服务*住宿费", "*经纪代理服务*火车票代订", "*信息技术服务*软件服务费",
         "*运输服务*客运服务费", "*办公用品*打印纸", "*电信服务*通讯费", "*会议服务*会议费", "*培训服务*培训费",
         "*日用杂品*清洁用品", "*计算机配套产品*鼠标", "*汽油*92号车用汽油"]


def _rows(n: int, seed: int = 7) -> Iterator[dict[str, Any]]:
    from invoice.search import search_text

    rnd = random.Random(seed)
    for i in range(n):
        seller = rnd.choice(CITIES) + rnd.choice(TRADES) + rnd.choice(INDUSTRIES)
        number = f"{rnd.randrange(10**19, 10**20)}"
        total = Decimal(rnd.randrange(100, 5_000_000)) / 100
        amount = (total / Decimal("1.06")).quantize(Decimal("0.01"))
        item = rnd.choice(ITEMS)
        fields = {"seller_name": seller, "seller_tax_id": "91320200796148368W", "number": number, "code": None,
                  "key": number, "buyer_name": "无锡天鹏菜篮子工程有限公司", "total": f"{total:.2f}",
                  "amount": f"{amount:.2f}"}
        yield {"id": f"{i:032x}", "key": number, "unique_key": number, "sha256": f"{i:064x}",
               "unique_sha256": f"{i:064x}", "kind": "digital_ordinary", "source_format": "ofd", "code": None,
               "number": number, "issue_date": f"2025-{1 + i % 12:02d}-{1 + i % 28:02d}",
               "buyer_name": fields["buyer_name"], "buyer_tax_id": "91320200796148368W", "seller_name": seller,
               "seller_tax_id": "91320200796148368W", "amount": f"{amount:.2f}", "tax": f"{total - amount:.2f}",
               "total": f"{total:.2f}", "data": json.dumps({"items": [{"name": item}]}, ensure_ascii=False),
               "verification_status": "unsigned", "verification": "{}", "status": "ok", "duplicate_of": None,
               "red_reverses_key": None, "uploaded_by": "bench", "uploaded_at": "2025-12-01 00:00:00+00:00",
               "original_filename": f"{number}.ofd", "size": 1000, "online_check_status": "not_checked",
               "search_text": search_text(fields, [{"name": item}])}


def _fill_sqlite(path: Path, n: int) -> None:
    import sqlite3

    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    rows = _rows(n)
    first = next(rows)
    cols = list(first)
    sql = f"INSERT INTO invoices ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
    conn.execute(sql, [first[c] for c in cols])
    batch: list[list[Any]] = []
    for row in rows:
        batch.append([row[c] for c in cols])
        if len(batch) == 20_000:
            conn.executemany(sql, batch)
            conn.commit()
            batch = []
    conn.executemany(sql, batch)
    conn.commit()
    conn.execute("ANALYZE")
    conn.commit()
    conn.close()


def _fill_postgres(url: str, n: int) -> None:
    import psycopg

    rows = _rows(n)
    first = next(rows)
    cols = list(first)
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        with conn.cursor() as cur, cur.copy(f"COPY invoices ({', '.join(cols)}) FROM STDIN") as copy:
            copy.write_row([first[c] for c in cols])
            for row in rows:
                copy.write_row([row[c] for c in cols])
        conn.execute("ANALYZE invoices")
        conn.commit()


QUERIES = {
    "seller_rare_4ch": None,  # filled from the data: city and trade name of a real seller
    "seller_common_4ch": "科技有限",
    "seller_2ch": "携程",
    "item": "火车票代订",
    "number_fragment_6d": None,  # filled from the data: 6 digits of a real number
    "amount": None,  # filled from the data: a real total
    "two_words": "杭州 会议费",
    "miss": "不存在的供应商",
}


def _timed(fn: Callable[[], Any], repeat: int) -> tuple[dict[str, float], Any]:
    samples: list[float] = []
    result: Any = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        samples.append(time.perf_counter() - t0)
    s = sorted(samples)
    return ({"median_ms": round(statistics.median(s) * 1000, 2),
             "p99_ms": round(s[min(len(s) - 1, int(len(s) * 0.99))] * 1000, 2)}, result)


def _measure(url: str, fill: Callable[[], None], n: int, repeat: int) -> dict[str, Any]:
    from sqlalchemy import text

    from core import db
    from invoice.registry import list_invoices
    from invoice.search import amount_text, terms

    engine = db.make_engine(url)
    db.migrate(engine)
    db.set_engine(engine)
    t0 = time.perf_counter()
    fill()
    out: dict[str, Any] = {"rows": n, "fill_with_index_s": round(time.perf_counter() - t0, 1)}
    with db.session_scope() as s:
        sample = s.execute(text("SELECT number, total FROM invoices WHERE id = :i"), {"i": f"{n // 2:032x}"}).one()
        seller = s.execute(text("SELECT seller_name FROM invoices WHERE id = :i"), {"i": f"{n // 3:032x}"}).one()[0]
    queries = dict(QUERIES, number_fragment_6d=sample[0][7:13], amount=f"{Decimal(sample[1]):,.2f}",
                   seller_rare_4ch=seller[:4])
    sqlite = url.startswith("sqlite")
    results: dict[str, Any] = {}
    for name, q in queries.items():
        assert q is not None

        def run(q: str = q) -> int:
            with db.session_scope() as s:
                return list_invoices(s, q=q, page_size=50)[1]

        def naive(q: str = q) -> int:  # the same terms found by a plain scan that no index serves
            conds = " AND ".join(f"{'instr(search_text, :t' if sqlite else 'strpos(search_text, :t'}{i}) > 0"
                                 for i in range(len(terms(q))))
            params = {f"t{i}": amount_text(t) for i, t in enumerate(terms(q))}
            with db.session_scope() as s:
                s.execute(text(f"SELECT id FROM invoices WHERE {conds} ORDER BY uploaded_at DESC, id LIMIT 50"),
                          params).all()
                return int(s.execute(text(f"SELECT count(*) FROM invoices WHERE {conds}"), params).scalar() or 0)

        run()  # warm
        indexed, hits = _timed(run, repeat)
        scan, scan_hits = _timed(naive, max(3, repeat // 5))
        results[name] = {"q": q, "hits": hits, "indexed": indexed, "scan_without_index": scan,
                         "same_hits_as_scan": hits == scan_hits}
    out["queries"] = results
    db.set_engine(None)
    engine.dispose()
    return out


def bench_sqlite(n: int, repeat: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-search-") as tmp:
        path = Path(tmp) / "bench.sqlite3"
        return _measure(f"sqlite:///{path}", lambda: _fill_sqlite(path, n), n, repeat)


def bench_postgres(n: int, repeat: int) -> dict[str, Any]:
    with scratch_database("bench_search") as url:
        return _measure(url, lambda: _fill_postgres(url, n), n, repeat)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=30)
    ap.add_argument("--no-sqlite", action="store_true")
    ap.add_argument("--no-postgres", action="store_true")
    args = ap.parse_args()
    from core.settings import Settings, override_settings

    with tempfile.TemporaryDirectory(prefix="bench-search-home-") as home:
        override_settings(Settings(home=Path(home), environment="test"))
        report: dict[str, Any] = {}
        if not args.no_sqlite:
            report["sqlite_fts5_trigram"] = bench_sqlite(args.rows, args.repeat)
        if not args.no_postgres:
            report["postgresql_pg_trgm"] = bench_postgres(args.rows, args.repeat)
    print(json.dumps(report, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
