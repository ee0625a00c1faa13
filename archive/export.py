"""Year-end export (移交): a BagIt bag (RFC 8493) of every package of a fiscal year.

The bag holds the packages byte for byte, the transfer list 移交清册 (.xlsx), the four-
property check report (JSON and HTML), the archive certificate, public key and signed key
history (``data/archive-key``), the signed audit-chain anchors (``data/audit-anchors.jsonl``,
with one made for this export), and the bag manifests. The organisation key's SM3
fingerprint is in ``bag-info.txt`` (``Archive-Key-Fingerprint-SM3``), the 移交清册 and the
check report. It is written streaming — packages read from the database in batches, files
copied and hashed in chunks, the manifest and the 移交清册 appended row by row
(openpyxl write-only mode) — so memory stays flat however large the year. It is built in
``DIR/.partial-<id>`` and renamed only when complete: an interrupted export never leaves a
bag that looks finished. ``verify_export`` checks a received bag the way a receiving
archive would, with nothing but the bag — and, to pin trust, the fingerprint of the key the
sender gave it out of band (``expect_key``): a bag re-signed with any key not joined to that
one by the signed key history fails (item E4, ``trust.code`` ``key_mismatch``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import socket
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from openpyxl import Workbook, load_workbook
from sqlalchemy import update
from sqlmodel import Session, col, func, select

from archive import metadata as md
from archive import signing
from archive.check import (
    ITEMS,
    CheckContext,
    CheckItem,
    CheckReport,
    Property,
    Result,
    aggregate,
    check_dir,
    check_year,
    item_name,
    malware_scan,
    report_html,
    summary_text,
)
from archive.codes import dir_name, parse_code
from archive.errors import ArchiveError, bad_input, not_found, refused
from archive.fsutil import sync_paths
from archive.store import (
    ArchivePackage,
    CheckRun,
    ExportJob,
    ExportStatus,
    PackageStatus,
    archive_root,
    iter_year_packages,
    package_dir,
)
from core import audit, messages, orgkey
from core.clock import today_china
from core.db import advisory_lock, get_engine, session_scope, utcnow
from core.settings import get_settings
from core.spreadsheet import safe_row  # formula-like titles are written as text
from core.users import User

log = logging.getLogger(__name__)

CHUNK = 1 << 20
LIST_HEADER = ["序号", "档号", "题名", "年度", "凭证号", "金额", "附件数", "保管期限", "文件数", "大小(字节)",
               "清单SHA-256"]
LIST_SHEET = "移交清册"
EXPORT_ITEMS: dict[str, tuple[Property, str]] = {
    "E1": (Property.INTEGRITY, "BagIt bag valid (RFC 8493: manifests, Payload-Oxum)"),
    "E2": (Property.INTEGRITY, "移交清册 matches the packages"),
    "E3": (Property.AUTHENTICITY, "archive certificate self-signature, key history, fingerprints"),
    "E4": (Property.AUTHENTICITY, "signing key matches the pinned fingerprint"),
    "E5": (Property.AUTHENTICITY, "audit-chain anchors signed by a trusted key"),
}
BAG_INFO_FINGERPRINT = "Archive-Key-Fingerprint-SM3"
ANCHORS_IN_BAG = "data/audit-anchors.jsonl"
LIST_FINGERPRINT_LABEL = "归档密钥SM3指纹"


def list_name(year: int) -> str:
    return f"移交清册-{year}.xlsx"


# --- liveness of running jobs --------------------------------------------------------------------
#
# A job is "running" from start_export until run_export records done or failed. A process that
# dies in between (killed, power cut, server restarted) would leave it running and so block every
# later export of that year; start_export therefore asks whether the worker still lives: on the
# same host by its process id (and that process's identity, since pids are re-used — a restarted
# container's server is pid 1 again), elsewhere by the heartbeat the worker renews while it runs.

HEARTBEAT_SECONDS = 30.0
# Well above HEARTBEAT_SECONDS: a heartbeat may wait on a busy database for a while.
STALE_AFTER = timedelta(minutes=10)


def _process_identity(pid: int) -> str | None:
    """Boot id and start time of process ``pid`` (Linux ``/proc``); None when unknown or a zombie.

    Two processes with the same pid on the same host never share both, so this tells the worker
    apart from whatever later got its pid.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
        boot = Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii").strip()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2:].split()  # after "pid (comm) ": state is field 3
    if len(fields) < 20 or fields[0] in ("Z", "X"):
        return None
    return f"{boot}:{fields[19]}"  # field 22: start time in clock ticks since boot


def _worker() -> tuple[str, int, str | None]:
    pid = os.getpid()
    return socket.gethostname(), pid, _process_identity(pid)


