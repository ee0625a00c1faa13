"""Typed records of the routes added with bank payments, the job queue and the 入账标识 report.

Each route's real answer is held against the schema it declares (``test_typed.Checker``: it
must validate and carry no undeclared field), and the CLI prints the very same JSON from the
same read models (``fapiao voucher pay``, ``fapiao job show/list``, ``fapiao ledger
posting-flags --json``).
"""

from __future__ import annotations

import json
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from accounting.ledger import PostingFlag
from accounting.payments import PaymentState
from accounting.public import PaymentPublic, PostingFlagRowPublic
from core.jobs import JobState
from core.public import JobDetail, JobPublic
from tests.api.conftest import Server, upload
from tests.api.test_typed import API, Checker, openapi  # noqa: F401  (the module-scoped fixture)
from tests.samples import OTHER

CCB = OTHER / "c5soft__ofd.js" / "26050100800_00001.ofd"  # a CCB e-receipt: 27.00 to 李俊婕, 2026-05-12


@pytest.fixture
def check(openapi: dict[str, Any]) -> Checker:  # noqa: F811
    return Checker(openapi)


def _wait(client: httpx.Client, job_id: str) -> dict[str, Any]:
    """The job once it and its children have finished."""
    deadline = time.monotonic() + 60
    while True:
        d: dict[str, Any] = client.get(f"{API}/jobs/{job_id}").json()
        settled = d["state"] in (JobState.DONE, JobState.FAILED)
        children_busy = any(k in (JobState.QUEUED, JobState.RUNNING) for k in d.get("children") or {})
        if (settled and not children_busy) or time.monotonic() > deadline:
            return d
        time.sleep(0.2)


def _cli_json(server: Server, *args: str) -> Any:
    run = server.cli(*args, "--json")
    assert run.returncode == 0, run.stdout + run.stderr
    return json.loads(run.stdout)


