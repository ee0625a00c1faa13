"""Operations endpoints outside the API prefix: liveness, readiness, Prometheus metrics.

``/healthz`` says only that the process answers (restart it if not); ``/readyz`` says whether
it should get traffic (database, migrations, store; 503 with the reasons otherwise);
``/metrics`` is the Prometheus text format. All three need no login: probes and scrapers have
none, and none of them reveals a record.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response

from api.deps import Public
from core import messages, metrics
from core.public import Ok, PublicModel
from core.readiness import readiness


class ProbePublic(PublicModel):
    """One part of readiness: ``reason`` (English, for operators) and ``message`` (Chinese)
    only when it failed."""

    ok: bool
    reason: str | None = None
    message: str | None = None


class ReadinessPublic(PublicModel):
    ready: bool
    checks: dict[str, ProbePublic]
    message: str

router = APIRouter(tags=["operations"])


@router.get("/healthz", dependencies=[Depends(Public("liveness probe of the orchestrator"))],
            summary="The process is alive", response_model=Ok)
def healthz() -> Ok:
    return Ok()


@router.get("/readyz", dependencies=[Depends(Public("readiness probe of the load balancer"))],
            summary="Database reachable, migrations at head, store writable (503 otherwise)",
            response_model=ReadinessPublic,
            responses={503: {"model": ReadinessPublic,
                             "description": "not ready; `checks` names the failing part and why"}})
def readyz() -> JSONResponse:
    probes = readiness()
    ready = all(p.ok for p in probes)
    body: dict[str, Any] = {"ready": ready, "checks": {p.name: p.to_dict() for p in probes}}
    if ready:
        body["message"] = messages.text("ops.ready.ok")
    else:
        body["message"] = messages.text("ops.ready.failed", reasons="；".join(p.message for p in probes if not p.ok))
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get("/metrics", dependencies=[Depends(Public("scraped by Prometheus; counts only, no records"))],
            summary="Prometheus metrics", response_class=Response,
            responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}})
def prometheus_metrics() -> Response:
    return Response(metrics.render(), media_type=metrics.CONTENT_TYPE)