def _pid_alive(pid: int, identity: str | None) -> bool:
    """Is the process that recorded (pid, identity) on this host still running?"""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by another user
    if not Path("/proc").is_dir():
        return True  # no /proc: the pid is all there is to go by
    now_identity = _process_identity(pid)
    if now_identity is None:
        return False  # a zombie: it has exited
    return identity is None or identity == now_identity


def interrupted_because(job: ExportJob, now: datetime | None = None) -> str | None:
    """Why a job recorded as running cannot still be running, or None when it may be."""
    host = socket.gethostname()
    if job.worker_host == host and job.worker_pid is not None:
        if _pid_alive(job.worker_pid, job.worker_process):
            return None
        return f"its worker process {job.worker_pid} on {host} is gone"
    last = job.heartbeat_at or job.created_at
    age = (now or utcnow()) - last
    if age > STALE_AFTER:
        where = f"on {job.worker_host}" if job.worker_host else "(worker unknown)"
        return (f"no heartbeat from its worker {where} since {last.isoformat()} "
                f"({int(age.total_seconds())} s, limit {int(STALE_AFTER.total_seconds())} s)")
    return None


def _mark_interrupted(session: Session, user: User, job: ExportJob, why: str) -> None:
    """Record a dead job as failed and remove what it left half-written."""
    err = refused("interrupted", f"export {job.id} of {job.year} was interrupted: {why}",
                  {"worker_host": job.worker_host, "worker_pid": job.worker_pid,
                   "heartbeat_at": job.heartbeat_at.isoformat() if job.heartbeat_at else None}).to_dict()
    job.status = ExportStatus.FAILED
    job.finished_at = utcnow()
    job.error = err
    session.add(job)
    audit.append(session, user.username, "archive.export_interrupted", "archive_export", job.id,
                 {"year": job.year, **err})
    # only ever partial (never renamed into place); a finished bag is left alone
    out = Path(job.out_dir)
    shutil.rmtree(out / f".partial-{job.id}", ignore_errors=True)
    with contextlib.suppress(OSError):
        (out / f".partial-{job.id}.zip").unlink()


def _claim(job_id: str) -> None:
    """The process about to run the job records itself as its worker."""
    host, pid, ident = _worker()
    with session_scope() as s:
        s.execute(update(ExportJob).where(col(ExportJob.id) == job_id)
                  .values(worker_host=host, worker_pid=pid, worker_process=ident, heartbeat_at=utcnow()))


def _heartbeat(job_id: str, stop: threading.Event) -> None:
    """Renew the job's heartbeat until ``stop`` is set (a daemon thread of the worker)."""
    while not stop.wait(HEARTBEAT_SECONDS):
        try:
            with session_scope() as s:
                s.execute(update(ExportJob)
                          .where(col(ExportJob.id) == job_id, col(ExportJob.status) == ExportStatus.RUNNING)
                          .values(heartbeat_at=utcnow()))
        except Exception:  # a busy or briefly unreachable database: try again next beat
            log.warning("export %s: heartbeat not recorded", job_id, exc_info=True)


# --- jobs ----------------------------------------------------------------------------------------


def start_export(session: Session, user: User, year: int, override_reason: str | None = None,
                 out_dir: Path | str | None = None) -> ExportJob:
    """Record an export job (status running); ``run_export(job.id)`` does the work.

    A job of the same year recorded as running whose worker is gone is marked failed
    ("interrupted") first; one whose worker lives refuses the new export.
    """
    if not isinstance(year, int) or not 1900 <= year <= 2200:
        raise bad_input("bad_year", f"year {year!r} is not a 4-digit fiscal year")
    n = session.exec(select(func.count()).select_from(ArchivePackage)
                     .where(ArchivePackage.year == year, ArchivePackage.status == PackageStatus.LIVE)).one()
    if not n:
        raise refused("nothing_to_export", f"no archived packages for {year}: package the posted vouchers first")
    advisory_lock(session, f"archive.export:{year}")  # two starts of one year: one at a time
    for running in session.exec(select(ExportJob).where(ExportJob.year == year,
                                                        ExportJob.status == ExportStatus.RUNNING)).all():
        why = interrupted_because(running)
        if why is None:
            raise refused("export_running", f"an export of {year} is already running ({running.id})",
                          {"export_id": running.id})
        _mark_interrupted(session, user, running, why)
    host, pid, ident = _worker()
    job = ExportJob(year=year, created_by=user.username, out_dir="", override_reason=(override_reason or None),
                    worker_host=host, worker_pid=pid, worker_process=ident)
    job.heartbeat_at = job.created_at
    job.out_dir = str(Path(out_dir) if out_dir else archive_root() / "exports" / job.id)
    session.add(job)
    session.flush()
    audit.append(session, user.username, "archive.export_started", "archive_export", job.id,
                 {"year": year, "out_dir": job.out_dir, "override_reason": job.override_reason})
    return job


