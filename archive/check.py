"""The four-property check (四性检测): authenticity, integrity, usability, security.

Every item is a real check with evidence (DA/T 70-2018, DA/T 94-2022 as public systems
implement them; item codes are ours, the standards' exact codes are unconfirmed). A check
that cannot be performed is ``not_run`` — never ``pass`` — and a finding is a ``fail`` item in
the report, never an exception. The same directory check serves filing (on the temporary
folder, before it enters the store), on-demand and pre-export checks (on the store) and a
receiving archive's check of an export (``verify_export``), with the facts only a database
knows (fixity digest, 件号 sequence, duplicates) passed in by the caller.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from archive import signing
from archive.checks import malware, usability
from archive.checks.base import (
    CONTROL_FILES,
    ITEMS,
    MAX_EVIDENCE,
    CheckContext,
    CheckItem,
    PackageView,
    Property,
    Result,
    item_name,
    read_file,
    run_steps,
)
from archive.checks.base import make_item as _item
from archive.checks.base import parse_and_verify as _parse_and_verify
from archive.checks.base import verdict as _verdict
from archive.errors import not_found
from archive.store import (
    ArchivalCounter,
    ArchivedInvoice,
    ArchivePackage,
    CheckRun,
    PackageStatus,
    package_dir,
)
from core import messages, orgkey
from core.users import User

__all__ = ["CONTROL_FILES", "ITEMS", "MAX_EVIDENCE", "CheckContext", "CheckItem", "CheckReport", "Property", "Result",
           "_item", "_parse_and_verify", "_verdict", "aggregate", "check_dir", "check_package",
           "check_stored", "check_year", "item_name", "malware_scan", "report_html", "summary_text"]


def check_dir(root: Path, ctx: CheckContext, subject: str = "") -> CheckReport:
    """Run every item on one package folder: the registered steps, in report order."""
    return CheckReport(subject, tuple(run_steps(PackageView(root, ctx))))


def _find_scanner() -> str | None:
    """clamdscan or clamscan on PATH (looked up at most once a minute), or None."""
    clamd, clamscan = malware.scanners()
    return clamd or clamscan


def malware_scan(root: Path, timeout: float = 300) -> CheckItem:
    """ClamAV when installed; otherwise ``not_run`` — never reported as passed.

    A module attribute on purpose: S1 calls it through this module, so a caller (or a test)
    can replace the scanner in one place.
    """
    if _find_scanner() is None:
        return _item("S1", Result.NOT_RUN, "no malware scanner installed (clamdscan/clamscan not found)")
    return malware.scan(root, timeout)


# the helpers' former names here, for callers written against the single-function checker
_format_of = usability.format_of
_opens = usability.opens
_encryption = usability.encryption
_read = read_file


def summary_text(status: str, counts: dict[str, int], fingerprint: str | None) -> str:
    """The report's one-line conclusion for people (Chinese), with the key fingerprint."""
    return messages.text("archive.check.summary", status_label=messages.label("archive_check_status", status),
                         total=sum(counts.values()), pass_=counts.get("pass", 0), fail=counts.get("fail", 0),
                         not_run=counts.get("not_run", 0), not_applicable=counts.get("not_applicable", 0),
                         fingerprint=fingerprint or messages.text("archive.check.fingerprint_unknown"))


@dataclass(frozen=True)
class CheckReport:
    subject: str
    items: tuple[CheckItem, ...]
    run_id: str | None = None
    key_fingerprint_sm3: str | None = None  # the organisation key the check trusted (current key)

    @property
    def status(self) -> str:
        return "fail" if any(i.result is Result.FAIL for i in self.items) else "pass"

    @property
    def failed(self) -> list[CheckItem]:
        return [i for i in self.items if i.result is Result.FAIL]

    def item(self, item_id: str) -> CheckItem:
        return next(i for i in self.items if i.id == item_id)

    def to_dict(self) -> dict[str, Any]:
        counts = {r.value: sum(1 for i in self.items if i.result is r) for r in Result}
        d: dict[str, Any] = {"status": self.status, "subject": self.subject, "summary": counts,
                             "items": [i.to_dict() for i in self.items],
                             "status_label": messages.label("archive_check_status", self.status),
                             "summary_text": summary_text(self.status, counts, self.key_fingerprint_sm3),
                             "key_fingerprint_sm3": self.key_fingerprint_sm3}
        if self.run_id:
            d["run_id"] = self.run_id
        return d


