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
import json
import re
import shutil
import subprocess
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from archive import manifest as mf
from archive import metadata as md
from archive import signing
from archive.codes import parse_code
from archive.errors import ArchiveError, not_found
from archive.schema import validate_package_xml  # h-render: schema validation
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
from invoice.errors import InvoiceError
from invoice.xmlsafe import parse_xml


class Property(StrEnum):
    AUTHENTICITY = "authenticity"  # 真实性
    INTEGRITY = "integrity"  # 完整性
    USABILITY = "usability"  # 可用性
    SECURITY = "security"  # 安全性


class Result(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    NOT_APPLICABLE = "not_applicable"
    NOT_RUN = "not_run"


# id -> (property, name). Order is the report order; the signature comes first. The names here
# are for code and logs; reports carry the Chinese name from the catalogue
# (``messages.label("archive_check_item", id)``).
ITEMS: dict[str, tuple[Property, str]] = {
    "A1": (Property.AUTHENTICITY, "manifest signature (固化信息有效性)"),
    "A2": (Property.AUTHENTICITY, "file digests (SHA-256, SM3) recomputed"),
    "A3": (Property.AUTHENTICITY, "invoice signatures verified again"),
    "A4": (Property.AUTHENTICITY, "metadata values: format, range, length, characters"),
    "A5": (Property.AUTHENTICITY, "archival code (档号) format and consistency"),
    "A6": (Property.AUTHENTICITY, "no duplicate records"),
    "A7": (Property.AUTHENTICITY, "file properties match metadata"),
    "I1": (Property.INTEGRITY, "required metadata present"),
    "I2": (Property.INTEGRITY, "no gaps in 件号"),
    "I3": (Property.INTEGRITY, "process records present (approvals, posting)"),
    "I4": (Property.INTEGRITY, "every metadata and manifest entry has its file"),
    "I5": (Property.INTEGRITY, "every file has its manifest entry"),
    "U1": (Property.USABILITY, "metadata readable"),
    "U2": (Property.USABILITY, "each file opens and parses"),
    "U3": (Property.USABILITY, "formats allowed for archiving (OFD, PDF, XML, JSON)"),
    "U4": (Property.USABILITY, "no encryption or private compression"),
    "S1": (Property.SECURITY, "malware scan"),
    "S2": (Property.SECURITY, "fixity since filing"),
    "S3": (Property.SECURITY, "write-once storage"),
}

CONTROL_FILES = (mf.MANIFEST_NAME, mf.SIGNATURE_NAME)
MAX_EVIDENCE = 20


@dataclass(frozen=True)
class CheckItem:
    id: str
    property: str
    name: str
    result: Result
    evidence: str

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "property": self.property, "name": self.name,
                "result": self.result.value, "evidence": self.evidence,
                "property_label": messages.label("archive_check_property", self.property),
                "result_label": messages.label("archive_check_result", self.result.value)}


def item_name(item_id: str) -> str:
    """The Chinese name of a check item, as reports show it."""
    return messages.label("archive_check_item", item_id)


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


def _item(item_id: str, result: Result, evidence: str | Iterable[str]) -> CheckItem:
    prop, _name = ITEMS[item_id]
    name = item_name(item_id)
    if not isinstance(evidence, str):
        lines = list(evidence)
        more = len(lines) - MAX_EVIDENCE
        evidence = "; ".join(lines[:MAX_EVIDENCE]) + (f"; … and {more} more" if more > 0 else "")
    return CheckItem(item_id, prop.value, name, result, evidence)


def _verdict(item_id: str, problems: list[str], ok_evidence: str) -> CheckItem:
    return _item(item_id, Result.FAIL, problems) if problems else _item(item_id, Result.PASS, ok_evidence)


@dataclass
class CheckContext:
    """What the caller knows beyond the folder itself."""

    public_key: Any  # SM2 point of the archive key (tried first)
    # earlier keys joined to it by the signed key history (core/orgkey.py): a manifest signed by
    # any of these verifies; by any other key it does not
    trusted_keys: Sequence[Any] = ()
    expected_code: str | None = None  # 档号 the database (or 移交清册) gives this package
    recorded_manifest_sha256: str | None = None  # at filing; None: fixity not applicable
    duplicate_problems: list[str] | None = None  # None: not checked here (not applicable)
    duplicate_note: str = "no register to compare with at this point"
    gap_problems: list[str] | None = None
    write_once: bool = False  # check the store's read-only modes (not at build, not on export)
    scan: bool = True
    # sha256 -> (parse ok / error, verification status) for identical bytes within one run
    invoice_cache: dict[str, tuple[str | None, str]] = field(default_factory=dict)


