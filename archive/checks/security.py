"""安全性 (security): S1–S3.

Malware (S1, ClamAV, see ``archive.checks.malware``), fixity since filing (S2: the manifest's
SHA-256 against the digest the register recorded when the package was filed — the manifest
carries every file's digests, so one digest covers the package) and write-once storage (S3:
no write permission on the package folder or anything in it, in the store only).
"""

from __future__ import annotations

import hashlib

from archive.checks.base import CheckItem, PackageView, Result, make_item, step, verdict


@step("S1")
def malware(view: PackageView) -> CheckItem:
    """ClamAV over the package folder; ``not_run`` when not requested or no scanner."""
    if not view.ctx.scan:
        return make_item("S1", Result.NOT_RUN, "scan not requested")
    # looked up at call time: callers and tests replace check.malware_scan
    from archive import check

    return check.malware_scan(view.root)


@step("S2")
def fixity(view: PackageView) -> CheckItem:
    """The manifest is byte for byte the one recorded at filing."""
    recorded = view.ctx.recorded_manifest_sha256
    if recorded is None:
        return make_item("S2", Result.NOT_APPLICABLE, "at filing: the fixity digest is recorded now")
    if view.manifest_bytes is None:
        return make_item("S2", Result.FAIL, "manifest.xml missing: fixity cannot hold")
    now = hashlib.sha256(view.manifest_bytes).hexdigest()
    problems = [] if now == recorded else [f"manifest SHA-256 {now[:16]}… ≠ {recorded[:16]}… recorded at filing"]
    return verdict("S2", problems, f"manifest SHA-256 {now[:16]}… as recorded at filing")


@step("S3")
def write_once(view: PackageView) -> CheckItem:
    """In the store, nothing in the package folder is writable (by owner, group or others)."""
    if not view.ctx.write_once:
        return make_item("S3", Result.NOT_APPLICABLE,
                         "not in the archive store (filing in progress or a received copy)")
    root = view.root
    writable = [p.relative_to(root).as_posix() or "." for p in [root, *root.rglob("*")]
                if p.stat().st_mode & 0o222]
    return verdict("S3", [f"{w}: writable" for w in writable],
                   "package folder and files are read-only in the write-once store")