def get_export(session: Session, job_id: str) -> ExportJob:
    job = session.get(ExportJob, job_id)
    if job is None:
        raise not_found("export", job_id)
    return job


def export_to_dict(job: ExportJob, session: Session | None = None) -> dict[str, Any]:
    """The job as the CLI prints it (``archive.public.ExportLocal``: with the bag's paths)."""
    from archive.public import ExportLocal

    return ExportLocal.from_job(session, job).to_json()


def export_zip(session: Session, job_id: str) -> Path:
    """The finished export as one zip (for ``GET /archive/exports/{id}/download``)."""
    job = get_export(session, job_id)
    if job.status != ExportStatus.DONE or not job.zip_path:
        raise refused("export_not_ready", f"export {job_id} is {job.status}; no zip to download")
    return Path(job.zip_path)


def run_export(job_id: str, make_zip: bool = True) -> ExportJob:
    """Do the export of a recorded job; never raises for a failed export (the job says why).

    The calling process becomes the job's worker and renews its heartbeat while it runs.
    """
    stop = threading.Event()
    beat = threading.Thread(target=_heartbeat, args=(job_id, stop), name=f"export-heartbeat-{job_id}",
                            daemon=True)
    try:
        _claim(job_id)
        beat.start()
        return _run(job_id, make_zip)
    except Exception as exc:
        err = exc.to_dict() if isinstance(exc, ArchiveError) else {"code": "export_failed",
                                                                     "message": f"{type(exc).__name__}: {exc}"}
        with session_scope() as s:
            job = get_export(s, job_id)
            job.status = ExportStatus.FAILED
            job.finished_at = utcnow()
            job.error = err
            s.add(job)
            audit.append(s, job.created_by, "archive.export_failed", "archive_export", job.id, err)
        return job
    finally:
        stop.set()
        if beat.is_alive():
            beat.join(timeout=5)


def export_year(year: int, out_dir: Path | str, user: User, override_reason: str | None = None,
                make_zip: bool = False) -> ExportJob:
    """The CLI's ``fapiao archive export``: start and run in this process."""
    with session_scope() as s:
        job = start_export(s, user, year, override_reason, out_dir)
    return run_export(job.id, make_zip=make_zip)


def _run(job_id: str, make_zip: bool) -> ExportJob:
    with session_scope() as s:
        job = get_export(s, job_id)
        year, out_dir, by, override = job.year, Path(job.out_dir), job.created_by, job.override_reason
        from core.users import get_user

        user = get_user(s, by)
        report = check_year(s, year, user, trigger="export")
        job.check_run_id = report.run_id
        s.add(job)
        if report.status == "fail":
            failed = [f"{i.id} {i.name}" for i in report.failed]
            if not override:
                raise refused("check_failed", f"the four-property check of {year} failed ({', '.join(failed)}); "
                                              "fix it, or an archivist overrides with a reason",
                              {"check_run_id": report.run_id, "failed": failed})
            run = s.get(CheckRun, report.run_id)
            assert run is not None
            run.override_reason = override
            run.overridden_by = by
            s.add(run)
            audit.append(s, by, "archive.check_override", "archive_check_run", run.id,
                         {"year": year, "failed": failed, "reason": override, "export_id": job_id})
    report_dict = report.to_dict()
    # anchor the audit chain head at every export; the bag carries every anchor so far
    audit.anchor_head(get_engine(), f"export:{year}")
    if override and report.status == "fail":
        report_dict["override"] = {"reason": override, "by": by}
    out_dir.mkdir(parents=True, exist_ok=True)
    s_ = get_settings()
    bag_name = f"{s_.fonds_code}-{year}-移交-{job_id[:8]}"
    partial = out_dir / f".partial-{job_id}"
    final = out_dir / bag_name
    if final.exists():
        raise refused("export_exists", f"{final} already exists")
    if partial.exists():
        shutil.rmtree(partial)
    try:
        stats = write_bag(partial, year, report_dict)
        sync_paths([*(p for p in partial.iterdir() if p.is_file()), *(partial / "data").glob("*.*"),
                    *(p for p in (partial / "data" / "archive-key").iterdir()),
                    partial, partial / "data", partial / "data" / "packages", partial / "data" / "archive-key"])
        os.rename(partial, final)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    zip_path = None
    if make_zip:
        zip_path = out_dir / f"{bag_name}.zip"
        tmp_zip = out_dir / f".partial-{job_id}.zip"
        _zip_dir(final, tmp_zip, bag_name)
        os.rename(tmp_zip, zip_path)
    with session_scope() as s:
        job = get_export(s, job_id)
        job.status = ExportStatus.DONE
        job.finished_at = utcnow()
        job.bag_path = str(final)
        job.zip_path = str(zip_path) if zip_path else None
        job.package_count = stats.packages
        job.total_size = stats.payload_bytes
        s.add(job)
        audit.append(s, by, "archive.export", "archive_export", job.id,
                     {"year": year, "bag": str(final), "packages": stats.packages, "payload_bytes": stats.payload_bytes,
                      "payload_files": stats.payload_files, "tagmanifest_sha256": stats.tagmanifest_sha256})
    return job


