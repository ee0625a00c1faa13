"""Scale run: N invoices through the job queue with W ``fapiao worker`` processes on PostgreSQL.

    .venv/bin/python bench/scale.py [--invoices 2000] [--workers 2] [--chunk 500] [--db postgres|sqlite]
                                    [--env FAPIAO_X=Y ...]   # e.g. the S3 store's settings

1. A fresh database (a scratch database on the test PostgreSQL server) and data folder; the
   realistic file mix of ``bench/mix.py`` (XML, unsigned and signed OFD, PDF, duplicates, bad
   files) written into folders of ``--chunk`` files; one ``invoice.import`` job per folder.
2. ``--workers`` worker processes (``fapiao worker --concurrency 1``, one sandbox parser each)
   claim the jobs; the run ends when every job is done. Printed: files/s overall and per
   worker, the outcome counts, the peak memory (VmHWM) of every worker and sandbox process.
3. The duplicate check (``invoice.registry.find_existing``) on the filled database: 2,000
   look-ups, half present, half absent: median and p99.
4. The extrapolation to 1,000,000 invoices and to 10 workers from the measured per-file cost
   (see the README section "Queue and scale-out" for the model and its limits).

``--env`` passes settings to the workers, so the object store (S3 when it is configured) is
chosen without changing this script. Results go to ``bench/results/scale-<db>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.append(str(ROOT / "bench"))  # after ROOT: bench/accounting.py must not shadow the package

from mix import ORG_NAME, ORG_TAX_ID, write_mix  # noqa: E402
from pgscratch import scratch_database  # noqa: E402


def _tree(pid: int) -> list[int]:
    """The process and all its descendants (from /proc)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return out


def _hwm_mb(pid: int) -> tuple[str, float] | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            role = "worker" if " worker " in f" {cmd} " else "sandbox"
            return role, int(line.split()[1]) / 1024
    return None


def _cpu_seconds(pid: int, with_children: bool) -> float:
    """User + system CPU of a process (and of its reaped children), from /proc/PID/stat."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    if with_children:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime: sandboxes already retired
    return ticks / os.sysconf("SC_CLK_TCK")


def _tree_cpu(pid: int) -> float:
    # cutime of every process: sandboxes are forked by the forkserver, which reaps them
    return sum(_cpu_seconds(c, True) for c in _tree(pid))


def _percentile(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(p / 100 * (len(s) - 1))))]


def duplicate_check(url: str, n: int = 2000) -> dict[str, float]:
    """The registry's duplicate look-up on the filled database, present and absent keys."""
    from sqlmodel import select

    from core import db
    from invoice.registry import InvoiceRecord, find_existing

    engine = db.make_engine(url)
    rng = random.Random(11)
    with db.session_scope(engine) as s:
        rows = s.exec(select(InvoiceRecord.unique_sha256, InvoiceRecord.unique_key).limit(50000)).all()
        known = [(sha, key) for sha, key in rows if sha]
        times: list[float] = []
        cpu: list[float] = []  # this thread's CPU per look-up: what waiting for a busy CPU does not inflate
        for k in range(n):
            if k % 2 == 0 and known:
                sha, key = rng.choice(known)
            else:
                sha, key = f"{rng.getrandbits(256):064x}", f"9{rng.getrandbits(60):019d}"
            t0, c0 = time.perf_counter(), time.thread_time()
            find_existing(s, sha, key)
            times.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.thread_time() - c0) * 1000)
            s.expunge_all()
    engine.dispose()
    return {"lookups": n, "p50_ms": round(statistics.median(times), 3), "p99_ms": round(_percentile(times, 99), 3),
            "cpu_p50_ms": round(statistics.median(cpu), 3), "cpu_p99_ms": round(_percentile(cpu, 99), 3)}


