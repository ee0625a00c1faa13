"""Typed records: every JSON route documents its response, and real responses match it.

The OpenAPI walk fails on any JSON route added without ``response_model`` (its schema is then
an anonymous ``{"type": "object"}``, or empty); the HTTP test drives a claim from upload to
an archive package and holds each answer against the schema the route declares: the JSON
must validate, and carry no field the model does not declare (unless the model keeps extra
fields on purpose, like the per-kind invoice details).
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import jsonschema
import pytest
from fastapi import FastAPI

from accounting.claims import ClaimState
from accounting.ledger import PostingFlag, VoucherState
from api.main import create_app
from core.public import Money, Page, PublicModel, Timestamp
from invoice.registry import RecordStatus
from tests.api.conftest import OFD_WUXI, PDF_WUXI, Server, upload

API = "/api/v1"


def undocumented_json_routes(openapi: dict[str, Any]) -> list[str]:
    """``METHOD path status`` of every 2xx JSON response without a named schema."""
    missing = []
    for path, ops in openapi["paths"].items():
        for method, op in ops.items():
            for status, resp in op.get("responses", {}).items():
                if not status.startswith("2"):
                    continue
                content = resp.get("content") or {"application/json": {}}  # no content at all: undocumented
                if "application/json" not in content:
                    continue  # a file download (zip, xlsx, the original invoice)
                schema = content["application/json"].get("schema") or {}
                if "$ref" not in schema:
                    missing.append(f"{method.upper()} {path} {status}")
    return missing


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    return create_app().openapi()


def test_every_json_route_declares_its_response(openapi: dict[str, Any]) -> None:
    assert undocumented_json_routes(openapi) == []
    # the documented shapes are the typed ones: states are enums, money strings
    schemas = openapi["components"]["schemas"]
    claim = schemas["ClaimPublic"]["properties"]
    assert set(schemas[claim["state"]["$ref"].split("/")[-1]]["enum"]) == {s.value for s in ClaimState}
    assert claim["total"]["type"] == "string"


def test_a_route_without_response_model_is_caught() -> None:
    app = FastAPI()

    @app.get("/typed", response_model=Page[int])
    def typed() -> Page[int]:
        return Page[int](items=[1], total=1)

    @app.get("/untyped")
    def untyped() -> dict[str, Any]:
        return {"ok": True}

    assert undocumented_json_routes(app.openapi()) == ["GET /untyped 200"]


# --- serialisation: the API's formats, unchanged ---------------------------------------------------

class _Sample(PublicModel):
    amount: Money
    at: Timestamp
    state: VoucherState
    flag: PostingFlag


def test_money_times_and_states_keep_the_api_formats() -> None:
    from datetime import UTC, datetime

    m = _Sample.model_validate({"amount": Decimal("5000"), "at": datetime(2025, 11, 3, 8, 0, tzinfo=UTC),
                                "state": "posted", "flag": "02"})
    assert m.to_json() == {"amount": "5000.00", "at": "2025-11-03T08:00:00+00:00", "state": "posted", "flag": "02"}
    assert m.state is VoucherState.POSTED and m.flag == "02"  # StrEnum: equal to the stored text
    assert _Sample.model_validate(m.to_json()) == m  # what the API sends reads back the same
    with pytest.raises(ValueError):
        _Sample.model_validate({"amount": "1", "at": m.at, "state": "booked", "flag": "02"})  # not a state
    assert RecordStatus("duplicate") == "duplicate" and ClaimState.APPROVED == "approved"


# --- real responses against their declared schemas ---------------------------------------------------

def _route(openapi: dict[str, Any], method: str, template: str, status: int) -> dict[str, Any]:
    resp = openapi["paths"][API + template][method.lower()]["responses"][str(status)]
    ref = resp["content"]["application/json"]["schema"]["$ref"]
    return {"$ref": ref, "components": openapi["components"]}


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = root["components"]["schemas"][schema["$ref"].split("/")[-1]]
    return schema


def _undeclared(instance: Any, schema: dict[str, Any], root: dict[str, Any], where: str = "") -> list[str]:
    """Keys in the response that its schema does not declare (models that allow extra fields
    are skipped)."""
    schema = _resolve(schema, root)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            branches = [b for b in schema[key] if _resolve(b, root).get("type") != "null"]
            found = [_undeclared(instance, b, root, where) for b in branches]
            return min(found, key=len) if found else []
    out: list[str] = []
    if isinstance(instance, dict) and "properties" in schema:
        props = schema["properties"]
        if schema.get("additionalProperties") is not True:
            out += [f"{where}.{k}" for k in instance if k not in props]
        for k, v in instance.items():
            if k in props:
                out += _undeclared(v, props[k], root, f"{where}.{k}")
    elif isinstance(instance, list) and "items" in schema:
        for i, v in enumerate(instance[:5]):
            out += _undeclared(v, schema["items"], root, f"{where}[{i}]")
    return out


class Checker:
    """Holds each response against the schema its route declares."""

    def __init__(self, openapi: dict[str, Any]) -> None:
        self.openapi = openapi
        self.seen: set[str] = set()

    def __call__(self, r: httpx.Response, method: str, template: str) -> Any:
        assert r.status_code < 300, r.text
        schema = _route(self.openapi, method, template, r.status_code)
        body = r.json()
        jsonschema.Draft202012Validator(schema).validate(body)
        assert _undeclared(body, schema, schema) == [], (template, _undeclared(body, schema, schema))
        self.seen.add(f"{method} {template}")
        return body


@pytest.fixture
def check(openapi: dict[str, Any]) -> Iterator[Checker]:
    yield Checker(openapi)


def test_real_responses_match_their_declared_models(server: Server, check: Checker) -> None:
    clerk, _ = server.as_role("clerk")
    approver, _ = server.as_role("approver")
    approver2, _ = server.as_role("approver")
    maker, _ = server.as_role("accountant")
    reviewer, _ = server.as_role("accountant")
    archivist, _ = server.as_role("archivist")
    auditor, _ = server.as_role("auditor")
    admin = server.admin()

    res = check(upload(clerk, OFD_WUXI, PDF_WUXI), "POST", "/invoices")
    ids = [e["invoice_id"] for e in res["imported"]]
    assert len(ids) == 2, res
    dup = check(upload(clerk, OFD_WUXI), "POST", "/invoices")
    assert dup["duplicates"][0]["duplicate_of"]["invoice_id"] == ids[0]
    inv = check(clerk.get(f"{API}/invoices/{ids[0]}"), "GET", "/invoices/{invoice_id}")
    assert inv["verification"]["status"] == inv["verification_status"] and inv["total"] == "20000.00"
    check(clerk.get(f"{API}/invoices/by-key/{inv['key']}"), "GET", "/invoices/by-key/{key}")
    listed = check(clerk.get(f"{API}/invoices"), "GET", "/invoices")
    assert listed["total"] >= 2 and "verification" not in listed["items"][0]
    check(clerk.get(f"{API}/invoices", params={"claimable": "true"}), "GET", "/invoices")

    claim = check(clerk.post(f"{API}/claims", json={"title": "采购报销", "lines": [
        {"invoice_id": ids[0], "category": "办公费"}, {"invoice_id": ids[1], "category": "办公费"}]}),
        "POST", "/claims")
    cid = claim["id"]
    check(clerk.patch(f"{API}/claims/{cid}", json={"purpose": "办公用品"}), "PATCH", "/claims/{claim_id}")
    check(clerk.post(f"{API}/claims/{cid}/submit"), "POST", "/claims/{claim_id}/submit")
    check(approver.post(f"{API}/claims/{cid}/review", json={"comment": "票据齐全"}), "POST", "/claims/{claim_id}/review")
    done = check(approver2.post(f"{API}/claims/{cid}/approve"), "POST", "/claims/{claim_id}/approve")
    assert done["state"] == ClaimState.APPROVED and [s["action"] for s in done["steps"]][-1] == "approve"
    check(clerk.get(f"{API}/claims/{cid}"), "GET", "/claims/{claim_id}")
    check(clerk.get(f"{API}/claims", params={"state": "approved"}), "GET", "/claims")

    v = check(maker.post(f"{API}/vouchers", json={"claim_ids": [cid]}), "POST", "/vouchers")
    vid = v["id"]
    check(reviewer.post(f"{API}/vouchers/{vid}/review"), "POST", "/vouchers/{voucher_id}/review")
    posted = check(maker.post(f"{API}/vouchers/{vid}/post", json={"deductible": True}),
                   "POST", "/vouchers/{voucher_id}/post")
    assert posted["state"] == "posted" and posted["posting_flag"] == "02"
    check(maker.get(f"{API}/vouchers/{vid}"), "GET", "/vouchers/{voucher_id}")
    check(maker.get(f"{API}/vouchers"), "GET", "/vouchers")
    check(maker.get(f"{API}/vouchers/number-gaps"), "GET", "/vouchers/number-gaps")
    after = check(clerk.get(f"{API}/invoices/{ids[0]}"), "GET", "/invoices/{invoice_id}")
    assert after["posting"]["flag"] == "02" and after["history"][-1]["action"] == "voucher.post"

    pkg = check(archivist.post(f"{API}/archive/packages", json={"voucher_id": vid}), "POST", "/archive/packages")
    assert pkg["check"]["status"] == "pass" and pkg["amount"] == posted["total_debit"]
    check(archivist.get(f"{API}/archive/packages/{pkg['id']}"), "GET", "/archive/packages/{package_id}")
    check(archivist.get(f"{API}/archive/packages"), "GET", "/archive/packages")
    check(auditor.get(f"{API}/archive/packages/{pkg['id']}/check"), "GET", "/archive/packages/{package_id}/check")
    check(archivist.get(f"{API}/archive/key"), "GET", "/archive/key")

    check(auditor.get(f"{API}/audit"), "GET", "/audit")
    check(auditor.get(f"{API}/audit/actions"), "GET", "/audit/actions")
    check(auditor.get(f"{API}/audit/verify"), "GET", "/audit/verify")
    check(clerk.get(f"{API}/me"), "GET", "/me")
    check(clerk.get(f"{API}/tokens"), "GET", "/tokens")
    check(admin.get(f"{API}/users"), "GET", "/users")
    check(server.client().get(f"{API}/health"), "GET", "/health")
    assert len(check.seen) == 29  # each call above names a distinct route


def test_the_checker_catches_a_field_the_model_does_not_declare(openapi: dict[str, Any]) -> None:
    schema = {"$ref": "#/components/schemas/VoucherRef", "components": openapi["components"]}
    jsonschema.Draft202012Validator(schema).validate({"id": "v1", "number": "记-2025-11-0001"})
    assert _undeclared({"id": "v1", "number": "记-2025-11-0001"}, schema, schema) == []
    assert _undeclared({"id": "v1", "number": "记-2025-11-0001", "bookkeeper": "x"}, schema, schema) == [".bookkeeper"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(schema).validate({"id": "v1"})
