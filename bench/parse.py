"""Parsing throughput and memory per format, ours next to the obvious alternative.

Run: ``.venv/bin/python bench/parse.py [--quick]``; scans only: ``bench/parse.py --scans
[--engines tesseract,rapidocr]`` (JPEG scans built from the sample PDFs by ``tests/scans.py``).

Each (format, implementation) runs in its own subprocess pinned to one CPU core, so that
peak RSS (``ru_maxrss``) belongs to that run alone. Inputs are the real samples in
``../shared/samples`` (read in place) plus, for XML, the hand-made 数电票 fixtures and the
``original_invoice.xml`` members of the sample OFDs (extracted in memory). Parses go round
robin over the files, repeated to a few thousand (PDF: several hundred).

Implementations:
  ours   ``invoice.parse`` (format detected from the bytes; full normalised Invoice)
  naive  PDF: pdfplumber ``extract_text`` on every page + regexes for the fields;
         OFD: unzip and lxml-parse every XML member; XML: lxml parse + findtext.
Also reported: the Python-heap peak of one pass over the files (tracemalloc), per parse.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import resource
import subprocess
import sys
import time
import tracemalloc
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = (ROOT.parent / "shared" / "samples").resolve()
FIXTURES = ROOT / "tests" / "invoice" / "fixtures"
sys.path.insert(0, str(ROOT))

COUNTS = {"ofd": 3000, "xml": 5000, "pdf": 600}
NAIVE_PDF_COUNT = 300
TARGETS = {"ofd": 1000, "xml": 2000, "pdf": 60}


def load_inputs(fmt: str) -> list[tuple[str, bytes]]:
    if fmt in TRANSPORT_COUNTS:
        return transport_inputs(fmt)
    if fmt == "pdf":
        return [(p.name, p.read_bytes()) for p in sorted((SAMPLES / "invoices").glob("*/*.pdf"))]
    if fmt == "ofd":
        return [(p.name, p.read_bytes()) for p in sorted((SAMPLES / "invoices").glob("*/*.ofd"))]
    out = [(p.name, p.read_bytes()) for p in sorted(FIXTURES.glob("digital_*.xml"))
           if "no_total" not in p.name]
    for p in sorted((SAMPLES / "invoices").glob("*/*.ofd")):
        with zipfile.ZipFile(p) as z:
            for n in z.namelist():
                if n.endswith("original_invoice.xml"):
                    out.append((f"{p.name}:{n}", z.read(n)))
    return out


# --- transport vouchers (railway tickets, air itineraries) -----------------------------------------

TRANSPORT_COUNTS = {"railway": 1500, "air": 300}


def transport_inputs(kind: str) -> list[tuple[str, bytes]]:
    """Railway: the two real OFDs, their rai: XBRL as XML, and two PDFs built like 12306's;
    air: the real preview PDF (rotated page) and one built itinerary PDF."""
    from tests.invoice.test_transport_pdf import air_pdf, railway_pdf

    other = SAMPLES / "other"
    if kind == "air":
        return [("xbrl-001.pdf", (other / "ofdrw__ofdrw" / "xbrl-001.pdf").read_bytes()),
                ("built-air.pdf", air_pdf())]
    out = []
    for p in sorted((other / "itlabers__ofd-go").glob("*样例.ofd")):
        out.append((p.name, p.read_bytes()))
        with zipfile.ZipFile(p) as z:
            for n in z.namelist():
                if "/Attachs/rai_" in n:
                    out.append((f"{p.name}:{n}", z.read(n)))
    out += [("built-railway.pdf", railway_pdf()),
            ("built-refund.pdf", railway_pdf(fare_label="退票费:", mark="退票"))]
    return out


def transport_report(scale: int) -> None:
    """Per-kind throughput of the transport vouchers (one subprocess per kind, like above)."""
    print("\nTransport vouchers per kind (ours; OFD + XML + PDF mixed for railway)")
    print(f"{'kind':<8} {'files':>5} {'parses':>6} {'files/s':>8} {'files/cpu-s':>11} "
          f"{'peak RSS MB':>11}  errors")
    for kind, count in TRANSPORT_COUNTS.items():
        r = run_one(kind, "ours", max(count // scale, 10))
        print(f"{kind:<8} {r['files']:>5} {r['parses']:>6} {r['files_per_s']:>8.0f} "
              f"{r['files_per_cpu_s']:>11.0f} {r['peak_rss_mb']:>11.1f}  {len(r['errors'])}")


# --- implementations ----------------------------------------------------------------------------


def ours() -> Callable[[bytes], Any]:
    from invoice import parse

    return parse


_RX = {
    "number": re.compile(r"发票号码[:：]\s*(\d{8,20})"),
    "code": re.compile(r"发票代码[:：]\s*(\d{10,12})"),
    "date": re.compile(r"开票日期[:：]\s*(\d{4}年\d{1,2}月\d{1,2}日)"),
    "total": re.compile(r"[(（]小写[)）]\s*[¥￥]?\s*([\d.]+)"),
    "money": re.compile(r"[¥￥]\s*([\d.]+)"),
}


def naive_pdf() -> Callable[[bytes], Any]:
    import pdfplumber

    def run(data: bytes) -> dict[str, Any]:
        with pdfplumber.open(io.BytesIO(data)) as pdf:
            text = "\n".join(page.extract_text() or "" for page in pdf.pages)
        out: dict[str, Any] = {"money": _RX["money"].findall(text)}
        for k, rx in _RX.items():
            if k != "money":
                m = rx.search(text)
                out[k] = m.group(1) if m else None
        return out

    return run


def naive_ofd() -> Callable[[bytes], Any]:
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, recover=True)

    def run(data: bytes) -> int:
        n = 0
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            for name in z.namelist():
                if name.lower().endswith(".xml"):
                    etree.fromstring(z.read(name), parser=parser)
                    n += 1
        return n

    return run


def naive_xml() -> Callable[[bytes], Any]:
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)

    def run(data: bytes) -> dict[str, Any]:
        root = etree.fromstring(data, parser=parser)
        return {t: root.findtext(f".//{{*}}{t}") for t in
                ("InvoiceNumber", "TotalTax-includedAmount", "InvoiceNo", "TaxInclusiveTotalAmount")}

    return run


IMPLS: dict[tuple[str, str], Callable[[], Callable[[bytes], Any]]] = {
    ("ofd", "ours"): ours, ("ofd", "naive"): naive_ofd,
    ("xml", "ours"): ours, ("xml", "naive"): naive_xml,
    ("pdf", "ours"): ours, ("pdf", "naive"): naive_pdf,
    ("railway", "ours"): ours, ("air", "ours"): ours,
}


# --- worker --------------------------------------------------------------------------------------


def worker(fmt: str, impl: str, count: int) -> dict[str, Any]:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[-1]})  # one core
    import logging

    logging.disable(logging.WARNING)  # pdfminer warns about the broken samples
    inputs = load_inputs(fmt)
    fn = IMPLS[(fmt, impl)]()
    errors: dict[str, str] = {}
    for name, data in inputs:  # warm up: imports, caches, first-call costs
        try:
            fn(data)
        except Exception as exc:
            errors[name] = f"{type(exc).__name__}: {exc}"[:120]
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    tracemalloc.start()
    for _, data in inputs:
        with contextlib.suppress(Exception):
            fn(data)
    _, heap_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    n_files = len(inputs)
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    for i in range(count):
        with contextlib.suppress(Exception):
            fn(inputs[i % n_files][1])
    wall = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"format": fmt, "impl": impl, "files": n_files, "parses": count, "seconds": wall,
            "cpu_seconds": cpu, "files_per_s": count / wall, "files_per_cpu_s": count / cpu,
            "peak_rss_mb": rss_after, "rss_growth_mb": rss_after - rss_before,
            "heap_peak_kb": heap_peak / 1024, "errors": errors}


# --- scans (JPEG photos of the sample PDFs; OCR) -------------------------------------------------


def scans_worker(engine: str, count: int) -> dict[str, Any]:
    """Parse ``count`` scans (built from the sample PDFs by tests/scans.py) with ``engine``;
    peak memory includes the OCR child process (Tesseract runs as one)."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[-1]})  # one core
    from core.settings import Settings, override_settings
    from invoice import parse
    from tests.scans import make_scan, scan_set

    override_settings(Settings(ocr_engine=engine))  # type: ignore[arg-type]
    inputs = [(spec.name, make_scan(spec)) for spec in scan_set(full=True)[:count]]
    errors: dict[str, str] = {}
    parse(inputs[0][1])  # warm up: imports, the OCR model
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    for name, data in inputs:
        try:
            parse(data)
        except Exception as exc:
            errors[name] = f"{type(exc).__name__}: {exc}"[:120]
    wall = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"engine": engine, "parses": len(inputs), "seconds": wall, "files_per_s": len(inputs) / wall,
            "cpu_seconds": cpu + kids.ru_utime + kids.ru_stime,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "child_peak_rss_mb": kids.ru_maxrss / 1024, "errors": errors}


