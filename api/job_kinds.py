"""Which job kinds this application runs: the one place that wires handlers to the queue.

``core.jobs`` knows no handler; each package lists its own (``invoice.jobs.HANDLERS``,
``archive.jobs.HANDLERS``) and this module registers them when the app, a worker or the CLI
starts (``install()``), so that no import has a hidden side effect.
"""

from __future__ import annotations

from typing import Any

from core import jobs


def _audit_anchor(ctx: jobs.JobContext, params: dict[str, Any]) -> dict[str, Any]:
    """Anchor the audit chain head when it moved on since the last anchor (once a day)."""
    from core import audit

    anchor = audit.anchor_if_advanced(ctx.engine, "schedule")
    return {"anchored": anchor is not None, "seq": getattr(anchor, "seq", None)}


def install() -> list[str]:
    """Register every job kind (idempotent); returns the kinds."""
    from archive.jobs import HANDLERS as ARCHIVE
    from invoice.jobs import HANDLERS as INVOICE

    for kind, handler in {**INVOICE, **ARCHIVE, "audit.anchor": _audit_anchor}.items():
        jobs.register(kind, handler)
    return jobs.kinds()