# --- the bag ----------------------------------------------------------------------------------------


@dataclass
class _Totals:
    n: int = 0
    amount: Decimal = Decimal("0.00")
    attachments: int = 0
    files: int = 0
    size: int = 0


@dataclass
class BagStats:
    packages: int = 0
    payload_files: int = 0
    payload_bytes: int = 0
    tagmanifest_sha256: str = ""


class _Manifest:
    """manifest-sha256.txt written line by line while files are copied."""

    def __init__(self, path: Path) -> None:
        self.f = open(path, "w", encoding="utf-8", newline="\n")  # noqa: SIM115 - closed in close()
        self.stats = BagStats()

    def add(self, rel: str, sha: str, size: int) -> None:
        enc = rel.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
        self.f.write(f"{sha}  {enc}\n")
        self.stats.payload_files += 1
        self.stats.payload_bytes += size

    def close(self) -> None:
        self.f.close()


def _copy(src: Path, dst: Path) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    with open(src, "rb") as fi, open(dst, "xb") as fo:
        while chunk := fi.read(CHUNK):
            h.update(chunk)
            fo.write(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def _write_payload(bag: Path, man: _Manifest, rel: str, data: bytes) -> None:
    p = bag / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data)
    man.add(rel, hashlib.sha256(data).hexdigest(), len(data))


