"""Prometheus metrics: what an operator graphs and alerts on (``GET /metrics``).

- ``fapiao_http_requests_total{method,route,status}`` and
  ``fapiao_http_request_duration_seconds{method,route}``: every request, by its route
  *template* (``/api/v1/invoices/{invoice_id}``), never the raw path, so ids do not explode
  the label space.
- ``fapiao_invoice_imports_total{outcome}``: files imported, duplicate, rejected, already
  imported; the import rate is ``rate()`` of it.
- ``fapiao_verifications_total{status}``: verification outcomes of imported files (valid,
  invalid, unsigned, indeterminate).
- ``fapiao_queue_depth``: jobs waiting; set by the job queue through ``set_queue_depth``.

Nothing here imports FastAPI: the services below ``api/`` count through plain functions. With
several server processes set ``PROMETHEUS_MULTIPROC_DIR`` (prometheus_client's multiprocess
mode) and ``/metrics`` sums the processes.
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import multiprocess as _mp

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

HTTP_REQUESTS = Counter("fapiao_http_requests", "HTTP requests answered",
                        ["method", "route", "status"])
HTTP_DURATION = Histogram("fapiao_http_request_duration_seconds", "Time to answer an HTTP request",
                          ["method", "route"],
                          buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
IMPORTS = Counter("fapiao_invoice_imports", "Invoice files handled by imports and uploads", ["outcome"])
VERIFICATIONS = Counter("fapiao_verifications", "Verification outcomes of imported files", ["status"])
QUEUE_DEPTH = Gauge("fapiao_queue_depth", "Jobs waiting in the queue", multiprocess_mode="max")


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    HTTP_REQUESTS.labels(method, route, str(status)).inc()
    HTTP_DURATION.labels(method, route).observe(seconds)


def count_import(outcome: str) -> None:
    """One file: ``imported``, ``duplicates``, ``rejected`` or ``already_imported``."""
    IMPORTS.labels(outcome).inc()


def count_verification(status: str) -> None:
    VERIFICATIONS.labels(status or "unknown").inc()


def set_queue_depth(n: int) -> None:
    """The job queue reports how many jobs wait (call it whenever it knows)."""
    QUEUE_DEPTH.set(n)


def render() -> bytes:
    """The text exposition of every metric (all processes in multiprocess mode)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        _mp.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return bytes(generate_latest(registry))
    return bytes(generate_latest())
