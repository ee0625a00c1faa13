"""Claims and postings per second (target: >= 200 postings/s on 2 cores).

Usage: .venv/bin/python bench/accounting.py [--n 10000] [--pg URL]

Registers N invoices (rows inserted directly: parsing has its own benchmark), then times, each
as one transaction per operation exactly as the API runs them: creating claims, taking them
through submit and approve, building one voucher per claim, and posting (入账) each voucher.
Every step appends to the audit chain, which is verified at the end.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text

from accounting.claims import approve_claim, create_claim, submit_claim
from accounting.ledger import create_voucher_from_claims, post_voucher
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


def run(url: str, n: int) -> dict[str, float]:
    engine = db.make_engine(url)
    db.migrate(engine)
    db.set_engine(engine)
    with db.session_scope() as s:
        clerk = create_user(s, "clerk", "clerk")
        boss = create_user(s, "boss", "approver")
        acct = create_user(s, "acct", "accountant")
    invoice_ids = _invoices(n)
    out: dict[str, float] = {}
    claim_ids: list[str] = []
    t = time.perf_counter()
    for inv in invoice_ids:
        with db.session_scope() as s:
            claim_ids.append(create_claim(s, clerk, "出差报销", "销售部", None,
                                          [{"invoice_id": inv, "category": "差旅费"}]).id)
    out["claims_created"] = _rate("claims created", n, time.perf_counter() - t)
    t = time.perf_counter()
    for cid in claim_ids:
        with db.session_scope() as s:
            submit_claim(s, clerk, cid)
        with db.session_scope() as s:
            approve_claim(s, boss, cid)
    out["claims_approved"] = _rate("claims submitted + approved (2 tx each)", n, time.perf_counter() - t)
    voucher_ids: list[str] = []
    t = time.perf_counter()
    for cid in claim_ids:
        with db.session_scope() as s:
            voucher_ids.append(create_voucher_from_claims(s, acct, [cid], date="2025-11-28").id)
    out["vouchers"] = _rate("vouchers built from claims", n, time.perf_counter() - t)
    t = time.perf_counter()
    for vid in voucher_ids:
        with db.session_scope() as s:
            post_voucher(s, acct, vid)
    out["postings"] = _rate("postings (入账)", n, time.perf_counter() - t)
    t = time.perf_counter()
    with db.session_scope() as s:
        report = verify_chain(s)
    print(f"  audit chain: ok={report.ok}, {report.entries} entries, verified in {time.perf_counter() - t:.2f} s")
    db.set_engine(None)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--pg", metavar="URL", help="also run on this PostgreSQL server URL (a scratch database is made)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        override_settings(Settings(home=Path(tmp), org_name=ORG, org_tax_id=TAX_ID, environment="test"))
        print(f"SQLite (WAL), {args.n} claims")
        run(f"sqlite:///{Path(tmp) / 'bench.sqlite3'}", args.n)
        if args.pg:
            from sqlalchemy import create_engine

            name = f"bench_acc_{int(time.time())}"
            admin = create_engine(args.pg, isolation_level="AUTOCOMMIT")
            with admin.connect() as c:
                c.execute(text(f'CREATE DATABASE "{name}"'))
            try:
                print(f"PostgreSQL, {args.n} claims")
                run(args.pg.rsplit("/", 1)[0] + "/" + name, args.n)
            finally:
                with admin.connect() as c:
                    c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                admin.dispose()


if __name__ == "__main__":
    main()
