"""``fapiao archive …``: packages, the four-property check, year-end export, retention.

The same operations and JSON as the HTTP API (API.md). Exit status: 0 done (check passed,
export valid), 1 refused or a check/verification that failed, 2 bad input or usage.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from api.cli.common import (
    BAD_INPUT,
    OK,
    REFUSED,
    CliError,
    acting_user,
    add_flags,
    open_db,
    open_db_as,
    page_of,
    print_items,
    print_json,
    service_errors,
    service_session,
)

if TYPE_CHECKING:
    from sqlmodel import Session

    from archive.public import PackagePublic
    from core.users import User


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``archive`` and its sub-commands."""
    arc = sub.add_parser("archive", help="electronic accounting archive (packages, 四性检测, 移交, retention)")
    a = arc.add_subparsers(dest="archive_command", required=True, metavar="ACTION")
    p = a.add_parser("package", help="archive a posted voucher as one package (件)")
    p.add_argument("voucher_id", metavar="VOUCHER_ID", help="voucher id or number (记-2025-11-0007)")
    add_flags(p, _package)
    p = a.add_parser("supersede", help="re-file a package as a new version, saying why")
    p.add_argument("package_id", metavar="PACKAGE_ID")
    p.add_argument("--reason", required=True)
    add_flags(p, _supersede)
    p = a.add_parser("show", help="show one package with its latest check")
    p.add_argument("package_id", metavar="PACKAGE_ID")
    add_flags(p, _show, acting=False)
    p = a.add_parser("list", help="list packages")
    p.add_argument("--year", type=int)
    p.add_argument("--page", type=int, default=1)
    p.add_argument("--page-size", type=int, default=50)
    add_flags(p, _list, acting=False)
    p = a.add_parser("check", help="run the four-property check (四性检测) on a year, a package, or everything")
    p.add_argument("--year", type=int)
    p.add_argument("--package", metavar="PACKAGE_ID")
    p.add_argument("--report", metavar="FILE.html", help="also write the readable report here")
    add_flags(p, _check)
    p = a.add_parser("export", help="year-end export (移交): BagIt bag with the 移交清册")
    p.add_argument("--year", type=int, required=True)
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--override-reason", help="export although the check failed (archivist; logged)")
    p.add_argument("--zip", action="store_true", help="also write the bag as one .zip")
    add_flags(p, _export)
    p = a.add_parser("verify-export", help="check a received export as the receiving archive would")
    p.add_argument("dir", metavar="DIR")
    p.add_argument("--expect-key", metavar="FP", help="pin trust: the SM3 fingerprint of the sender's archive key "
                                                      "(from `fapiao archive key` there); any other key fails")
    p.add_argument("--report", metavar="FILE.html", help="also write the readable report here")
    add_flags(p, _verify_export, acting=False)
    p = a.add_parser("key", help="the organisation archive key: certificate, SM3 fingerprint, key history")
    add_flags(p, _key, acting=False)
    p = a.add_parser("rotate-key", help="make a new archive key, joined to the signed key history (admin)")
    add_flags(p, _rotate_key)
    p = a.add_parser("due", help="list packages whose retention has ended (due for appraisal)")
    p.add_argument("--today", type=date.fromisoformat, help="as of this date (default today)")
    add_flags(p, _due, acting=False)
    p = a.add_parser("unsettled", help="flag (or --clear) a package as an unsettled matter (never destroyed)")
    p.add_argument("package_id", metavar="PACKAGE_ID")
    p.add_argument("--reason", required=True)
    p.add_argument("--clear", action="store_true")
    add_flags(p, _unsettled)
    p = a.add_parser("destroy-request", help="request destruction of expired packages with the 鉴定意见书")
    p.add_argument("package_ids", nargs="+", metavar="PACKAGE_ID")
    p.add_argument("--opinion", required=True, help="the appraisal opinion (鉴定意见书) text")
    add_flags(p, _destroy_request)
    p = a.add_parser("destroy-sign", help="sign a destruction request in one of the five roles")
    p.add_argument("request_id", metavar="REQUEST_ID")
    p.add_argument("--role", required=True, choices=["unit_head", "archive_head", "accounting_head",
                                                     "archive_clerk", "accounting_clerk"])
    p.add_argument("--comment")
    add_flags(p, _destroy_sign)
    p = a.add_parser("destroy", help="carry out a fully signed destruction (content removed, metadata kept)")
    p.add_argument("request_id", metavar="REQUEST_ID")
    add_flags(p, _destroy)


def _print_report(d: dict[str, Any]) -> None:
    print(f"{d.get('subject', '')}: {d['status'].upper()}  {d.get('summary', '')}")
    if d.get("summary_text"):
        print(d["summary_text"])
    _print_check_items(d)


