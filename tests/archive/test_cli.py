"""``fapiao archive …`` end to end: package, check, export, verify-export, exit statuses."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from api.cli import main
from tests.archive.conftest import SAMPLE_SETS, People

Posted = Callable[[list[Path]], str]


def _json(capsys: pytest.CaptureFixture[str]) -> dict:
    return json.loads(capsys.readouterr().out)


def test_cli_package_check_export_verify(people: People, posted: Posted, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    vids = [posted(files) for files in SAMPLE_SETS[:2]]
    assert main(["archive", "package", vids[0], "--as", "clerk"]) == 1  # a clerk may not archive
    capsys.readouterr()
    codes = []
    for vid in vids:
        assert main(["archive", "package", vid, "--as", "archivist", "--json"]) == 0
        d = _json(capsys)
        assert d["check"]["status"] == "pass"
        codes.append(d["archival_code"])
    assert main(["archive", "package", vids[0], "--as", "archivist", "--json"]) == 1
    assert _json(capsys)["error"]["code"] == "already_archived"
    year = int(codes[0].split("·")[2][:4])
    report = tmp_path / "check.html"
    assert main(["archive", "check", "--year", str(year), "--as", "archivist", "--json",
                 "--report", str(report)]) == 0
    d = _json(capsys)
    assert d["status"] == "pass" and {i["id"] for i in d["items"]} >= {"A1", "I2", "U2", "S1"}
    assert "四性检测报告" in report.read_text(encoding="utf-8")
    out = tmp_path / "out"
    assert main(["archive", "export", "--year", str(year), "--out", str(out), "--as", "archivist", "--json"]) == 0
    bag = Path(_json(capsys)["bag_path"])
    assert main(["archive", "verify-export", str(out), "--json"]) == 0
    assert _json(capsys)["status"] == "pass"
    copy = tmp_path / "copy"
    shutil.copytree(bag, copy)
    meta = next((copy / "data" / "packages").glob("*/metadata.xml"))
    meta.write_bytes(meta.read_bytes().replace("<密级>内部</密级>".encode(), "<密级>公开</密级>".encode()))
    assert main(["archive", "verify-export", str(copy), "--json"]) == 1
    failed = {i["id"] for i in _json(capsys)["items"] if i["result"] == "fail"}
    assert {"E1", "A2"} <= failed
    assert main(["archive", "verify-export", str(tmp_path / "nothing")]) == 2


def test_cli_retention_commands(people: People, posted: Posted, capsys: pytest.CaptureFixture[str]) -> None:
    vid = posted(SAMPLE_SETS[1])
    assert main(["archive", "package", vid, "--as", "archivist", "--json"]) == 0
    pkg = _json(capsys)
    until = pkg["retention"]["until"]
    assert main(["archive", "due", "--today", until, "--json"]) == 0
    assert _json(capsys)["total"] == 0
    assert main(["archive", "due", "--today", "2100-01-01", "--json"]) == 0
    assert [p["id"] for p in _json(capsys)["items"]] == [pkg["id"]]
    assert main(["archive", "unsettled", pkg["id"], "--reason", "合同纠纷未结", "--as", "archivist", "--json"]) == 0
    assert _json(capsys)["unsettled"] is True
    # not yet expired (today), and unsettled anyway: refused with exit 1
    assert main(["archive", "destroy-request", pkg["id"], "--opinion", "经鉴定保管期满，无继续保存价值，同意销毁处理。",
                 "--as", "archivist", "--json"]) == 1
    assert _json(capsys)["error"]["code"] == "not_destroyable"
