"""One file read, parsed and verified: the pure step of an upload or import.

``analyse`` runs in a sandbox worker (:mod:`invoice.sandbox`) for every untrusted file; it
imports no database code, so a worker stays small and starts fast. ``analyse_sandboxed`` and
``analyse_path_sandboxed`` are what the importer calls: a file over a sandbox limit comes
back as an ``Analysis`` with the ``too_complex`` error, like any unreadable file.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from core import messages
from core.clock import today_china
from core.settings import get_settings
from invoice.errors import InvoiceError
from invoice.image.load import image_type
from invoice.model import Invoice, sha256_hex
from invoice.sandbox import Limits, SandboxError, TooComplex
from invoice.sandbox import run as sandbox_run

__all__ = ["Analysis", "analyse", "analyse_path_sandboxed", "analyse_sandboxed"]


@dataclass
class Analysis:
    """One file read, parsed and verified: what a worker sends back (no file bytes)."""

    file: str
    sha256: str = ""
    size: int = 0
    invoice: Invoice | None = None
    report: dict[str, Any] | None = None
    error: dict[str, Any] | None = None  # code, message; too_complex adds limit and value


def _error(code: str, message_code: str, **params: Any) -> dict[str, Any]:
    return {"code": code, "message": messages.text(message_code, **params)}


def _verify(data: bytes, invoice: Invoice, org_name: str | None, org_tax_id: str | None,
            today: date | None) -> dict[str, Any]:
    from invoice.verify import verify

    report = verify(data, invoice, org_name=org_name, org_tax_id=org_tax_id, today=today)
    return dict(report.to_dict())


def analyse(data: bytes, filename: str, org_name: str | None = None, org_tax_id: str | None = None,
            max_bytes: int | None = None, today: date | None = None) -> Analysis:
    """Parse and verify one file's bytes in this process; an unreadable file becomes an error.

    Trusted input only (tests, benchmarks, and the sandbox worker itself): untrusted bytes go
    through :func:`analyse_sandboxed`.
    """
    from invoice import parse

    a = Analysis(file=filename, sha256=sha256_hex(data), size=len(data))
    try:
        inv = parse(data, max_bytes=max_bytes)
        a.report = _verify(data, inv, org_name, org_tax_id, today)
        a.invoice = inv
    except InvoiceError as exc:
        a.error = exc.to_dict(file=filename)
    except TimeoutError:
        a.error = _error("timeout", "import.timeout", file=filename)
    except (ImportError, MemoryError):
        raise  # a broken installation stops the import loudly; memory is the sandbox's call
    except Exception as exc:  # a parser bug must not end a 10,000-file import
        a.error = _error("unreadable", "import.unreadable", file=filename, reason=f"{type(exc).__name__}: {exc}")
    return a


def _analyse_path(path: str, org_name: str | None, org_tax_id: str | None, max_bytes: int,
                  today: date | None = None) -> Analysis:
    """Worker entry point: read the file itself, so only paths and results cross processes."""
    try:
        size = os.path.getsize(path)
        if size > max_bytes:
            return Analysis(file=path, size=size, error=_error("too_large", "import.too_large", file=path,
                                                               size=size, limit=max_bytes))
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        return Analysis(file=path, error=_error("unreadable", "import.unreadable", file=path,
                                                reason=exc.strerror or str(exc)))
    return analyse(data, path, org_name, org_tax_id, max_bytes, today)


def scan_limits(head: bytes) -> Limits | None:
    """The sandbox bounds for a file starting with ``head``: a JPEG/PNG scan needs OCR, which
    takes longer than any text-layer read (``scan_cpu_seconds``, ``scan_wall_seconds``); None
    (the default limits) for every other file."""
    if image_type(head) is None:
        return None
    s = get_settings()
    return Limits(float(s.scan_cpu_seconds), float(s.scan_wall_seconds), int(s.sandbox_memory_mb))


def _head(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(16)
    except OSError:
        return b""  # the worker reports the unreadable file itself


def _sandboxed(fn: Callable[..., Analysis], file: str, *args: Any,
               limits: Limits | None = None) -> Analysis:
    """``fn(*args)`` in a sandbox worker; a limit or a worker failure becomes an error entry."""
    try:
        return sandbox_run(fn, *args, name=file, limits=limits)
    except TooComplex as exc:
        return Analysis(file=file, error=exc.to_dict())
    except InvoiceError as exc:  # raised outside analyse's own handling (should not happen)
        return Analysis(file=file, error=exc.to_dict(file=file))
    except SandboxError as exc:
        return Analysis(file=file, error=_error("unreadable", "sandbox_error", file=file, error=str(exc)))


def analyse_sandboxed(data: bytes, filename: str, org_name: str | None = None, org_tax_id: str | None = None,
                      max_bytes: int | None = None, today: date | None = None) -> Analysis:
    """:func:`analyse` in a sandbox worker (the upload path)."""
    a = _sandboxed(analyse, filename, data, filename, org_name, org_tax_id, max_bytes, today or today_china(),
                   limits=scan_limits(data[:16]))
    if a.error is not None and not a.sha256:
        a.sha256, a.size = sha256_hex(data), len(data)
    return a


def analyse_path_sandboxed(path: str, org_name: str | None, org_tax_id: str | None, max_bytes: int,
                           today: date | None = None) -> Analysis:
    """:func:`_analyse_path` in a sandbox worker (folder imports)."""
    return _sandboxed(_analyse_path, path, path, org_name, org_tax_id, max_bytes, today or today_china(),
                      limits=scan_limits(_head(path)))
