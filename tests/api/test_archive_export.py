"""The year-end export over HTTP when the four-property check fails: refused, unless an
archivist overrides it with a reason that is kept and audited."""

from __future__ import annotations

import json
import os
import time
from typing import Any

import httpx

from archive.codes import dir_name
from tests.api.conftest import OFD_WUXI, Server, upload

REASON = "多余文件经核实为扫描说明，不影响凭证，先行移交"


def _packaged_year(server: Server, archivist: httpx.Client) -> dict[str, Any]:
    """A real invoice taken through claim, voucher and posting, then packaged: the package."""
    clerk, _ = server.as_role("clerk")
    reviewer, _ = server.as_role("approver")
    approver, _ = server.as_role("approver")
    accountant, _ = server.as_role("accountant")
    r = upload(clerk, OFD_WUXI)
    assert r.status_code == 200, r.text
    inv_id = r.json()["imported"][0]["invoice_id"]
    claim = clerk.post("/api/v1/claims", json={"title": "采购报销", "department": "行政部", "purpose": "采购",
                                               "lines": [{"invoice_id": inv_id, "category": "办公费"}]})
    assert claim.status_code == 201, claim.text
    cid = claim.json()["id"]
    assert clerk.post(f"/api/v1/claims/{cid}/submit").status_code == 200
    assert reviewer.post(f"/api/v1/claims/{cid}/review", json={"comment": "票据齐全"}).status_code == 200
    assert approver.post(f"/api/v1/claims/{cid}/approve", json={"comment": "同意"}).status_code == 200
    v = accountant.post("/api/v1/vouchers", json={"claim_ids": [cid]})
    assert v.status_code == 201, v.text
    checker, _ = server.as_role("accountant")  # 审核 by an accountant other than the maker
    assert checker.post(f"/api/v1/vouchers/{v.json()['id']}/review").status_code == 200
    posted = accountant.post(f"/api/v1/vouchers/{v.json()['id']}/post", json={"deductible": True})
    assert posted.status_code == 200, posted.text
    pkg = archivist.post("/api/v1/archive/packages", json={"voucher_id": v.json()["id"]})
    assert pkg.status_code == 201, pkg.text
    return dict(pkg.json())


def _wait(client: httpx.Client, job: dict[str, Any]) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while job["status"] == "running" and time.monotonic() < deadline:
        time.sleep(0.3)
        job = client.get(f"/api/v1/archive/exports/{job['id']}").json()
    return job


def _audit(auditor: httpx.Client, action: str) -> list[dict[str, Any]]:
    r = auditor.get("/api/v1/audit", params={"action": action, "page_size": 500})
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


def _plant_in_bucket(server: Server, package_id: str, name: str, data: bytes) -> None:
    """Add a file to a package kept in the bucket, as someone holding the bucket's keys could:
    a new version of its index naming one more object (the locked versions stay)."""
    import hashlib

    import boto3

    raw = boto3.client("s3", endpoint_url=server.env["FAPIAO_S3_ENDPOINT"], region_name="us-east-1",
                       aws_access_key_id="test", aws_secret_access_key="test")
    bucket, key = server.env["FAPIAO_S3_BUCKET"], f"archive/packages/{package_id}.json"
    index = json.loads(raw.get_object(Bucket=bucket, Key=key)["Body"].read())
    sha = hashlib.sha256(data).hexdigest()
    raw.put_object(Bucket=bucket, Key=f"archive/objects/{sha[:2]}/{sha[2:4]}/{sha}", Body=data)
    index["files"].append({"path": name, "size": len(data), "sha256": sha})
    raw.put_object(Bucket=bucket, Key=key, Body=json.dumps(index).encode())


def test_export_override_reason_is_passed_through_and_audited(server: Server) -> None:
    archivist, archivist_user = server.as_role("archivist")
    auditor, _ = server.as_role("auditor")
    pkg = _packaged_year(server, archivist)
    year = int(pkg["year"])
    # A stray file in the stored package: the check of the year fails (integrity).
    if server.env.get("FAPIAO_STORE") == "s3":
        _plant_in_bucket(server, pkg["id"], "stray.json", b"{}")
    else:
        [root] = [p for p in (server.home / "archive").rglob(dir_name(pkg["archival_code"])) if p.is_dir()]
        os.chmod(root, 0o755)
        (root / "stray.json").write_bytes(b"{}")

    refused = _wait(archivist, archivist.post("/api/v1/archive/exports", json={"year": year}).json())
    assert refused["status"] == "failed" and refused["error"]["code"] == "check_failed", refused
    assert refused["override_reason"] is None and refused["error"]["details"]["failed"]

    # Only archive.override may give a reason; a blank reason is no reason.
    started_before = len(_audit(auditor, "archive.export_started"))
    for role in ("accountant", "auditor", "clerk"):
        other, _ = server.as_role(role)
        r = other.post("/api/v1/archive/exports", json={"year": year, "override_reason": REASON})
        assert r.status_code == 403, (role, r.text)
        assert r.json()["error"]["code"] == "forbidden" and r.json()["error"]["details"]["role"] == role
    blank = archivist.post("/api/v1/archive/exports", json={"year": year, "override_reason": "  "})
    assert blank.status_code == 422, blank.text
    assert "override_reason" in blank.text
    assert len(_audit(auditor, "archive.export_started")) == started_before  # no job was started

    r = archivist.post("/api/v1/archive/exports", json={"year": year, "override_reason": f"  {REASON} "})
    assert r.status_code == 202, r.text
    assert r.json()["override_reason"] == REASON
    done = _wait(archivist, r.json())
    assert done["status"] == "done", done
    assert done["override_reason"] == REASON
    assert done["check"]["status"] == "fail"  # exported over a failed check, on the record
    z = archivist.get(f"/api/v1/archive/exports/{done['id']}/download")
    assert z.status_code == 200 and z.content[:2] == b"PK"

    started = [e for e in _audit(auditor, "archive.export_started") if e["object_id"] == done["id"]]
    assert len(started) == 1 and started[0]["details"]["override_reason"] == REASON
    assert started[0]["actor"] == archivist_user["username"]
    [override] = [e for e in _audit(auditor, "archive.check_override")
                  if e["details"]["export_id"] == done["id"]]
    assert override["actor"] == archivist_user["username"]
    assert override["details"]["reason"] == REASON and override["details"]["year"] == year
    assert override["object_id"] == done["check"]["run_id"]
    assert override["details"]["failed"]  # names the failed check items
    chain = auditor.get("/api/v1/audit/verify").json()
    assert chain["ok"] is True

    # the receiving archive's check over HTTP, trust pinned to the organisation key (or not)
    fp = archivist.get("/api/v1/archive/key").json()["fingerprint_sm3"]
    pinned = archivist.get(f"/api/v1/archive/exports/{done['id']}/verify", params={"expect_key": fp})
    assert pinned.status_code == 200, pinned.text
    body = pinned.json()
    assert body["trust"]["code"] is None and body["key_fingerprint_sm3"] == fp and "bag" not in body
    assert next(i for i in body["items"] if i["id"] == "E4")["result"] == "pass"
    other = "0" * 64
    wrong = archivist.get(f"/api/v1/archive/exports/{done['id']}/verify", params={"expect_key": other}).json()
    assert wrong["status"] == "fail" and wrong["trust"]["code"] == "key_mismatch"
    bad = archivist.get(f"/api/v1/archive/exports/{done['id']}/verify", params={"expect_key": "abc"})
    assert bad.status_code in (400, 422) and bad.json()["error"]["code"] == "bad_fingerprint"
