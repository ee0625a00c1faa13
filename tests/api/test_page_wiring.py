"""The page and the back end agree: the status the page shows is the claim gate's, the claim
form offers exactly what ``GET /invoices?mine=true&claimable=true`` lists, the invoice page
shows the verification report's coverage and issues, and the override form appears only for
the roles and invoices the API accepts it for. Read over HTTP as HTML (no browser)."""

from __future__ import annotations

import re

import httpx
import pytest
from markupsafe import escape

from tests.api.conftest import OFD_WUXI, PASSWORD, PDF_WUXI, Server, upload
from tests.api.test_browser_walk import tampered_ofd
from tests.samples import V4SIGNED


def _login(server: Server, username: str) -> httpx.Client:
    c = server.client()
    r = c.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return c


def _page_status(html: str) -> str:
    found = re.search(r'id="invoice-status" data-status="([a-z_]+)"', html)
    assert found, html[:2000]
    return found.group(1)


Uploads = tuple[httpx.Client, dict[str, str], dict[str, str]]


@pytest.fixture(scope="module")
def uploads(server: Server) -> Uploads:
    """A clerk (token client, user) and the ids of four uploads by name (once per server: a
    second upload of the same file would be a duplicate)."""
    api, clerk = server.as_role("clerk")
    ids = {}
    for path in (OFD_WUXI, PDF_WUXI, V4SIGNED):
        ids[path.name] = upload(api, path).json()["imported"][0]["invoice_id"]
    r = api.post("/api/v1/invoices", files={"files": ("改过的发票.ofd", tampered_ofd(), "application/octet-stream")})
    ids["tampered"] = r.json()["imported"][0]["invoice_id"]
    return api, clerk, ids


def test_page_status_and_claim_form_follow_the_claim_gate(server: Server, uploads: Uploads) -> None:
    api, clerk, ids = uploads
    page = _login(server, clerk["username"])
    for name, invoice_id in ids.items():
        gate = api.get(f"/api/v1/invoices/{invoice_id}").json()["invoice_status"]
        html = page.get(f"/invoices/{invoice_id}").text
        assert _page_status(html) == gate["status"], name
        for reason in gate["reasons"]:
            assert str(escape(reason)) in html, (name, reason)
    assert _page_status(page.get(f"/invoices/{ids['tampered']}").text) == "failed"
    assert "签名后被改动过" in page.get(f"/invoices/{ids['tampered']}").text  # names what changed

    offered = set(re.findall(r'<tr data-invoice-id="([0-9a-f]+)"', page.get("/claims/new").text))
    listed = {i["id"] for i in api.get("/api/v1/invoices", params={"mine": "true", "claimable": "true"})
              .json()["items"]}
    assert offered == listed and offered == {ids[OFD_WUXI.name], ids[PDF_WUXI.name]}

    # the 状态 filter of the ledger is the same rule: failed = tampered + foreign (check character)
    failed = page.get("/invoices", params={"mine": "1", "status": "failed"}).text
    assert set(re.findall(r'data-invoice-id="([0-9a-f]+)"', failed)) == {ids["tampered"], ids[V4SIGNED.name]}


def test_invoice_page_shows_signature_coverage_field_by_field(server: Server, uploads: Uploads) -> None:
    api, clerk, ids = uploads
    report = api.get(f"/api/v1/invoices/{ids[V4SIGNED.name]}").json()["verification"]
    html = _login(server, clerk["username"]).get(f"/invoices/{ids[V4SIGNED.name]}").text
    assert report["coverage"], "the signed sample has a coverage report"
    assert 'id="field-coverage"' in html and "发票号码" in html and "受签名保护" in html
    unsigned = _login(server, clerk["username"]).get(f"/invoices/{ids[OFD_WUXI.name]}").text
    assert 'id="field-coverage"' not in unsigned  # no signature: nothing claimed as covered


def test_override_form_for_approver_only_and_shown_with_who_when_why(server: Server, uploads: Uploads) -> None:
    _, clerk, ids = uploads
    unsigned = ids[OFD_WUXI.name]
    assert 'id="override-form"' not in _login(server, clerk["username"]).get(f"/invoices/{unsigned}").text
    approver_api, approver = server.as_role("approver")
    page = _login(server, approver["username"])
    assert 'id="override-form"' in page.get(f"/invoices/{unsigned}").text
    assert 'id="override-form"' not in page.get(f"/invoices/{ids['tampered']}").text  # never for a failed one
    r = approver_api.post(f"/api/v1/invoices/{unsigned}/override", json={"reason": "供应商已电话确认发票真实"})
    assert r.status_code == 200, r.text
    html = page.get(f"/invoices/{unsigned}").text
    assert 'id="override-form"' not in html and "供应商已电话确认发票真实" in html
    assert approver["username"] in html and "已人工放行" in html and "未查验" in html
