"""Archive packages: one posted voucher with its claims and original invoices becomes one 件.

A package is built in a temporary folder inside the archive store, checked (四性检测), made
read-only and then renamed into place, so the store only ever holds complete, checked,
signed packages. It is never modified again: a correction is a new version that supersedes
the old one, with the reason recorded; the old version stays.

Layout of a package folder::

    metadata.xml                   DA/T 94-style metadata (archive.metadata)
    manifest.xml, manifest.sig     every other file with size, SHA-256, SM3; SM2 signature
    schema/record-N.xsd            the schema of content/*.xml (archive.schema), version N
    schema/metadata-N.xsd          the schema of metadata.xml
    content/voucher.xml            the voucher: lines, invoice list, postings (入账) (archive.records)
    content/claims.xml             the claims with every approval step (archive.records)
    content/voucher.pdf            the 记账凭证 as PDF/A-3b (archive.render)
    content/claims.pdf             the 报销单 as PDF/A-3b, one page per claim (absent without claims)
    content/invoices/NN-<number>.<ofd|pdf|xml>     the originals, byte for byte
    content/verification/NN-<number>.json          each invoice's verification report
    content/entry-info/NN-<number>.xml             each invoice's 入账信息 as XBRL (archive.xbrl)
    schema/einv-entry-info-2.xsd                   the XSD of the 入账信息 facts written (-1: before
                                                   the payment facts; old packages keep it)
    content/payments/NN-<number>.<ofd|pdf|xml>     the confirmed 付款回单 (bank e-receipts), byte for byte
    content/verification/payment-NN-<number>.json  each receipt's verification report

The four elements of a reimbursement (凭证 "四要素") are all in the package: the claims, the
invoices, the voucher, and the payment (the receipts an accountant confirmed in
``accounting.payments``; record-2 lists them under voucher/payments).
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from accounting.invoice_status import invoice_status
from archive import manifest as mf
from archive import metadata as md
from archive import numbering, records, render, schema, signing
from archive.check import (
    CheckContext,
    CheckReport,
    Result,
    _parse_and_verify,
    record_run,
    series_gaps,
)
from archive.codes import ArchivalCode, dir_name, make_code, series_for
from archive.errors import ArchiveError, bad_input, not_found, refused
from archive.fsutil import freeze_tree, fsync_path, remove_tree, sync_tree
from archive.retention import VOUCHER_RULE, retention_until
from archive.store import (
    ArchivedInvoice,
    ArchivePackage,
    PackageStatus,
    archive_root,
    live_package_for_voucher,
)
from core import audit
from core.blobstore import get_blobstore
from core.db import advisory_lock, utcnow
from core.errors import ErrorKind
from core.settings import get_settings
from core.users import User
from invoice.registry import InvoiceRecord

EXT = {"ofd": "ofd", "pdf": "pdf", "xml": "xml"}
FORMAT = {"ofd": "OFD", "pdf": "PDF", "xml": "XML"}
SECRECY_DEFAULT = "内部"


def _image_ext(data: bytes) -> str:
    """A scan's file extension from its bytes (``jpg``/``png``; ``pdf`` for an image-only PDF)."""
    from invoice.image import image_type

    kind = image_type(data)
    if kind is not None:
        return "jpg" if kind == "jpeg" else kind
    return "pdf" if b"%PDF-" in data[:1024] else "bin"


def _image_format(data: bytes, source_format: str) -> str:
    """The metadata 格式 of a scan (JPEG, PNG, or PDF for an image-only PDF)."""
    return {"jpg": "JPEG", "png": "PNG", "pdf": "PDF"}.get(_image_ext(data), source_format.upper())


@dataclass
class VoucherSource:
    """Everything a package is made of, read from the accounting and invoice services."""

    voucher: Any  # accounting.ledger.Voucher
    claims: list[Any]  # accounting.claims.Claim
    invoices: list[InvoiceRecord]
    payments: list[InvoiceRecord] = field(default_factory=list)  # confirmed 付款回单