# --- with the database ------------------------------------------------------------------------


def series_gaps(session: Session, series: str, upto: int | None = None,
                excused: set[int] | None = None) -> list[str]:
    """件号 missing from a series (1..last issued, or 1..upto).

    Counting first keeps the common case (no gap) one cheap query however long the series.
    ``excused``: numbers a parallel build holds or gave back (``archive.numbering.in_flight``),
    not missing at filing time; the year check passes none.
    """
    from sqlalchemy import func

    counter = session.get(ArchivalCounter, series)
    last = upto if upto is not None else (counter.last_no if counter else 0)
    problems = []
    if counter is not None and last > counter.last_no:
        problems.append(f"{series}: 件号 {last:04d} beyond the last issued {counter.last_no:04d}")
    if last < 1:
        return problems
    cond = (ArchivePackage.series == series, ArchivePackage.item_no >= 1, ArchivePackage.item_no <= last)
    n = session.exec(select(func.count(func.distinct(ArchivePackage.item_no))).where(*cond)).one()
    if n == last:
        return problems
    have = set(session.exec(select(ArchivePackage.item_no).where(*cond).distinct()).all())
    excused = excused or set()
    return problems + [f"{series}: 件号 {k:04d} missing" for k in range(1, last + 1)
                       if k not in have and k not in excused]


def duplicate_problems(session: Session, pkg: ArchivePackage) -> list[str]:
    """Other live records with this 档号 or voucher, and invoices archived live elsewhere."""
    out: list[str] = []
    # two indexed look-ups (an OR of both would scan the table: quadratic over a year)
    for column, value, what in ((ArchivePackage.archival_code, pkg.archival_code, "档号"),
                                (ArchivePackage.voucher_id, pkg.voucher_id, "voucher")):
        rows = session.exec(select(ArchivePackage.id, ArchivePackage.archival_code, ArchivePackage.status)
                            .where(column == value, ArchivePackage.id != pkg.id)).all()
        out += [f"{code} (package {pid}) is live for the same {what}" for pid, code, st in rows
                if st == PackageStatus.LIVE]
    mine = session.exec(select(ArchivedInvoice.invoice_key).where(ArchivedInvoice.package_id == pkg.id)).all()
    if mine:
        others = session.exec(
            select(ArchivedInvoice.invoice_key, ArchivedInvoice.package_id)
            .where(col(ArchivedInvoice.invoice_key).in_(list(mine)), ArchivedInvoice.package_id != pkg.id,
                   col(ArchivedInvoice.live_key).is_not(None))
        ).all()
        out += [f"invoice {key} is also in live package {pid}" for key, pid in others]
    return out


def context_for(session: Session, pkg: ArchivePackage, gaps: list[str] | None = None) -> CheckContext:
    key = signing.load_archive_key()
    live = pkg.status == PackageStatus.LIVE
    return CheckContext(
        public_key=key.public,
        trusted_keys=orgkey.current_trust().publics(),
        expected_code=pkg.archival_code,
        recorded_manifest_sha256=pkg.manifest_sha256,
        duplicate_problems=duplicate_problems(session, pkg) if live else None,
        duplicate_note=f"package is {pkg.status} (by {pkg.superseded_by}): the live version carries the record",
        gap_problems=gaps if gaps is not None else series_gaps(session, pkg.series, upto=pkg.item_no),
        write_once=True,
    )