def _print_check_items(d: dict[str, Any]) -> None:
    for i in d["items"]:
        print(f"  {i['id']:<3} {i['result']:<14} {i['name']}: {i['evidence']}")


def _write_report(path: str | None, d: dict[str, Any], title: str) -> None:
    if path:
        from archive.check import report_html

        Path(path).write_text(report_html(d, title), encoding="utf-8")


def _package(args: argparse.Namespace) -> int:
    from archive.package import build_package
    from archive.public import PackagePublic

    user = open_db_as(args, "archive.package")
    with service_session() as s:
        pkg = build_package(s, user, args.voucher_id)
        d = PackagePublic.from_package(s, pkg).to_json()
    if args.json:
        print_json(d)
    else:
        print(f"{d['archival_code']}  package {d['id']}  {d['file_count']} files, {d['total_size']} bytes, "
              f"kept until {d['retention']['until']}  check {d['check']['status'] if d['check'] else '-'}")
    return OK


def _supersede(args: argparse.Namespace) -> int:
    from archive.package import supersede_package
    from archive.public import PackagePublic

    user = open_db_as(args, "archive.package")
    with service_session() as s:
        d = PackagePublic.from_package(s, supersede_package(s, user, args.package_id, args.reason)).to_json()
    print_json(d) if args.json else print(f"{d['archival_code']} v{d['version']}  package {d['id']}")
    return OK


def _show(args: argparse.Namespace) -> int:
    from archive.package import get_package
    from archive.public import PackagePublic

    open_db()
    with service_session() as s:
        d = PackagePublic.from_package(s, get_package(s, args.package_id)).to_json()
    if args.json:
        print_json(d)
    else:
        print(f"{d['archival_code']} v{d['version']}  {d['status']}  {d['title']}  {d['amount']}")
        for f in d["files"]:
            print(f"  {f['path']}  {f.get('size', '')}")
    return OK


def _list(args: argparse.Namespace) -> int:
    from archive.package import list_packages
    from archive.public import PackagePublic

    open_db()
    with service_session() as s:
        items, total = list_packages(s, args.year, args.page, args.page_size)
        out = page_of([PackagePublic.from_package(s, p, with_check=False) for p in items], total, args)
    return print_items(args, out, _package_row, "package(s)")


def _package_row(p: PackagePublic) -> str:
    return f"{p.archival_code}  v{p.version}  {p.status:<10} {p.amount:>12}  {p.title}"


def _check(args: argparse.Namespace) -> int:
    from sqlmodel import select

    from archive.check import check_package, check_year, year_series
    from archive.public import CheckReportPublic
    from archive.store import ArchivePackage, CheckRunStatus

    user = open_db_as(args, "archive.check")
    reports = []
    with service_session() as s:
        if args.package:
            reports.append(CheckReportPublic.model_validate(check_package(s, args.package, user).to_dict()).to_json())
        else:
            years = [args.year] if args.year else sorted(set(s.exec(select(ArchivePackage.year)).all()))
            for y in years:
                if not year_series(s, y):
                    raise CliError(BAD_INPUT, "nothing_to_check", f"no archived packages for {y}")
                reports.append(CheckReportPublic.model_validate(check_year(s, y, user).to_dict()).to_json())
    if not reports:
        raise CliError(BAD_INPUT, "nothing_to_check", "no archived packages yet")
    out: dict[str, Any] = reports[0] if len(reports) == 1 else {
        "status": CheckRunStatus.FAIL if any(r["status"] == CheckRunStatus.FAIL for r in reports) else CheckRunStatus.PASS,
        "reports": reports}
    if args.json:
        print_json(out)
    else:
        for r in reports:
            _print_report(r)
    if args.report:
        _write_report(args.report, reports[0], "四性检测报告")
    return OK if out["status"] == CheckRunStatus.PASS else REFUSED


def _export(args: argparse.Namespace) -> int:
    from archive.export import export_year
    from archive.public import ExportLocal
    from archive.store import ExportStatus

    user = open_db_as(args, "archive.export")
    if args.override_reason:
        acting_user(args, "archive.override")
    with service_errors():
        job = export_year(args.year, Path(args.out), user, args.override_reason, make_zip=args.zip)
    d = ExportLocal.from_job(None, job).to_json()
    if args.json:
        print_json(d)
    elif job.status == ExportStatus.DONE:
        print(f"exported {d['package_count']} packages ({d['total_size']} bytes) to {d['bag_path']}")
    else:
        print(f"fapiao: export failed: {(d['error'] or {}).get('message')}", file=sys.stderr)
    return OK if job.status == ExportStatus.DONE else REFUSED