def gather(session: Session, voucher_id: str) -> VoucherSource:
    from accounting import ledger

    try:
        v = ledger.get_voucher(session, voucher_id)
    except ArchiveError:
        raise
    except Exception as exc:  # accounting's not-found error → ours, same kind
        if getattr(exc, "kind", None) == ErrorKind.NOT_FOUND:
            raise not_found("voucher", voucher_id) from None
        raise
    # The models, never the API's dicts: the archived record must not follow API renames.
    from accounting.payments import confirmed_payments

    return VoucherSource(v, ledger.voucher_claims(session, v.id), ledger.voucher_invoices(session, v.id),
                         [r for _, r in confirmed_payments(session, v.id)])


def _write(path: Path, data: bytes) -> None:
    """Create a file (never overwrite); made durable by ``archive.fsutil.sync_tree`` before the rename."""
    if not path.parent.is_dir():
        path.parent.mkdir(parents=True)
    with open(path, "xb") as f:
        f.write(data)




def _money(v: Any) -> str:
    return "" if v is None else str(Decimal(str(v)).quantize(Decimal("0.01")))


def _reviewer(rec: records.VoucherRecord) -> str:
    """审核人: everyone who reviewed or approved one of the voucher's claims, in order."""
    names: list[str] = []
    for c in rec.claims:
        for s in c.steps:
            if s.action in ("review", "approve") and s.actor not in names:
                names.append(s.actor)
    return "、".join(names)


def build_package(session: Session, user: User, voucher_id: str) -> ArchivePackage:
    """Package one posted voucher: assign the 档号, build, check, sign, move into the store."""
    src = gather(session, voucher_id)
    v = src.voucher
    if v.state != "posted":
        raise refused("voucher_not_posted", f"voucher {v.number} is {v.state}: only posted vouchers are archived",
                      {"voucher_id": v.id})
    existing = live_package_for_voucher(session, v.id)
    if existing is not None:
        raise refused("already_archived", f"voucher {v.number} is already archived as {existing.archival_code}",
                      {"package_id": existing.id, "archival_code": existing.archival_code})
    s = get_settings()
    year = int(v.period[:4])
    series = series_for(s.fonds_code, s.archive_category, year)
    item_no = numbering.allocate(session, series, v.id)  # no series lock held while building
    code = make_code(s.fonds_code, s.archive_category, year, VOUCHER_RULE.code, item_no)
    try:
        pkg = _build(session, user, src, code, version=1, previous=None)
    except BaseException as exc:
        numbering.release(session, series, item_no, f"build failed: {getattr(exc, 'code', type(exc).__name__)}")
        raise
    numbering.confirm(session, series, item_no)  # commits with the package
    return pkg


def supersede_package(session: Session, user: User, package_id: str, reason: str) -> ArchivePackage:
    """Re-file a voucher as a new version of its package (same 档号); the old one stays, marked why."""
    if not (reason or "").strip():
        raise bad_input("reason_required", "say why the package is superseded")
    old = session.get(ArchivePackage, package_id)
    if old is None:
        raise not_found("package", package_id)
    if old.status != PackageStatus.LIVE:
        raise refused("not_live", f"package {old.archival_code} v{old.version} is {old.status}")
    advisory_lock(session, f"archive_counter:{old.series}")
    src = gather(session, old.voucher_id)
    old.status = PackageStatus.SUPERSEDED
    old.live_voucher_id = None
    old.supersede_reason = reason.strip()
    session.add(old)
    for row in session.exec(select(ArchivedInvoice).where(ArchivedInvoice.package_id == old.id)).all():
        row.live_key = None
        session.add(row)
    session.flush()
    code = ArchivalCode(old.fonds_code, old.series.split("-", 1)[1].rsplit("·", 1)[0], old.year, old.retention,
                        old.item_no)
    new = _build(session, user, src, code, version=old.version + 1, previous=old)
    old.superseded_by = new.id
    session.add(old)
    audit.append(session, user.username, "archive.supersede", "archive_package", old.id,
                 {"archival_code": old.archival_code, "new_package": new.id, "reason": old.supersede_reason})
    return new


