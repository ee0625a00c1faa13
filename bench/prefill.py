"""Bulk-load a registry of N invoices with PostgreSQL ``COPY``: what a year of imports leaves behind.

``bench/scale.py --prefill N`` uses it so that a queue run measures import rate and duplicate
check latency against a registry of a million rows without first importing a million files
for hours. What a real registry holds per invoice, and what is loaded here:

* an ``invoices`` row with its two UNIQUE keys (the 20-digit 数电票 number, the SHA-256 of the
  file), its searchable line (``search_text``, indexed by ``pg_trgm``), the parsed invoice as
  JSON and its verification report: taken from a real 数电票 XML of ``bench/mix.py`` parsed and
  verified once by the real code, then per row a new number, amount, date, seller and the
  SHA-256 of that row's own XML bytes (generated, hashed, not stored);
* its ``stored_files`` row (size, media type);
* its ``invoice.upload`` entry in the audit chain, hashed exactly as ``core.audit.append``
  hashes, so the chain stays verifiable and the queue run appends to a chain of N entries.

Not loaded: the original bytes in the object store. The S3 test server (moto) keeps every
object in memory; a million originals of this mix would need several GB of this shared
machine's RAM and an hour of PUTs, so the prefilled rows name objects the bucket does not
hold (``fapiao store check`` would report them missing). The queue run stores every file it
registers, byte for byte, as production does. Numbers use the prefix ``25322999`` so they never
collide with ``bench/mix.py``'s (``25322000…``, ``24112…``).
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from mix import ORG_NAME, ORG_TAX_ID, SELLERS, XML

PREFIX = "25322999"


def _template() -> tuple[dict[str, Any], dict[str, Any], str]:
    """(invoice JSON, verification report, verification status) of one real parsed XML invoice."""
    from mix import xml_invoice

    from core.settings import Settings, override_settings
    from invoice.analysis import analyse

    override_settings(Settings(environment="test", org_name=ORG_NAME, org_tax_id=ORG_TAX_ID))
    a = analyse(xml_invoice(1, random.Random(1)), "template.xml", ORG_NAME, ORG_TAX_ID)
    assert a.invoice is not None, a.error
    report = dict(a.report or {})
    return a.invoice.to_dict(), report, str(report.get("status", "indeterminate"))


def prefill(url: str, n: int, username: str = "bench-clerk", batch: int = 50_000) -> dict[str, Any]:
    """Load ``n`` registered invoices (rows, stored-file rows, audit entries) into ``url``."""
    import psycopg

    from core.audit import GENESIS, _digest
    from core.db import new_id
    from invoice.search import search_text

    data_t, report, vstatus = _template()
    report_json = json.dumps(report, ensure_ascii=False, default=str)
    rng = random.Random(5)
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    t0, c0 = time.perf_counter(), time.process_time()
    start_at = datetime(2025, 1, 1, tzinfo=UTC)
    with psycopg.connect(dsn, autocommit=False) as conn:
        with conn.cursor() as cur:
            cur.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
            row = cur.fetchone()
        seq, prev = (row[0], row[1]) if row else (0, GENESIS)
        # The usual bulk load: secondary indexes dropped, rows copied, indexes built again in one
        # pass each (the end state is the same; row by row, the trigram index alone made a
        # 20,000-row load take 26 s). UNIQUE constraints and primary keys stay in place.
        with conn.cursor() as cur:
            cur.execute("SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.tablename IN "
                        "('invoices', 'audit_log', 'stored_files') AND NOT EXISTS (SELECT 1 FROM pg_constraint c "
                        "WHERE c.conname = i.indexname) AND i.indexdef NOT LIKE 'CREATE UNIQUE%'")
            secondary = cur.fetchall()
            for name, _ in secondary:
                cur.execute(f'DROP INDEX "{name}"')
        conn.commit()
        for first in range(0, n, batch):
            inv_rows, file_rows, audit_rows = [], [], []
            for i in range(first, min(n, first + batch)):
                number = f"{PREFIX}{i:012d}"
                amount = Decimal(rng.randint(1000, 500000)) / 100
                tax = (amount * Decimal("0.13")).quantize(Decimal("0.01"))
                total = amount + tax
                seller_id, seller = SELLERS[i % len(SELLERS)]
                issued = date(2025, 1 + i % 12, 1 + i % 28)
                xml = XML.format(number=number, seller_id=seller_id, seller=seller, buyer_id=ORG_TAX_ID,
                                 buyer=ORG_NAME, amount=amount, tax=tax, total=total,
                                 date=issued.isoformat()).encode()
                sha = hashlib.sha256(xml).hexdigest()
                d = {**data_t, "number": number, "key": number, "sha256": sha, "amount": str(amount),
                     "tax": str(tax), "total": str(total), "issue_date": issued.isoformat(),
                     "seller": {"name": seller, "tax_id": seller_id}}
                items = d.get("items") or []
                text = search_text({"seller_name": seller, "seller_tax_id": seller_id, "number": number,
                                    "code": None, "key": number, "total": str(total), "amount": str(amount)}, items)
                rid = new_id()
                at = start_at + timedelta(seconds=i * 20)
                name = f"prefill/{i:08d}.xml"
                inv_rows.append((rid, number, number, sha, sha, d.get("kind"), "xml", None, number, issued,
                                 ORG_NAME, ORG_TAX_ID, seller, seller_id, amount, tax, total,
                                 json.dumps(d, ensure_ascii=False), vstatus, report_json, "ok", None, None,
                                 username, at, name, len(xml), "not_checked", text))
                file_rows.append((sha, len(xml), "application/xml", at))
                seq += 1
                details = {"file": name, "sha256": sha, "key": number, "status": "ok", "duplicate_of": None,
                           "verification": vstatus}
                h = _digest(seq, at, username, "invoice.upload", "invoice", rid, details, prev)
                audit_rows.append((seq, at, username, "invoice.upload", "invoice", rid,
                                   json.dumps(details, ensure_ascii=False), prev, h))
                prev = h
            with conn.cursor() as cur:
                with cur.copy("COPY invoices (id, key, unique_key, sha256, unique_sha256, kind, source_format, "
                              "code, number, issue_date, buyer_name, buyer_tax_id, seller_name, seller_tax_id, "
                              "amount, tax, total, data, verification_status, verification, status, duplicate_of, "
                              "red_reverses_key, uploaded_by, uploaded_at, original_filename, size, "
                              "online_check_status, search_text) FROM STDIN") as cp:
                    for r in inv_rows:
                        cp.write_row(r)
                with cur.copy("COPY stored_files (sha256, size, content_type, stored_at) FROM STDIN") as cp:
                    for f in file_rows:
                        cp.write_row(f)
                with cur.copy("COPY audit_log (seq, at, actor, action, object_type, object_id, details, "
                              "prev_hash, hash) FROM STDIN") as cp:
                    for e in audit_rows:
                        cp.write_row(e)
            conn.commit()
        t_index = time.perf_counter()
        with conn.cursor() as cur:
            cur.execute("SET maintenance_work_mem = '256MB'")
            for _, definition in secondary:
                cur.execute(definition)
        conn.commit()
        index_s = time.perf_counter() - t_index
        with conn.cursor() as cur:
            cur.execute("ANALYZE invoices")
            cur.execute("ANALYZE audit_log")
            cur.execute("ANALYZE stored_files")
        conn.commit()
    return {"rows": n, "wall_s": round(time.perf_counter() - t0, 1), "index_build_s": round(index_s, 1),
            "indexes_rebuilt": [name for name, _ in secondary],
            "client_cpu_s": round(time.process_time() - c0, 1),
            "loaded": "invoices + stored_files + audit_log rows (COPY); no objects in the S3 store"}
