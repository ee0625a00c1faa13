"""``fapiao verify``: JSON shape and exit statuses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from api.cli import main
from tests.samples import DIGITAL_OFD, SAMPLES, TAMPERED, V4SIGNED


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["verify", *args])
    return code, capsys.readouterr().out


def test_json_array_and_exit_zero_for_valid_and_unsigned(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _run(capsys, "--json", str(V4SIGNED), str(DIGITAL_OFD))
    assert code == 0
    reports = json.loads(out)
    assert [r["status"] for r in reports] == ["valid", "unsigned"]
    for r in reports:
        assert {"file", "sha256", "status", "signatures", "checks", "problems"} <= set(r)
    assert reports[0]["file"] == str(V4SIGNED)
    assert reports[0]["signatures"][0]["seal"]["name"] == "测试全国统一发票监制章国家税务总局重庆市税务局"


def test_exit_one_when_any_is_invalid(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _run(capsys, str(V4SIGNED), str(TAMPERED))
    assert code == 1
    assert f"{TAMPERED}: invalid" in out
    assert "Doc_0/Document.xml" in out


def test_exit_one_when_indeterminate(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _run(capsys, "--json", str(SAMPLES / "other/itlabers__ofd-go/gonghang_1.ofd"))
    assert code == 1
    assert json.loads(out)[0]["status"] == "indeterminate"


def test_exit_two_on_unreadable_input(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00\x01 not an invoice")
    code, out = _run(capsys, "--json", str(V4SIGNED), str(junk), str(tmp_path / "missing.ofd"))
    assert code == 2
    reports = json.loads(out)
    assert reports[0]["status"] == "valid"
    assert reports[1]["error"]["code"] == "unknown_format"
    assert reports[2]["error"]["code"] == "unreadable"
