"""Hostile files against the sandbox: worst-case time and peak memory per class.

    .venv/bin/python bench/hostile.py [--repeat 2] [--inproc-timeout 40]

Each hostile class is built from a real sample (``tests/hostile.py``): a PDF whose
FlateDecode stream inflates to 400 MB, an OFD page with 100,000 TextObjects, an OFD whose
signature lists 400 references to one 50 MB member, an .xlsx voucher sheet with one 400 MB
cell (through the voucher importer's reader), XML nested 200,000 deep, and a UTF-32 XML with a
billion-laughs DOCTYPE; two normal invoices beside them. For each it prints, through the
sandbox (``invoice.sandbox``, default limits), the worst wall time over ``--repeat`` runs, the
answer (read, or the error code and the limit), the worker's peak resident memory (sampled
every 10 ms) and how much the caller grew; then the same file read in-process, without the
sandbox, in a child process (time and peak memory, cut at ``--inproc-timeout``). The load
average is printed before and after: on a shared machine the wall times depend on it.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from invoice import sandbox  # noqa: E402
from invoice.analysis import analyse_sandboxed  # noqa: E402
from tests import hostile  # noqa: E402
from tests.samples import DIGITAL_OFD, DIGITAL_PDF  # noqa: E402


def sheet_sandboxed(data: bytes, name: str) -> dict[str, Any]:
    """The voucher importer's reader (``accounting.excel``) in the sandbox (tasks travel by
    name, so the reader itself is sent, not a function of this script)."""
    from accounting.excel import _read_sheet

    try:
        sandbox.run(_read_sheet, data, name=name)
        return {}
    except sandbox.TooComplex as exc:
        return exc.to_dict()
    except sandbox.SandboxError as exc:
        return {"code": exc.type_name}
    except Exception as exc:  # the reader's own refusal (a ServiceError)
        return {"code": getattr(exc, "code", type(exc).__name__)}


CLASSES: list[tuple[str, Callable[[], bytes], str]] = [
    ("normal OFD (数电票)", lambda: DIGITAL_OFD.read_bytes(), "invoice"),
    ("normal PDF (数电票)", lambda: DIGITAL_PDF.read_bytes(), "invoice"),
    ("PDF FlateDecode bomb 400 MB", hostile.pdf_bomb, "invoice"),
    ("OFD page 100,000 TextObjects", hostile.ofd_many_objects, "invoice"),
    ("OFD 400 refs to one 50 MB member", hostile.ofd_many_references, "invoice"),
    ("xlsx one 400 MB cell", hostile.xlsx_giant_cell, "sheet"),
    ("XML nested 200,000 deep", hostile.xml_deep, "invoice"),
    ("XML UTF-32 DOCTYPE (laughs)", hostile.xml_doctype_utf32, "invoice"),
]


class WorkerPeak:
    """Samples the peak resident memory (VmHWM) of the forkserver's children."""

    def __init__(self) -> None:
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> WorkerPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        from multiprocessing import forkserver

        while not self._stop.wait(0.01):
            server = getattr(forkserver._forkserver, "_forkserver_pid", None)
            if not server:
                continue
            for pid in os.listdir("/proc"):
                if not pid.isdigit():
                    continue
                try:
                    status = Path(f"/proc/{pid}/status").read_text()
                except OSError:
                    continue
                fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
                if fields.get("PPid", "").strip() == str(server) and "VmHWM" in fields:
                    self.peak_kb = max(self.peak_kb, int(fields["VmHWM"].split()[0]))


def rss_kb() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


INPROC = """
import json, resource, sys, time
sys.path.insert(0, {root!r})
data = open({path!r}, "rb").read()
import invoice.sandbox_preload  # the same imports and tables a warm worker has
from accounting.excel import _read_sheet
from invoice.analysis import analyse
t = time.perf_counter()
try:
    if {kind!r} == "sheet":
        _read_sheet(data); code = ""
    else:
        a = analyse(data, "x"); code = (a.error or {{}}).get("code", "")
except MemoryError:
    code = "MemoryError"
except Exception as exc:
    code = getattr(exc, "code", type(exc).__name__)
print(json.dumps({{"s": time.perf_counter() - t, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "code": str(code)}}))
"""


def in_process(data: bytes, kind: str, timeout: float) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile(delete=False) as f:
        f.write(data)
    try:
        out = subprocess.run([sys.executable, "-c", INPROC.format(root=str(ROOT), path=f.name, kind=kind)],
                             capture_output=True, text=True, timeout=timeout)
        lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
        if lines:
            return dict(json.loads(lines[-1]))
        return {"s": None, "peak_mb": None, "code": f"died ({out.returncode})"}
    except subprocess.TimeoutExpired:
        return {"s": None, "peak_mb": None, "code": f"> {timeout:g} s, stopped"}
    finally:
        os.unlink(f.name)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--inproc-timeout", type=float, default=40.0)
    ap.add_argument("--only", default="", help="only the classes whose label contains this")
    args = ap.parse_args()
    import accounting.excel  # noqa: F401  (imported before timing: the caller's own import is not the file's cost)

    limits = sandbox.Limits.from_settings()
    print(f"load average before: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}"
          f"   cores: {os.cpu_count()}   sandbox limits: {limits.cpu_seconds:g} s CPU, "
          f"{limits.wall_seconds:g} s wall, {limits.memory_mb} MB")
    sandbox.run(hostile.echo, 0)  # the pool is up (forkserver started, parsers preloaded)
    header = (f"{'class':34} {'size':>9} {'sandbox worst':>13} {'answer':28} {'worker peak':>11} "
              f"{'caller +':>9} | {'in-process':>12} {'peak':>9}  answer")
    print(header)
    print("-" * len(header))
    for label, build, kind in CLASSES:
        if args.only.lower() not in label.lower():
            continue
        data = build()
        worst, answer = 0.0, ""
        caller_before = rss_kb()
        with WorkerPeak() as peak:
            for i in range(args.repeat):
                t = time.perf_counter()
                if kind == "sheet":
                    err = sheet_sandboxed(data, f"{i}.xlsx")
                else:
                    err = analyse_sandboxed(data, f"{i}").error or {}
                worst = max(worst, time.perf_counter() - t)
                answer = (err.get("code", "") + (f" ({err['limit']})" if err.get("limit") else "")) or "read"
        caller_growth = (rss_kb() - caller_before) / 1024
        inproc = in_process(data, kind, args.inproc_timeout)
        ip_s = f"{inproc['s']:.2f} s" if inproc["s"] is not None else "-"
        ip_mb = f"{inproc['peak_mb']:.0f} MB" if inproc["peak_mb"] is not None else "-"
        print(f"{label:34} {len(data) / 1024:>7.0f} K {worst:>11.2f} s {answer[:28]:28} "
              f"{peak.peak_kb / 1024:>8.0f} MB {caller_growth:>6.0f} MB | {ip_s:>12} {ip_mb:>9}  "
              f"{inproc['code'] or 'read'}")
    print(f"load average after: {os.getloadavg()[0]:.2f}; caller peak RSS "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    sandbox.shutdown()


if __name__ == "__main__":
    main()
