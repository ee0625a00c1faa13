"""付款回单 over HTTP: a real CCB e-receipt uploaded, suggested for the posted voucher it pays,
confirmed, shown on the receipt, taken back, rejected (issue 13)."""

from __future__ import annotations

from tests.api.conftest import PASSWORD, Server, upload
from tests.samples import OTHER

CCB = OTHER / "c5soft__ofd.js" / "26050100800_00001.ofd"  # 27.00 to 李俊婕, 2026-05-12


def test_suggest_confirm_show_remove_reject(server: Server) -> None:
    clerk, _ = server.as_role("clerk")
    maker, maker_user = server.as_role("accountant")
    checker, _ = server.as_role("accountant")
    res = upload(clerk, CCB).json()
    receipt_id = res["imported"][0]["invoice_id"]
    r = maker.post("/api/v1/vouchers", json={
        "date": "2026-05-10", "summary": "支付李俊婕出租车费",
        "lines": [{"account_code": "660203", "debit": "27.00"}, {"account_code": "1002", "credit": "27.00"}]})
    assert r.status_code == 201, r.text
    vid = r.json()["id"]
    # a draft voucher is suggested receipts but cannot be paid yet
    assert maker.get(f"/api/v1/vouchers/{vid}/payment-suggestions").json()["total"] == 1
    r = maker.post(f"/api/v1/vouchers/{vid}/payments", json={"receipt_id": receipt_id})
    assert r.status_code == 409 and r.json()["error"]["code"] == "voucher_not_posted"
    assert checker.post(f"/api/v1/vouchers/{vid}/review").status_code == 200
    assert maker.post(f"/api/v1/vouchers/{vid}/post").status_code == 200

    got = clerk.get(f"/api/v1/vouchers/{vid}/payment-suggestions").json()
    [best] = got["items"]
    assert best["receipt_id"] == receipt_id and best["payee"]["name"] == "李俊婕"
    assert best["codes"] == ["amount_exact", "payee_name", "date_window"]
    assert any("金额相同" in x for x in best["reasons"])
    # the voucher page: the 付款回单 section with the suggestion, its reasons and the button
    page = server.client()
    assert page.post("/api/v1/auth/login", json={"username": maker_user["username"],
                                                  "password": PASSWORD}).status_code == 200
    html = page.get(f"/vouchers/{vid}").text
    assert "付款回单" in html and 'id="payments-suggested"' in html and "金额相同（27.00 元）" in html
    assert f'data-pay-receipt="{receipt_id}"' in html and f'data-reject-receipt="{receipt_id}"' in html
    # a clerk may read but not decide
    r = clerk.post(f"/api/v1/vouchers/{vid}/payments", json={"receipt_id": receipt_id})
    assert r.status_code == 403
    r = maker.post(f"/api/v1/vouchers/{vid}/payments", json={"receipt_id": receipt_id})
    assert r.status_code == 201 and r.json()["state"] == "confirmed", r.text
    r = maker.post(f"/api/v1/vouchers/{vid}/payments", json={"receipt_id": receipt_id})
    assert r.status_code == 409 and r.json()["error"]["code"] == "payment_already_linked"
    assert "同一笔付款不能关联两张凭证" in r.json()["error"]["message"]
    detail = clerk.get(f"/api/v1/invoices/{receipt_id}").json()
    assert [v["voucher_id"] for v in detail["pays_vouchers"]] == [vid]
    assert detail["kind"] == "bank_receipt" and detail["invoice_status"]["status"] == "not_invoice"
    listed = clerk.get(f"/api/v1/vouchers/{vid}/payments").json()
    assert [p["receipt_id"] for p in listed["payments"]] == [receipt_id]
    html = page.get(f"/vouchers/{vid}").text
    assert 'id="payments-confirmed"' in html and f'data-unpay-receipt="{receipt_id}"' in html
    receipt_page = page.get(f"/invoices/{receipt_id}").text
    assert 'id="receipt-vouchers"' in receipt_page and f'href="/vouchers/{vid}"' in receipt_page
    assert "李俊婕" in receipt_page and "付款回单（不可报销）" in receipt_page

    r = maker.delete(f"/api/v1/vouchers/{vid}/payments/{receipt_id}")
    assert r.status_code == 200 and r.json()["state"] == "removed"
    r = maker.post(f"/api/v1/vouchers/{vid}/payment-suggestions/{receipt_id}/reject")
    assert r.status_code == 200 and r.json()["state"] == "rejected"
    assert clerk.get(f"/api/v1/vouchers/{vid}/payment-suggestions").json()["total"] == 0
    r = maker.delete(f"/api/v1/vouchers/{vid}/payments/nonexistent")
    assert r.status_code == 404 and r.json()["error"]["code"] == "payment_not_linked"