def _verify_export(args: argparse.Namespace) -> int:
    from archive.export import verify_export
    from archive.public import ExportVerifyPublic
    from archive.store import CheckRunStatus

    with service_errors():
        d = ExportVerifyPublic.model_validate(verify_export(Path(args.dir), expect_key=args.expect_key)).to_json()
    if args.json:
        print_json(d)
    else:
        print(f"{d['bag']}: {d['status'].upper()}  {d['packages']} packages  {d['summary']}")
        print(d["summary_text"])
        print(d["trust"]["message"])
        _print_check_items(d)
    _write_report(args.report, d, "移交接收检测报告")
    return OK if d["status"] == CheckRunStatus.PASS else REFUSED


def _key(args: argparse.Namespace) -> int:
    from archive.public import KeyInfoPublic
    from archive.signing import key_info

    open_db()
    with service_errors():
        d = KeyInfoPublic.model_validate(key_info()).to_json()
    if args.json:
        print_json(d)
    else:
        _print_key(d)
    return OK


def _print_key(d: dict[str, Any]) -> None:
    print(f"fingerprint_sm3: {d['fingerprint_sm3']}")
    print(f"  ({d['fingerprint_rule']})")
    print(d["certificate"], end="")
    for h in d["history"]:
        mark = "current" if h["current"] else ("trusted" if h["trusted"] else "NOT TRUSTED")
        print(f"  key {h['seq']}: {h['fingerprint_sm3']}  since {h['created_at']}  {mark}")
    for p in d["history_problems"]:
        print(f"  problem: {p}")


def _rotate_key(args: argparse.Namespace) -> int:
    from archive.public import KeyRotatedPublic
    from archive.signing import rotate

    user = open_db_as(args, "archive.key_rotate")
    with service_session() as s:
        d = KeyRotatedPublic.model_validate(rotate(s, user)).to_json()
    if args.json:
        print_json(d)
    else:
        print(d["message"])
        _print_key(d)
    return OK


def _due(args: argparse.Namespace) -> int:
    from archive.public import PackagePublic
    from archive.retention import due_for_appraisal
    from core.public import Items

    open_db()
    with service_session() as s:
        items = [PackagePublic.from_package(s, p, with_check=False) for p in due_for_appraisal(s, args.today)]
    return print_items(args, Items[PackagePublic](items=items, total=len(items)), _due_row,
                       "package(s) due for appraisal")


def _due_row(p: PackagePublic) -> str:
    return (f"{p.archival_code}  kept until {p.retention.until}  {p.title}"
            + ("  (unsettled)" if p.unsettled else ""))


def _unsettled(args: argparse.Namespace) -> int:
    from archive.retention import set_unsettled

    user = open_db_as(args, "archive.destroy")
    with service_session() as s:
        p = set_unsettled(s, user, args.package_id, not args.clear, args.reason)
        d = {"id": p.id, "archival_code": p.archival_code, "unsettled": p.unsettled}
    print_json(d) if args.json else print(f"{d['archival_code']}: unsettled={d['unsettled']}")
    return OK


def _destruction_dict(r: Any) -> dict[str, Any]:
    return {"id": r.id, "status": r.status, "package_ids": r.package_ids, "signoffs": r.signoffs,
            "appraisal_opinion": r.appraisal_opinion, "list_path": r.list_path,
            "destroyed_at": r.destroyed_at.isoformat() if r.destroyed_at else None}


def _destruction_step(args: argparse.Namespace, step: Callable[[Session, User], Any],
                      summary: Callable[[dict[str, Any]], str]) -> int:
    """Run one step of a destruction (as an archivist) and show the request it leaves."""
    user = open_db_as(args, "archive.destroy")
    with service_session() as s:
        d = _destruction_dict(step(s, user))
    print_json(d) if args.json else print(summary(d))
    return OK


def _destroy_request(args: argparse.Namespace) -> int:
    from archive.retention import request_destruction

    return _destruction_step(
        args, lambda s, user: request_destruction(s, user, args.package_ids, args.opinion),
        lambda d: f"destruction request {d['id']}: {len(d['package_ids'])} package(s)")


def _destroy_sign(args: argparse.Namespace) -> int:
    from archive.retention import sign_destruction

    return _destruction_step(
        args, lambda s, user: sign_destruction(s, user, args.request_id, args.role, args.comment),
        lambda d: f"destruction {d['id']}: {len(d['signoffs'])}/5 signed, {d['status']}")


def _destroy(args: argparse.Namespace) -> int:
    from archive.retention import destroy

    return _destruction_step(
        args, lambda s, user: destroy(s, user, args.request_id),
        lambda d: f"destroyed {len(d['package_ids'])} package(s); 销毁清册 {d['list_path']}")