# --- the directory check ------------------------------------------------------------------------


def _read(root: Path, rel: str) -> bytes | None:
    try:
        return (root / rel).read_bytes()
    except OSError:
        return None


def check_dir(root: Path, ctx: CheckContext, subject: str = "") -> CheckReport:
    """Run every item on one package folder."""
    items: list[CheckItem] = []
    manifest_bytes = _read(root, mf.MANIFEST_NAME)
    sig = _read(root, mf.SIGNATURE_NAME)

    # A1 signature first: everything else trusts the manifest only if it holds.
    manifest: mf.Manifest | None = None
    if manifest_bytes is None or sig is None:
        items.append(_item("A1", Result.FAIL, f"{'manifest.xml' if manifest_bytes is None else 'manifest.sig'} is missing"))
    else:
        keys = [k for k in (ctx.public_key, *ctx.trusted_keys) if k is not None]
        signer = next((k for i, k in enumerate(keys) if k not in keys[:i]
                       and signing.verify(k, manifest_bytes, sig)), None)
        if signer is None:
            names = ", ".join(orgkey.fingerprint_sm3(k)[:16] + "…" for k in dict.fromkeys(keys)) or "none"
            items.append(_item("A1", Result.FAIL, "the SM2-with-SM3 signature over manifest.xml does not verify "
                                                  f"with any trusted archive key (SM3 {names})"))
        else:
            items.append(_item("A1", Result.PASS, "SM2-with-SM3 signature over manifest.xml verifies with archive "
                                                  f"key SM3 {orgkey.fingerprint_sm3(signer)}"))
    if manifest_bytes is not None:
        try:
            manifest = mf.read_manifest(manifest_bytes)
        except InvoiceError as exc:
            items[0] = _item("A1", Result.FAIL, f"manifest.xml unreadable: {exc}")
    entries = manifest.by_path() if manifest else {}

    present = [p for p in mf.list_files(root) if p not in CONTROL_FILES]

    # A2 digests recomputed
    a2: list[str] = []
    actual: dict[str, mf.FileEntry] = {}
    contents: dict[str, bytes] = {}  # each file read once (package files are bounded in size)
    for rel in present:
        if (root / rel).is_symlink():
            a2.append(f"{rel}: is a symbolic link")
            continue
        data = _read(root, rel)
        if data is None:
            a2.append(f"{rel}: cannot be read")
            continue
        contents[rel] = data
        actual[rel] = mf.digest_bytes(rel, data)
    for rel, e in entries.items():
        a = actual.get(rel)
        if a is None:
            continue  # missing: I4
        if a.size != e.size:
            a2.append(f"{rel}: size {a.size}, manifest says {e.size}")
        if a.sha256 != e.sha256:
            a2.append(f"{rel}: SHA-256 {a.sha256[:16]}… ≠ manifest {e.sha256[:16]}…")
        if a.sm3 != e.sm3:
            a2.append(f"{rel}: SM3 {a.sm3[:16]}… ≠ manifest {e.sm3[:16]}…")
    if manifest is None:
        a2.append("no readable manifest to compare with")
    items.append(_verdict("A2", a2, f"{len(entries)} files: size, SHA-256 and SM3 match the manifest"))

    # U1 metadata readable
    meta: md.Metadata | None = None
    meta_bytes = _read(root, md.METADATA_NAME)
    if meta_bytes is None:
        u1 = _item("U1", Result.FAIL, "metadata.xml is missing")
    else:
        try:
            meta = md.read_metadata(meta_bytes)
            u1 = _item("U1", Result.PASS, f"metadata.xml well-formed, {len(meta.package)} package elements, "
                                          f"{len(meta.invoices)} invoices, {len(meta.files)} files")
        except InvoiceError as exc:
            u1 = _item("U1", Result.FAIL, f"metadata.xml: {exc}")
    meta = meta or md.Metadata()
    files_meta = {f.get("文件名", ""): f for f in meta.files}
    inv_meta = {i.get("文件名", ""): i for i in meta.invoices}

    # A3 invoice signatures, U2 files open (invoices parse), shared work per invoice
    a3: list[str] = []
    a3_ok: dict[str, int] = {}
    u2: list[str] = []
    parsed_numbers: dict[str, str | None] = {}
    for name, inv in inv_meta.items():
        data = contents.get(name)
        if data is None:
            continue  # I4
        sha = actual[name].sha256 if name in actual else ""
        cached = ctx.invoice_cache.get(sha)
        if cached is None:
            cached = _parse_and_verify(data)
            if sha:
                ctx.invoice_cache[sha] = cached
        number_or_error, status = cached
        if number_or_error is not None and number_or_error.startswith("error:"):
            u2.append(f"{name}: does not parse as an invoice ({number_or_error[6:]})")
        else:
            parsed_numbers[name] = number_or_error
        filed = inv.get("签名状态", "")
        if status == "invalid":
            a3.append(f"{name}: signature verification now says invalid (filed as {filed or '?'})")
        elif filed and status != filed:
            a3.append(f"{name}: verification says {status}, filed as {filed}")
        else:
            a3_ok[status] = a3_ok.get(status, 0) + 1
    if not inv_meta:
        items.append(_item("A3", Result.NOT_APPLICABLE, "no invoices listed in the metadata"))
    else:
        note = ", ".join(f"{n} {s}" for s, n in sorted(a3_ok.items()))
        extra = " (unsigned/indeterminate: authenticity rests on the tax platform check, 查验)" \
            if any(s in a3_ok for s in ("unsigned", "indeterminate")) else ""
        items.append(_verdict("A3", a3, f"{len(inv_meta)} invoices verified again: {note}{extra}"))

    # A4 metadata values
    a4 = md.value_problems(meta) if meta.package else ["no metadata to check"]
    items.append(_verdict("A4", a4, f"{len(meta.package) + sum(len(i) for i in meta.invoices) + sum(len(f) for f in meta.files)} "
                                    "values well-formed and in range"))

    # A5 档号
    a5: list[str] = []
    code = meta.package.get("档号", "")
    try:
        parse_code(code)
    except ArchiveError as exc:
        a5.append(exc.message)
    if manifest and manifest.archival_code != code:
        a5.append(f"manifest names 档号 {manifest.archival_code!r}, metadata {code!r}")
    if ctx.expected_code is not None and code != ctx.expected_code:
        a5.append(f"metadata 档号 {code!r}, the register says {ctx.expected_code!r}")
    items.append(_verdict("A5", a5, f"档号 {code} well-formed and consistent with the manifest"
                                    + (" and the register" if ctx.expected_code else "")))

    # A6 duplicates
    if ctx.duplicate_problems is None:
        items.append(_item("A6", Result.NOT_APPLICABLE, ctx.duplicate_note))
    else:
        dup = list(ctx.duplicate_problems)
        keys = [f"{i.get('发票代码', '')}:{i.get('发票号码', '')}" for i in meta.invoices]
        dup += [f"invoice {k} listed twice" for k in {k for k in keys if keys.count(k) > 1}]
        items.append(_verdict("A6", dup, "no other live record with this 档号, voucher or invoices"))

    # A7 file properties match metadata
    a7: list[str] = []
    for name, f in {**files_meta, **inv_meta}.items():
        a = actual.get(name)
        if a is None:
            continue
        if f.get("大小") != str(a.size):
            a7.append(f"{name}: 大小 {f.get('大小')} but the file has {a.size} bytes")
        if f.get("SHA-256") != a.sha256:
            a7.append(f"{name}: SHA-256 in metadata differs from the file")
        if f.get("SM3") != a.sm3:
            a7.append(f"{name}: SM3 in metadata differs from the file")
        fmt = _format_of(name, contents.get(name, b""))
        if f.get("格式") != fmt:
            a7.append(f"{name}: 格式 {f.get('格式')} but the content is {fmt}")
    for name, number in parsed_numbers.items():
        if number and inv_meta[name].get("发票号码") != number:
            a7.append(f"{name}: 发票号码 {inv_meta[name].get('发票号码')} but the file says {number}")
    items.append(_verdict("A7", a7, f"{len(files_meta) + len(inv_meta)} file entries match size, digests, "
                                    "format and invoice number"))

    # I1 required metadata
    items.append(_verdict("I1", md.missing_required(meta) if meta_bytes is not None else ["metadata.xml missing"],
                          f"all required elements present ({len(md.PACKAGE_ELEMENTS)} per package, "
                          f"{len(md.INVOICE_ELEMENTS)} per invoice, {len(md.FILE_ELEMENTS)} per file)"))

    # I2 件号 sequence
    if ctx.gap_problems is None:
        items.append(_item("I2", Result.NOT_APPLICABLE, "no register of the series to compare with"))
    else:
        items.append(_verdict("I2", ctx.gap_problems, "件号 sequence of the series has no gaps"))

    # I3 process records
    items.append(_process_records(root, meta))

    # I4 entries have files
    i4 = [f"{rel}: in the manifest but missing" for rel in entries if rel not in actual]
    i4 += [f"{n}: in the metadata but missing" for n in {**files_meta, **inv_meta} if n not in actual]
    items.append(_verdict("I4", i4, f"all {len(entries)} manifest and {len(files_meta) + len(inv_meta)} "
                                    "metadata entries have their file"))
    # I5 files have entries
    i5 = [f"{rel}: present but not in the manifest" for rel in present if rel not in entries]
    i5 += [f"{rel}: present but not in the metadata" for rel in present
           if rel != md.METADATA_NAME and rel not in files_meta and rel not in inv_meta]
    items.append(_verdict("I5", i5, f"all {len(present)} files are in the manifest and the metadata"))

    items.append(u1)
    # U2 / U3 / U4
    u3: list[str] = []
    u4: list[str] = []
    for rel in present:
        data = contents.get(rel, b"")
        if rel not in inv_meta:
            err = _opens(rel, data)
            if err:
                u2.append(f"{rel}: {err}")
        fmt = _format_of(rel, data)
        if fmt not in md.ALLOWED_FORMATS:
            u3.append(f"{rel}: format {fmt} is not allowed for archiving")
        enc = _encryption(fmt, data)
        if enc:
            u4.append(f"{rel}: {enc}")
    # --- h-render: XML validated against the XSD its namespace names (archive.schema) ---
    u2 += validate_package_xml(root)
    items.append(_verdict("U2", u2, f"all {len(present)} files open; {len(inv_meta)} invoices parse"))
    items.append(_verdict("U3", u3, f"all {len(present)} files are OFD, PDF, XML or JSON"))
    items.append(_verdict("U4", u4, "no encrypted PDF or OFD member, no private compression method"))

    # S1 malware, S2 fixity, S3 write-once
    items.append(malware_scan(root) if ctx.scan else _item("S1", Result.NOT_RUN, "scan not requested"))
    if ctx.recorded_manifest_sha256 is None:
        items.append(_item("S2", Result.NOT_APPLICABLE, "at filing: the fixity digest is recorded now"))
    elif manifest_bytes is None:
        items.append(_item("S2", Result.FAIL, "manifest.xml missing: fixity cannot hold"))
    else:
        now = mf.hashlib.sha256(manifest_bytes).hexdigest()
        items.append(_verdict("S2", [] if now == ctx.recorded_manifest_sha256 else
                              [f"manifest SHA-256 {now[:16]}… ≠ {ctx.recorded_manifest_sha256[:16]}… recorded at filing"],
                              f"manifest SHA-256 {now[:16]}… as recorded at filing"))
    if ctx.write_once:
        writable = [p.relative_to(root).as_posix() or "." for p in [root, *root.rglob("*")]
                    if p.stat().st_mode & 0o222]
        items.append(_verdict("S3", [f"{w}: writable" for w in writable],
                              "package folder and files are read-only in the write-once store"))
    else:
        items.append(_item("S3", Result.NOT_APPLICABLE, "not in the archive store (filing in progress or a received copy)"))
    order = list(ITEMS)
    return CheckReport(subject, tuple(sorted(items, key=lambda i: order.index(i.id))))


