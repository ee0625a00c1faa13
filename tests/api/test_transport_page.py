"""The invoice page shows railway / air details with their Chinese labels; the API gives the
fields at the top level and the deductible input VAT. Read over HTTP as HTML (no browser)."""

from __future__ import annotations

import httpx

from tests.api.conftest import PASSWORD, Server, upload
from tests.samples import OTHER


def _login(server: Server, username: str) -> httpx.Client:
    c = server.client()
    r = c.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return c


def test_railway_and_air_pages_show_their_details(server: Server) -> None:
    api, clerk = server.as_role("clerk")
    page = _login(server, clerk["username"])
    rail = upload(api, OTHER / "itlabers__ofd-go" / "售票换开样例.ofd").json()["imported"][0]["invoice_id"]
    d = api.get(f"/api/v1/invoices/{rail}").json()
    assert d["kind"] == "railway_ticket" and d["train"] == "G7101" and d["variant"] == "exchange"
    assert d["input_vat"]["vat"] == "14.95" and "G7101" in d["input_vat"]["summary"]
    html = page.get(f"/invoices/{rail}").text
    assert 'id="transport-details"' in html and "铁路电子客票" in html
    for word in ("车次", "G7101", "出发站", "南京", "到达站", "上海虹桥", "席别", "软卧", "旅客", "梁某某",
                 "电子客票号", "换开", "可抵扣进项税额"):
        assert word in html, word
    assert "transport-preview" not in html

    air = upload(api, OTHER / "ofdrw__ofdrw" / "xbrl-001.pdf").json()["imported"][0]["invoice_id"]
    d = api.get(f"/api/v1/invoices/{air}").json()
    assert d["kind"] == "air_itinerary" and d["fare"] == "477.06" and len(d["flights"]) == 2
    assert d["input_vat"] is None  # a preview deducts nothing
    assert d["invoice_status"]["claimable"] is False
    html = page.get(f"/invoices/{air}").text
    assert 'id="transport-preview"' in html and 'id="transport-flights"' in html
    for word in ("航空运输电子客票行程单", "民航发展基金", "燃油附加费", "航班号", "CZ8866", "¥477.06"):
        assert word in html, word
