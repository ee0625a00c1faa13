"""``fapiao worker`` (run queued jobs), ``fapiao job show|list|import|build-year``.

``worker`` runs on any machine that reaches the database (PostgreSQL for several machines);
SIGTERM or Ctrl+C stops it after the jobs it is running. A worker killed outright loses
nothing: on SQLite its jobs' leases lapse, on PostgreSQL (a procrastinate worker, ``core.pq``)
its heartbeat stops, and another worker runs them again.
"""

from __future__ import annotations

import argparse
import signal
import sys
from typing import Any

from api.cli.common import (
    BAD_INPUT,
    OK,
    REFUSED,
    CliError,
    add_flags,
    open_db,
    open_db_as,
    print_json,
    service_session,
)
from core import messages


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``worker`` and ``job``."""
    p = sub.add_parser("worker", help="run queued jobs (imports, packaging, exports, sweeps) until stopped",
                       description="Claims jobs from the database queue and runs them; start as many as you "
                                   "like on as many machines as reach the database.")
    p.add_argument("--concurrency", type=int, default=2, metavar="N", help="jobs at a time (default 2)")
    p.add_argument("--once", action="store_true", help="run what is queued now, then exit")
    p.add_argument("--no-schedule", action="store_true",
                   help="do not queue the daily jobs (audit anchor, store sweep, fixity, retention)")
    add_flags(p, run_worker, acting=False)

    job = sub.add_parser("job", help="queued jobs: state, progress, counts").add_subparsers(
        dest="job_command", required=True, metavar="ACTION")
    p = job.add_parser("show", help="one job: state, attempts, progress, counts, result or error")
    p.add_argument("id", metavar="ID")
    add_flags(p, run_show, acting=False)
    p = job.add_parser("list", help="recent jobs")
    p.add_argument("--state", choices=["queued", "running", "done", "failed"])
    p.add_argument("--kind", metavar="KIND")
    p.add_argument("--limit", type=int, default=50)
    add_flags(p, run_list, acting=False)
    p = job.add_parser("import", help="queue the import of files and folders (run by the workers)")
    p.add_argument("paths", nargs="+", metavar="PATH", help="files or folders (the workers must reach them)")
    p.add_argument("--wait", action="store_true", help="run the job in this process and wait for it")
    add_flags(p, run_import_job)
    p = job.add_parser("build-year", help="queue the packaging of every posted voucher of a year (parallel)")
    p.add_argument("year", type=int, metavar="YEAR")
    p.add_argument("--wait", action="store_true", help="run the jobs in this process and wait for them")
    add_flags(p, run_build_year)


def _install() -> None:
    from api import job_kinds

    job_kinds.install()


def run_worker(args: argparse.Namespace) -> int:
    from core import jobs, worker
    from core.db import get_engine

    if not 1 <= args.concurrency <= 64:
        raise CliError(BAD_INPUT, "job.cli_bad_workers", messages.text("job.cli_bad_workers"))
    open_db()
    _install()
    if args.once:
        n = jobs.run_pending(get_engine())
        if args.json:
            print_json({"ran": n})
        return OK
    runner = worker.Runner(args.concurrency, schedule=not args.no_schedule)

    def stop(_sig: int, _frame: Any) -> None:
        print(messages.text("worker.stopping"), file=sys.stderr, flush=True)
        runner.stop(timeout=0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(messages.text("worker.started", threads=args.concurrency,
                        database=get_engine().url.render_as_string(hide_password=True)), file=sys.stderr, flush=True)
    runner.start()
    runner.wait()
    return OK


def _line(d: dict[str, Any]) -> str:
    prog = d["progress"]
    total = f"/{prog['total']}" if prog["total"] is not None else ""
    counts = " ".join(f"{k}={v}" for k, v in sorted(d["counts"].items()))
    err = f"  {d['error']['message']}" if d.get("error") and d["state"] == "failed" else ""
    return (f"{d['id']}  {d['kind_label']}  {d['state_label']}  {prog['done']}{total}  "
            f"第{d['attempts']}次  {counts}{err}")


def run_show(args: argparse.Namespace) -> int:
    from api.routes.jobs import job_view
    from core import jobs

    open_db()
    with service_session() as s:
        job = jobs.get_job(s, args.id)
        if job is None:
            raise CliError(REFUSED, "job_not_found", messages.text("job_not_found", id=args.id))
        d = job_view(s, job).to_json()
    if args.json:
        print_json(d)
    else:
        print(_line(d))
        if d.get("children"):
            print("  " + " ".join(f"{messages.label('job_state', k)} {v}" for k, v in d["children"].items()))
    return OK if d["state"] != "failed" else REFUSED


def run_list(args: argparse.Namespace) -> int:
    """``GET /jobs``'s ``Items[JobPublic]``, or one line per job."""
    from core import jobs
    from core.public import Items, JobPublic

    open_db()
    with service_session() as s:
        rows = jobs.list_jobs(s, state=args.state, kind=args.kind, limit=args.limit)
        out = Items[JobPublic](items=[JobPublic.from_job(j) for j in rows], total=len(rows))
    if args.json:
        print_json(out.to_json())
    else:
        for d in out.to_json()["items"]:
            print(_line(d))
    return OK


def run_import_job(args: argparse.Namespace) -> int:
    from pathlib import Path

    from core import jobs

    user = open_db_as(args, "invoice.upload")
    _install()
    paths = [str(Path(p).resolve()) for p in args.paths]
    missing = [p for p in paths if not Path(p).exists()]
    if missing:
        raise CliError(BAD_INPUT, "job.path_missing", messages.text("job.path_missing", path=missing[0]))
    with service_session() as s:
        job = jobs.enqueue(s, "invoice.import", {"paths": paths, "username": user.username},
                           created_by=user.username)
        job_id, kind = job.id, job.kind
    return _started(args, job_id, kind)


def _started(args: argparse.Namespace, job_id: str, kind: str) -> int:
    from core import jobs

    if args.wait:
        jobs.run_pending()
        return run_show(argparse.Namespace(id=job_id, json=args.json))
    if args.json:
        print_json({"id": job_id, "kind": kind, "state": "queued"})
    else:
        print(messages.text("job.cli_started", id=job_id, kind=kind))
    return OK


def run_build_year(args: argparse.Namespace) -> int:
    from archive.jobs import start_year_build

    user = open_db_as(args, "archive.package")
    _install()
    with service_session() as s:
        job = start_year_build(s, user, args.year)
        job_id, kind = job.id, job.kind
    return _started(args, job_id, kind)