def record_run(session: Session, report: CheckReport, scope: str, trigger: str, run_by: str,
               package_id: str | None = None, year: int | None = None) -> CheckRun:
    run = CheckRun(scope=scope, trigger=trigger, package_id=package_id, year=year, status=report.status,
                   failed=len(report.failed),
                   not_run=sum(1 for i in report.items if i.result is Result.NOT_RUN),
                   items=[i.to_dict() for i in report.items], run_by=run_by)
    session.add(run)
    session.flush()
    return run


def check_package(session: Session, package_id: str, user: User | None = None,
                  trigger: str = "on_demand") -> CheckReport:
    """Check one archived package in the store and record the run."""
    pkg = session.get(ArchivePackage, package_id)
    if pkg is None:
        raise not_found("package", package_id)
    report = check_stored(session, pkg)
    run = record_run(session, report, "package", trigger, user.username if user else "system", package_id=pkg.id)
    return CheckReport(report.subject, report.items, run.id, signing.load_archive_key().fingerprint_sm3)


def check_stored(session: Session, pkg: ArchivePackage, ctx: CheckContext | None = None) -> CheckReport:
    if pkg.status == PackageStatus.DESTROYED:
        return CheckReport(pkg.archival_code, tuple(
            _item(i, Result.NOT_APPLICABLE, f"content destroyed at {pkg.destroyed_at} (destruction {pkg.destruction_id})")
            for i in ITEMS))
    from archive import objects

    if objects.enabled():  # the bucket holds the record copy: check it, not the local cache
        with objects.fresh_copy(pkg) as copy:
            return check_dir(copy, ctx or context_for(session, pkg), pkg.archival_code)
    return check_dir(package_dir(pkg), ctx or context_for(session, pkg), pkg.archival_code)


def aggregate(subject: str, reports: Iterable[tuple[str, CheckReport]],
              extra: dict[str, list[str]] | None = None) -> CheckReport:
    """Fold per-package reports into one per item: fail if any package fails it."""
    fails: dict[str, list[str]] = {i: [] for i in ITEMS}
    results: dict[str, dict[Result, int]] = {i: {} for i in ITEMS}
    first_pass: dict[str, str] = {}
    n = 0
    for code, rep in reports:
        n += 1
        for it in rep.items:
            results[it.id][it.result] = results[it.id].get(it.result, 0) + 1
            if it.result is Result.FAIL and len(fails[it.id]) < MAX_EVIDENCE:
                fails[it.id].append(f"{code}: {it.evidence}")
            elif it.result is not Result.FAIL:
                first_pass.setdefault(it.id, it.evidence)
    for item_id, probs in (extra or {}).items():
        fails[item_id].extend(probs)
        results[item_id][Result.FAIL if probs else Result.PASS] = results[item_id].get(
            Result.FAIL if probs else Result.PASS, 0) + 1
    items = []
    for item_id in ITEMS:
        counts = results[item_id]
        tally = ", ".join(f"{k.value} {v}" for k, v in counts.items())
        if fails[item_id]:
            items.append(_item(item_id, Result.FAIL, [f"{n} packages: {tally}", *fails[item_id]]))
        elif n == 0 and not counts:
            items.append(_item(item_id, Result.NOT_APPLICABLE, "no packages"))
        elif counts.get(Result.NOT_RUN):
            items.append(_item(item_id, Result.NOT_RUN, f"{n} packages: {tally}; {first_pass.get(item_id, '')}"))
        elif counts.get(Result.PASS):
            items.append(_item(item_id, Result.PASS, f"{n} packages: {tally}"))
        else:
            items.append(_item(item_id, Result.NOT_APPLICABLE, f"{n} packages: {tally}; {first_pass.get(item_id, '')}"))
    return CheckReport(subject, tuple(items))


def year_series(session: Session, year: int) -> list[str]:
    return list(session.exec(select(ArchivePackage.series).where(ArchivePackage.year == year).distinct()).all())


