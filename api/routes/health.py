"""Liveness for load balancers and the CLI's ``serve`` start-up check."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from api.deps import Public
from core.public import Ok

router = APIRouter(tags=["health"])


@router.get("/health", dependencies=[Depends(Public("load balancers probe it without a login"))],
            response_model=Ok, summary="The service is up")
def health() -> Ok:
    return Ok()