def _parse_and_verify(data: bytes) -> tuple[str | None, str]:
    import invoice
    from invoice.verify import verify

    try:
        inv = invoice.parse(data)
        number: str | None = inv.number
    except InvoiceError as exc:
        return f"error:{exc}", "indeterminate"
    try:
        status = str(verify(data, inv).status)
    except InvoiceError:
        status = "indeterminate"
    return number, status


def _format_of(rel: str, data: bytes) -> str:
    if data.startswith(b"PK\x03\x04"):
        return "OFD" if rel.lower().endswith(".ofd") else "ZIP"
    if b"%PDF-" in data[:1024]:
        return "PDF"
    head = data[:64].lstrip(b"\xef\xbb\xbf").lstrip()
    if head.startswith(b"<"):
        return "XML"
    if head.startswith((b"{", b"[")):
        return "JSON"
    return "UNKNOWN"


def _opens(rel: str, data: bytes) -> str | None:
    """None when the (non-invoice) file opens; else why not."""
    fmt = _format_of(rel, data)
    try:
        if fmt == "XML":
            parse_xml(data, rel)
        elif fmt == "JSON":
            json.loads(data.decode("utf-8"))
        elif fmt == "PDF":
            import pypdfium2

            doc = pypdfium2.PdfDocument(data)
            try:
                if len(doc) < 1:
                    return "PDF has no page"
            finally:
                doc.close()
        elif fmt == "OFD":
            from invoice.ofd.package import OfdPackage

            if not OfdPackage(data, rel).doc_roots():
                return "OFD without a document"
        else:
            return f"unknown format {fmt}"
    except (InvoiceError, ValueError, UnicodeDecodeError) as exc:
        return str(exc)
    except Exception as exc:  # pypdfium2 raises its own PdfiumError
        return f"{type(exc).__name__}: {exc}"
    return None


