"""Scale run: invoices through the job queue with W ``fapiao worker`` processes on PostgreSQL + S3.

    .venv/bin/python bench/scale.py --invoices 50000 --prefill 970000 --workers 2 [--chunk 2000]
                                    [--s3-endpoint URL | --s3-port 54341] [--slices 10] [--env K=V ...]

1. A scratch database on the test PostgreSQL server (``bench/pgscratch.py``), migrated; an
   S3 server: moto's standalone server started by this script on ``--s3-port`` (and stopped
   at the end), or the one at ``--s3-endpoint``; a fresh bucket with Object Lock, as
   production would use.
2. ``--prefill N``: N registered invoices bulk-loaded with COPY (``bench/prefill.py``: rows,
   stored-file rows and audit entries, no objects), so the queue run meets a registry of that
   size. This part does NOT go through the queue.
3. The realistic mix of ``bench/mix.py`` (XML, unsigned and signed OFD, PDF, duplicates, bad
   files) written into folders of ``--chunk`` files and queued with ``fapiao job import``
   (one job per folder); then ``--workers`` ``fapiao worker --concurrency 1`` processes run
   them. The queue is driven only through the CLI (``job import``, ``worker``, ``job list
   --json``), never through ``core.jobs``.
4. Printed: import rate overall and per slice of the run (how it changes as the registry
   grows), the outcome counts, CPU seconds per file of every role (workers, sandboxes,
   PostgreSQL backends of this database, the S3 server) and peak RSS of one process of each
   role, the load average, how often a worker waited for the audit chain's lock, and the
   duplicate check (``invoice.registry.find_existing``) on the filled registry: p50/p99 of
   2,000 look-ups (half present keys sampled from the whole table, half absent).
5. The extrapolation to 10 workers from the measured per-role CPU (``extrapolate``).

Results go to ``bench/results/scale-<db>.json``.
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
import urllib.request
from contextlib import ExitStack
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# bench/ last: bench/accounting.py and bench/xml.py must not shadow the package or the stdlib
# (boto3 imports xml.etree), so the script's own folder leaves the front of the path.
sys.path[:] = [str(ROOT)] + [p for p in sys.path if p and Path(p).resolve() != ROOT / "bench"] + [str(ROOT / "bench")]

from mix import ORG_NAME, ORG_TAX_ID, write_mix  # noqa: E402
from pgscratch import scratch_database  # noqa: E402
from procmon import Monitor, worker_role  # noqa: E402

USER = "bench-clerk"
CLI = [sys.executable, "-c", "from api.cli import run; run()"]


def _percentile(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(p / 100 * (len(s) - 1))))]


def duplicate_check(url: str, n: int = 2000) -> dict[str, float]:
    """The registry's duplicate look-up on the filled database: present keys sampled from the
    whole table (prefilled and queued rows alike), and absent ones."""
    from sqlalchemy import text

    from core import db
    from invoice.registry import find_existing

    engine = db.make_engine(url)
    rng = random.Random(11)
    with db.session_scope(engine) as s:
        rows = s.execute(text("SELECT unique_sha256, unique_key FROM invoices TABLESAMPLE SYSTEM (2) "
                              "WHERE unique_sha256 IS NOT NULL LIMIT 20000")).all()
        known = [(sha, key) for sha, key in rows]
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
        total = s.execute(text("SELECT count(*) FROM invoices")).scalar_one()
    engine.dispose()
    return {"lookups": n, "registry_rows": int(total), "p50_ms": round(statistics.median(times), 3),
            "p99_ms": round(_percentile(times, 99), 3), "cpu_p50_ms": round(statistics.median(cpu), 3),
            "cpu_p99_ms": round(_percentile(cpu, 99), 3)}


def start_s3(port: int, log: Path) -> subprocess.Popen[bytes]:
    """moto's standalone S3 server on 127.0.0.1:``port`` (as ``scripts/s3.sh`` starts it)."""
    moto = Path(sys.executable).parent / "moto_server"
    proc = subprocess.Popen([str(moto), "-H", "127.0.0.1", "-p", str(port)], stdout=log.open("wb"),
                            stderr=subprocess.STDOUT, start_new_session=True)
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/moto-api/", timeout=1)
            return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"moto_server did not start on port {port}: see {log}")


