"""Benchmark of the invoice registry: bulk import, and the duplicate check at 1,000,000 rows.

    .venv/bin/python bench/registry.py [--files 10000] [--rows 1000000] [--workers 2]
                                       [--skip-import] [--skip-lookup] [--no-postgres]

1. Import: ``--files`` invoice files of the realistic mix of ``bench/mix.py`` (distinct XML,
   unsigned OFDs with new numbers, the real signed OFDs and PDFs, duplicates, bad files; ``--mix
   ofd`` for the old run of copies of the one unsigned OFD ``ofdrw__ofdrw/发票示例.ofd`` with the
   number changed) in nested folders, imported with ``import_paths`` into a fresh SQLite home:
   files per second, the outcome counts, and the peak memory of the importing process and of
   its largest worker (ru_maxrss). Targets: >= 100 files/s on 2 cores, < 300 MB.
2. Duplicate check: ``--rows`` invoice rows bulk-inserted straight into the ``invoices`` table
   (migrated schema) on SQLite and on PostgreSQL; then the registry's own look-up
   (``invoice.registry.find_existing``: UNIQUE indexes on ``unique_sha256`` / ``unique_key``)
   for present and absent invoices, median and p99, beside a plain ``SELECT`` on the unindexed
   ``original_filename`` column as the naive baseline. Target: p99 < 5 ms.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pgscratch import scratch_database  # noqa: E402  (bench/ is on the path of a bench script)

SAMPLE = ROOT.parent / "shared" / "samples" / "invoices" / "ofdrw__ofdrw" / "发票示例.ofd"


def bench_import(n_files: int, workers: int, mix: str = "realistic") -> dict[str, object]:
    from core import db
    from core.settings import Settings, override_settings
    from invoice.importer import import_paths

    template = SAMPLE.read_bytes()
    with tempfile.TemporaryDirectory(prefix="bench-registry-") as tmp:
        src = Path(tmp) / "in"
        categories: dict[str, int] = {}
        if mix == "realistic":
            from mix import write_mix

            categories = write_mix(src, n_files)
        else:
            from mix import ofd_variant

            for i in range(n_files):
                p = src / f"d{i % 10}" / f"e{i % 7}" / f"{i:06d}.ofd"
                p.parent.mkdir(parents=True, exist_ok=True)
                p.write_bytes(ofd_variant(template, i + 1))
        home = Path(tmp) / "home"
        home.mkdir()
        override_settings(Settings(home=home, environment="test"))
        db.set_engine(db.make_engine())
        db.migrate()
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t0 = time.perf_counter()
        result = import_paths([src], "bench", workers=workers, keep_entries=False)
        elapsed = time.perf_counter() - t0
        parent = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        db.set_engine(None)
        override_settings(None)
    out: dict[str, object] = {"files": n_files, "mix": categories or mix, "load_average": os.getloadavg(),
           "seconds": round(elapsed, 2), "files_per_s": round(n_files / elapsed, 1),
           "imported": result.counts["imported"], "duplicates": result.counts["duplicates"],
           "rejected": result.counts["rejected"], "parent_peak_mb": round(parent / 1024, 1),
           "parent_peak_before_import_mb": round(rss_before / 1024, 1),
           "largest_worker_peak_mb": round(child / 1024, 1)}
    return out


# --- the duplicate check at scale ------------------------------------------------------------

def _row(i: int) -> tuple:
    number = f"25{i:018d}"
    sha = hashlib.sha256(number.encode()).hexdigest()
    return (f"{i:032x}", number, number, sha, sha, "digital_ordinary", "ofd", None, number,
            "2025-01-01", "买方", "91110000000000000X", "卖方", "91110000000000001X", "100.00", "13.00",
            "113.00", "{}", "unsigned", "{}", "ok", None, None, "bench", "2025-01-02 00:00:00+00:00",
            f"file-{i}.ofd", 1000, "not_checked")


COLUMNS = ("id, key, unique_key, sha256, unique_sha256, kind, source_format, code, number, issue_date, "
           "buyer_name, buyer_tax_id, seller_name, seller_tax_id, amount, tax, total, data, "
           "verification_status, verification, status, duplicate_of, red_reverses_key, uploaded_by, "
           "uploaded_at, original_filename, size, online_check_status")


def _fill_sqlite(path: Path, n: int) -> None:
    import sqlite3

    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    marks = ",".join("?" * 28)
    chunk = 50_000
    for start in range(0, n, chunk):
        conn.executemany(f"INSERT INTO invoices ({COLUMNS}) VALUES ({marks})",
                         (_row(i) for i in range(start, min(n, start + chunk))))
        conn.commit()
    conn.execute("ANALYZE")
    conn.commit()
    conn.close()


def _fill_postgres(url: str, n: int) -> None:
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        with conn.cursor() as cur, cur.copy(f"COPY invoices ({COLUMNS}) FROM STDIN") as copy:
            for i in range(n):
                copy.write_row(_row(i))
        conn.execute("ANALYZE invoices")
        conn.commit()


def _percentiles(samples: list[float]) -> dict[str, float]:
    s = sorted(samples)
    return {"median_ms": round(statistics.median(s) * 1000, 3),
            "p99_ms": round(s[min(len(s) - 1, int(len(s) * 0.99))] * 1000, 3),
            "max_ms": round(s[-1] * 1000, 3), "n": len(s)}


def _measure(url: str, n_rows: int, lookups: int, naive: int) -> dict[str, object]:
    from sqlalchemy import text

    from core import db
    from core.db import session_scope
    from invoice.registry import find_existing

    engine = db.make_engine(url)
    rng = random.Random(7)
    passes: list[tuple[list[float], list[float]]] = []
    cpu: list[float] = []  # this thread's CPU time per look-up: excludes waiting for a CPU
    with session_scope(engine) as s:
        for _ in range(20):  # open the connection and prepare the statement
            find_existing(s, hashlib.sha256(b"w").hexdigest(), "warm")
        # pass 1 right after the bulk load (cold caches), pass 2 in the steady state
        for _pass in range(2):
            hits: list[float] = []
            misses: list[float] = []
            for k in range(lookups):
                i = rng.randrange(n_rows) if k % 2 == 0 else n_rows + k  # present, then absent
                number = f"25{i:018d}"
                sha = hashlib.sha256(number.encode()).hexdigest()
                t0, c0 = time.perf_counter(), time.thread_time()
                found = find_existing(s, sha, number)
                dt = time.perf_counter() - t0
                cpu.append(time.thread_time() - c0)
                if i < n_rows:
                    assert found is not None and found.key == number
                    hits.append(dt)
                else:
                    assert found is None
                    misses.append(dt)
                s.expunge_all()
            passes.append((hits, misses))
            if _pass == 0:
                cpu.clear()
        server: list[float] = []
        if not url.startswith("sqlite"):  # the server's own execution time for the same query
            for _ in range(500):
                i = rng.randrange(n_rows)
                number = f"25{i:018d}"
                sha = hashlib.sha256(number.encode()).hexdigest()
                plan_rows = s.execute(text(
                    "EXPLAIN (ANALYZE, FORMAT JSON) SELECT * FROM invoices "
                    "WHERE unique_sha256 = :s OR unique_key = :k LIMIT 2"), {"s": sha, "k": number}).scalar_one()
                server.append(float(plan_rows[0]["Execution Time"]) / 1000)
        naive_t = []
        for _ in range(naive):
            i = rng.randrange(n_rows)
            t0 = time.perf_counter()
            got = s.execute(text("SELECT id FROM invoices WHERE original_filename = :f"),
                            {"f": f"file-{i}.ofd"}).all()
            naive_t.append(time.perf_counter() - t0)
            assert len(got) == 1
        plan = s.execute(text(("EXPLAIN QUERY PLAN " if url.startswith("sqlite") else "EXPLAIN ")
                              + "SELECT id FROM invoices WHERE unique_key = 'x' OR unique_sha256 = 'y'")).all()
    engine.dispose()
    (cold_hits, cold_misses), (hits, misses) = passes
    return {"rows": n_rows, "load_average": os.getloadavg(),
            "duplicate_check_cold_all": _percentiles(cold_hits + cold_misses),
            "duplicate_check_present": _percentiles(hits),
            "duplicate_check_absent": _percentiles(misses),
            "duplicate_check_all": _percentiles(hits + misses),
            "duplicate_check_client_cpu": _percentiles(cpu),
            **({"duplicate_check_server_execution": _percentiles(server)} if server else {}),
            "naive_unindexed_select": _percentiles(naive_t),
            "plan": [" ".join(str(c) for c in r) for r in plan]}


def _migrate_fill_measure(url: str, fill: Callable[[], None], n_rows: int, lookups: int,
                          naive: int) -> dict[str, object]:
    """Migrate a fresh database, bulk-fill it (timed), then measure the duplicate check."""
    from core import db

    engine = db.make_engine(url)
    db.migrate(engine)
    engine.dispose()
    t0 = time.perf_counter()
    fill()
    filled = time.perf_counter() - t0
    out = _measure(url, n_rows, lookups, naive)
    out["bulk_insert_s"] = round(filled, 1)
    return out


def bench_lookup_sqlite(n_rows: int, lookups: int, naive: int) -> dict[str, object]:

    with tempfile.TemporaryDirectory(prefix="bench-registry-db-") as tmp:
        path = Path(tmp) / "bench.sqlite3"
        url = f"sqlite:///{path}"
        return _migrate_fill_measure(url, lambda: _fill_sqlite(path, n_rows), n_rows, lookups, naive)


def bench_lookup_postgres(n_rows: int, lookups: int, naive: int) -> dict[str, object]:
    with scratch_database("bench_registry") as url:
        return _migrate_fill_measure(url, lambda: _fill_postgres(url, n_rows), n_rows, lookups, naive)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=10_000)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--lookups", type=int, default=4000)
    ap.add_argument("--naive", type=int, default=20)
    ap.add_argument("--mix", choices=["realistic", "ofd"], default="realistic")
    ap.add_argument("--skip-import", action="store_true")
    ap.add_argument("--skip-lookup", action="store_true")
    ap.add_argument("--no-postgres", action="store_true")
    args = ap.parse_args()
    report: dict[str, object] = {"cpus": os.cpu_count()}
    if not args.skip_import:
        report["import"] = imp = bench_import(args.files, args.workers, args.mix)
        print(json.dumps({"import": imp}, indent=2), flush=True)
    if not args.skip_lookup:
        report["sqlite"] = r = bench_lookup_sqlite(args.rows, args.lookups, args.naive)
        print(json.dumps({"sqlite": r}, indent=2, ensure_ascii=False), flush=True)
        if not args.no_postgres:
            report["postgresql"] = r = bench_lookup_postgres(args.rows, args.lookups, args.naive)
            print(json.dumps({"postgresql": r}, indent=2, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
