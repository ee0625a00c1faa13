"""Reimbursement claims (报销单) and their sign-off steps; rules live in ``accounting.claims``."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field

from accounting import claims
from accounting.public import ClaimPublic
from api.deps import ReadSessionDep, Requires, SessionDep
from core.public import Page
from core.users import User

router = APIRouter(tags=["claims"])

ClaimId = Annotated[str, Path(max_length=64)]


class ClaimLineIn(BaseModel):
    invoice_id: str = Field(max_length=64)
    category: str | None = Field(default=None, max_length=64, description="expense category, e.g. 差旅费")
    amount: Decimal | None = Field(default=None, max_digits=18, decimal_places=2,
                                   description="amount claimed; defaults to the invoice total")


class ClaimCreate(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    department: str | None = Field(default=None, max_length=100)
    purpose: str | None = Field(default=None, max_length=500)
    lines: list[ClaimLineIn] = Field(min_length=1, max_length=500)


class ClaimPatch(BaseModel):
    """Fields to change on a draft or rejected claim; those left out stay as they are."""

    title: str | None = Field(default=None, min_length=1, max_length=200)
    department: str | None = Field(default=None, max_length=100)
    purpose: str | None = Field(default=None, max_length=500)
    lines: list[ClaimLineIn] | None = Field(default=None, min_length=1, max_length=500)


class StepIn(BaseModel):
    comment: str | None = Field(default=None, max_length=1000)


def _lines(body: ClaimCreate | ClaimPatch) -> list[dict[str, Any]]:
    out = []
    for line in body.lines or []:
        d: dict[str, Any] = {"invoice_id": line.invoice_id}
        if line.category is not None:
            d["category"] = line.category
        if line.amount is not None:
            d["amount"] = line.amount
        out.append(d)
    return out


@router.post("/claims", status_code=201, response_model=ClaimPublic, summary="Create a claim (draft) from invoices")
def create(body: ClaimCreate, user: Annotated[User, Depends(Requires("claim.create"))],
           s: SessionDep) -> ClaimPublic:
    claim = claims.create_claim(s, user, body.title, body.department, body.purpose, lines=_lines(body))
    return ClaimPublic.from_claim(s, claim)


@router.get("/claims", response_model=Page[ClaimPublic], summary="List claims, optionally by state")
def list_claims(_: Annotated[User, Depends(Requires("claim.read"))], s: ReadSessionDep,
                state: Annotated[claims.ClaimState | None, Query()] = None,
                claimant: Annotated[str | None, Query(max_length=64, description="claimant username")] = None,
                q: Annotated[str | None, Query(max_length=200, description="title or department fragment")] = None,
                date_from: Annotated[str | None, Query(max_length=40, description="created from (YYYY-MM-DD)")] = None,
                date_to: Annotated[str | None, Query(max_length=40, description="created to (YYYY-MM-DD)")] = None,
                sort: Annotated[str | None, Query(max_length=200, description="e.g. -total; created_at, total, "
                                                  "title, state, claimant, department")] = None,
                page: Annotated[int, Query(ge=1)] = 1,
                page_size: Annotated[int, Query(ge=1, le=500)] = 50) -> Page[ClaimPublic]:
    rows, total = claims.list_claims(s, page=page, page_size=page_size, state=state, claimant=claimant,
                                     sort=sort, date_from=date_from, date_to=date_to, q=q)
    return Page[ClaimPublic](items=[ClaimPublic.from_claim(s, c) for c in rows], total=total, page=page,
                             page_size=page_size)


@router.get("/claims/{claim_id}", response_model=ClaimPublic, summary="One claim with its lines and steps")
def get_claim(_: Annotated[User, Depends(Requires("claim.read"))], s: ReadSessionDep,
              claim_id: ClaimId) -> ClaimPublic:
    return ClaimPublic.from_claim(s, claims.get_claim(s, claim_id))


@router.patch("/claims/{claim_id}", response_model=ClaimPublic,
              summary="Edit a draft or rejected claim (title, department, purpose, lines); its claimant only")
def edit(body: ClaimPatch, user: Annotated[User, Depends(Requires("claim.edit"))], s: SessionDep,
         claim_id: ClaimId) -> ClaimPublic:
    given = body.model_dump(exclude_unset=True)
    changes: dict[str, Any] = {k: given[k] for k in ("title", "department", "purpose") if k in given}
    if "lines" in given:
        changes["lines"] = _lines(body)
    claim = claims.update_claim(s, user, claim_id, **changes)
    return ClaimPublic.from_claim(s, claim)


def _step(action: str, user: User, s: Any, claim_id: str, body: StepIn | None) -> ClaimPublic:
    fn = {"submit": claims.submit_claim, "review": claims.review_claim,
          "approve": claims.approve_claim, "reject": claims.reject_claim}[action]
    claim = fn(s, user, claim_id, comment=body.comment if body else None)
    return ClaimPublic.from_claim(s, claim)


@router.post("/claims/{claim_id}/submit", response_model=ClaimPublic, summary="Submit a draft claim for review")
def submit(user: Annotated[User, Depends(Requires("claim.submit"))], s: SessionDep, claim_id: ClaimId,
           body: StepIn | None = None) -> ClaimPublic:
    return _step("submit", user, s, claim_id, body)


@router.post("/claims/{claim_id}/review", response_model=ClaimPublic, summary="Review (审核) a submitted claim")
def review(user: Annotated[User, Depends(Requires("claim.review"))], s: SessionDep, claim_id: ClaimId,
           body: StepIn | None = None) -> ClaimPublic:
    return _step("review", user, s, claim_id, body)


@router.post("/claims/{claim_id}/approve", response_model=ClaimPublic, summary="Approve (审批) a claim")
def approve(user: Annotated[User, Depends(Requires("claim.approve"))], s: SessionDep, claim_id: ClaimId,
            body: StepIn | None = None) -> ClaimPublic:
    return _step("approve", user, s, claim_id, body)


@router.post("/claims/{claim_id}/reject", response_model=ClaimPublic, summary="Reject a claim, with a comment")
def reject(user: Annotated[User, Depends(Requires("claim.reject"))], s: SessionDep, claim_id: ClaimId,
           body: StepIn | None = None) -> ClaimPublic:
    return _step("reject", user, s, claim_id, body)
