"""The whole flow in a terminal: import a real invoice, claim, approve, voucher, post, reverse."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from api.cli import main
from api.cli.accounting_cmds import parse_invoice_spec
from api.cli.common import CliError
from core.db import session_scope
from core.settings import Settings
from core.users import create_user
from tests.samples import DIGITAL_OFD

from .conftest import ORG_NAME, ORG_TAX_ID


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    try:
        data = json.loads(out) if out.strip() else None
    except json.JSONDecodeError:
        data = out
    return status, data, err


def test_flow_from_import_to_posting_and_reversal(sqlite_engine: Engine, settings: Settings,
                                                  capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # the organisation is the buyer named on the sample (发票示例.ofd, a 数电 special invoice)
    settings.org_name, settings.org_tax_id = ORG_NAME, ORG_TAX_ID
    with session_scope() as s:
        for name, role in (("clerk", "clerk"), ("boss", "approver"), ("acct", "accountant"),
                           ("acct2", "accountant")):
            create_user(s, name, role)

    status, imported, _ = _run(capsys, "import", str(DIGITAL_OFD), "--as", "clerk", "--json", "--workers", "1")
    assert status == 0, imported
    invoice_id = imported["imported"][0]["invoice_id"]

    status, claim, _ = _run(capsys, "claim", "create", "--title", "北京技术服务", "--invoice",
                            f"{invoice_id}:差旅费", "--department", "研发部", "--as", "clerk", "--json")
    assert status == 0 and claim["state"] == "draft" and claim["total"] == "4449.00"
    cid = claim["id"]
    # a second claim on the same invoice is refused (exit 1) naming the first
    status, err, _ = _run(capsys, "claim", "create", "--title", "again", "--invoice", invoice_id, "--as", "clerk",
                          "--json")
    assert status == 1 and err["error"]["code"] == "invoice_in_claim" and cid in err["error"]["message"]

    assert _run(capsys, "claim", "submit", cid, "--as", "clerk", "--json")[1]["state"] == "submitted"
    status, _, stderr = _run(capsys, "claim", "approve", cid, "--as", "clerk")
    assert status == 1 and "（clerk）不能执行“审批报销单”（claim.approve）" in stderr
    status, _, stderr = _run(capsys, "claim", "reject", cid, "--as", "boss")
    assert status == 2 and "驳回需要填写理由" in stderr
    status, approved, _ = _run(capsys, "claim", "approve", cid, "--comment", "同意", "--as", "boss", "--json")
    assert status == 0 and approved["state"] == "approved"
    assert [st["action"] for st in approved["steps"]] == ["create", "submit", "approve"]

    status, voucher, _ = _run(capsys, "voucher", "create", "--claim", cid, "--date", "2025-11-28", "--as", "acct",
                              "--json")
    assert status == 0 and voucher["number"] == "记-2025-11-0001"
    assert [(x["account_code"], x["debit"], x["credit"]) for x in voucher["lines"]] == [
        ("660201", "4197.17", "0.00"), ("22210101", "251.83", "0.00"), ("2241", "0.00", "4449.00")]

    # 审核: not by the maker, and posting waits for it
    status, _, stderr = _run(capsys, "voucher", "post", "记-2025-11-0001", "--as", "acct")
    assert status == 1 and "还没有审核" in stderr
    status, _, stderr = _run(capsys, "voucher", "review", "记-2025-11-0001", "--as", "acct")
    assert status == 1 and "不能由您审核" in stderr
    status, checked, _ = _run(capsys, "voucher", "review", "记-2025-11-0001", "--as", "acct2", "--json")
    assert status == 0 and checked["state"] == "reviewed" and checked["reviewed_by"] == "acct2"
    status, posted, _ = _run(capsys, "voucher", "post", "记-2025-11-0001", "--as", "acct", "--json")
    assert status == 0 and posted["state"] == "posted" and posted["posting_flag"] == "02"
    status, _, stderr = _run(capsys, "voucher", "post", voucher["id"], "--as", "acct")
    assert status == 1 and "不能再次记账" in stderr

    status, listing, _ = _run(capsys, "voucher", "list", "--period", "2025-11", "--json")
    assert status == 0 and listing["total"] == 1 and listing["items"][0]["invoices"][0]["invoice_id"] == invoice_id

    status, reversal, _ = _run(capsys, "voucher", "reverse", voucher["id"], "--date", "2025-12-01", "--as", "acct",
                               "--json")
    assert status == 0 and reversal["number"] == "记-2025-12-0001"
    assert [x["debit"] for x in reversal["lines"]] == ["-4197.17", "-251.83", "0.00"]
    status, shown, _ = _run(capsys, "voucher", "show", voucher["id"], "--json")
    assert shown["reversed_by"]["number"] == "记-2025-12-0001"

    out = tmp_path / "journal.xlsx"
    assert _run(capsys, "voucher", "export", "--period", "2025-11", "--out", str(out))[0] == 0
    assert out.read_bytes()[:2] == b"PK"
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(b"not a workbook")
    status, _, stderr = _run(capsys, "voucher", "import", str(bad), "--as", "acct")
    assert status == 2 and "不是可读取的 .xlsx 工作簿" in stderr


def test_invoice_spec_parsing() -> None:
    assert parse_invoice_spec("abc:办公费:12.50") == {"invoice_id": "abc", "category": "办公费", "amount": "12.50"}
    assert parse_invoice_spec("abc") == {"invoice_id": "abc"}
    with pytest.raises(CliError, match="expected ID\\[:CATEGORY\\[:AMOUNT\\]\\]"):
        parse_invoice_spec("a:b:c:d")


def test_voucher_edit_delete_and_list_in_the_terminal(sqlite_engine: Engine, settings: Settings,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    settings.org_name, settings.org_tax_id = ORG_NAME, ORG_TAX_ID
    with session_scope() as s:
        for name, role in (("clerk", "clerk"), ("boss", "approver"), ("acct", "accountant"),
                           ("acct2", "accountant")):
            create_user(s, name, role)
    status, imported, _ = _run(capsys, "import", str(DIGITAL_OFD), "--as", "clerk", "--json", "--workers", "1")
    invoice_id = imported["imported"][0]["invoice_id"]
    cid = _run(capsys, "claim", "create", "--title", "北京技术服务", "--invoice", f"{invoice_id}:差旅费",
               "--as", "clerk", "--json")[1]["id"]
    _run(capsys, "claim", "submit", cid, "--as", "clerk")
    _run(capsys, "claim", "approve", cid, "--comment", "同意", "--as", "boss")
    voucher = _run(capsys, "voucher", "create", "--claim", cid, "--date", "2025-11-28", "--as", "acct", "--json")[1]

    status, edited, _ = _run(capsys, "voucher", "edit", voucher["number"], "--summary", "报销 北京技术服务",
                             "--line", "660201:4449.00::差旅费", "--line", "2241::4449.00", "--as", "acct", "--json")
    assert status == 0 and edited["summary"] == "报销 北京技术服务" and len(edited["lines"]) == 2
    status, _, stderr = _run(capsys, "voucher", "edit", voucher["id"], "--line", "660201:1.00:", "--line",
                             "2241::2.00", "--as", "acct")
    assert status == 2 and "借贷不平衡" in stderr
    status, _, stderr = _run(capsys, "voucher", "edit", voucher["id"], "--line", "660201", "--as", "acct")
    assert status == 2 and "科目:借方:贷方" in stderr
    status, _, stderr = _run(capsys, "voucher", "edit", voucher["id"], "--summary", "x", "--as", "clerk")
    assert status == 1 and "（clerk）不能执行“生成记账凭证”（voucher.create）" in stderr

    status, listing, _ = _run(capsys, "voucher", "list", "--state", "draft", "--sort=-date", "--json")
    assert status == 0 and [v["id"] for v in listing["items"]] == [voucher["id"]]
    status, _, stderr = _run(capsys, "voucher", "list", "--date-from", "2025-02-30")
    assert status == 2 and "不是有效日期" in stderr

    status, gone, _ = _run(capsys, "voucher", "delete", voucher["id"], "--as", "acct", "--json")
    assert status == 0 and gone["released_claims"] == [cid] and gone["number_freed"] == "记-2025-11-0001"
    status, again, _ = _run(capsys, "voucher", "create", "--claim", cid, "--date", "2025-11-29", "--as", "acct",
                            "--json")
    assert status == 0 and again["number"] == "记-2025-11-0001"
    _run(capsys, "voucher", "review", again["id"], "--as", "acct2")
    status, _, stderr = _run(capsys, "voucher", "delete", again["id"], "--as", "acct")
    assert status == 1 and "已审核" in stderr
    status, back, _ = _run(capsys, "voucher", "unreview", again["id"], "--as", "acct2", "--json")
    assert status == 0 and back["state"] == "draft"


def test_voucher_text_output_is_chinese(sqlite_engine: Engine, settings: Settings,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    from accounting.ledger import create_voucher

    with session_scope() as s:
        acct = create_user(s, "acct", "accountant")
        create_voucher(s, acct, "2025-11-20", "购办公用品", [{"account_code": "660203", "debit": "100.00"},
                                                          {"account_code": "1002", "credit": "100.00"}])
    status, out, _ = _run(capsys, "voucher", "show", "记-2025-11-0001")
    assert status == 0 and "草稿" in out and "附件 0 张" in out and "draft" not in out
    status, out, _ = _run(capsys, "voucher", "list")
    assert status == 0 and "1 张凭证" in out and "草稿" in out
    status, _, stderr = _run(capsys, "voucher", "edit", "记-2025-11-0001", "--as", "acct")
    assert status == 2 and "没有要修改的内容" in stderr
    status, out, _ = _run(capsys, "voucher", "delete", "记-2025-11-0001", "--as", "acct")
    assert status == 0 and "已删除凭证 记-2025-11-0001" in out