def _build(session: Session, user: User, src: VoucherSource, code: ArchivalCode, version: int,
           previous: ArchivePackage | None) -> ArchivePackage:
    v = src.voucher
    key = signing.ensure_archive_key()
    root = archive_root()
    tmp = root / ".tmp" / uuid.uuid4().hex
    tmp.mkdir(parents=True)
    try:
        pkg, report = _assemble(session, user, src, code, version, key, tmp)
        if report.status != "pass":
            raise refused("package_check_failed",
                          f"package for voucher {v.number} failed the four-property check: "
                          + "; ".join(f"{i.id} {i.name}: {i.evidence}" for i in report.failed),
                          {"check": report.to_dict()})
        final_rel = Path("packages") / str(code.year) / dir_name(code, version)
        final = root / final_rel
        final.parent.mkdir(parents=True, exist_ok=True)
        if final.exists():  # left by a process killed between rename and commit: never delete, set aside
            holder = session.exec(select(ArchivePackage.id).where(ArchivePackage.path == final_rel.as_posix())).first()
            if holder is not None:
                raise refused("store_conflict", f"{final_rel} already holds package {holder}")
            orphans = root / ".orphans"
            orphans.mkdir(exist_ok=True)
            os.rename(final, orphans / f"{final.name}.{uuid.uuid4().hex[:8]}")
        pkg.path = final_rel.as_posix()
        session.add(pkg)
        for inv in src.invoices:
            session.add(ArchivedInvoice(package_id=pkg.id, invoice_id=inv.id, invoice_key=inv.key,
                                        live_key=inv.key))
        try:
            session.flush()
        except IntegrityError:
            raise refused("already_archived", f"voucher {v.number} or one of its invoices was archived "
                                              "by someone else just now", {"voucher_id": v.id}) from None
        run = record_run(session, report, "package", "filing", user.username, package_id=pkg.id)
        audit.append(session, user.username, "archive.package", "archive_package", pkg.id,
                     {"archival_code": pkg.archival_code, "version": version, "voucher_id": v.id,
                      "manifest_sha256": pkg.manifest_sha256, "check_run": run.id,
                      "supersedes": previous.id if previous else None})
        freeze_tree(tmp)
        sync_tree(tmp)
        from archive import objects

        # The bucket's copy is the record and the folder its cache. It is written from the
        # staging folder, before the rename: uploading takes seconds, and a process killed
        # between the rename and the commit leaves a folder the database does not name, so
        # that window must stay as short on S3 as on disk. A kill during the upload leaves
        # only content-addressed objects and an index under a package id never committed.
        if objects.enabled():
            objects.publish(pkg, tmp)
        os.rename(tmp, final)  # the last step: the store only ever sees a complete package
        fsync_path(final.parent)
        return pkg
    finally:
        remove_tree(tmp)


