"""Shapes shared by the check steps: items, results, what the caller knows, what a step reads.

Modelled on pyHanko's validation steps: each item is one function taking a read-only view of
the package (folder, parsed manifest and metadata, file contents, the caller's context) and
returning a ``CheckItem`` whose evidence says what was looked at. Work several items share
(reading every file once, parsing and re-verifying each invoice once) is done lazily in the
view, so a step can be run alone (in tests) and still sees the same facts as in a full run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Any

from archive import manifest as mf
from archive import metadata as md
from core import messages
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
METADATA_ROOT = f"{{{md.NS}}}电子会计档案"
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


def make_item(item_id: str, result: Result, evidence: str | Iterable[str]) -> CheckItem:
    """One item with its evidence; long lists of problems are cut at ``MAX_EVIDENCE``."""
    prop, _name = ITEMS[item_id]
    if not isinstance(evidence, str):
        lines = list(evidence)
        more = len(lines) - MAX_EVIDENCE
        evidence = "; ".join(lines[:MAX_EVIDENCE]) + (f"; … and {more} more" if more > 0 else "")
    return CheckItem(item_id, prop.value, item_name(item_id), result, evidence)


def verdict(item_id: str, problems: list[str], ok_evidence: str) -> CheckItem:
    """``fail`` with the problems as evidence, or ``pass`` with what was checked."""
    return make_item(item_id, Result.FAIL, problems) if problems else make_item(item_id, Result.PASS, ok_evidence)


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


def read_file(root: Path, rel: str) -> bytes | None:
    try:
        return (root / rel).read_bytes()
    except OSError:
        return None


@dataclass(frozen=True)
class InvoiceFacts:
    """One invoice file parsed and verified again (shared by A3, A7 and U2)."""

    name: str
    number: str | None  # the number the file itself states; None when it does not parse
    parse_error: str | None
    status: str  # valid / invalid / unsigned / indeterminate


class PackageView:
    """A package folder as the steps read it: every file read once, each fact computed once."""

    def __init__(self, root: Path, ctx: CheckContext) -> None:
        self.root = root
        self.ctx = ctx

    @cached_property
    def manifest_bytes(self) -> bytes | None:
        return read_file(self.root, mf.MANIFEST_NAME)

    @cached_property
    def signature(self) -> bytes | None:
        return read_file(self.root, mf.SIGNATURE_NAME)

    @cached_property
    def _manifest(self) -> tuple[mf.Manifest | None, str | None]:
        if self.manifest_bytes is None:
            return None, "manifest.xml is missing"
        try:
            return mf.read_manifest(self.manifest_bytes), None
        except InvoiceError as exc:
            return None, str(exc)

    @property
    def manifest(self) -> mf.Manifest | None:
        return self._manifest[0]

    @property
    def manifest_error(self) -> str | None:
        return self._manifest[1]

    @cached_property
    def entries(self) -> dict[str, mf.FileEntry]:
        return self.manifest.by_path() if self.manifest else {}

    @cached_property
    def present(self) -> list[str]:
        """Every file in the folder but the manifest and its signature."""
        return [p for p in mf.list_files(self.root) if p not in CONTROL_FILES]

    @cached_property
    def _contents(self) -> tuple[dict[str, bytes], dict[str, mf.FileEntry], list[str]]:
        contents: dict[str, bytes] = {}  # package files are bounded in size
        actual: dict[str, mf.FileEntry] = {}
        unreadable: list[str] = []
        for rel in self.present:
            if (self.root / rel).is_symlink():
                unreadable.append(f"{rel}: is a symbolic link")
                continue
            data = read_file(self.root, rel)
            if data is None:
                unreadable.append(f"{rel}: cannot be read")
                continue
            contents[rel] = data
            actual[rel] = mf.digest_bytes(rel, data)
        return contents, actual, unreadable

    @property
    def contents(self) -> dict[str, bytes]:
        return self._contents[0]

    @property
    def actual(self) -> dict[str, mf.FileEntry]:
        """Size and digests of each readable file as it is now."""
        return self._contents[1]

    @property
    def unreadable(self) -> list[str]:
        return self._contents[2]

    @cached_property
    def metadata_bytes(self) -> bytes | None:
        return read_file(self.root, md.METADATA_NAME)

    @cached_property
    def _metadata(self) -> tuple[md.Metadata | None, str | None]:
        if self.metadata_bytes is None:
            return None, "metadata.xml is missing"
        try:
            meta = md.read_metadata(self.metadata_bytes)
            root = parse_xml(self.metadata_bytes, md.METADATA_NAME)
        except InvoiceError as exc:
            return None, f"metadata.xml: {exc}"
        if not md.is_metadata_root(root.tag):
            # well-formed but not our record: read_metadata gives an empty one, which is no reading
            return None, f"metadata.xml: root element {root.tag} is not {METADATA_ROOT} (DA/T 94 metadata)"
        return meta, None

    @property
    def metadata_error(self) -> str | None:
        return self._metadata[1]

    @property
    def meta(self) -> md.Metadata:
        """The metadata, or an empty one when it cannot be read (U1 reports that)."""
        return self._metadata[0] or md.Metadata()

    @cached_property
    def files_meta(self) -> dict[str, dict[str, str]]:
        return {f.get("文件名", ""): f for f in self.meta.files}

    @cached_property
    def inv_meta(self) -> dict[str, dict[str, str]]:
        return {i.get("文件名", ""): i for i in self.meta.invoices}

    @cached_property
    def invoices(self) -> dict[str, InvoiceFacts]:
        """Each invoice listed in the metadata and present: parsed and verified once."""
        out: dict[str, InvoiceFacts] = {}
        for name in self.inv_meta:
            data = self.contents.get(name)
            if data is None:
                continue  # I4
            sha = self.actual[name].sha256 if name in self.actual else ""
            cached = self.ctx.invoice_cache.get(sha)
            if cached is None:
                cached = parse_and_verify(data)
                if sha:
                    self.ctx.invoice_cache[sha] = cached
            number_or_error, status = cached
            if number_or_error is not None and number_or_error.startswith("error:"):
                out[name] = InvoiceFacts(name, None, number_or_error[6:], status)
            else:
                out[name] = InvoiceFacts(name, number_or_error, None, status)
        return out


def parse_and_verify(data: bytes) -> tuple[str | None, str]:
    """(invoice number, or ``"error:…"`` when it does not parse; verification status)."""
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


Step = Callable[[PackageView], CheckItem]
STEPS: dict[str, Step] = {}


def step(item_id: str) -> Callable[[Step], Step]:
    """Register the function that checks ``item_id`` (one function per item, no duplicates)."""
    if item_id not in ITEMS:
        raise ValueError(f"unknown check item {item_id}")

    def register(fn: Step) -> Step:
        if item_id in STEPS:
            raise ValueError(f"check item {item_id} registered twice")
        STEPS[item_id] = fn
        return fn

    return register


def run_steps(view: PackageView) -> list[CheckItem]:
    """Every registered step in report order; an item without a step is ``not_run``."""
    return [STEPS[i](view) if i in STEPS else make_item(i, Result.NOT_RUN, "no check registered")
            for i in ITEMS]