def _encryption(fmt: str, data: bytes) -> str | None:
    if fmt == "PDF" and re.search(rb"/Encrypt\s", data):
        return "PDF is encrypted (/Encrypt)"
    if fmt in ("OFD", "ZIP"):
        try:
            import io

            with zipfile.ZipFile(io.BytesIO(data)) as z:
                for info in z.infolist():
                    if info.flag_bits & 0x1:
                        return f"member {info.filename} is encrypted"
                    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                        return f"member {info.filename} uses compression method {info.compress_type}"
        except zipfile.BadZipFile as exc:
            return f"not a readable zip: {exc}"
    return None


def _process_records(root: Path, meta: md.Metadata) -> CheckItem:
    problems: list[str] = []
    evidence: list[str] = []
    vx = _read(root, "content/voucher.xml")
    if vx is None:
        return _item("I3", Result.FAIL, "content/voucher.xml (the voucher and its posting) is missing")
    try:
        v = parse_xml(vx, "voucher.xml")
    except InvoiceError as exc:
        return _item("I3", Result.FAIL, f"content/voucher.xml: {exc}")
    for field_name in ("posted_at", "posted_by", "created_by"):
        el = v.find(field_name)
        if el is None or not (el.text or "").strip():
            problems.append(f"voucher.xml: {field_name} missing (posting record)")
    evidence.append(f"posted by {v.findtext('posted_by')} at {v.findtext('posted_at')}")
    cx = _read(root, "content/claims.xml")
    external = (v.findtext("external_ref") or "").strip()
    if cx is None:
        problems.append("content/claims.xml missing")
    else:
        try:
            claims = parse_xml(cx, "claims.xml").findall("claim")
        except InvoiceError as exc:
            return _item("I3", Result.FAIL, f"content/claims.xml: {exc}")
        if not claims and not external:
            problems.append("no claim and no external reference: the approval record is missing")
        for c in claims:
            # h-render: "steps/*" reads both the schema record (step) and version 0 (item)
            actions = [(s.findtext("action") or "").lower() for s in c.iterfind("steps/*")]
            cid = c.findtext("id")
            for need in ("submit", "approve"):
                if not any(a.startswith(need) for a in actions):
                    problems.append(f"claim {cid}: no {need} step")
            evidence.append(f"claim {cid}: {len(actions)} steps ({', '.join(actions)})")
        if not claims:
            evidence.append(f"pushed by the accounting system, external reference {external}")
    return _verdict("I3", problems, "; ".join(evidence))


