"""Claims and postings per second (target: >= 200 postings/s on 2 cores).

Usage: .venv/bin/python bench/accounting.py [--n 10000] [--pg URL]

Registers N invoices (rows inserted directly: parsing has its own benchmark), then times, each
as one transaction per operation exactly as the API runs them: creating claims, taking them
through submit and approve, building one voucher per claim, and posting (入账) each voucher.
Every step appends to the audit chain, which is verified at the end.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text
from sqlmodel import select

from accounting.claims import approve_claim, create_claim, submit_claim
from accounting.ledger import Voucher, create_voucher_from_claims, post_voucher, review_voucher
from core import db
from core.audit import verify_chain
from core.settings import Settings, override_settings
from core.users import create_user
from invoice.registry import InvoiceRecord

ORG, TAX_ID = "海南麒麟云服科技有限公司", "91460300MAA92DJN95"


def _invoices(n: int) -> list[str]:
    ids = []
    with db.session_scope() as s:
        for i in range(n):
            number = f"2511{i:016d}"
            rec = InvoiceRecord(
                key=number, unique_key=number, sha256=number.rjust(64, "0"), unique_sha256=number.rjust(64, "0"),
                kind="digital_special" if i % 2 else "digital_ordinary", source_format="xml", number=number,
                issue_date=date(2025, 11, 3), buyer_name=ORG, buyer_tax_id=TAX_ID, seller_name="某某科技有限公司",
                seller_tax_id="91110108690017781B", amount=Decimal("100.00"), tax=Decimal("6.00"),
                total=Decimal("106.00"), data={}, verification_status="valid", verification={}, status="ok",
                uploaded_by="clerk", original_filename=f"{number}.xml", size=1)
            s.add(rec)
            ids.append(rec.id)
    return ids


def _rate(label: str, count: int, seconds: float) -> float:
    rate = count / seconds
    print(f"  {label:<42} {count:>6} in {seconds:7.2f} s  = {rate:8.1f} /s")
    return rate


def _timed(label: str, items: list[str], fn: Callable[[str], str | None], threads: int) -> tuple[float, list[str]]:
    """Run ``fn`` once per item (each call one transaction), on ``threads`` workers."""
    t = time.perf_counter()
    if threads == 1:
        results = [fn(i) for i in items]
    else:
        with ThreadPoolExecutor(threads) as pool:
            results = list(pool.map(fn, items))
    return _rate(label, len(items), time.perf_counter() - t), [r for r in results if r]


def run(url: str, n: int, threads: int) -> dict[str, float]:
    engine = db.make_engine(url)
    db.migrate(engine)
    db.set_engine(engine)
    with db.session_scope() as s:
        clerk = create_user(s, "clerk", "clerk")
        boss = create_user(s, "boss", "approver")
        acct = create_user(s, "acct", "accountant")
        checker = create_user(s, "checker", "accountant")  # 审核 by someone other than the maker
    invoice_ids = _invoices(n)
    out: dict[str, float] = {}

    def create(inv: str) -> str:
        with db.session_scope() as s:
            return create_claim(s, clerk, "出差报销", "销售部", None, [{"invoice_id": inv, "category": "差旅费"}]).id

    def submit_approve(cid: str) -> None:
        with db.session_scope() as s:
            submit_claim(s, clerk, cid)
        with db.session_scope() as s:
            approve_claim(s, boss, cid)

    def book(cid: str) -> str:
        with db.session_scope() as s:
            return create_voucher_from_claims(s, acct, [cid], date="2025-11-28").id

    def post(vid: str) -> None:
        with db.session_scope() as s:
            review_voucher(s, checker, vid)
        with db.session_scope() as s:
            post_voucher(s, acct, vid)

    w = f", {threads} workers" if threads > 1 else ""
    out["claims_created"], claim_ids = _timed(f"claims created{w}", invoice_ids, create, threads)
    out["claims_approved"], _ = _timed(f"claims submitted + approved (2 tx){w}", claim_ids, submit_approve, threads)
    out["vouchers"], voucher_ids = _timed(f"vouchers built from claims{w}", claim_ids, book, threads)
    out["postings"], _ = _timed(f"reviews + postings (审核, 入账: 2 tx){w}", voucher_ids, post, threads)
    t = time.perf_counter()
    with db.session_scope() as s:
        report = verify_chain(s)
        numbers = sorted(v.seq for v in s.exec(select(Voucher).where(Voucher.period == "2025-11")).all())
    print(f"  audit chain: ok={report.ok}, {report.entries} entries, verified in {time.perf_counter() - t:.2f} s; "
          f"voucher numbers gap-free: {numbers == list(range(1, n + 1))}")
    db.set_engine(None)
    engine.dispose()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--threads", type=int, default=1, help="workers running the operations in parallel")
    ap.add_argument("--sqlite", action=argparse.BooleanOptionalAction, default=True, help="run on SQLite")
    ap.add_argument("--pg", metavar="URL", help="also run on this PostgreSQL server URL (a scratch database is made)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        override_settings(Settings(home=Path(tmp), org_name=ORG, org_tax_id=TAX_ID, environment="test"))
        print(f"load average before: {os.getloadavg()[0]:.1f} (2 cores, shared)")
        if args.sqlite:
            print(f"SQLite (WAL), {args.n} claims")
            run(f"sqlite:///{Path(tmp) / 'bench.sqlite3'}", args.n, args.threads)
        if args.pg:
            from sqlalchemy import create_engine

            name = f"bench_acc_{int(time.time())}"
            admin = create_engine(args.pg, isolation_level="AUTOCOMMIT")
            with admin.connect() as c:
                c.execute(text(f'CREATE DATABASE "{name}"'))
            try:
                print(f"PostgreSQL, {args.n} claims")
                run(args.pg.rsplit("/", 1)[0] + "/" + name, args.n, args.threads)
            finally:
                with admin.connect() as c:
                    c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                admin.dispose()


if __name__ == "__main__":
    main()