def _sha_file(p: Path) -> str:
    h = hashlib.sha256()
    with open(p, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def write_bag(bag: Path, year: int, report: dict[str, Any]) -> BagStats:
    """Write the bag for ``year`` into ``bag`` (which must not exist)."""
    s = get_settings()
    key = signing.load_archive_key()
    (bag / "data" / "packages").mkdir(parents=True)
    man = _Manifest(bag / "manifest-sha256.txt")
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(LIST_SHEET)
    ws.append(["会计档案移交清册"])
    ws.append(safe_row(["全宗号", s.fonds_code, "立档单位", s.org_name or "", "会计年度", year, "移交时间",
               utcnow().isoformat(), LIST_FINGERPRINT_LABEL, key.fingerprint_sm3], ws))
    ws.append(LIST_HEADER)
    totals = _Totals()
    try:
        with session_scope() as session:
            for pkg in iter_year_packages(session, year):
                src = package_dir(pkg)
                name = dir_name(pkg.archival_code, pkg.version)
                files = 0
                size = 0
                copied: list[Path] = []
                for path in sorted(src.rglob("*")):
                    if not path.is_file():
                        continue
                    rel = f"data/packages/{name}/{path.relative_to(src).as_posix()}"
                    dst = bag / rel
                    dst.parent.mkdir(parents=True, exist_ok=True)
                    sha, n = _copy(path, dst)
                    copied.append(dst)
                    man.add(rel, sha, n)
                    files += 1
                    size += n
                # durable (files and their folders) before the bag can be renamed complete
                sync_paths([*copied, *{c.parent for c in copied}])
                totals.n += 1
                totals.amount += pkg.amount
                totals.attachments += pkg.attachments
                totals.files += files
                totals.size += size
                ws.append(safe_row([totals.n, pkg.archival_code, pkg.title, pkg.year, pkg.voucher_number, str(pkg.amount),
                           pkg.attachments, pkg.retention, files, size, pkg.manifest_sha256], ws))
    except BaseException:
        # close the streaming workbook (its writer is a generator that must not be left open),
        # then let the caller remove the partial bag
        with contextlib.suppress(Exception):
            wb.save(bag / "discarded.xlsx")
        man.close()
        raise
    ws.append(["合计", totals.n, "", "", "", str(totals.amount), totals.attachments, "",
               totals.files, totals.size, ""])
    ws.append([])
    ws.append(["移交人（签名）", "", "移交日期", ""])
    ws.append(["接收人（签名）", "", "接收日期", ""])
    ws.append(["监交人（签名）", "", "", ""])
    list_path = bag / "data" / list_name(year)
    wb.save(list_path)
    man.add(f"data/{list_name(year)}", _sha_file(list_path), list_path.stat().st_size)
    rep = json.dumps(report, ensure_ascii=False, indent=2).encode("utf-8")
    _write_payload(bag, man, "data/check-report.json", rep)
    _write_payload(bag, man, "data/check-report.html", report_html(report, f"四性检测报告 {year}").encode("utf-8"))
    for fname, data in signing.public_materials(key).items():
        _write_payload(bag, man, f"data/archive-key/{fname}", data)
    anchors = audit.anchors_path().read_bytes() if audit.anchors_path().exists() else b""
    _write_payload(bag, man, ANCHORS_IN_BAG, anchors)
    info = {"year": year, "fonds_code": s.fonds_code, "organisation": s.org_name, "packages": totals.n,
            "amount": str(totals.amount), "key_fingerprint": key.fingerprint,
            "key_fingerprint_sm3": key.fingerprint_sm3, "fingerprint_rule": orgkey.FINGERPRINT_RULE,
            "created_at": utcnow().isoformat()}
    _write_payload(bag, man, "data/export-info.json",
                   json.dumps(info, ensure_ascii=False, indent=2).encode("utf-8"))
    man.close()
    stats = man.stats
    stats.packages = totals.n
    (bag / "bagit.txt").write_text("BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n", encoding="utf-8")
    info_lines = [
        f"Source-Organization: {s.org_name or 'unknown'}",
        f"Bagging-Date: {today_china().isoformat()}",
        f"Payload-Oxum: {stats.payload_bytes}.{stats.payload_files}",
        f"External-Identifier: {s.fonds_code}-{year}",
        f"External-Description: 会计档案移交 {year} — {totals.n} 件 (DA/T 94-2022 electronic accounting records)",
        "Bag-Software-Agent: fapiao-archive",
        f"{BAG_INFO_FINGERPRINT}: {key.fingerprint_sm3}",
    ]
    (bag / "bag-info.txt").write_text("\n".join(info_lines) + "\n", encoding="utf-8")
    tag_lines = [f"{_sha_file(bag / t)}  {t}\n" for t in ("bagit.txt", "bag-info.txt", "manifest-sha256.txt")]
    (bag / "tagmanifest-sha256.txt").write_text("".join(tag_lines), encoding="utf-8")
    stats.tagmanifest_sha256 = _sha_file(bag / "tagmanifest-sha256.txt")
    return stats


def _zip_dir(root: Path, out: Path, arc_root: str) -> None:
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as z:
        for p in sorted(root.rglob("*")):
            if p.is_file():
                z.write(p, f"{arc_root}/{p.relative_to(root).as_posix()}")


# --- verify a received export --------------------------------------------------------------------


def _find_bag(path: Path) -> Path:
    if (path / "bagit.txt").is_file():
        return path
    bags = [p for p in path.iterdir() if p.is_dir() and (p / "bagit.txt").is_file()
            and not p.name.startswith(".partial-")] if path.is_dir() else []
    if len(bags) != 1:
        raise bad_input("no_bag", f"{path} holds {'no' if not bags else len(bags)} complete BagIt bag(s) "
                                  "(a folder with bagit.txt); point at one")
    return bags[0]


def _export_item(item_id: str, problems: list[str], ok: str, result: Result | None = None) -> CheckItem:
    prop, _name = EXPORT_ITEMS[item_id]
    name = item_name(item_id)
    if problems:
        more = len(problems) - 20
        ev = "; ".join(problems[:20]) + (f"; … and {more} more" if more > 0 else "")
        return CheckItem(item_id, prop.value, name, Result.FAIL, ev)
    return CheckItem(item_id, prop.value, name, result or Result.PASS, ok)


def _read_list(path: Path) -> tuple[dict[str, list[Any]], list[Any] | None, list[str], str | None]:
    rows: dict[str, list[Any]] = {}
    totals: list[Any] | None = None
    problems: list[str] = []
    fingerprint: str | None = None
    wb = load_workbook(path, read_only=True)
    try:
        ws = wb[LIST_SHEET]
        header_seen = False
        for r in ws.iter_rows(values_only=True):
            vals = list(r)
            if not header_seen:
                header_seen = vals[:len(LIST_HEADER)] == LIST_HEADER
                if LIST_FINGERPRINT_LABEL in vals:
                    at = vals.index(LIST_FINGERPRINT_LABEL) + 1
                    fingerprint = str(vals[at]) if at < len(vals) and vals[at] is not None else None
                continue
            if vals and vals[0] == "合计":
                totals = vals
                break
            if not vals or vals[0] is None:
                continue
            code = str(vals[1])
            if code in rows:
                problems.append(f"移交清册 lists {code} twice")
            rows[code] = vals
        if not header_seen:
            problems.append("移交清册 has no header row")
    finally:
        wb.close()
    return rows, totals, problems, fingerprint


@dataclass
class BagTrust:
    """Which keys a received bag may be signed by, and why (E3, E4)."""

    found: str | None  # fingerprint_sm3 of the bag's current certificate
    expected: str | None  # the pinned fingerprint, None when trust is not pinned
    trusted: list[Any]  # SM2 points the packages may be signed with
    history: orgkey.Trust | None
    code: str | None  # None, "key_not_pinned", "key_mismatch"
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"pinned": self.expected is not None, "expected": self.expected, "fingerprint_sm3": self.found,
                "trusted": self.history.fingerprints() if self.history else
                ([self.found] if self.trusted and self.found else []),
                "code": self.code, "message": self.message}


