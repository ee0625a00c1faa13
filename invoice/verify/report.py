"""Verification results: frozen dataclasses with raw facts beside the verdict.

Shaped after pyHanko's validation status objects: each signature keeps what was found
(format, certificate, seal, signing time, each reference's digest) next to the derived
``status``, and ``to_dict()`` gives the JSON the CLI and the API return. A rule that fails is
a value here, never an exception.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from invoice.verify.ses import CertInfo, SealInfo


class VerifyStatus(StrEnum):
    VALID = "valid"  # every signature and digest holds
    INVALID = "invalid"  # a digest or a signature fails: the file was changed after signing
    UNSIGNED = "unsigned"  # no signature in the file
    INDETERMINATE = "indeterminate"  # a signature is present but could not be evaluated


class CheckResult(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    WARN = "warn"
    NOT_APPLICABLE = "not_applicable"


class RefResult(StrEnum):
    OK = "ok"
    MISMATCH = "mismatch"  # digest differs: the member was changed
    MISSING = "missing"  # the signed member is gone
    UNSUPPORTED = "unsupported"  # unknown digest method: cannot tell


class Severity(StrEnum):
    FAIL = "fail"  # makes the file invalid
    INDETERMINATE = "indeterminate"  # the verdict cannot be reached
    NOTE = "note"  # worth showing, changes nothing


@dataclass(frozen=True)
class Issue:
    """A finding a person reads: a stable ``code`` (catalogued in ``core.messages``) and its
    parameters; ``message`` is the Chinese text, ``to_dict`` carries both for the page."""

    code: str
    severity: Severity
    params: tuple[tuple[str, str], ...] = ()

    @property
    def message(self) -> str:
        from core import messages

        return messages.text(self.code, **dict(self.params))

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "severity": self.severity.value, "params": dict(self.params),
                "message": self.message}


@dataclass(frozen=True)
class Check:
    """One cross-check on the invoice's content (not its signature)."""

    id: str
    result: CheckResult
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"id": self.id, "result": self.result.value, "message": self.message}


@dataclass(frozen=True)
class ReferenceCheck:
    """One signed member: its path, the digest the signer recorded and what the file holds."""

    path: str
    method: str
    result: RefResult
    expected: str | None = None  # base64 as in Signature.xml
    actual: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "method": self.method,
            "result": self.result.value,
            "expected": self.expected,
            "actual": self.actual,
        }


@dataclass(frozen=True)
class SignatureReport:
    """One signature of a file (an OFD ``Signature.xml`` or a PDF signature field)."""

    id: str
    location: str  # Signature.xml path or PDF field name
    status: VerifyStatus
    format: str | None = None
    version: int | None = None
    signature_type: str | None = None  # OFD "Seal" | "Sign"; PDF "CMS"
    provider: str | None = None
    signature_algorithm: str | None = None
    signer: CertInfo | None = None
    seal: SealInfo | None = None
    signing_time: str | None = None
    references: tuple[ReferenceCheck, ...] = ()
    data_hash_ok: bool | None = None  # SignedValue commits to this Signature.xml
    seal_file_ok: bool | None = None  # Seal.esl equals the seal inside (None: no Seal.esl)
    signature_ok: bool | None = None  # the cryptographic signature itself
    trusted: bool | None = None  # chain to a configured trust root (never, without roots)
    reasons: tuple[str, ...] = ()  # why the status is not "valid", or notes
    issues: tuple[Issue, ...] = ()  # coded findings for people (e.g. references_too_many)

    @property
    def tampered_members(self) -> list[str]:
        return [r.path for r in self.references if r.result in (RefResult.MISMATCH, RefResult.MISSING)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "location": self.location,
            "status": self.status.value,
            "format": self.format,
            "version": self.version,
            "type": self.signature_type,
            "provider": self.provider,
            "signature_algorithm": self.signature_algorithm,
            "signer": self.signer.to_dict() if self.signer else None,
            "seal": self.seal.to_dict() if self.seal else None,
            "signing_time": self.signing_time,
            "references": [r.to_dict() for r in self.references],
            "data_hash_ok": self.data_hash_ok,
            "seal_file_ok": self.seal_file_ok,
            "signature_ok": self.signature_ok,
            "trusted": self.trusted,
            "reasons": list(self.reasons),
            "issues": [i.to_dict() for i in self.issues],
        }


def combine(statuses: list[VerifyStatus]) -> VerifyStatus:
    """The file's status from its signatures': any invalid wins, then any indeterminate."""
    if not statuses:
        return VerifyStatus.UNSIGNED
    if VerifyStatus.INVALID in statuses:
        return VerifyStatus.INVALID
    if VerifyStatus.INDETERMINATE in statuses:
        return VerifyStatus.INDETERMINATE
    return VerifyStatus.VALID


@dataclass(frozen=True)
class FieldCoverage:
    """Which signature protects one field: where the value was read (``location``, members
    joined by " + "; for PDF "revision N, page P") and the signature covering all of it."""

    field: str
    location: str
    covered_by: str | None  # signature id, None when no verified signature covers it
    status: str = "signed"  # signed | unsigned | mismatch

    def to_dict(self) -> dict[str, Any]:
        return {"field": self.field, "location": self.location, "covered_by": self.covered_by,
                "status": self.status}


@dataclass(frozen=True)
class PartCoverage:
    """A part of the document a reader displays (Document.xml, page, template, annotation)."""

    member: str
    role: str  # document | page | template | annotation
    covered_by: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"member": self.member, "role": self.role, "covered_by": self.covered_by}


@dataclass(frozen=True)
class VerificationReport:
    """Everything ``verify`` found about one file."""

    status: VerifyStatus
    sha256: str
    signatures: tuple[SignatureReport, ...] = ()
    checks: tuple[Check, ...] = ()
    problems: tuple[str, ...] = ()
    file: str | None = None
    online: dict[str, Any] | None = field(default=None)
    coverage: tuple[FieldCoverage, ...] = ()  # signed files: field -> covering signature
    parts: tuple[PartCoverage, ...] = ()  # signed OFDs: displayed parts -> covering signature
    issues: tuple[Issue, ...] = ()  # coded findings for people (Chinese via core.messages)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {}
        if self.file is not None:
            d["file"] = self.file
        d.update(
            {
                "sha256": self.sha256,
                "status": self.status.value,
                "signatures": [s.to_dict() for s in self.signatures],
                "checks": [c.to_dict() for c in self.checks],
                "problems": list(self.problems),
                "issues": [i.to_dict() for i in self.issues],
                "coverage": [c.to_dict() for c in self.coverage],
                "parts": [p.to_dict() for p in self.parts],
            }
        )
        if self.online is not None:
            d["online"] = self.online
        return d

    def summary(self) -> str:
        """A few lines for people (the CLI's readable output)."""
        lines = [f"{self.file or self.sha256[:12]}: {self.status.value}"]
        for s in self.signatures:
            who = s.seal.name if s.seal and s.seal.name else (s.signer.subject if s.signer else s.location)
            fmt = f" [{s.format}]" if s.format else ""
            lines.append(f"  signature {s.id}{fmt} {s.status.value}: {who}")
            lines.extend(f"    - {r}" for r in s.reasons)
        for c in self.checks:
            if c.result in (CheckResult.FAIL, CheckResult.WARN):
                lines.append(f"  check {c.id}: {c.result.value}: {c.message}")
        lines.extend(f"  problem: {p}" for p in self.problems)
        lines.extend(f"  {i.severity.value}: {i.message}" for i in self.issues
                     if i.severity is not Severity.NOTE)
        return "\n".join(lines)
