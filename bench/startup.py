"""How much a one-file ``fapiao parse`` / ``fapiao verify`` costs beyond the reading itself.

Run: ``.venv/bin/python bench/startup.py [--runs N]``

Each command runs N times as a fresh process (the way a person or a script runs it). Printed
per command: wall-clock min and median, and CPU seconds (user + system of the process and
the children it waited for, the sandbox worker included), which moves far less than the wall
clock on a busy machine. Compared:

  python -c pass           the interpreter alone
  pdfplumber script        the obvious alternative: open the PDF, extract every page's text
  direct parse / verify    ``invoice.parse`` / ``invoice.verify.verify`` called in-process:
                           the reading itself, with no command line and no sandbox
  fapiao parse / verify    the command (``api.cli.run``): argument parsing, settings, the
                           sandbox worker, JSON output
  fapiao start             the command on a missing file: everything but the reading

"overhead" is the command minus the direct call. Then ``python -X importtime`` lists what
the command process itself imports (the sandbox worker reads the file), and whether the
database or web stack is among it (it must not be). With ``hyperfine`` installed its mean
wall time is printed as a cross-check.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = (ROOT.parent / "shared" / "samples").resolve()
PDF = SAMPLES / "invoices" / "MARSCHEN-CN__FapiaoGO" / "test.pdf"
OFD = SAMPLES / "invoices" / "ofdrw__ofdrw" / "v4signed.ofd"
HEAVY = ("sqlalchemy", "sqlmodel", "fastapi", "starlette", "alembic", "uvicorn")

PLUMBER = ("import sys, pdfplumber\n"
           "with pdfplumber.open(sys.argv[1]) as pdf:\n"
           "    print(len(''.join(p.extract_text() or '' for p in pdf.pages)))\n")
DIRECT_PARSE = ("import sys\nfrom invoice import parse\n"
                "print(parse(open(sys.argv[1], 'rb').read()).number)\n")
DIRECT_VERIFY = ("import sys, datetime\nfrom invoice.verify import verify\n"
                 "print(verify(open(sys.argv[1], 'rb').read(), today=datetime.date.today()).status)\n")
CLI = "from api.cli import run\nrun()\n"


def commands() -> list[tuple[str, list[str]]]:
    py = sys.executable
    return [
        ("python -c pass", [py, "-c", "pass"]),
        ("pdfplumber script (PDF)", [py, "-c", PLUMBER, str(PDF)]),
        ("direct parse (PDF)", [py, "-c", DIRECT_PARSE, str(PDF)]),
        ("fapiao parse (PDF)", [py, "-c", CLI, "parse", "--json", str(PDF)]),
        ("fapiao start (missing file)", [py, "-c", CLI, "parse", "/nonexistent.pdf"]),
        ("direct verify (OFD)", [py, "-c", DIRECT_VERIFY, str(OFD)]),
        ("fapiao verify (OFD)", [py, "-c", CLI, "verify", "--json", str(OFD)]),
    ]


def env(home: str) -> dict[str, str]:
    e = dict(os.environ)
    e["PYTHONPATH"] = str(ROOT)
    e["FAPIAO_HOME"] = home
    return e


def measure(argv: list[str], runs: int, environ: dict[str, str]) -> dict[str, float]:
    walls: list[float] = []
    cpus: list[float] = []
    for i in range(runs + 1):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run(argv, cwd=ROOT, env=environ, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=False)
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if i == 0:
            continue  # warm-up: page cache, .pyc files
        walls.append(wall)
        cpus.append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
    return {"wall_min": min(walls), "wall_median": statistics.median(walls),
            "cpu_median": statistics.median(cpus)}


def hyperfine_mean(argv: list[str], runs: int, environ: dict[str, str]) -> float | None:
    exe = shutil.which("hyperfine")
    if exe is None:
        return None
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        import shlex

        proc = subprocess.run([exe, "-N", "-w", "1", "-r", str(runs), "-i", "--export-json",
                               out.name, shlex.join(argv)], cwd=ROOT, env=environ,
                              capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            return None
        mean: float = json.loads(Path(out.name).read_text())["results"][0]["mean"]
        return mean


def import_report(environ: dict[str, str]) -> tuple[float, list[tuple[str, float]], list[str]]:
    """What ``fapiao parse`` imports in its own process: total seconds, the costliest
    top-level modules, and any database/web module among them."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", CLI, "parse", "--json",
                           str(PDF)], cwd=ROOT, env=environ, capture_output=True, text=True,
                          check=False)
    top: list[tuple[str, float]] = []
    heavy: set[str] = set()
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        cumulative = line.split("|", 2)[1].strip()
        raw_name = line.split("|", 2)[2]
        module = raw_name.strip()
        if module.split(".")[0] in HEAVY:
            heavy.add(module.split(".")[0])
        if not raw_name.startswith("  ") and cumulative.isdigit():
            top.append((module, int(cumulative) / 1e6))
    total = sum(s for _, s in top)
    top.sort(key=lambda t: -t[1])
    return total, top[:8], sorted(heavy)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as home:
        environ = env(home)
        rows = []
        for name, argv in commands():
            r = measure(argv, args.runs, environ)
            r["hyperfine"] = hyperfine_mean(argv, args.runs, environ) or float("nan")
            rows.append((name, r))
            print(f"  ran {name}", file=sys.stderr)
        total, top, heavy = import_report(environ)
    load = os.getloadavg()
    print(f"\nOne-file commands, {args.runs} runs each (+1 warm-up); load average "
          f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs")
    head = f"{'command':<30} {'wall min':>9} {'wall med':>9} {'CPU med':>8} {'hyperfine':>10}"
    print(head)
    print("-" * len(head))
    by = dict(rows)
    for name, r in rows:
        print(f"{name:<30} {r['wall_min']:>8.3f}s {r['wall_median']:>8.3f}s "
              f"{r['cpu_median']:>7.3f}s {r['hyperfine']:>9.3f}s")
    for cmd, direct in (("fapiao parse (PDF)", "direct parse (PDF)"),
                        ("fapiao verify (OFD)", "direct verify (OFD)")):
        a, b = by[cmd], by[direct]
        print(f"overhead of {cmd}: wall min {a['wall_min'] - b['wall_min']:+.3f}s, "
              f"CPU {a['cpu_median'] - b['cpu_median']:+.3f}s (target < 0.150s)")
    start, bare = by["fapiao start (missing file)"], by["python -c pass"]
    print(f"start-up of the command beyond the interpreter: wall min "
          f"{start['wall_min'] - bare['wall_min']:.3f}s, CPU "
          f"{start['cpu_median'] - bare['cpu_median']:.3f}s")
    print(f"\n`fapiao parse` process imports (python -X importtime): {total:.3f}s in all; "
          "costliest top-level modules:")
    for name, secs in top:
        print(f"  {secs:7.3f}s  {name}")
    print("database/web stack imported: " + (", ".join(heavy) if heavy else "none"))


if __name__ == "__main__":
    main()