_scanner: tuple[float, str | None] = (0.0, None)


def _find_scanner() -> str | None:
    """clamdscan or clamscan on PATH, looked up at most once a minute."""
    global _scanner
    import time

    if time.monotonic() - _scanner[0] > 60:
        _scanner = (time.monotonic(), shutil.which("clamdscan") or shutil.which("clamscan"))
    return _scanner[1]


def malware_scan(root: Path, timeout: float = 300) -> CheckItem:
    """ClamAV when installed; otherwise ``not_run`` — never reported as passed."""
    exe = _find_scanner()
    if exe is None:
        return _item("S1", Result.NOT_RUN, "no malware scanner installed (clamdscan/clamscan not found)")
    args = [exe, "--no-summary", "--infected"]
    if exe.endswith("clamscan"):
        args.append("--recursive")
    else:
        args.append("--fdpass")
    try:
        proc = subprocess.run([*args, str(root)], capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return _item("S1", Result.NOT_RUN, f"{Path(exe).name} could not run: {exc}")
    name = Path(exe).name
    if proc.returncode == 0:
        return _item("S1", Result.PASS, f"{name}: no malware found")
    if proc.returncode == 1:
        return _item("S1", Result.FAIL, f"{name}: {proc.stdout.strip()[:500]}")
    return _item("S1", Result.NOT_RUN, f"{name} failed (exit {proc.returncode}): {proc.stderr.strip()[:300]}")


# --- with the database ------------------------------------------------------------------------


def series_gaps(session: Session, series: str, upto: int | None = None) -> list[str]:
    """件号 missing from a series (1..last issued, or 1..upto).

    Counting first keeps the common case (no gap) one cheap query however long the series.
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
    return problems + [f"{series}: 件号 {k:04d} missing" for k in range(1, last + 1) if k not in have]


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