def test_payments_jobs_and_posting_flags_answer_their_declared_models(
        server: Server, check: Checker, tmp_path: Path) -> None:
    clerk, _ = server.as_role("clerk")
    maker, _ = server.as_role("accountant")
    reviewer, _ = server.as_role("accountant")
    archivist, _ = server.as_role("archivist")
    receipt_id = upload(clerk, CCB).json()["imported"][0]["invoice_id"]
    r = maker.post(f"{API}/vouchers", json={
        "date": "2026-05-10", "summary": "支付李俊婕出租车费",
        "lines": [{"account_code": "660203", "debit": "27.00"}, {"account_code": "1002", "credit": "27.00"}]})
    assert r.status_code == 201, r.text
    vid = r.json()["id"]
    check(reviewer.post(f"{API}/vouchers/{vid}/review"), "POST", "/vouchers/{voucher_id}/review")
    check(maker.post(f"{API}/vouchers/{vid}/post"), "POST", "/vouchers/{voucher_id}/post")

    # payments: suggestions, the voucher's list, confirm, remove, reject
    sug = check(clerk.get(f"{API}/vouchers/{vid}/payment-suggestions"),
                "GET", "/vouchers/{voucher_id}/payment-suggestions")
    [best] = sug["items"]
    assert best["receipt_id"] == receipt_id and best["total"] == "27.00" and best["issue_date"] == "2026-05-12"
    assert sug["page_size"] == sug["total"] == 1 and best["codes"][0] == "amount_exact"
    paid = check(maker.post(f"{API}/vouchers/{vid}/payments", json={"receipt_id": receipt_id}),
                 "POST", "/vouchers/{voucher_id}/payments")
    assert paid["state"] == PaymentState.CONFIRMED and paid["state_label"]
    assert paid["amount"] == "27.00" and paid["decided_at"].endswith("+00:00") and paid["removed_at"] is None
    assert paid["receipt"]["receipt_id"] == receipt_id and paid["receipt"]["payee"]["name"] == "李俊婕"
    assert PaymentPublic.model_validate(paid).to_json() == paid  # what the API sends reads back the same
    listed = check(clerk.get(f"{API}/vouchers/{vid}/payments"), "GET", "/vouchers/{voucher_id}/payments")
    assert [p["id"] for p in listed["payments"]] == [paid["id"]] and listed["suggestions"] == []
    assert _cli_json(server, "voucher", "pay", vid) == listed  # the CLI prints the same model
    removed = check(maker.delete(f"{API}/vouchers/{vid}/payments/{receipt_id}"),
                    "DELETE", "/vouchers/{voucher_id}/payments/{receipt_id}")
    assert removed["state"] == PaymentState.REMOVED and removed["removed_at"].endswith("+00:00")
    rejected = check(maker.post(f"{API}/vouchers/{vid}/payment-suggestions/{receipt_id}/reject"),
                     "POST", "/vouchers/{voucher_id}/payment-suggestions/{receipt_id}/reject")
    assert rejected["state"] == PaymentState.REJECTED

    # the year's 入账标识: JSON, and the CLI's --json from the same model
    flags = check(maker.get(f"{API}/ledger/posting-flags", params={"year": 2026}), "GET", "/ledger/posting-flags")
    assert flags["year"] == 2026 and flags["total"] == len(flags["items"]) >= 1
    for row in flags["items"]:
        assert row["flag"] in {f.value for f in PostingFlag} and row["flag_label"]
        assert row["total"] == "" or Decimal(row["total"]).as_tuple().exponent == -2
        assert PostingFlagRowPublic.model_validate(row).to_json() == row
    cli = _cli_json(server, "ledger", "posting-flags", "--year", "2026", "--out", str(tmp_path / "f.csv"))
    assert cli.pop("file") == str(tmp_path / "f.csv") and cli.pop("format") == "csv" and cli == flags

    # a year's packages as a job, the job, the job list
    started = check(archivist.post(f"{API}/archive/years/2026/packages"), "POST", "/archive/years/{year}/packages")
    assert started["kind"] == "archive.build_year" and started["created_at"].endswith("+00:00")
    assert "children" not in started and started["progress"].keys() == {"done", "total", "percent"}
    done = _wait(archivist, started["id"])
    job = check(archivist.get(f"{API}/jobs/{started['id']}"), "GET", "/jobs/{job_id}")
    assert job == done and job["state"] == JobState.DONE and job["result"] == {"year": 2026, "children": 1}
    assert sum(job["children"].values()) == 1 and job["finished_at"].endswith("+00:00")
    assert set(job["children"]) <= {JobState.DONE, JobState.FAILED}
    assert JobDetail.model_validate(job).to_json() == job
    jobs = check(archivist.get(f"{API}/jobs", params={"kind": "archive.build_year"}), "GET", "/jobs")
    assert [j["id"] for j in jobs["items"]] == [started["id"]] and jobs["total"] == 1
    assert all("children" not in j for j in jobs["items"])
    assert _cli_json(server, "job", "show", started["id"]) == job
    every = _cli_json(server, "job", "list", "--kind", "archive.build_year")
    assert every == jobs
    child = _cli_json(server, "job", "list", "--kind", "archive.package")["items"]
    assert [JobPublic.model_validate(c).to_json() for c in child] == child and child[0]["parent_id"] == started["id"]
    if child[0]["state"] == JobState.FAILED:  # a failure is told as {code, message, details}
        assert child[0]["error"]["code"] and child[0]["error"]["message"], child[0]
    assert len(check.seen) == 11


def test_the_export_answer_declares_its_job(openapi: dict[str, Any]) -> None:  # noqa: F811
    """``POST /archive/exports`` adds the queued job's id to the export (``ExportPublic.job_id``)."""
    assert "job_id" in openapi["components"]["schemas"]["ExportPublic"]["properties"]


def test_the_new_models_refuse_unknown_states() -> None:
    base = {"id": "j1", "kind": "archive.build_year", "state": "done", "state_label": "已完成",
            "kind_label": "x", "progress": {"done": 0}, "created_at": "2026-05-12T08:00:00+00:00"}
    assert JobPublic.model_validate(base).state is JobState.DONE
    with pytest.raises(ValueError):
        JobPublic.model_validate({**base, "state": "paused"})
    with pytest.raises(ValueError):
        JobPublic.model_validate({**base, "created_at": "not a time"})
    row = {"flag": "02", "flag_label": "已入账", "invoice_id": "i1", "kind": "vat_normal"}
    assert PostingFlagRowPublic.model_validate(row).to_json()["total"] == ""
    with pytest.raises(ValueError):
        PostingFlagRowPublic.model_validate({**row, "flag": "04"})
    with pytest.raises(jsonschema.ValidationError):  # the declared schema refuses a state it does not know
        from api.main import create_app

        schema = {"$ref": "#/components/schemas/PaymentState", "components": create_app().openapi()["components"]}
        jsonschema.Draft202012Validator(schema).validate("pending")