def _assemble(session: Session, user: User, src: VoucherSource, code: ArchivalCode, version: int,
              key: signing.ArchiveKey, tmp: Path) -> tuple[ArchivePackage, CheckReport]:
    v = src.voucher
    blobs = get_blobstore()
    files_meta: list[dict[str, str]] = []
    inv_meta: list[dict[str, str]] = []
    cache: dict[str, tuple[str | None, str]] = {}
    invoice_files: dict[str, str] = {}  # invoice id -> path of its original in the package

    def put(rel: str, data: bytes, kind: str, fmt: str) -> mf.FileEntry:
        _write(tmp / rel, data)
        e = mf.digest_bytes(rel, data)
        files_meta.append({"文件名": rel, "类型": kind, "格式": fmt, "大小": str(e.size),
                           "SHA-256": e.sha256, "SM3": e.sm3})
        return e

    from invoice.verify import verify

    for n, inv in enumerate(src.invoices, 1):
        data = blobs.get(inv.sha256)
        e = mf.digest_bytes("", data)
        if e.sha256 != inv.sha256:
            raise refused("original_corrupt", f"the stored original of invoice {inv.key} does not match its "
                                              f"SHA-256 {inv.sha256}", {"invoice_id": inv.id})
        stem = f"{n:02d}-{inv.number or inv.sha256[:12]}"
        ext = EXT.get(inv.source_format) or _image_ext(data)
        rel = f"content/invoices/{stem}.{ext}"
        invoice_files[inv.id] = rel
        _write(tmp / rel, data)
        parsed = _parse_and_verify_full(data, verify)
        cache[e.sha256] = (parsed[0], parsed[1])
        # Claim gate: the 查验 state and any override of it travel into the package.
        gate = invoice_status(session, inv)
        gate_facts = {"online_check_status": inv.online_check_status,
                      "online_check_pending": gate.online_check_pending,
                      "online_check_label": gate.online_check_label, "override": gate.override}
        put(f"content/verification/{stem}.json",
            json.dumps({"file": rel, "verified_at": utcnow().isoformat(), **parsed[2], **gate_facts},
                       ensure_ascii=False, indent=2, default=str).encode("utf-8"), "验证报告", "JSON")
        inv_meta.append({
            "发票代码": inv.code or "", "发票号码": inv.number or "", "发票类型": inv.kind,
            "开票日期": inv.issue_date.isoformat() if inv.issue_date else "",
            "金额": _money(inv.amount), "税额": _money(inv.tax), "价税合计": _money(inv.total),
            "销售方名称": inv.seller_name or "", "销售方税号": inv.seller_tax_id or "",
            "购买方名称": inv.buyer_name or "", "购买方税号": inv.buyer_tax_id or "",
            "文件名": rel, "格式": FORMAT.get(inv.source_format) or _image_format(data, inv.source_format),
            "大小": str(e.size), "SHA-256": e.sha256, "SM3": e.sm3, "签名状态": str(parsed[1]),
        })

    payment_files: dict[str, str] = {}  # receipt id -> path of its file in the package
    for n, receipt in enumerate(src.payments, 1):
        data = blobs.get(receipt.sha256)
        if mf.digest_bytes("", data).sha256 != receipt.sha256:
            raise refused("original_corrupt", f"the stored original of receipt {receipt.key} does not match "
                                              f"its SHA-256 {receipt.sha256}", {"invoice_id": receipt.id})
        stem = f"{n:02d}-{_safe_stem(receipt.number or receipt.sha256[:12])}"
        rel = f"content/payments/{stem}.{EXT.get(receipt.source_format, 'bin')}"
        payment_files[receipt.id] = rel
        put(rel, data, "付款回单", FORMAT.get(receipt.source_format, receipt.source_format.upper()))
        parsed = _parse_and_verify_full(data, verify)
        put(f"content/verification/payment-{stem}.json",
            json.dumps({"file": rel, "verified_at": utcnow().isoformat(), **parsed[2]},
                       ensure_ascii=False, indent=2, default=str).encode("utf-8"), "付款回单验证报告", "JSON")

    archival_code = str(code)
    s = get_settings()
    rec = records.load_voucher_record(session, v, invoice_files, payment_files)
    for rel, xsd in schema.package_schemas([schema.current("record"), md.SCHEMA_REF]):
        put(rel, xsd, "结构定义", "XML")
    try:
        put("content/voucher.xml", records.voucher_xml(rec, archival_code), "记账凭证", "XML")
        put("content/claims.xml", records.claims_xml(rec, archival_code), "报销单及审批记录", "XML")
    except schema.SchemaError as exc:
        raise refused("record_schema_invalid", f"voucher {v.number}: {exc}",
                      {"number": v.number, "file": exc.where, "errors": "; ".join(exc.problems[:5])}) from None
    _put_entry_info(session, v, invoice_files, put)
    by_key = {i.key: invoice_files[i.id].rsplit("/", 1)[-1] for i in src.invoices}
    form = render.FormContext(org_name=s.org_name or "", archival_code=archival_code, reviewers=_reviewer(rec),
                              invoice_files=by_key)
    try:
        put("content/voucher.pdf", render.voucher_pdf(rec, form), "记账凭证(阅读件)", "PDF")
        if rec.claims:
            put("content/claims.pdf", render.claims_pdf(rec, form), "报销单(阅读件)", "PDF")
    except render.RenditionError as exc:
        raise refused(exc.code, f"voucher {v.number}: rendition failed: {exc.code}",
                      {"number": v.number, **exc.params}) from None

    until = retention_until(code.year, VOUCHER_RULE)
    now = utcnow()
    title = f"记账凭证 {v.number} {v.summary}".strip()
    meta = md.Metadata(
        package={
            "全宗号": code.fonds, "立档单位": s.org_name or "", "档号": archival_code, "题名": title,
            "会计年度": str(code.year), "会计期间": v.period[5:7], "凭证类别": "记账凭证", "凭证字": v.word,
            "凭证号": v.number, "金额": _money(v.total_debit), "附件数": str(len(src.invoices)),
            "保管期限": code.retention, "保管期满日期": until.isoformat() if until else "",
            "密级": SECRECY_DEFAULT, "制单人": v.created_by, "审核人": _reviewer(rec),
            "记账人": v.posted_by or "", "形成时间": v.posted_at.isoformat() if v.posted_at else "",
            "归档时间": now.isoformat(), "归档人": user.username,
        },
        invoices=inv_meta,
        files=list(files_meta),
    )
    try:
        meta_bytes = md.metadata_xml(meta)  # validated against the XSD it declares
    except schema.SchemaError as exc:
        raise refused("record_schema_invalid", f"voucher {v.number}: {exc}",
                      {"number": v.number, "file": exc.where, "errors": "; ".join(exc.problems[:5])}) from None
    _write(tmp / md.METADATA_NAME, meta_bytes)
    entries = [mf.FileEntry(f["文件名"], int(f["大小"]), f["SHA-256"], f["SM3"]) for f in files_meta]
    entries += [mf.FileEntry(i["文件名"], int(i["大小"]), i["SHA-256"], i["SM3"]) for i in inv_meta]
    entries.append(mf.digest_bytes(md.METADATA_NAME, meta_bytes))
    manifest_bytes = mf.manifest_xml(entries, archival_code)
    _write(tmp / mf.MANIFEST_NAME, manifest_bytes)
    signature = signing.sign(key, manifest_bytes)
    _write(tmp / mf.SIGNATURE_NAME, signature)

    # the check at filing: duplicates and gaps come from the register
    dup = [f"voucher {v.number} already has live package {p.archival_code}"
           for p in [live_package_for_voucher(session, v.id)] if p is not None]
    if src.invoices:
        taken = session.exec(select(ArchivedInvoice).where(
            col(ArchivedInvoice.live_key).in_([i.key for i in src.invoices]))).all()
        dup += [f"invoice {t.invoice_key} is already archived in package {t.package_id}" for t in taken]
    ctx = CheckContext(public_key=key.public, expected_code=archival_code, recorded_manifest_sha256=None,
                       duplicate_problems=dup, gap_problems=series_gaps(session, code.series, upto=code.item_no - 1,
                                                           excused=numbering.in_flight(session, code.series)),
                       write_once=False, invoice_cache=cache)
    from archive.check import check_dir

    report = check_dir(tmp, ctx, archival_code)
    report = CheckReport(report.subject, report.items, report.run_id, key.fingerprint_sm3)
    total_size = sum(e.size for e in entries)
    pkg = ArchivePackage(
        voucher_id=v.id, live_voucher_id=v.id, series=code.series, archival_code=archival_code,
        fonds_code=code.fonds, year=code.year, period=int(v.period[5:7]), item_no=code.item_no, version=version,
        retention=code.retention, retention_until=until, title=title, voucher_number=v.number,
        amount=Decimal(str(v.total_debit)), attachments=len(src.invoices), file_count=len(entries) + 2,
        total_size=total_size + len(manifest_bytes) + len(signature), path="", manifest_sha256=mf.hashlib.sha256(manifest_bytes).hexdigest(),
        manifest_sm3=mf.sm3_hex(manifest_bytes), key_fingerprint=key.fingerprint, created_by=user.username,
        created_at=now,
        meta={"files": [{"path": e.path, "size": e.size, "sha256": e.sha256, "sm3": e.sm3} for e in entries],
              "invoice_keys": [i.key for i in src.invoices],
              "payment_keys": [r.key for r in src.payments]},
    )
    return pkg, report