def check_expected_key(expect_key: str | None) -> str | None:
    """The pinned fingerprint normalised; bad input when it is not 64 hex digits."""
    if expect_key is None:
        return None
    fp = orgkey.normalise_fingerprint(expect_key)
    if len(fp) != 64 or any(c not in "0123456789abcdef" for c in fp):
        raise bad_input("bad_fingerprint", messages.text("bad_fingerprint", value=expect_key), {"value": expect_key})
    return fp


def _bag_info_fingerprint(bag_root: Path) -> str | None:
    try:
        for line in (bag_root / "bag-info.txt").read_text(encoding="utf-8").splitlines():
            name, _, value = line.partition(":")
            if name.strip() == BAG_INFO_FINGERPRINT:
                return value.strip()
    except OSError:
        return None
    return None


def bag_trust(bag_root: Path, expect_key: str | None) -> tuple[list[CheckItem], BagTrust]:
    """E3 (certificate, key history, fingerprints agree) and E4 (the pinned key), and the trusted keys.

    Trust starts from the pinned fingerprint when there is one, else from the bag's own
    certificate (which proves only that the bag is consistent). The keys trusted are those the
    signed history joins to that start (core/orgkey.py): a bag re-signed with a new key and a
    fresh history of its own has no valid record joining it to the pinned key.
    """
    expected = check_expected_key(expect_key)
    key_dir = bag_root / "data" / "archive-key"
    e3: list[str] = []
    found_pub = None
    try:
        cert = (key_dir / signing.CERT_NAME).read_bytes()
        found_pub = signing.public_from_certificate(cert)
        from core import sm2

        if not sm2.verify_certificate_signature(cert, found_pub):
            e3.append("the archive certificate's self-signature does not verify")
    except (OSError, ValueError) as exc:
        e3.append(f"archive certificate unreadable: {exc}")
    found = orgkey.fingerprint_sm3(found_pub) if found_pub is not None else None
    history: orgkey.KeyHistory | None = None
    try:
        history = orgkey.KeyHistory.parse((key_dir / signing.HISTORY_NAME).read_bytes())
    except FileNotFoundError:
        pass  # an export made before key rotation existed: the certificate alone
    except ValueError as exc:
        e3.append(messages.text("archive.trust.history_problem", why=exc))
    if history is not None:
        for i, rec in enumerate(history.records):
            why = rec.own_problem() or history.link_problem(i)
            if why:
                e3.append(messages.text("archive.trust.history_problem", why=f"key {i + 1}: {why}"))
        if found is not None and history.index_of(found) is None:
            e3.append(messages.text("archive.trust.history_problem",
                                    why=f"the certificate's key {found[:16]}… is not in the key history"))
    listed = _bag_info_fingerprint(bag_root)
    if listed is not None and found is not None and orgkey.normalise_fingerprint(listed) != found:
        e3.append(messages.text("archive.trust.list_mismatch", where="bag-info.txt ", listed=listed, found=found))
    start = expected or found
    trust: orgkey.Trust | None = None
    trusted: list[Any] = []
    if history is not None and start is not None:
        trust = history.trust_from(start)
        trusted = trust.publics()
        if found is not None and found not in trust.fingerprints():
            trusted = [k for k in trusted if k != found_pub]
    elif found_pub is not None and (expected is None or expected == found):
        trusted = [found_pub]
    items = [_export_item("E3", e3, f"self-issued SM2 certificate verifies; key SM3 {found}; "
                                    f"{len(history.records) if history else 1} key(s) in the signed history, "
                                    "every record holds; bag-info.txt names the same key")]
    trusted_fps = trust.fingerprints() if trust is not None else ([found] if trusted and found else [])
    if expected is None:
        code: str | None = "key_not_pinned"
        msg = messages.text("archive.trust.not_pinned", found=found)
        items.append(_export_item("E4", [], msg, Result.NOT_RUN))
    elif found is not None and found in trusted_fps:
        code = None
        via = ""
        if found != expected and history is not None:
            a, b = history.index_of(expected), history.index_of(found)
            via = messages.text("archive.trust.via_history", links=abs((a or 0) - (b or 0)))
        msg = messages.text("archive.trust.pinned_ok", found=found, expected=expected, via=via)
        items.append(_export_item("E4", [], msg))
    else:
        code = "key_mismatch"
        why = "; ".join(trust.problems) if trust is not None and trust.problems else (
            "the bag carries no key history" if history is None else "no record joins the two keys")
        msg = messages.text("archive.trust.mismatch", found=found, expected=expected, why=why)
        items.append(_export_item("E4", [msg], ""))
    return items, BagTrust(found, expected, trusted, trust, code, msg)


