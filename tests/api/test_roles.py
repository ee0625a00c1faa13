"""The role matrix: every endpoint declares its rule, and every endpoint × every role holds.

The route list comes from the application itself, so a new endpoint without a declared rule
fails here, and a new rule is exercised for every role without editing this test.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.routing import APIRoute, iter_route_contexts

from api.deps import Public, Requires
from api.main import create_app
from api.permissions import RULES
from core.users import Role
from tests.api.conftest import Server


def declared_rule(route: APIRoute) -> Requires | Public | None:
    """The ``Requires``/``Public`` dependency anywhere in the route's dependency tree."""
    stack: list[Any] = [route.dependant]
    while stack:
        dep = stack.pop()
        if isinstance(dep.call, Requires | Public):
            return dep.call
        stack.extend(dep.dependencies)
    return None


def endpoints() -> list[tuple[str, str, Requires | Public | None]]:
    out = []
    for ctx in iter_route_contexts(create_app().routes):
        route = ctx.original_route
        if not isinstance(route, APIRoute):
            continue  # the OpenAPI document, /docs and /static: public by nature
        for method in sorted(ctx.methods or ()):
            out.append((method, ctx.path, declared_rule(route)))
    return out


ENDPOINTS = endpoints()


def test_every_endpoint_declares_a_rule() -> None:
    missing = [f"{m} {p}" for m, p, rule in ENDPOINTS if rule is None]
    assert not missing, f"endpoints without a Requires(...) or Public(...) rule: {missing}"
    unknown = [f"{m} {p}" for m, p, rule in ENDPOINTS if isinstance(rule, Requires) and rule.operation not in RULES]
    assert not unknown
    # The contract's endpoints are all there (API.md), so the matrix below covers them.
    paths = {f"{m} {p}" for m, p, _ in ENDPOINTS}
    for needed in ("POST /api/v1/invoices", "GET /api/v1/invoices/by-key/{key}", "GET /api/v1/audit/verify",
                   "POST /api/v1/claims/{claim_id}/approve", "POST /api/v1/vouchers/{voucher_id}/post",
                   "GET /api/v1/archive/packages/{package_id}/check", "DELETE /api/v1/tokens/{token_id}",
                   "POST /api/v1/users", "POST /api/v1/archive/exports"):
        assert needed in paths
    publics = {p for _, p, rule in ENDPOINTS if isinstance(rule, Public)}
    assert publics == {"/api/v1/auth/login", "/api/v1/health", "/login", "/healthz", "/readyz", "/metrics"}


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "nonexistent0000", path)


@pytest.mark.parametrize("method,path,rule", [e for e in ENDPOINTS if isinstance(e[2], Requires)],
                         ids=[f"{m} {p}" for m, p, r in ENDPOINTS if isinstance(r, Requires)])
def test_matrix(server: Server, tokens: dict[str, str], method: str, path: str, rule: Requires) -> None:
    url = _concrete(path)
    is_page = not path.startswith("/api/")
    anon = server.client().request(method, url)
    if is_page:
        assert anon.status_code == 303 and anon.headers["location"].startswith("/login"), anon.text
    else:
        assert anon.status_code == 401, anon.text
        assert anon.json()["error"]["code"] == "unauthenticated"
    for role in Role:
        r = server.client(tokens[role.value]).request(method, url)
        if role in RULES[rule.operation]:
            assert r.status_code not in (401, 403), f"{role} refused on {method} {path}: {r.text}"
            assert r.status_code < 500, f"{role}: {method} {path} -> {r.status_code} {r.text}"
        else:
            assert r.status_code == 403, f"{role} allowed on {method} {path}: {r.status_code}"
            if not is_page:
                assert r.json()["error"]["code"] == "forbidden"
                assert r.json()["error"]["details"]["role"] == role.value
                assert "不能执行" in r.json()["error"]["message"]  # in words, role by its Chinese label


@pytest.fixture(scope="module")
def tokens(server: Server) -> dict[str, str]:
    return {role.value: server.add_user(role.value)["token"] for role in Role}
