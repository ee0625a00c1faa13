"""The web page for finance staff: server-rendered HTML (Jinja2) with a little plain JavaScript.

Pages read through the same service functions as the JSON API; every action on a page
(upload, claim steps, posting, archiving) is a ``fetch`` to the JSON API with the session
cookie and the CSRF header, so the page can do nothing the API would not allow.

Every word a person reads comes from the catalogue (``core.messages``) through
``api.formatting``; money is ``¥25,254.62``, times are China time. The
page offers only what the user's role and the object's state allow (``claim_actions``,
the voucher page's ``can_*``), so it never offers what the API would refuse.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlmodel import Session, col, select

from accounting import claims, ledger, payments
from accounting.claims import Claim, ClaimState
from accounting.invoice_status import InvoiceStatus
from accounting.ledger import Voucher, VoucherState
from accounting.overrides import OVERRIDABLE
from api import formatting, page_lists
from api.deps import PageRequires, Public, ReadSessionDep, authenticate, safe_next
from api.errors import ApiError
from api.formatting import label, readable
from api.permissions import allowed
from api.routes.audit import entry_dict
from api.routes.invoices import invoice_detail, invoice_rows
from archive import package
from archive.store import ArchivePackage
from core import messages
from core.clock import today_china
from core.settings import get_settings
from core.users import Permission, Role, User, has_permission
from invoice import registry
from invoice.registry import InvoiceRecord, RecordStatus
from invoice.verify.report import VerifyStatus

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).resolve().parents[1] / "templates")
formatting.install(templates.env)

INVOICE_STATUSES = page_lists.INVOICE_STATUSES
# colour of each status: green may be claimed, amber needs a person, red never, grey is done
STATUS_TONE: dict[str, str] = {
    InvoiceStatus.CLAIMABLE: "ok", InvoiceStatus.NEEDS_CHECK: "warn", InvoiceStatus.FAILED: "bad",
    InvoiceStatus.NOT_OURS: "bad", InvoiceStatus.DUPLICATE: "bad", InvoiceStatus.CLAIMED: "info",
    InvoiceStatus.POSTED: "done"}
CLAIM_STATES = tuple(ClaimState)
CATEGORIES = ("办公费", "差旅费", "交通费", "业务招待费", "通讯费", "会议费", "培训费", "其他")


# --- the one status of an invoice ------------------------------------------------------------

@dataclass
class InvoiceState:
    """What the page says about an invoice: the one status ``accounting.invoice_status``
    derives (the claim gate's own rule), its colour, and the reasons in words."""

    status: str
    claimable: bool
    reasons: list[str] = field(default_factory=list)
    online_check_pending: bool = False
    override: dict[str, Any] | None = None

    @property
    def label(self) -> str:
        return label("invoice_status", self.status)

    @property
    def tone(self) -> str:
        return STATUS_TONE.get(self.status, "info")


def invoice_state(report: dict[str, Any], record: InvoiceRecord | None = None) -> InvoiceState:
    """The page's view of ``StatusReport.to_dict()`` (the gate's status, label, claimable and
    reasons, unchanged). For a file changed after signing, the members that changed are named
    first, so a tampered invoice says plainly what failed."""
    reasons = [str(r) for r in report.get("reasons") or []]
    if record is not None and record.verification_status == VerifyStatus.INVALID:
        detail = signature_failure(record.verification or {})
        reasons = [r for r in detail if r != messages.text("web.status.invalid")] + reasons
    return InvoiceState(str(report["status"]), bool(report["claimable"]), reasons,
                        bool(report.get("online_check_pending")), report.get("override"))


def signature_failure(verification: dict[str, Any]) -> list[str]:
    """Why verification failed, in words: which members changed after signing, else the reason."""
    changed: list[str] = []
    for sig in verification.get("signatures") or []:
        for ref in sig.get("references") or []:
            if ref.get("result") not in (None, "ok"):
                changed.append(str(ref.get("path")))
        changed.extend(str(m) for m in sig.get("tampered_members") or [] if str(m) not in changed)
    if changed:
        return [messages.text("web.status.tampered", members="、".join(changed))]
    reasons = [r for sig in verification.get("signatures") or [] for r in sig.get("reasons") or []]
    chinese = [readable(r) for r in reasons if readable(r)]
    if chinese:
        return [messages.text("web.status.signature_invalid", reason="；".join(chinese))]
    return [messages.text("web.status.invalid")]


def signature_facts(verification: dict[str, Any], source_format: str | None) -> list[dict[str, Any]]:
    """Per signature: seal, signer, time, and what was and was not established, in words."""
    out = []
    for sig in verification.get("signatures") or []:
        seal = sig.get("seal") or {}
        signer = sig.get("signer") or {}
        changed = [str(r.get("path")) for r in sig.get("references") or [] if r.get("result") not in (None, "ok")]
        covered = [str(r.get("path")) for r in sig.get("references") or []]
        uncovered = [str(m) for m in sig.get("uncovered_members") or sig.get("not_covered") or []]
        established, not_established = [], []
        if sig.get("signature_ok"):
            established.append("签名值经 SM2 验证正确")
        if sig.get("data_hash_ok"):
            established.append("签名所指的签名描述文件未被改动")
        if covered and not changed:
            established.append(f"签名保护的 {len(covered)} 个文件与签名时一致")
        if seal.get("signature_valid"):
            established.append("电子印章由制章者签署，印章数据未被改动")
        if changed:
            not_established.append(messages.text("web.sig.changed", members="、".join(changed)))
        if uncovered:
            not_established.append(messages.text("web.sig.not_covered", members="、".join(uncovered)))
        if sig.get("trusted") is not True:
            not_established.append(messages.text("web.sig.trust_not_established"))
        out.append({"status": sig.get("status"), "trusted": sig.get("trusted") is True,
                    "seal_name": seal.get("name"), "seal_id": seal.get("id"),
                    "seal_valid_end": seal.get("valid_end"), "signer": _common_name(signer.get("subject")),
                    "issuer": _common_name(signer.get("issuer")), "signing_time": sig.get("signing_time"),
                    "format": sig.get("format"), "established": established,
                    "not_established": not_established, "covered": covered})
    return out


def _common_name(subject: str | None) -> str:
    if not subject:
        return ""
    found = re.search(r"Common Name:\s*([^,]+)", subject)
    return found.group(1).strip() if found else subject


def coverage_facts(verification: dict[str, Any]) -> dict[str, list[dict[str, str]]]:
    """The report's ``issues`` (Chinese messages), and which field and which displayed part each
    signature covers and which none does, in words: a valid signature proves only what it covers."""
    names = {}
    for n, sig in enumerate(verification.get("signatures") or [], start=1):
        seal = (sig.get("seal") or {}).get("name")
        names[str(sig.get("id"))] = f"签名 {n}" + (f"（{seal}）" if seal else "")

    def by(sig_id: Any) -> str:
        return names.get(str(sig_id), f"签名 {sig_id}") if sig_id else "无"

    issues = [{"severity": str(i.get("severity")), "severity_label": label("issue_severity", i.get("severity")),
               "message": readable(i.get("message"), label("issue_severity", i.get("severity")))}
              for i in verification.get("issues") or [] if isinstance(i, dict)]
    fields = [{"field": label("invoice_field", c.get("field")), "location": str(c.get("location") or ""),
               "status": str(c.get("status") or ("signed" if c.get("covered_by") else "unsigned")),
               "status_label": label("coverage_status", c.get("status") or ("signed" if c.get("covered_by")
                                                                             else "unsigned")),
               "covered_by": by(c.get("covered_by"))}
              for c in verification.get("coverage") or [] if isinstance(c, dict)]
    parts = [{"member": str(p.get("member") or ""), "role": label("ofd_part", p.get("role")),
              "status": "signed" if p.get("covered_by") else "unsigned", "covered_by": by(p.get("covered_by"))}
             for p in verification.get("parts") or [] if isinstance(p, dict)]
    return {"issues": issues, "fields": fields, "parts": parts}


def check_rows(verification: dict[str, Any]) -> list[dict[str, str]]:
    """The verification table: each check by its Chinese name, result and (Chinese) message."""
    rows = []
    for c in verification.get("checks") or []:
        rows.append({"result": str(c.get("result")), "name": label("check", c.get("id")),
                     "message": readable(c.get("message"))})
    return rows


def invoice_table(s: Session, records: list[InvoiceRecord]) -> list[dict[str, Any]]:
    """Rows for an invoice table: the API's row dict plus the one status as the page shows it."""
    rows = invoice_rows(s, records)
    for row, rec in zip(rows, records, strict=True):
        row["state"] = invoice_state(row["invoice_status"], rec)
    return rows


# --- plumbing ---------------------------------------------------------------------------------

def nav_items(user: User) -> list[tuple[str, str]]:
    """The menu for a role: what it works on first, then what it may read."""
    items: list[tuple[str, str]] = []
    if allowed(user, "invoice.upload"):
        items.append(("/upload", "上传发票"))
    if user.role == Role.CLERK:
        items.append(("/invoices?mine=1", "我的发票"))
    items.append(("/invoices", "发票台账"))
    if allowed(user, "claim.create"):
        items.append(("/claims/new", "填报销单"))
    if allowed(user, "claim.approve"):
        items.append(("/approvals", "待审批"))
    items.append(("/claims", "报销单"))
    if allowed(user, "voucher.post"):
        items.append(("/vouchers?todo=1", "待记账"))
    items.append(("/vouchers", "记账凭证"))
    if allowed(user, "archive.package"):
        items.append(("/archive#todo", "待归档"))
    items.append(("/archive", "会计档案"))
    if allowed(user, "audit.read"):
        items.append(("/audit", "审计日志"))
    return items


def page(request: Request, name: str, user: User | None, **context: Any) -> HTMLResponse:
    settings = get_settings()
    full = request.url.path + (("?" + request.url.query) if request.url.query else "")
    ctx = {"user": user, "can": (lambda op: user is not None and allowed(user, op)),
           "org_name": settings.org_name, "path": request.url.path, "full_path": full,
           "nav": nav_items(user) if user else [],
           "query": dict(request.query_params), **context}
    return templates.TemplateResponse(request, name, ctx)


ERROR_TITLES = {403: "无权访问", 404: "找不到", 409: "不能这样操作", 400: "输入有误", 401: "请先登录",
                422: "输入有误", 413: "文件太大"}


def error_page(request: Request, status: int, message: str) -> Response:
    """An error on a page, in words for finance staff."""
    try:
        auth = authenticate(request)
    except ApiError:
        auth = None
    text = readable(message)
    if not text and status == 404:
        text = messages.text("web.http.not_found", path=request.url.path)
    resp = page(request, "error.html", auth.user if auth else None, status=status,
                message=text, title=ERROR_TITLES.get(status, "出错了"))
    resp.status_code = status
    return resp


def Page(operation: str) -> Any:
    return Depends(PageRequires(operation))


Text = Annotated[str, Query(max_length=100)]


# --- pages ------------------------------------------------------------------------------------

@router.get("/login", response_class=HTMLResponse, dependencies=[Depends(Public("the login page"))])
def login_page(request: Request, next: Annotated[str, Query(max_length=300)] = "/") -> HTMLResponse:
    return page(request, "login.html", None, next=safe_next(next))


LANDING: dict[str, str] = {
    Role.CLERK: "/upload", Role.APPROVER: "/approvals", Role.ACCOUNTANT: "/vouchers?todo=1",
    Role.ARCHIVIST: "/archive#todo", Role.AUDITOR: "/audit", Role.ADMIN: "/invoices"}


@router.get("/", response_class=HTMLResponse)
def home(user: Annotated[User, Page("me")]) -> Response:
    """Each role lands on its work: 待审批, 待记账, 待归档, 日志."""
    return RedirectResponse(LANDING.get(user.role, "/invoices"), status_code=303)


@router.get("/upload", response_class=HTMLResponse)
def upload_page(request: Request, user: Annotated[User, Page("invoice.upload")]) -> HTMLResponse:
    return page(request, "upload.html", user, max_bytes=get_settings().max_upload_bytes)


@router.get("/invoices", response_class=HTMLResponse)
def invoices_page(request: Request, user: Annotated[User, Page("invoice.read")], s: ReadSessionDep,
                  q: Text = "", status: Text = "", mine: Text = "",
                  date_from: Text = "", date_to: Text = "", sort: Text = "",
                  page_no: Annotated[int, Query(alias="page", ge=1, le=100000)] = 1) -> HTMLResponse:
    result = page_lists.invoices(s, q=q, status=status if status in INVOICE_STATUSES else "",
                                 date_from=date_from, date_to=date_to, uploaded_by=user.username if mine else None,
                                 sort=sort, page=page_no)
    return page(request, "invoices.html", user, items=invoice_table(s, result.items), result=result,
                errors=result.errors, statuses=INVOICE_STATUSES, mine=bool(mine),
                f={"q": q, "status": status, "date_from": date_from, "date_to": date_to, "sort": sort,
                   "mine": mine})


@router.get("/invoices/{invoice_id}", response_class=HTMLResponse)
def invoice_page(request: Request, user: Annotated[User, Page("invoice.read")], s: ReadSessionDep,
                 invoice_id: str) -> HTMLResponse:
    record = registry.get_invoice(s, invoice_id)
    inv = invoice_detail(s, record)
    state = invoice_state(inv["invoice_status"], record)
    verification = record.verification or {}
    return page(request, "invoice.html", user, inv=inv, state=state,
                sigs=signature_facts(verification, record.source_format), checks=check_rows(verification),
                cover=coverage_facts(verification),
                can_override=(allowed(user, "invoice.override") and record.status == RecordStatus.OK
                              and record.verification_status in OVERRIDABLE and state.online_check_pending
                              and state.override is None and state.status in (InvoiceStatus.NEEDS_CHECK, InvoiceStatus.CLAIMED)))


@router.get("/invoices/{invoice_id}/summary.json")
def invoice_summary_json(user: Annotated[User, Page("invoice.read")], s: ReadSessionDep,
                         invoice_id: str) -> dict[str, Any]:
    """What the upload table shows for a just-uploaded invoice: fields and the one status.

    Page-only (the upload page's script): the status is ``invoice_status`` of the API's
    ``GET /invoices/{id}``, with the page's colour."""
    record = registry.get_invoice(s, invoice_id)
    row = invoice_table(s, [record])[0]
    state: InvoiceState = row["state"]
    return {"id": record.id, "number": record.number, "issue_date": day_text(record.issue_date),
            "seller": record.seller_name, "total": formatting.money(record.total),
            "status": state.status, "label": state.label, "tone": state.tone, "claimable": state.claimable,
            "reasons": state.reasons}


def day_text(value: date | None) -> str:
    return value.isoformat() if value else ""


def claim_view(s: Session, claim: Claim) -> dict[str, Any]:
    return claims.claim_to_dict(s, claim)


@router.get("/claims", response_class=HTMLResponse)
def claims_page(request: Request, user: Annotated[User, Page("claim.read")], s: ReadSessionDep,
                state: Text = "", q: Text = "", mine: Text = "", sort: Text = "",
                page_no: Annotated[int, Query(alias="page", ge=1, le=100000)] = 1) -> HTMLResponse:
    mine_only = bool(mine) or (user.role == Role.CLERK and mine != "0")
    result = page_lists.claims(s, q=q, states=(state,) if state in CLAIM_STATES else (),
                               claimant=user.username if mine_only else None, sort=sort, page=page_no)
    items = [claim_view(s, c) for c in result.items]
    for c in items:
        c["actions"] = claim_actions(c, user)
    return page(request, "claims.html", user, items=items, result=result, title="我的报销单" if mine_only else "报销单",
                queue=False, states=CLAIM_STATES, mine=mine_only,
                f={"state": state, "q": q, "sort": sort, "mine": "1" if mine_only else "0"})


def _reviewer(c: dict[str, Any]) -> str | None:
    return next((st["actor"] for st in reversed(c.get("steps") or []) if st["action"] == "review"), None)


def claim_actions(c: dict[str, Any], user: User) -> list[str]:
    """The steps this user may take on this claim now: never on their own claim, never 批准
    after they reviewed it, 审核 before 批准 above the two-step limit."""
    own = c["claimant"] == user.username
    state = c["state"]
    out: list[str] = []
    if own and state in (ClaimState.DRAFT, ClaimState.REJECTED) and allowed(user, "claim.submit"):
        out.append("submit")
    if own or state not in (ClaimState.SUBMITTED, ClaimState.REVIEWED):
        return out
    if state == ClaimState.SUBMITTED and c["needs_second_approval"] and allowed(user, "claim.review"):
        out.append("review")
    reviewed_by_me = state == ClaimState.REVIEWED and _reviewer(c) == user.username
    # FAPIAO_REQUIRE_ONLINE_CHECK: an unchecked invoice without an override blocks 批准
    blocked = any((ln.get("invoice_status") or {}).get("approval_blocked") for ln in c.get("lines") or [])
    if (allowed(user, "claim.approve") and (state == ClaimState.REVIEWED or not c["needs_second_approval"])
            and not reviewed_by_me and not blocked):
        out.append("approve")
    if allowed(user, "claim.reject") and not reviewed_by_me:  # after 审核 it is the other approver's turn
        out.append("reject")
    return out


def claim_line_rows(s: Session, c: dict[str, Any], skip: set[str]) -> list[dict[str, Any]]:
    """The invoices already on claim ``c`` as claim-form rows, each with its status as the gate
    judges it for this claim (its own lock does not count, so they stay 可报销)."""
    lines = [ln for ln in c["lines"] if ln["invoice_id"] not in skip]
    records = [rec for ln in lines if (rec := s.get(InvoiceRecord, ln["invoice_id"])) is not None]
    rows = invoice_rows(s, records)
    by_id = {ln["invoice_id"]: ln for ln in lines}
    for row, rec in zip(rows, records, strict=True):
        row["state"] = invoice_state(by_id[rec.id]["invoice_status"] or row["invoice_status"], rec)
    return rows


@router.get("/claims/new", response_class=HTMLResponse)
def claim_builder(request: Request, user: Annotated[User, Page("claim.create")], s: ReadSessionDep,
                  invoices: Annotated[str, Query(max_length=4000)] = "",
                  edit: Annotated[str, Query(max_length=64)] = "", q: Text = "") -> HTMLResponse:
    """The claim form: only invoices the claim would accept (this clerk's, our buyer, free)."""
    editing = claim_view(s, claims.get_claim(s, edit)) if edit else None
    if editing and (editing["claimant"] != user.username or editing["state"] not in (ClaimState.DRAFT, ClaimState.REJECTED)):
        editing = None
    # the gate's rule and its "whose invoices" rule (claim_for_others), as GET /invoices?claimable=true
    result = page_lists.invoices(s, q=q, claimable_only=True,
                                 uploaded_by=None if has_permission(user, Permission.CLAIM_FOR_OTHERS)
                                 else user.username, sort="-uploaded_at", page=1, page_size=500)
    rows = invoice_table(s, result.items)
    chosen = {i for i in invoices.split(",") if i}
    lines: dict[str, dict[str, Any]] = {}
    if editing:
        lines = {ln["invoice_id"]: ln for ln in editing["lines"]}
        rows = claim_line_rows(s, editing, skip={r["id"] for r in rows}) + rows
        chosen |= set(lines)
    return page(request, "claim_new.html", user, invoices=rows, chosen=chosen, lines=lines, editing=editing,
                categories=CATEGORIES, q=q)


@router.get("/claims/{claim_id}", response_class=HTMLResponse)
def claim_page(request: Request, user: Annotated[User, Page("claim.read")], s: ReadSessionDep,
               claim_id: str) -> HTMLResponse:
    c = claim_view(s, claims.get_claim(s, claim_id))
    # each line's status as the gate judges it for this claim (its own lock does not count)
    states = {ln["invoice_id"]: invoice_state(ln["invoice_status"]) for ln in c["lines"] if ln.get("invoice_status")}
    rejection = next((st for st in reversed(c["steps"]) if st["action"] == "reject"), None)
    return page(request, "claim.html", user, claim=c, actions=claim_actions(c, user), inv_states=states,
                rejection=rejection if c["state"] == ClaimState.REJECTED else None)


@router.get("/approvals", response_class=HTMLResponse)
def approvals_page(request: Request, user: Annotated[User, Page("claim.approve")], s: ReadSessionDep,
                   q: Text = "", sort: Text = "",
                   page_no: Annotated[int, Query(alias="page", ge=1, le=100000)] = 1) -> HTMLResponse:
    """待审批: claims this approver can act on (not their own, not the ones they reviewed)."""
    result = page_lists.claims(s, q=q, states=(ClaimState.SUBMITTED, ClaimState.REVIEWED), sort=sort or "created_at",
                               page=page_no, page_size=200)
    items = [claim_view(s, c) for c in result.items]
    for c in items:
        c["actions"] = claim_actions(c, user)
    mine = [c for c in items if c["actions"]]
    waiting = [c for c in items if not c["actions"]]
    return page(request, "claims.html", user, items=mine, waiting=waiting, result=result, title="待审批",
                queue=True, states=CLAIM_STATES, mine=False, f={"q": q, "sort": sort, "state": "", "mine": ""})


@router.get("/vouchers", response_class=HTMLResponse)
def vouchers_page(request: Request, user: Annotated[User, Page("voucher.read")], s: ReadSessionDep,
                  period: Text = "", q: Text = "", state: Text = "", todo: Text = "", sort: Text = "",
                  page_no: Annotated[int, Query(alias="page", ge=1, le=100000)] = 1) -> HTMLResponse:
    states: tuple[str, ...] = (state,) if state else ((VoucherState.DRAFT, VoucherState.REVIEWED) if todo else ())
    result = page_lists.vouchers(s, q=q, period=period or None, states=states, sort=sort, page=page_no)
    errors = result.errors
    approved, _ = claims.list_claims(s, page=1, page_size=200, state=ClaimState.APPROVED)
    ready = [claim_view(s, c) for c in approved if not c.voucher_id]
    return page(request, "vouchers.html", user, items=[ledger.voucher_to_dict(s, v) for v in result.items],
                result=result, errors=errors, ready=ready, this_month=today_china().strftime("%Y-%m"),
                todo=bool(todo), f={"period": period, "q": q, "state": state, "todo": todo, "sort": sort},
                voucher_states=tuple(st.value for st in ledger.VoucherState))


@router.get("/vouchers/{voucher_id}", response_class=HTMLResponse)
def voucher_page(request: Request, user: Annotated[User, Page("voucher.read")], s: ReadSessionDep,
                 voucher_id: str) -> HTMLResponse:
    v = ledger.voucher_to_dict(s, ledger.get_voucher(s, voucher_id))
    accountant = allowed(user, "voucher.post")
    # 凭证审核 by someone other than the maker and the last editor (the ledger refuses them);
    # 记账 only after it, unless FAPIAO_VOUCHER_REVIEW turns the step off for tiny teams
    review_needed = v.get("review_required") is not False
    can_review = (accountant and v["state"] == VoucherState.DRAFT
                  and user.username not in {v["created_by"], v.get("updated_by")})
    can_unreview = accountant and v["state"] == VoucherState.REVIEWED and v.get("reviewed_by") == user.username
    can_post = accountant and (v["state"] == VoucherState.REVIEWED or (v["state"] == VoucherState.DRAFT and not review_needed))
    drafting = v["state"] == VoucherState.DRAFT and allowed(user, "voucher.create")
    packaged = s.exec(select(ArchivePackage).where(col(ArchivePackage.live_voucher_id) == voucher_id)).first()
    # 付款回单 (issue 13): the confirmed receipts, and for a posted voucher the suggestions
    pay = payments.voucher_payments_dict(s, v["id"])
    return page(request, "voucher.html", user, v=v, can_review=can_review, can_unreview=can_unreview,
                can_post=can_post, review_needed=review_needed, packaged=packaged,
                can_edit=drafting, can_delete=drafting, pay=pay,
                can_pay=accountant and v["state"] == "posted")


@router.get("/archive", response_class=HTMLResponse)
def archive_page(request: Request, user: Annotated[User, Page("archive.read")], s: ReadSessionDep,
                 year: Annotated[str, Query(max_length=8)] = "",
                 page_no: Annotated[int, Query(alias="page", ge=1, le=100000)] = 1) -> HTMLResponse:
    errors: list[str] = []
    chosen: int | None = None
    if year:
        if re.fullmatch(r"\d{4}", year.strip()) and 1990 <= int(year) <= 2200:
            chosen = int(year)
        else:
            errors.append(messages.text("web.page.bad_year", value=year))
    rows, total = package.list_packages(s, year=chosen, page=page_no, page_size=page_lists.PAGE_SIZE)
    live = select(ArchivePackage.voucher_id).where(col(ArchivePackage.live_voucher_id).is_not(None))
    todo = s.exec(select(Voucher).where(col(Voucher.state) == VoucherState.POSTED, col(Voucher.id).not_in(live))
                  .order_by(col(Voucher.period), col(Voucher.seq)).limit(200)).all()
    from sqlalchemy import func

    years = s.exec(select(ArchivePackage.year, func.count()).group_by(col(ArchivePackage.year))
                   .order_by(col(ArchivePackage.year).desc())).all()
    result = page_lists.Page(list(rows), int(total), page_no)
    return page(request, "archive.html", user, this_year=chosen or today_china().year, chosen=chosen,
                result=result, errors=errors, years=[(int(y), int(n)) for y, n in years],
                packages=[package.package_to_dict(s, p, with_check=True) for p in rows],
                todo=[ledger.voucher_to_dict(s, v) for v in todo])


DETAIL_DOMAINS = {"from": "claim_state", "to": "claim_state", "state": "claim_state", "role": "role",
                  "status": "registry_status", "verification": "verify_status", "flag": "posting_flag",
                  "result": "check_result", "kind": "invoice_kind",
                  "source": "voucher_source"}


def detail_text(details: Any) -> list[tuple[str, str]]:
    """An audit entry's details as label–value pairs (text, never escaped JSON)."""
    if not isinstance(details, dict):
        return [("", str(details))] if details else []
    out = []
    for k, v in details.items():
        if v is None or v == "" or v == [] or v == {}:
            continue
        name = label("audit_detail", k)
        if name == k:  # a detail the catalogue does not name: show its value only
            name = ""
        if k in DETAIL_DOMAINS and isinstance(v, str):
            value = label(DETAIL_DOMAINS[k], v)
        elif k in ("total", "amount"):
            value = formatting.money(v)
        elif k == "by" and isinstance(v, str) and v.startswith("fapiao "):
            value = "命令行"
        elif isinstance(v, list):  # e.g. the fields an edit changed: their Chinese names
            value = "、".join(label("field", x) if isinstance(x, str) else str(x) for x in v)
        elif isinstance(v, dict):
            value = "；".join(f"{label('audit_detail', a)}：{b}" for a, b in v.items())
        elif isinstance(v, bool):
            value = "是" if v else "否"
        else:
            value = str(v)
        out.append((name, value))
    return out


@router.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request, user: Annotated[User, Page("audit.read")], s: ReadSessionDep,
               actor: Text = "", action: Text = "", object_type: Text = "", object_id: Text = "",
               date_from: Text = "", date_to: Text = "",
               page_no: Annotated[int, Query(alias="page", ge=1, le=100000)] = 1) -> HTMLResponse:
    result = page_lists.audit(s, actor=actor, action=action, object_type=object_type, object_id=object_id,
                              date_from=date_from, date_to=date_to, page=page_no)
    errors = result.errors
    actors, actions, types = page_lists.audit_choices(s)
    items = [{**entry_dict(e), "detail_pairs": detail_text(e.details)} for e in result.items]
    return page(request, "audit.html", user, items=items, result=result, errors=errors, actors=actors,
                actions=actions, types=types,
                f={"actor": actor, "action": action, "object_type": object_type, "object_id": object_id,
                   "date_from": date_from, "date_to": date_to})