def _anchors_item(bag_root: Path, trust: BagTrust) -> CheckItem:
    """E5: every audit anchor in the bag is signed by a key the bag's trust accepts."""
    path = bag_root / ANCHORS_IN_BAG
    if not path.is_file():
        return _export_item("E5", [], messages.text("archive.anchors.missing"), Result.NOT_APPLICABLE)
    anchors, bad = audit.parse_anchors(path.read_bytes())
    problems = [messages.text("archive.anchors.bad", line=n, why=why) for n, why in bad]
    for a in anchors:
        why_a = audit.signature_problem(a, trust.history)
        if why_a:
            problems.append(messages.text("archive.anchors.bad", line=a.line, why=why_a))
    newest = max(anchors, key=lambda a: (a.seq, a.at), default=None)
    if newest is None and not problems:
        return _export_item("E5", [], messages.text("archive.anchors.missing"), Result.NOT_APPLICABLE)
    return _export_item("E5", problems, messages.text("archive.anchors.ok", count=len(anchors),
                                                      seq=newest.seq if newest else "-",
                                                      at=newest.at if newest else "-"))


def verify_export(path: Path | str, scan: bool = True, expect_key: str | None = None) -> dict[str, Any]:
    """Check a received export like a receiving archive: bag, signatures, digests, 移交清册.

    ``expect_key``: the SM3 fingerprint of the sender's archive key, obtained out of band
    (``fapiao archive key`` at the sender). With it, a bag signed by any key the signed key
    history does not join to it fails (E4, A1); without it the report names the key it found
    and says that trust was not pinned (E4 ``not_run``).
    """
    import bagit

    bag_root = _find_bag(Path(path))
    items: list[CheckItem] = []
    try:
        bagit.Bag(str(bag_root)).validate(processes=1)
        e1: list[str] = []
    except bagit.BagValidationError as exc:
        details = [str(d) for d in getattr(exc, "details", [])]
        e1 = [str(exc.message) if hasattr(exc, "message") else str(exc), *details]
    except bagit.BagError as exc:
        e1 = [str(exc)]
    items.append(_export_item("E1", e1, "bag valid: every payload file matches manifest-sha256.txt, "
                                        "tag manifest and Payload-Oxum hold"))
    trust_items, trust = bag_trust(bag_root, expect_key)
    items += trust_items
    items.append(_anchors_item(bag_root, trust))
    pub = trust.trusted[0] if trust.trusted else None

    pkg_root = bag_root / "data" / "packages"
    years = [p for p in (bag_root / "data").glob("移交清册-*.xlsx")]
    rows: dict[str, list[Any]] = {}
    totals: list[Any] | None = None
    e2: list[str] = []
    if len(years) != 1:
        e2.append(f"expected one 移交清册-YYYY.xlsx, found {len(years)}")
    else:
        rows, totals, e2, list_fp = _read_list(years[0])
        if list_fp is not None and trust.found is not None and orgkey.normalise_fingerprint(list_fp) != trust.found:
            e3_item = next(i for i in items if i.id == "E3")
            problem = messages.text("archive.trust.list_mismatch", where="移交清册", listed=list_fp, found=trust.found)
            items[items.index(e3_item)] = _export_item(
                "E3", [e3_item.evidence, problem] if e3_item.result is Result.FAIL else [problem], "")
    seen_codes: set[str] = set()
    seen_invoices: dict[str, str] = {}
    series_numbers: dict[str, set[int]] = {}
    sums = _Totals()
    cache: dict[str, tuple[str | None, str]] = {}
    year_scan = malware_scan(pkg_root) if scan and pkg_root.exists() else None

    def reports() -> Iterator[tuple[str, CheckReport]]:
        for d in sorted(p for p in pkg_root.iterdir() if p.is_dir()) if pkg_root.exists() else []:
            meta_b = (d / md.METADATA_NAME).read_bytes() if (d / md.METADATA_NAME).is_file() else b""
            try:
                meta = md.read_metadata(meta_b) if meta_b else md.Metadata()
            except Exception:
                meta = md.Metadata()
            code = meta.package.get("档号", d.name)
            dup: list[str] = []
            if code in seen_codes:
                dup.append(f"档号 {code} appears twice in the bag")
            seen_codes.add(code)
            for inv in meta.invoices:
                k = f"{inv.get('发票代码', '')}:{inv.get('发票号码', '')}"
                if k in seen_invoices:
                    dup.append(f"invoice {k} also in {seen_invoices[k]}")
                seen_invoices[k] = code
            try:
                c = parse_code(code)
                series_numbers.setdefault(c.series, set()).add(c.item_no)
            except ArchiveError:
                pass
            row = rows.get(code)
            files = [p for p in d.rglob("*") if p.is_file()]
            size = sum(p.stat().st_size for p in files)
            if row is None:
                e2.append(f"{d.name}: package not in the 移交清册")
            else:
                expect = {"题名": (row[2], meta.package.get("题名")), "凭证号": (row[4], meta.package.get("凭证号")),
                          "金额": (str(row[5]), meta.package.get("金额")),
                          "附件数": (str(row[6]), meta.package.get("附件数")),
                          "保管期限": (row[7], meta.package.get("保管期限")),
                          "文件数": (row[8], len(files)), "大小": (row[9], size)}
                for label, (a, b) in expect.items():
                    if a != b:
                        e2.append(f"{code}: 移交清册 {label} {a!r}, package {b!r}")
                sums.n += 1
                sums.amount += Decimal(str(row[5]))
                sums.attachments += int(row[6])
                sums.files += int(row[8])
                sums.size += int(row[9])
            ctx = CheckContext(public_key=pub, trusted_keys=trust.trusted,
                               expected_code=code if row is not None else None,
                               recorded_manifest_sha256=(row[10] if row is not None else None),
                               duplicate_problems=dup, gap_problems=[], write_once=False, scan=False,
                               invoice_cache=cache)
            if len(cache) > 5000:
                cache.clear()
            rep = check_dir(d, ctx, code)
            if year_scan is not None:
                rep = CheckReport(rep.subject, tuple(year_scan if i.id == "S1" else i for i in rep.items))
            yield code, rep

    agg = aggregate(f"export {bag_root.name}", reports())
    missing = [c for c in rows if c not in seen_codes]
    e2 += [f"{c}: in the 移交清册 but not in the bag" for c in missing]
    if totals is None:
        e2.append("移交清册 has no 合计 row")
    else:
        got = [totals[1], str(totals[5]), totals[6], totals[8], totals[9]]
        want = [sums.n, str(sums.amount), sums.attachments, sums.files, sums.size]
        if got != want:
            e2.append(f"移交清册 合计 {got} ≠ rows {want}")
    gaps = [f"{s}: 件号 {n:04d} missing" for s, nums in series_numbers.items()
            for n in range(1, max(nums) + 1) if n not in nums]
    items.append(_export_item("E2", e2, f"{len(rows)} rows match {len(seen_codes)} packages; totals hold"))
    pkg_items = []
    for it in agg.items:
        if it.id == "I2":
            prop, name = ITEMS["I2"]
            it = CheckItem("I2", prop.value, name, Result.FAIL if gaps else Result.PASS,
                           "; ".join(gaps[:20]) if gaps else f"件号 contiguous in {len(series_numbers)} series")
        if it.id == "S3":
            it = CheckItem("S3", it.property, it.name, Result.NOT_APPLICABLE,
                           "a received copy: write-once storage is the receiver's to provide")
        pkg_items.append(it)
    all_items = sorted(items, key=lambda i: i.id) + pkg_items
    status = "fail" if any(i.result is Result.FAIL for i in all_items) else "pass"
    counts = {r.value: sum(1 for i in all_items if i.result is r) for r in Result}
    return {"status": status, "bag": str(bag_root), "packages": len(seen_codes),
            "summary": counts, "items": [i.to_dict() for i in all_items],
            "status_label": messages.label("archive_check_status", status),
            "summary_text": summary_text(status, counts, trust.found),
            "key_fingerprint_sm3": trust.found, "trust": trust.to_dict()}


def verify_job(session: Session, job_id: str, expect_key: str | None = None) -> dict[str, Any]:
    """``GET /archive/exports/{id}/verify``: the finished bag checked as a receiver would."""
    job = get_export(session, job_id)
    fp = check_expected_key(expect_key)
    if job.status != ExportStatus.DONE or not job.bag_path:
        raise refused("export_not_ready", f"export {job_id} is {job.status}; no bag to verify")
    return verify_export(job.bag_path, expect_key=fp)


def list_exports(session: Session, year: int | None = None) -> list[ExportJob]:
    q = select(ExportJob)
    if year is not None:
        q = q.where(ExportJob.year == year)
    return list(session.exec(q.order_by(col(ExportJob.created_at).desc())).all())