def check_year(session: Session, year: int, user: User | None = None, trigger: str = "on_demand",
               scan: bool = True) -> CheckReport:
    """Check every live package of a fiscal year in 档号 order; record one run for the year.

    Memory stays flat: packages are read in batches and only failures are kept as evidence.
    """
    from archive.store import iter_year_packages

    key = signing.load_archive_key()
    trusted = orgkey.current_trust().publics()
    gaps: list[str] = []
    for s in year_series(session, year):
        gaps += series_gaps(session, s)
    cache: dict[str, tuple[str | None, str]] = {}
    year_scan = malware_scan_year(year) if scan else None

    def reports() -> Iterable[tuple[str, CheckReport]]:
        for pkg in iter_year_packages(session, year):
            if len(cache) > 5000:
                cache.clear()
            ctx = CheckContext(public_key=key.public, trusted_keys=trusted, expected_code=pkg.archival_code,
                               recorded_manifest_sha256=pkg.manifest_sha256,
                               duplicate_problems=duplicate_problems(session, pkg), gap_problems=[],
                               write_once=True, scan=False, invoice_cache=cache)
            rep = check_stored(session, pkg, ctx)
            if year_scan is not None:
                rep = CheckReport(rep.subject, tuple(year_scan if i.id == "S1" else i for i in rep.items))
            yield pkg.archival_code, rep

    report = aggregate(f"year {year}", reports(), extra={"I2": gaps})
    run = record_run(session, report, "year", trigger, user.username if user else "system", year=year)
    return CheckReport(report.subject, report.items, run.id, key.fingerprint_sm3)


def malware_scan_year(year: int) -> CheckItem:
    """One scanner run over the year's folder (a scanner start per package would dominate)."""
    from archive.store import archive_root

    root = archive_root() / "packages" / str(year)
    if not root.exists():
        return _item("S1", Result.NOT_APPLICABLE, "no package folder for the year")
    return malware_scan(root)


def latest_run(session: Session, package_id: str | None = None, year: int | None = None) -> CheckRun | None:
    q = select(CheckRun)
    if package_id:
        q = q.where(CheckRun.package_id == package_id)
    if year is not None:
        q = q.where(CheckRun.year == year, CheckRun.scope == "year")
    return session.exec(q.order_by(col(CheckRun.at).desc()).limit(1)).first()


def report_html(report: dict[str, Any], title: str = "四性检测报告") -> str:
    """The readable report: one row per item with its evidence."""
    colors = {"pass": "#1a7f37", "fail": "#cf222e", "not_run": "#9a6700", "not_applicable": "#57606a"}
    def lab(domain: str, value: str) -> str:
        return html.escape(messages.label(domain, value))

    rows = "\n".join(
        f"<tr><td>{html.escape(i['id'])}</td><td>{lab('archive_check_property', i['property'])}</td>"
        f"<td>{html.escape(i['name'])}</td>"
        f"<td style=\"color:{colors.get(i['result'], '#000')}\"><b>{lab('archive_check_result', i['result'])}</b></td>"
        f"<td>{html.escape(i['evidence'])}</td></tr>" for i in report["items"])
    summary = report.get("summary_text") or summary_text(report["status"], report.get("summary", {}),
                                                         report.get("key_fingerprint_sm3"))
    return (f"<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            "<style>body{font-family:sans-serif}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
            "padding:4px 8px;vertical-align:top}</style></head><body>"
            f"<h1>{html.escape(title)}</h1><p>对象 {html.escape(str(report.get('subject', '')))} — 结论 "
            f"<b>{lab('archive_check_status', report['status'])}</b></p><p>{html.escape(summary)}</p>"
            "<table><tr><th>编号</th><th>性质</th><th>检测项</th><th>结果</th><th>依据</th></tr>"
            f"{rows}</table></body></html>")