def _put_entry_info(session: Session, voucher: Any, invoice_files: dict[str, str],
                    put: Any) -> None:
    """入账信息 (电子凭证会计数据标准, receiver side) of each invoice the voucher books, as one XBRL
    instance per invoice beside its original (``content/entry-info/NN-<number>.xml``), with
    the XSD of the facts written (``archive.xbrl``)."""
    from accounting.entry_info import entry_info_for_voucher
    from archive import xbrl

    infos = entry_info_for_voucher(session, voucher)
    if not infos:
        return
    put(xbrl.xsd_package_path(), xbrl.xsd_bytes(), "结构定义", "XML")
    for info in infos:
        stem = invoice_files[info.invoice_id].rsplit("/", 1)[-1].rsplit(".", 1)[0]
        try:
            data = xbrl.entry_info_xml(info)
        except xbrl.EntryInfoError as exc:
            raise refused("entry_info_invalid", f"voucher {voucher.number}: {exc}",
                          {"number": voucher.number, "invoice": info.number or info.invoice_key,
                           "errors": "; ".join(exc.problems[:5])}) from None
        put(f"{xbrl.PACKAGE_FOLDER}/{stem}.xml", data, "入账信息", "XML")
def _safe_stem(text: str) -> str:
    """A receipt number as a file name part: letters, digits and '-' only (banks print more)."""
    return "".join(ch if ch.isascii() and (ch.isalnum() or ch == "-") else "_" for ch in text)[:64]


