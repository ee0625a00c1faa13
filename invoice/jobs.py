"""Queued work of the invoice package: folder imports, 查验, store fixity and sweep.

Each handler is idempotent, because a job whose worker died is run again (``core.jobs``):

* ``invoice.import`` imports files and folders; files the same user already registered come
  back as ``already_imported`` (same SHA-256, same uploader), so a rerun after a kill adds
  only the files the killed run had not committed, and counts them apart.
* ``invoice.online_check`` is bounded by the per-invoice daily limit, which the database counts.
* ``store.fixity`` only reads; ``store.sweep`` removes files no record names (removing one twice
  is a no-op).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from core import jobs
from core.db import session_scope

SYSTEM_USER = "system"


def _import(ctx: jobs.JobContext, params: dict[str, Any]) -> dict[str, Any]:
    from invoice.importer import count_files, import_paths

    paths = [str(p) for p in params.get("paths") or []]
    username = str(params.get("username") or "")
    if not paths or not username:
        raise jobs.JobError("job.bad_params", "invoice.import needs paths and username",
                            {"kind": "invoice.import", "need": "paths, username"})
    missing = [p for p in paths if not Path(p).exists()]
    if missing:
        raise jobs.JobError("job.path_missing", f"no such path: {missing[0]}", {"path": missing[0]})
    ctx.done, ctx.counts = 0, {}  # a rerun recounts: earlier files come back as already_imported
    ctx.set_total(count_files(Path(p) for p in paths))

    def on_entry(kind: str, _entry: dict[str, Any]) -> None:
        ctx.advance(1, **{kind: 1})

    result = import_paths(paths, username, workers=params.get("workers"), keep_entries=False,
                          on_entry=on_entry, batch_size=int(params.get("batch_size") or 200),
                          policy=params.get("policy"))
    ctx.flush()
    return {"counts": dict(result.counts), "processed": result.processed, "attempt": ctx.attempt}


def _online_check(ctx: jobs.JobContext, params: dict[str, Any]) -> dict[str, Any]:
    from invoice.online_store import run_online_check

    with session_scope(ctx.engine) as s:
        res = run_online_check(s, str(params["invoice_id"]), username=str(params.get("username") or SYSTEM_USER))
        out = res.to_dict()
    ctx.advance(1)
    return dict(out)


def _fixity(ctx: jobs.JobContext, params: dict[str, Any]) -> dict[str, Any]:
    from invoice.storecheck import check_store

    with session_scope(ctx.engine) as s:
        report = check_store(s)
    d = report.to_dict()
    ctx.counts = {"checked": d["checked"], "missing": len(d["missing"]), "corrupt": len(d["corrupt"]),
                  "orphans": len(d["orphans"])}
    ctx.done = d["checked"]
    return {"ok": report.ok, "missing": d["missing"][:100], "corrupt": d["corrupt"][:100]}


def _sweep(ctx: jobs.JobContext, params: dict[str, Any]) -> dict[str, Any]:
    from invoice.storecheck import sweep_orphans

    hours = max(1.0, float(params.get("older_than_hours") or 24))
    with session_scope(ctx.engine) as s:
        report = sweep_orphans(s, str(params.get("username") or SYSTEM_USER), timedelta(hours=hours))
    d = report.to_dict()
    ctx.counts = {"orphans": len(d["orphans"]), "removed": len(d["removed"])}
    return {"removed": len(d["removed"])}


HANDLERS: dict[str, jobs.Handler] = {
    "invoice.import": _import,
    "invoice.online_check": _online_check,
    "store.fixity": _fixity,
    "store.sweep": _sweep,
}