def bench_scans(count: int, engines: tuple[str, ...] = ("tesseract",)) -> list[dict[str, Any]]:
    """The scans section: files/s and peak memory per OCR engine, each in its own process."""
    rows = []
    for engine in engines:
        proc = subprocess.run([sys.executable, __file__, "--scan-worker", engine, str(count)],
                              capture_output=True, text=True, cwd=ROOT)
        if proc.returncode != 0:
            raise SystemExit(f"scan worker {engine} failed:\n{proc.stderr}")
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    print("\nScans (JPEG, 150-200 dpi, turned 1-3 degrees; QR + OCR), one core")
    head = f"{'engine':<10} {'scans':>5} {'files/s':>8} {'s/file':>7} {'peak RSS MB':>11} {'OCR child MB':>12}  errors"
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['engine']:<10} {r['parses']:>5} {r['files_per_s']:>8.2f} {1 / r['files_per_s']:>7.2f} "
              f"{r['peak_rss_mb']:>11.1f} {r['child_peak_rss_mb']:>12.1f}  {len(r['errors'])}")
        for name, err in r["errors"].items():
            print(f"  {r['engine']} {name}: {err}")
    return rows


def run_one(fmt: str, impl: str, count: int) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, __file__, "--worker", fmt, impl, str(count)],
                          capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        raise SystemExit(f"worker {fmt}/{impl} failed:\n{proc.stderr}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a tenth of the parses")
    ap.add_argument("--transport", action="store_true",
                    help="only the transport vouchers' per-kind table")
    ap.add_argument("--worker", nargs=3, metavar=("FORMAT", "IMPL", "COUNT"),
                    help=argparse.SUPPRESS)
    ap.add_argument("--scan-worker", nargs=2, metavar=("ENGINE", "COUNT"), help=argparse.SUPPRESS)
    ap.add_argument("--scans", action="store_true", help="only the scans section")
    ap.add_argument("--engines", default="tesseract",
                    help="OCR engines for the scans section, comma-separated (tesseract,rapidocr)")
    args = ap.parse_args()
    if args.worker:
        fmt, impl, count = args.worker
        print(json.dumps(worker(fmt, impl, int(count))))
        return
    if args.scan_worker:
        engine, count = args.scan_worker
        print(json.dumps(scans_worker(engine, int(count))))
        return
    if args.scans:
        bench_scans(6 if args.quick else 24, tuple(args.engines.split(",")))
        return
    scale = 10 if args.quick else 1
    if args.transport:
        transport_report(scale)
        return
    rows = []
    for fmt in ("ofd", "xml", "pdf"):
        for impl in ("ours", "naive"):
            n = (NAIVE_PDF_COUNT if (fmt, impl) == ("pdf", "naive") else COUNTS[fmt]) // scale
            r = run_one(fmt, impl, n)
            rows.append(r)
            print(f"  ran {fmt}/{impl}: {r['files_per_s']:.0f} files/s", file=sys.stderr)
    head = (f"{'format':<6} {'impl':<6} {'files':>5} {'parses':>6} {'files/s':>8} "
            f"{'files/cpu-s':>11} {'target':>7} {'peak RSS MB':>11} {'heap/parse KB':>13}  errors")
    print("\nParsing throughput, one core each (samples in ../shared/samples, round robin)")
    print(head)
    print("-" * len(head))
    for r in rows:
        target = f">={TARGETS[r['format']]}" if r["impl"] == "ours" else ""
        print(f"{r['format']:<6} {r['impl']:<6} {r['files']:>5} {r['parses']:>6} "
              f"{r['files_per_s']:>8.0f} {r['files_per_cpu_s']:>11.0f} {target:>7} "
              f"{r['peak_rss_mb']:>11.1f} {r['heap_peak_kb']:>13.0f}  {len(r['errors'])}")
    for r in rows:
        for name, err in r["errors"].items():
            print(f"  {r['format']}/{r['impl']} {name}: {err}")
    print("\nfiles/s is wall clock; files/cpu-s divides by the process's CPU time (less "
          "sensitive to other load on the machine). heap/parse: tracemalloc peak of one pass.")
    transport_report(scale)
    bench_scans(6 if args.quick else 24, tuple(args.engines.split(",")))


if __name__ == "__main__":
    main()