def cli_json(env: dict[str, str], *args: str) -> Any:
    out = subprocess.run([*CLI, *args, "--json"], env=env, cwd=ROOT, check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def run(args: argparse.Namespace, url: str, home: Path, s3_url: str, bucket: str) -> dict[str, Any]:
    from core import db
    from core.s3store import bucket_from_settings
    from core.settings import Settings, override_settings
    from core.users import create_user

    settings = Settings(home=home, database_url=url, environment="test", org_name=ORG_NAME, org_tax_id=ORG_TAX_ID,
                        store="s3", s3_endpoint=s3_url, s3_bucket=bucket, s3_access_key="test",
                        s3_secret_key="test", s3_region="us-east-1")
    override_settings(settings)
    engine = db.make_engine(url)
    db.migrate(engine)
    db.set_engine(engine)
    with db.session_scope() as s:
        create_user(s, USER, "clerk")
    bucket_from_settings(settings).ensure()
    prefilled: dict[str, Any] = {"rows": 0}
    if args.prefill:
        from prefill import prefill

        print(f"prefill {args.prefill} rows …", file=sys.stderr, flush=True)
        prefilled = prefill(url, args.prefill, USER)
        print(json.dumps(prefilled), file=sys.stderr, flush=True)

    env = {k: v for k, v in os.environ.items() if not k.startswith("FAPIAO_") and k != "DATABASE_URL"}
    env.update({"PYTHONPATH": str(ROOT), "FAPIAO_HOME": str(home), "DATABASE_URL": url, "FAPIAO_ENVIRONMENT": "test",
                "FAPIAO_ORG_NAME": ORG_NAME, "FAPIAO_ORG_TAX_ID": ORG_TAX_ID, "FAPIAO_STORE": "s3",
                "FAPIAO_S3_ENDPOINT": s3_url, "FAPIAO_S3_BUCKET": bucket, "FAPIAO_S3_ACCESS_KEY": "test",
                "FAPIAO_S3_SECRET_KEY": "test", "FAPIAO_S3_REGION": "us-east-1", "FAPIAO_USER": USER})
    env.update(dict(e.split("=", 1) for e in args.env))

    inbox = home.parent / "inbox"
    t0 = time.perf_counter()
    mix: dict[str, int] = {}
    job_ids = []
    for start in range(0, args.invoices, args.chunk):
        n = min(args.chunk, args.invoices - start)
        folder = inbox / f"chunk-{start // args.chunk:05d}"
        for k, v in write_mix(folder, n, start=start).items():
            mix[k] = mix.get(k, 0) + v
        job_ids.append(cli_json(env, "job", "import", str(folder))["id"])
    gen_s = time.perf_counter() - t0
    print(f"{len(job_ids)} jobs queued in {gen_s:.0f} s; workers start", file=sys.stderr, flush=True)

    dbname = url.rsplit("/", 1)[1]
    procs: list[subprocess.Popen[bytes]] = []
    mon = Monitor(roots={"worker": lambda: [p.pid for p in procs]},
                  patterns={"postgres": f"postgres: postgres {dbname} ", "s3_server": f"-p {s3_url.rsplit(':', 1)[1]}"},
                  classify=worker_role, interval=1.0)
    timeline: list[tuple[float, int, int]] = []  # (seconds, files processed, rows imported)
    lock_samples = [0, 0]  # [samples, samples with a backend waiting on the audit advisory lock]
    from sqlalchemy import text

    with ExitStack() as stack:
        t0 = time.perf_counter()
        for w in range(args.workers):
            log = stack.enter_context((home / f"worker-{w}.log").open("wb"))
            procs.append(subprocess.Popen([*CLI, "worker", "--concurrency", "1", "--no-schedule"], env=env, cwd=ROOT,
                                          stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
        mon.start()
        try:
            last_poll = 0.0
            while True:
                time.sleep(1.0)
                with engine.connect() as c:  # read-only: how many workers wait for the audit lock now
                    waiting = c.execute(text("SELECT count(*) FROM pg_stat_activity WHERE datname = :d AND "
                                             "wait_event_type = 'Lock' AND wait_event = 'advisory'"),
                                        {"d": dbname}).scalar_one()
                lock_samples[0] += 1
                lock_samples[1] += int(waiting > 0)
                if time.perf_counter() - last_poll < args.poll:
                    continue
                last_poll = time.perf_counter()
                listing = cli_json(env, "job", "list", "--kind", "invoice.import", "--limit", str(len(job_ids) + 10))
                mine = [j for j in listing["items"] if j["id"] in set(job_ids)]
                done = sum(j["progress"]["done"] or 0 for j in mine)
                imported = sum((j.get("counts") or {}).get("imported", 0) for j in mine)
                timeline.append((time.perf_counter() - t0, done, imported))
                print(f"{timeline[-1][0]:7.0f} s  {done:8d} files  {imported:8d} imported  "
                      f"load {os.getloadavg()[0]:.1f}", file=sys.stderr, flush=True)
                if len(mine) == len(job_ids) and all(j["state"] in ("done", "failed") for j in mine):
                    break
                if any(p.poll() is not None for p in procs):
                    raise SystemExit("a worker stopped: see " + str(home))
            wall = time.perf_counter() - t0
        finally:
            mon.stop()
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
    for j in job_ids:
        job = cli_json(env, "job", "show", j)
        if job["state"] != "done":
            failed.append(job.get("error"))
        for k, v in (job.get("counts") or {}).items():
            counts[k] = counts.get(k, 0) + v
    roles = mon.snapshot()
    print("duplicate check …", file=sys.stderr, flush=True)
    dup = duplicate_check(url)
    per_file = {r: round(v["cpu_s"] / args.invoices * 1000, 2) for r, v in roles.items()}
    rate = args.invoices / wall
    return {"invoices_through_queue": args.invoices, "prefill": prefilled, "workers": args.workers,
            "chunk": args.chunk, "db": "postgres", "store": "s3 (moto_server)", "cores": os.cpu_count(),
            "generate_s": round(gen_s, 1), "import_s": round(wall, 1), "files_per_s": round(rate, 1),
            "files_per_s_per_worker": round(rate / args.workers, 1), "mix": mix, "outcome": counts,
            "failed_jobs": failed, "rate_per_slice": slices(timeline, args.invoices, args.slices, args.prefill or 0),
            "cpu_ms_per_file": per_file,
            "files_per_cpu_s_worker_sandbox": round(args.invoices / max(1e-9, sum(
                v["cpu_s"] for r, v in roles.items() if r in ("worker", "sandbox"))), 1),
            "peak_rss_mb_per_process": {r: v["peak_mb"] for r, v in roles.items()},
            "processes_seen": {r: v["processes"] for r, v in roles.items()},
            "audit_lock_wait_share": round(lock_samples[1] / max(1, lock_samples[0]), 3),
            "duplicate_check": dup,
            "load_average": {"mean": round(statistics.fmean(mon.load), 2) if mon.load else None,
                             "max": round(max(mon.load), 2) if mon.load else None},
            "extrapolation": extrapolate(per_file, rate, args.workers)}


def slices(timeline: list[tuple[float, int, int]], n: int, k: int, prefill: int) -> list[dict[str, Any]]:
    """Files per second in each k-th of the run, with the registry size when the slice ended."""
    out: list[dict[str, Any]] = []
    prev_t, prev_done = 0.0, 0
    for target in [n * (i + 1) // k for i in range(k)]:
        hit = next((p for p in timeline if p[1] >= target), None)
        if hit is None:
            break
        t, done, imported = hit
        if done <= prev_done:
            continue
        out.append({"files": f"{prev_done}-{done}", "files_per_s": round((done - prev_done) / max(1e-9, t - prev_t), 1),
                    "registry_rows_at_end": prefill + imported})
        prev_t, prev_done = t, done
    return out


def extrapolate(per_file_ms: dict[str, float], rate: float, workers: int) -> dict[str, Any]:
    """10 workers, from the CPU each role spends per file (measured) rather than from wall time.

    Per file, a worker and its sandboxes spend ``worker + sandbox`` ms of CPU, the database
    ``postgres`` ms, the S3 server ``s3_server`` ms; none of these grows with the registry
    (two B-tree probes and one append: see the per-slice rates). With enough cores, W workers
    import W / (worker + sandbox) files per second, provided the database and the object store
    get W × their own per-file CPU. The one serial step is the audit chain: each batch
    holds its lock from its first append to its commit, so that step caps the whole cluster
    whatever W is (``audit_lock_wait_share`` says how often a worker already waited at W = 2).
    """
    app = per_file_ms.get("worker", 0.0) + per_file_ms.get("sandbox", 0.0)
    pg = per_file_ms.get("postgres", 0.0)
    s3 = per_file_ms.get("s3_server", 0.0)
    out: dict[str, Any] = {"app_cpu_ms_per_file": round(app, 2), "postgres_cpu_ms_per_file": pg,
                           "s3_server_cpu_ms_per_file": s3, "measured_files_per_s": round(rate, 1),
                           "measured_workers": workers}
    if app:
        per_worker = 1000 / app
        out["idle_files_per_s_per_worker_core"] = round(per_worker, 1)
        for w in (1, 2, 4, 10):
            fps = w * per_worker
            out[f"{w}_workers"] = {"files_per_s": round(fps, 1), "1M_hours": round(1e6 / fps / 3600, 2),
                                   "app_cores": w, "postgres_cores": round(fps * pg / 1000, 2),
                                   "s3_server_cores": round(fps * s3 / 1000, 2)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--invoices", type=int, default=2000, help="files through the queue")
    ap.add_argument("--prefill", type=int, default=0, help="registered invoices bulk-loaded first (not queued)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--chunk", type=int, default=2000, help="files per import job")
    ap.add_argument("--slices", type=int, default=10)
    ap.add_argument("--poll", type=float, default=10.0, help="seconds between job-list polls")
    ap.add_argument("--s3-endpoint", help="use this S3 server instead of starting moto")
    ap.add_argument("--s3-port", type=int, default=54341, help="port for the moto server this script starts")
    ap.add_argument("--env", action="append", default=[], metavar="KEY=VALUE", help="a setting for the workers")
    args = ap.parse_args()
    # SIGTERM unwinds like Ctrl+C, so the workers, the S3 server and the scratch database go too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with tempfile.TemporaryDirectory(prefix="fapiao-scale-") as tmp, ExitStack() as stack:
        home = Path(tmp) / "home"
        home.mkdir()
        s3_proc = None
        s3_url = args.s3_endpoint
        if not s3_url:
            s3_proc = start_s3(args.s3_port, Path(tmp) / "moto.log")
            s3_url = f"http://127.0.0.1:{args.s3_port}"
        try:
            url = stack.enter_context(scratch_database("bench_scale"))
            result = run(args, url, home, s3_url, f"scale-{os.getpid()}")
            from core import db

            db.set_engine(None)
        finally:
            if s3_proc is not None:
                os.killpg(s3_proc.pid, signal.SIGTERM)
                s3_proc.wait(30)
    print(json.dumps(result, ensure_ascii=False, indent=2))
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "scale-postgres.json").write_text(json.dumps(result, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
