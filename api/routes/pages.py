"""The web page for finance staff: server-rendered HTML (Jinja2) with a little plain JavaScript.

Pages read through the same service functions as the JSON API; every action on a page
(upload, claim steps, posting, archiving) is a ``fetch`` to the JSON API with the session
cookie and the CSRF header, so the page can do nothing the API would not allow.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from accounting import claims, ledger
from api.deps import PageRequires, Public, ReadSessionDep, authenticate, safe_next
from api.errors import ApiError
from api.ofd_preview import render_svg
from api.permissions import allowed
from api.routes.audit import entries
from api.routes.invoices import invoice_detail, invoice_rows
from archive import package
from core.blobstore import get_blobstore
from core.clock import today_china
from core.settings import get_settings
from core.users import User
from invoice import registry
from invoice.errors import ParseError

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).resolve().parents[1] / "templates")

STATUS_LABELS = {"ok": "正常", "invalid": "验证未通过", "duplicate": "重复"}
VERIFY_LABELS = {"valid": "签名有效", "invalid": "签名无效", "unsigned": "无电子签名",
                 "indeterminate": "无法本地验证"}
CLAIM_LABELS = {"draft": "草稿", "submitted": "已提交", "reviewed": "已审核", "approved": "已审批",
                "rejected": "已驳回"}
VOUCHER_LABELS = {"draft": "未记账", "posted": "已记账", "reversed": "已冲销"}
KIND_LABELS = {"vat_e_ordinary": "增值税电子普通发票", "vat_e_special": "增值税电子专用发票",
               "digital_ordinary": "电子发票(普通发票)", "digital_special": "电子发票(增值税专用发票)",
               "railway_ticket": "铁路电子客票", "air_itinerary": "航空运输电子客票行程单", "unknown": "未知类型"}
ACTION_LABELS = {"invoice.upload": "上传登记", "claim.create": "填报销单", "claim.submit": "提交报销",
                 "claim.review": "审核", "claim.approve": "审批通过", "claim.reject": "驳回",
                 "voucher.create": "生成凭证", "voucher.post": "记账（入账）", "voucher.reverse": "红字冲销",
                 "archive.package": "归档", "archive.export": "年度移交导出", "auth.login": "登录",
                 "auth.login_failed": "登录失败", "user.created": "新增用户", "user.role_changed": "变更角色",
                 "token.revoked": "吊销令牌", "token.issued": "签发令牌", "invoice.online_check": "在线查验"}
ONLINE_LABELS = {"not_checked": "未查验", "success": "查验一致", "not_found": "查无此票", "mismatch": "信息不符",
                 "voided": "已作废", "red_reversed": "已红冲", "same_day": "当日发票次日可查",
                 "too_old": "超过五年", "rate_limited": "今日查验次数已用完", "error": "查验服务出错"}
templates.env.globals.update(ACTION_LABELS=ACTION_LABELS, STATUS_LABELS=STATUS_LABELS, VERIFY_LABELS=VERIFY_LABELS,
                             CLAIM_LABELS=CLAIM_LABELS, VOUCHER_LABELS=VOUCHER_LABELS,
                             KIND_LABELS=KIND_LABELS, ONLINE_LABELS=ONLINE_LABELS)


def page(request: Request, name: str, user: User | None, **context: Any) -> HTMLResponse:
    settings = get_settings()
    ctx = {"user": user, "can": (lambda op: user is not None and allowed(user, op)),
           "org_name": settings.org_name, "path": request.url.path, **context}
    return templates.TemplateResponse(request, name, ctx)


ERROR_TITLES = {403: "无权访问", 404: "找不到", 409: "不能这样操作", 400: "输入有误", 401: "请先登录"}


def error_page(request: Request, status: int, message: str) -> Response:
    """An error on a page, in words for finance staff, with the technical reason below."""
    try:
        auth = authenticate(request)
    except ApiError:
        auth = None
    resp = page(request, "error.html", auth.user if auth else None, status=status, message=message,
                title=ERROR_TITLES.get(status, "出错了"))
    resp.status_code = status
    return resp


def Page(operation: str) -> Any:
    return Depends(PageRequires(operation))


@router.get("/login", response_class=HTMLResponse, dependencies=[Depends(Public("the login page"))])
def login_page(request: Request, next: Annotated[str, Query(max_length=300)] = "/") -> HTMLResponse:
    return page(request, "login.html", None, next=safe_next(next))


@router.get("/", response_class=HTMLResponse)
def home(user: Annotated[User, Page("me")]) -> Response:
    target = "/upload" if allowed(user, "invoice.upload") else (
        "/approvals" if allowed(user, "claim.approve") else "/invoices")
    return RedirectResponse(target, status_code=303)


@router.get("/upload", response_class=HTMLResponse)
def upload_page(request: Request, user: Annotated[User, Page("invoice.upload")]) -> HTMLResponse:
    return page(request, "upload.html", user, max_bytes=get_settings().max_upload_bytes)


@router.get("/invoices", response_class=HTMLResponse)
def invoices_page(request: Request, user: Annotated[User, Page("invoice.read")], s: ReadSessionDep,
                  number: Annotated[str | None, Query(max_length=32)] = None,
                  seller_tax_id: Annotated[str | None, Query(max_length=32)] = None,
                  date_from: Annotated[str | None, Query(max_length=10)] = None,
                  date_to: Annotated[str | None, Query(max_length=10)] = None,
                  status: Annotated[str | None, Query(max_length=16)] = None,
                  posted: Annotated[str | None, Query(max_length=5)] = None,
                  page_no: Annotated[int, Query(alias="page", ge=1)] = 1) -> HTMLResponse:
    rows, total = registry.list_invoices(
        s, number=number or None, seller_tax_id=seller_tax_id or None,
        date_from=_date_or_none(date_from), date_to=_date_or_none(date_to),
        status=status if status in STATUS_LABELS else None,
        posted={"yes": True, "no": False}.get(posted or ""), page=page_no, page_size=50)
    return page(request, "invoices.html", user, items=invoice_rows(s, rows), total=total,
                page_no=page_no, pages=max(1, (total + 49) // 50),
                f={"number": number or "", "seller_tax_id": seller_tax_id or "", "date_from": date_from or "",
                   "date_to": date_to or "", "status": status or "", "posted": posted or ""})


def _date_or_none(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


@router.get("/invoices/{invoice_id}", response_class=HTMLResponse)
def invoice_page(request: Request, user: Annotated[User, Page("invoice.read")], s: ReadSessionDep,
                 invoice_id: str) -> HTMLResponse:
    inv = invoice_detail(s, registry.get_invoice(s, invoice_id))
    return page(request, "invoice.html", user, inv=inv)


@router.get("/invoices/{invoice_id}/preview.svg", response_class=Response)
def invoice_preview(user: Annotated[User, Page("invoice.read")], s: ReadSessionDep, invoice_id: str) -> Response:
    """The OFD original's text laid out as SVG, so the detail page can show what browsers cannot."""
    record = registry.get_invoice(s, invoice_id)
    if record.source_format != "ofd":
        raise ApiError(404, "no_preview", f"invoice {invoice_id} is {record.source_format}, not OFD: no preview")
    try:
        svg = render_svg(get_blobstore().get(record.sha256, verify=True), f"发票 {record.number or ''}")
    except ParseError as exc:
        raise ApiError(422, "preview_failed", f"the OFD cannot be previewed: {exc.message}") from None
    return Response(svg, media_type="image/svg+xml", headers={
        "Cache-Control": "private, max-age=3600",
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"})


@router.get("/claims", response_class=HTMLResponse)
def claims_page(request: Request, user: Annotated[User, Page("claim.read")], s: ReadSessionDep,
                state: Annotated[str | None, Query(max_length=16)] = None,
                page_no: Annotated[int, Query(alias="page", ge=1)] = 1) -> HTMLResponse:

    rows, total = claims.list_claims(s, page=page_no, page_size=50,
                                     state=state if state in CLAIM_LABELS else None)
    return page(request, "claims.html", user, items=[claims.claim_to_dict(s, c) for c in rows],
                total=total, state=state or "", title="报销单", queue=False)


@router.get("/claims/new", response_class=HTMLResponse)
def claim_builder(request: Request, user: Annotated[User, Page("claim.create")], s: ReadSessionDep) -> HTMLResponse:
    rows, _ = registry.list_invoices(s, status="ok", posted=False, page=1, page_size=200)
    free = [r for r in rows if not registry.invoice_summary(r, s).get("claim_id")]
    usable = invoice_rows(s, free)
    return page(request, "claim_new.html", user, invoices=usable)


@router.get("/claims/{claim_id}", response_class=HTMLResponse)
def claim_page(request: Request, user: Annotated[User, Page("claim.read")], s: ReadSessionDep,
               claim_id: str) -> HTMLResponse:

    return page(request, "claim.html", user, claim=claims.claim_to_dict(s, claims.get_claim(s, claim_id)))


@router.get("/approvals", response_class=HTMLResponse)
def approvals_page(request: Request, user: Annotated[User, Page("claim.approve")], s: ReadSessionDep) -> HTMLResponse:

    items: list[dict[str, Any]] = []
    for state in ("submitted", "reviewed"):
        rows, _ = claims.list_claims(s, page=1, page_size=200, state=state)
        items.extend(claims.claim_to_dict(s, c) for c in rows)
    return page(request, "claims.html", user, items=items, total=len(items), state="",
                title="待审批", queue=True)


@router.get("/vouchers", response_class=HTMLResponse)
def vouchers_page(request: Request, user: Annotated[User, Page("voucher.read")], s: ReadSessionDep,
                  period: Annotated[str | None, Query(max_length=7)] = None) -> HTMLResponse:

    rows, total = ledger.list_vouchers(s, period=period or None, page=1, page_size=100)
    approved, _ = claims.list_claims(s, page=1, page_size=200, state="approved")
    ready = [claims.claim_to_dict(s, c) for c in approved if not c.voucher_id]
    return page(request, "vouchers.html", user, items=[ledger.voucher_to_dict(s, v) for v in rows],
                total=total, period=period or "", ready=ready, this_month=today_china().strftime("%Y-%m"))


@router.get("/vouchers/{voucher_id}", response_class=HTMLResponse)
def voucher_page(request: Request, user: Annotated[User, Page("voucher.read")], s: ReadSessionDep,
                 voucher_id: str) -> HTMLResponse:

    return page(request, "voucher.html", user, v=ledger.voucher_to_dict(s, ledger.get_voucher(s, voucher_id)))


@router.get("/archive", response_class=HTMLResponse)
def archive_page(request: Request, user: Annotated[User, Page("archive.read")], s: ReadSessionDep,
                 year: Annotated[int | None, Query(ge=1990, le=2200)] = None) -> HTMLResponse:

    rows, total = package.list_packages(s, year=year, page=1, page_size=100)
    return page(request, "archive.html", user, this_year=today_china().year, total=total,
                packages=[package.package_to_dict(s, p, with_check=True) for p in rows])


@router.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request, user: Annotated[User, Page("audit.read")], s: ReadSessionDep) -> HTMLResponse:
    data = entries(user, s, page=1, page_size=100)
    return page(request, "audit.html", user, items=data["items"], total=data["total"])
