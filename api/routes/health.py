"""Liveness for load balancers and the CLI's ``serve`` start-up check."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from api.deps import Public

router = APIRouter(tags=["health"])


@router.get("/health", dependencies=[Depends(Public("load balancers probe it without a login"))],
            summary="The service is up")
def health() -> dict[str, Any]:
    return {"ok": True}
