"""``GET /api/v1/jobs/{id}``, ``POST /archive/years/{year}/packages`` and ``fapiao job show``."""

from __future__ import annotations

import json
import time

from tests.api.conftest import Server


def _wait(client, job_id: str) -> dict:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + 60
    while True:
        d = client.get(f"/api/v1/jobs/{job_id}").json()
        if d["state"] in ("done", "failed") or time.monotonic() > deadline:
            return dict(d)
        time.sleep(0.2)


def test_a_queued_year_build_is_visible_to_its_starter_and_admins_only(server: Server) -> None:
    archivist, _ = server.as_role("archivist")
    r = archivist.post("/api/v1/archive/years/2024/packages")
    assert r.status_code == 202, r.text
    started = r.json()
    assert started["kind"] == "archive.build_year" and started["state"] in ("queued", "running", "done")
    done = _wait(archivist, started["id"])
    assert done["state"] == "done" and done["state_label"] == "已完成"
    assert done["result"] == {"year": 2024, "children": 0} and done["children"] == {}
    assert server.admin().get(f"/api/v1/jobs/{started['id']}").status_code == 200
    clerk, _ = server.as_role("clerk")
    hidden = clerk.get(f"/api/v1/jobs/{started['id']}")
    assert hidden.status_code == 404 and "后台任务" in hidden.json()["error"]["message"]
    assert clerk.get("/api/v1/jobs").json()["items"] == []
    listed = archivist.get("/api/v1/jobs", params={"kind": "archive.build_year"}).json()
    assert [j["id"] for j in listed["items"]] == [started["id"]]
    shown = server.cli("job", "show", started["id"], "--json")
    assert shown.returncode == 0 and json.loads(shown.stdout)["state"] == "done"


def test_a_clerk_may_not_package_a_year(server: Server) -> None:
    clerk, _ = server.as_role("clerk")
    assert clerk.post("/api/v1/archive/years/2024/packages").status_code == 403


def test_an_unknown_job_is_not_found(server: Server) -> None:
    r = server.admin().get("/api/v1/jobs/nope")
    assert r.status_code == 404 and r.json()["error"]["code"] == "job_not_found"
    shown = server.cli("job", "show", "nope", "--json")
    assert shown.returncode == 1 and json.loads(shown.stdout)["error"]["code"] == "job_not_found"


def test_a_folder_import_queued_from_the_cli(server: Server, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.api.conftest import OFD_WUXI, PDF_WUXI

    folder = tmp_path / "inbox"
    folder.mkdir()
    for p in (OFD_WUXI, PDF_WUXI):
        (folder / p.name).write_bytes(p.read_bytes())
    (folder / "broken.pdf").write_bytes(PDF_WUXI.read_bytes()[:200])
    r = server.cli("job", "import", str(folder), "--as", "admin", "--wait", "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["state"] == "done" and d["progress"]["done"] == 3 and d["progress"]["total"] == 3
    assert d["counts"] == {"imported": 2, "rejected": 1}
    assert server.admin().get(f"/api/v1/jobs/{d['id']}").json()["result"]["counts"]["imported"] == 2
    gone = server.cli("job", "import", str(folder / "nope"), "--as", "admin", "--json")
    assert gone.returncode == 2 and "不存在" in json.loads(gone.stdout)["error"]["message"]