def _parse_and_verify_full(data: bytes, verify: Any) -> tuple[str | None, str, dict[str, Any]]:
    """Parse and verify once at filing: the report is kept and the check reuses the verdict."""
    import invoice
    from invoice.errors import InvoiceError

    try:
        inv = invoice.parse(data)
    except InvoiceError as exc:
        number, status = _parse_and_verify(data)
        return number, status, {"status": status, "error": exc.to_dict()}
    s = get_settings()  # the buyer checks of the report name the organisation; status is signatures only
    rep = verify(data, inv, org_name=s.org_name, org_tax_id=s.org_tax_id)
    return inv.number, str(rep.status), rep.to_dict()


def get_package(session: Session, package_id: str) -> ArchivePackage:
    pkg = session.get(ArchivePackage, package_id)
    if pkg is None:
        raise not_found("package", package_id)
    return pkg


def package_to_dict(session: Session, pkg: ArchivePackage, with_check: bool = True) -> dict[str, Any]:
    """The package's JSON (``archive.public.PackagePublic``) as plain data, for the page and scripts."""
    from archive.public import PackagePublic

    return PackagePublic.from_package(session, pkg, with_check).to_json()


def list_packages(session: Session, year: int | None = None, page: int = 1, page_size: int = 50,
                  status: str | None = None, *, sort: str | None = None,
                  retention: str | None = None) -> tuple[list[ArchivePackage], int]:
    """One page of packages (default in 档号 order) and the total; ``sort`` is a comma list of
    whitelisted columns (``-created_at``)."""
    from sqlalchemy import func

    from core.listing import Sorting, check_page

    check_page(page, page_size)
    order = Sorting(columns={"archival_code": col(ArchivePackage.series), "year": col(ArchivePackage.year),
                             "voucher_number": col(ArchivePackage.voucher_number),
                             "amount": col(ArchivePackage.amount), "created_at": col(ArchivePackage.created_at),
                             "retention_until": col(ArchivePackage.retention_until),
                             "status": col(ArchivePackage.status)},
                    default="archival_code", tiebreak=col(ArchivePackage.id)).order_by(sort)
    spec = (sort or "").strip()
    if not spec or spec.lstrip("+-") == "archival_code":  # the 档号's own order: series, 件号, version
        desc = spec.startswith("-")
        parts = (col(ArchivePackage.series), col(ArchivePackage.item_no), col(ArchivePackage.version))
        order = [p.desc() if desc else p.asc() for p in parts] + [col(ArchivePackage.id)]
    conds = []
    if retention:
        conds.append(ArchivePackage.retention == retention)
    if year is not None:
        conds.append(ArchivePackage.year == year)
    if status:
        conds.append(ArchivePackage.status == status)
    total = session.exec(select(func.count()).select_from(ArchivePackage).where(*conds)).one()
    rows = session.exec(select(ArchivePackage).where(*conds).order_by(*order)
                        .offset((page - 1) * page_size).limit(page_size)).all()
    return list(rows), int(total)


__all__ = ["ArchivePackage", "Result", "VoucherSource", "build_package", "gather", "get_package",
           "list_packages", "package_to_dict", "supersede_package"]