def run(args: argparse.Namespace, url: str, home: Path) -> dict[str, object]:
    from core import db, jobs
    from core.settings import Settings, override_settings
    from core.users import create_user

    override_settings(Settings(home=home, database_url=url, environment="test", org_name=ORG_NAME,
                               org_tax_id=ORG_TAX_ID))
    engine = db.make_engine(url)
    db.migrate(engine)
    db.set_engine(engine)
    with db.session_scope() as s:
        create_user(s, "bench-clerk", "clerk")
    inbox = home.parent / "inbox"
    t0 = time.perf_counter()
    mix: dict[str, int] = {}
    job_ids = []
    for start in range(0, args.invoices, args.chunk):
        n = min(args.chunk, args.invoices - start)
        folder = inbox / f"chunk-{start // args.chunk:05d}"
        for k, v in write_mix(folder, n, start=start).items():
            mix[k] = mix.get(k, 0) + v
        with db.session_scope() as s:
            job_ids.append(jobs.enqueue(s, "invoice.import", {"paths": [str(folder)], "username": "bench-clerk",
                                                             "workers": 1, "batch_size": 200},
                                        created_by="bench-clerk").id)
    gen_s = time.perf_counter() - t0
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAPIAO_") and k != "DATABASE_URL"}
    env.update({"PYTHONPATH": str(ROOT), "FAPIAO_HOME": str(home), "DATABASE_URL": url, "FAPIAO_ENVIRONMENT": "test",
                "FAPIAO_ORG_NAME": ORG_NAME, "FAPIAO_ORG_TAX_ID": ORG_TAX_ID, "FAPIAO_SANDBOX_WORKERS": "1"})
    env.update(dict(e.split("=", 1) for e in args.env))
    peaks: dict[int, tuple[str, float]] = {}
    load: list[float] = []
    cpu: dict[int, float] = {}
    with ExitStack() as stack:
        procs = []
        t0 = time.perf_counter()
        for w in range(args.workers):
            log = stack.enter_context((home / f"worker-{w}.log").open("wb"))
            procs.append(subprocess.Popen([sys.executable, "-c", "from api.cli import run; run()", "worker",
                                           "--concurrency", "1", "--no-schedule"], env=env, cwd=ROOT,
                                          stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
        try:
            while True:
                for p in procs:
                    for pid in _tree(p.pid):
                        got = _hwm_mb(pid)
                        if got and got[1] > peaks.get(pid, ("", 0.0))[1]:
                            peaks[pid] = got
                    cpu[p.pid] = max(cpu.get(p.pid, 0.0), _tree_cpu(p.pid))
                load.append(os.getloadavg()[0])
                with db.session_scope() as s:
                    states = [jobs.get_job(s, j).state for j in job_ids]  # type: ignore[union-attr]
                if all(st in ("done", "failed") for st in states):
                    break
                if any(p.poll() is not None for p in procs):
                    raise SystemExit("a worker stopped: see " + str(home))
                time.sleep(0.5)
            wall = time.perf_counter() - t0
        finally:
            for p in procs:
                if p.poll() is None:
                    os.killpg(p.pid, signal.SIGTERM)
            for p in procs:
                try:
                    p.wait(30)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)
    counts: dict[str, int] = {}
    failed = []
    with db.session_scope() as s:
        for j in job_ids:
            job = jobs.get_job(s, j)
            assert job is not None
            if job.state != "done":
                failed.append(job.error)
            for k, v in (job.result or {}).get("counts", {}).items():
                counts[k] = counts.get(k, 0) + v
    dup = duplicate_check(url)
    by_role: dict[str, float] = {}
    for role, mb in peaks.values():
        by_role[role] = max(by_role.get(role, 0.0), mb)
    rate = args.invoices / wall
    per_worker = rate / args.workers
    cpu_per_file = sum(cpu.values()) / args.invoices
    return {"invoices": args.invoices, "workers": args.workers, "db": args.db, "cores": os.cpu_count(),
            "generate_s": round(gen_s, 1), "import_s": round(wall, 1), "files_per_s": round(rate, 1),
            "files_per_s_per_worker": round(per_worker, 1), "mix": mix, "outcome": counts, "failed_jobs": failed,
            "peak_mb": {k: round(v, 1) for k, v in by_role.items()}, "duplicate_check": dup,
            "worker_cpu_s": round(sum(cpu.values()), 1), "cpu_ms_per_file": round(cpu_per_file * 1000, 1),
            "load_average": {"mean": round(statistics.fmean(load), 2) if load else None,
                             "max": round(max(load), 2) if load else None},
            "extrapolation": extrapolate(per_worker, args.workers, os.cpu_count() or 1, cpu_per_file)}


def extrapolate(per_worker: float, workers: int, cores: int, cpu_per_file: float) -> dict[str, object]:
    """1,000,000 files: at the measured wall rate, and from the CPU cost per file.

    The per-file work (sandboxed parse + verify, SHA-256, store, one INSERT with two unique
    index probes) does not grow with the rows already stored (B-tree probes are O(log n): see
    the duplicate check), so time grows linearly with N. The wall rate depends on what else the
    machine runs; the CPU seconds per file (worker and sandbox processes, from /proc) do not, so
    ``cpu_ms_per_file`` gives the rate of an idle machine: one core per worker. 10 workers means
    5 machines of 2 cores; the shared PostgreSQL then takes ~10x the commits (not modelled: its
    own CPU is not in these seconds).
    """
    one_m = 1_000_000
    at_wall = one_m / (per_worker * min(workers, cores))
    idle_per_worker = 1 / cpu_per_file if cpu_per_file else 0.0
    out: dict[str, object] = {
        "1M_at_measured_wall_rate_h": round(at_wall / 3600, 2),
        "idle_files_per_s_per_worker": round(idle_per_worker, 1),
        "model": "time linear in N; one core per worker; 10 workers = 5 machines of 2 cores; DB CPU not included"}
    if idle_per_worker:
        out["1M_2_workers_idle_2_cores_h"] = round(one_m / (idle_per_worker * min(2, cores)) / 3600, 2)
        out["1M_10_workers_h"] = round(one_m / (idle_per_worker * 10) / 3600, 2)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--invoices", type=int, default=2000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--chunk", type=int, default=500, help="files per import job")
    ap.add_argument("--db", choices=["postgres", "sqlite"], default="postgres")
    ap.add_argument("--env", action="append", default=[], metavar="KEY=VALUE", help="a setting for the workers")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="fapiao-scale-") as tmp, ExitStack() as stack:
        home = Path(tmp) / "home"
        home.mkdir()
        url = (stack.enter_context(scratch_database("bench_scale")) if args.db == "postgres"
               else f"sqlite:///{home / 'fapiao.sqlite3'}")
        result = run(args, url, home)
        from core import db

        db.set_engine(None)
    print(json.dumps(result, ensure_ascii=False, indent=2))
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"scale-{args.db}.json").write_text(json.dumps(result, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
