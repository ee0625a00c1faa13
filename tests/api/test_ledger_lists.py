"""Over HTTP, on SQLite and PostgreSQL: 凭证审核, editing and deleting drafts, lists that sort,
filter and page, invoice search, and the audit log with Chinese action names."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from core.clock import today_china
from tests.api.conftest import OFD_WUXI, PDF_WUXI, Server, upload


def _lines(amount: str = "100.00") -> list[dict[str, Any]]:
    return [{"account_code": "660203", "debit": amount}, {"account_code": "1002", "credit": amount}]


def _push(client: httpx.Client, amount: str = "100.00", on: str = "2025-11-20",
          summary: str = "购办公用品") -> dict[str, Any]:
    r = client.post("/api/v1/vouchers", json={"date": on, "summary": summary, "lines": _lines(amount),
                                              "external_ref": "ERP-" + uuid.uuid4().hex[:12]})
    assert r.status_code == 201, r.text
    return dict(r.json())


def _error(r: httpx.Response, status: int, code: str) -> str:
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code, r.text
    return str(r.json()["error"]["message"])


def test_review_edit_delete_over_http(any_server: Server) -> None:
    server = any_server
    maker, maker_user = server.as_role("accountant")
    checker, checker_user = server.as_role("accountant")
    clerk, _ = server.as_role("clerk")
    v = _push(maker, on="2031-03-05")
    vid = v["id"]
    assert v["state"] == "draft" and v["state_label"] == "草稿" and v["review_required"] is True

    # the maker may not review; posting waits for a review
    assert "不能由您审核" in _error(maker.post(f"/api/v1/vouchers/{vid}/review"), 409, "voucher_review_own")
    assert "还没有审核" in _error(maker.post(f"/api/v1/vouchers/{vid}/post"), 409, "voucher_not_reviewed")
    assert clerk.post(f"/api/v1/vouchers/{vid}/review").status_code == 403

    # a draft is edited under the create rules
    r = maker.patch(f"/api/v1/vouchers/{vid}", json={"summary": "购打印纸", "lines": _lines("120.00")})
    assert r.status_code == 200, r.text
    assert r.json()["summary"] == "购打印纸" and r.json()["total_debit"] == "120.00"
    bad = maker.patch(f"/api/v1/vouchers/{vid}", json={"lines": [
        {"account_code": "660203", "debit": "120.00"}, {"account_code": "1002", "credit": "100.00"}]})
    assert "借贷不平衡" in _error(bad, 400, "unbalanced")
    assert clerk.patch(f"/api/v1/vouchers/{vid}", json={"summary": "x"}).status_code == 403

    # 审核 by another accountant; a reviewed voucher is frozen until the reviewer takes it back
    r = checker.post(f"/api/v1/vouchers/{vid}/review")
    assert r.status_code == 200 and r.json()["state"] == "reviewed"
    assert r.json()["reviewed_by"] == checker_user["username"]
    _error(maker.patch(f"/api/v1/vouchers/{vid}", json={"summary": "再改"}), 409, "voucher_not_draft")
    _error(maker.delete(f"/api/v1/vouchers/{vid}"), 409, "voucher_not_draft")
    _error(maker.post(f"/api/v1/vouchers/{vid}/unreview"), 409, "voucher_unreview_not_reviewer")
    assert checker.post(f"/api/v1/vouchers/{vid}/unreview").json()["state"] == "draft"

    # deleting the draft frees its number for the next voucher of the month
    second = _push(maker, on="2031-03-09")
    assert (v["number"], second["number"]) == ("记-2031-03-0001", "记-2031-03-0002")
    gone = maker.delete(f"/api/v1/vouchers/{vid}")
    assert gone.status_code == 200 and gone.json()["number_freed"] == "记-2031-03-0001"
    _error(maker.get(f"/api/v1/vouchers/{vid}"), 404, "voucher_not_found")
    gaps = maker.get("/api/v1/vouchers/number-gaps", params={"period": "2031-03"}).json()
    assert [g["number"] for g in gaps["items"]] == ["记-2031-03-0001"]
    assert _push(maker, on="2031-03-28")["number"] == "记-2031-03-0001"
    assert maker.get("/api/v1/vouchers/number-gaps", params={"period": "2031-03"}).json()["total"] == 0

    # review then post: the voucher carries maker, reviewer and poster
    assert checker.post(f"/api/v1/vouchers/{second['id']}/review").status_code == 200
    posted = maker.post(f"/api/v1/vouchers/{second['id']}/post").json()
    assert posted["state"] == "posted" and posted["state_label"] == "已记账"
    assert (posted["created_by"], posted["reviewed_by"], posted["posted_by"]) == (
        maker_user["username"], checker_user["username"], maker_user["username"])
    _error(maker.delete(f"/api/v1/vouchers/{second['id']}"), 409, "voucher_immutable")

    # the voucher list sorts and filters, and refuses what it cannot do, in Chinese
    listing = maker.get("/api/v1/vouchers", params={"period": "2031-03", "sort": "-number"}).json()
    assert [x["number"] for x in listing["items"]] == ["记-2031-03-0002", "记-2031-03-0001"]
    assert maker.get("/api/v1/vouchers", params={"period": "2031-03", "state": "posted"}).json()["total"] == 1
    assert "不能按“password”排序" in _error(maker.get("/api/v1/vouchers", params={"sort": "password"}),
                                          422, "bad_sort")
    _error(maker.get("/api/v1/vouchers", params={"date_from": "2031-02-30"}), 422, "validation_error")


def test_invoice_search_sort_and_date_validation(any_server: Server) -> None:
    server = any_server
    clerk, clerk_user = server.as_role("clerk")
    r = upload(clerk, OFD_WUXI, PDF_WUXI)
    assert r.status_code == 200 and len(r.json()["imported"]) == 2, r.text
    ids = {e["invoice_id"] for e in r.json()["imported"]}
    details = {i: clerk.get(f"/api/v1/invoices/{i}").json() for i in ids}
    some = next(iter(details.values()))
    seller = some["seller"]["name"]

    def found(**params: Any) -> list[str]:
        got = clerk.get("/api/v1/invoices", params=params)
        assert got.status_code == 200, got.text
        return [x["id"] for x in got.json()["items"] if x["id"] in ids]

    assert some["id"] in found(q=seller[2:6])  # a piece of the seller's name
    assert found(q=some["number"][-6:]) == [some["id"]]  # a number fragment
    assert some["id"] in found(q=some["total"])  # the amount
    item = next((it["name"] for it in some.get("items") or [] if it.get("name")), None)
    if item:
        assert some["id"] in found(q=item.strip("*")[:4])
    assert found(q="这家公司不存在于任何发票") == []
    assert set(found(mine="true")) == ids
    by_date = found(sort="-issue_date")
    dates = [details[i]["issue_date"] for i in by_date]
    assert dates == sorted(dates, reverse=True)
    bad = clerk.get("/api/v1/invoices", params={"date_from": "2024-13-45"})
    message = _error(bad, 422, "validation_error")
    assert "“2024-13-45”不是有效日期" in message
    assert bad.json()["error"]["details"]["errors"][0]["where"] == "query.date_from"
    assert "不能按" in _error(clerk.get("/api/v1/invoices", params={"sort": "sha256"}), 422, "bad_sort")
    assert clerk_user["username"]


def test_audit_log_filters_labels_and_json_details(any_server: Server) -> None:
    server = any_server
    auditor, _ = server.as_role("auditor")
    maker, maker_user = server.as_role("accountant")
    checker, _ = server.as_role("accountant")
    v = _push(maker, on="2032-01-10")
    checker.post(f"/api/v1/vouchers/{v['id']}/review")
    page = auditor.get("/api/v1/audit", params={"object_type": "voucher", "object_id": v["id"]}).json()
    assert [e["action"] for e in page["items"]] == ["voucher.review", "voucher.create"]  # newest first
    assert [e["action_label"] for e in page["items"]] == ["审核凭证", "制单"]
    created = page["items"][1]
    assert isinstance(created["details"], dict) and created["details"]["number"] == v["number"]
    assert created["object_label"] == "凭证" and created["at_china"].endswith("+08:00")
    mine = auditor.get("/api/v1/audit", params={"user": maker_user["username"], "action": "voucher."}).json()
    assert mine["total"] == 1 and mine["items"][0]["action"] == "voucher.create"
    today = today_china().isoformat()
    window = auditor.get("/api/v1/audit", params={"date_from": "2000-01-01", "date_to": today,
                                                  "page_size": 2, "sort": "seq"}).json()
    assert window["total"] >= 3 and [e["seq"] for e in window["items"]] == [1, 2]
    assert auditor.get("/api/v1/audit", params={"date_to": "1999-12-31"}).json()["total"] == 0
    assert "不是有效日期" in _error(auditor.get("/api/v1/audit", params={"date_from": "昨天"}), 422,
                                   "validation_error")
    labels = auditor.get("/api/v1/audit/actions").json()["items"]
    assert {"action": "voucher.review", "label": "审核凭证"} in labels
    assert maker.get("/api/v1/audit").status_code == 403


def test_claim_and_package_lists_sort_filter_and_refuse_bad_columns(any_server: Server) -> None:
    server = any_server
    clerk, clerk_user = server.as_role("clerk")
    archivist, _ = server.as_role("archivist")
    r = upload(clerk, OFD_WUXI, PDF_WUXI)
    ids = [e.get("invoice_id") or e["duplicate_of"]["invoice_id"] for e in r.json()["imported"] + r.json()["duplicates"]]
    made = []
    for title, inv_id, amount in (("差旅报销甲", ids[0], "10.00"), ("办公报销乙", ids[1], "30.00")):
        c = clerk.post("/api/v1/claims", json={"title": title, "lines": [
            {"invoice_id": inv_id, "category": "办公费", "amount": amount}]})
        if c.status_code == 201:
            made.append(c.json()["id"])
    mine = {"claimant": clerk_user["username"]}
    if len(made) == 2:
        by_total = clerk.get("/api/v1/claims", params={**mine, "sort": "-total"}).json()
        assert [c["id"] for c in by_total["items"]] == [made[1], made[0]]
        assert [c["id"] for c in clerk.get("/api/v1/claims", params={**mine, "q": "差旅"}).json()["items"]] == [made[0]]
    assert clerk.get("/api/v1/claims", params={**mine, "date_from": "2000-01-01"}).json()["total"] == len(made)
    assert clerk.get("/api/v1/claims", params={**mine, "date_to": "2000-01-01"}).json()["total"] == 0
    assert "不能按" in _error(clerk.get("/api/v1/claims", params={"sort": "claimant_id"}), 422, "bad_sort")
    _error(clerk.get("/api/v1/claims", params={"date_from": "2025-02-30"}), 422, "validation_error")
    packages = archivist.get("/api/v1/archive/packages", params={"sort": "-created_at", "year": 2031})
    assert packages.status_code == 200 and packages.json()["total"] == 0
    assert "不能按" in _error(archivist.get("/api/v1/archive/packages", params={"sort": "path"}), 422, "bad_sort")
