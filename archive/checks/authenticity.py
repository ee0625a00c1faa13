"""真实性 (authenticity): A1–A7.

The manifest signature (A1) comes first: every other item trusts the manifest only if it
holds. Digests (A2) and file properties (A7) are recomputed from the bytes, never taken from
the register; invoice signatures (A3) are verified again, not copied from filing.
"""

from __future__ import annotations

from archive import metadata as md
from archive import signing
from archive.checks.base import CheckItem, PackageView, Result, make_item, step, verdict
from archive.checks.usability import format_of
from archive.codes import parse_code
from archive.errors import ArchiveError
from core import orgkey


@step("A1")
def manifest_signature(view: PackageView) -> CheckItem:
    """The SM2-with-SM3 signature over manifest.xml verifies with a trusted archive key."""
    ctx = view.ctx
    if view.manifest_bytes is None or view.signature is None:
        missing = "manifest.xml" if view.manifest_bytes is None else "manifest.sig"
        return make_item("A1", Result.FAIL, f"{missing} is missing")
    if view.manifest is None:
        return make_item("A1", Result.FAIL, f"manifest.xml unreadable: {view.manifest_error}")
    keys = [k for k in (ctx.public_key, *ctx.trusted_keys) if k is not None]
    manifest_bytes, sig = view.manifest_bytes, view.signature
    signer = next((k for i, k in enumerate(keys) if k not in keys[:i]
                   and signing.verify(k, manifest_bytes, sig)), None)
    if signer is None:
        names = ", ".join(orgkey.fingerprint_sm3(k)[:16] + "…" for k in dict.fromkeys(keys)) or "none"
        return make_item("A1", Result.FAIL, "the SM2-with-SM3 signature over manifest.xml does not verify "
                                            f"with any trusted archive key (SM3 {names})")
    return make_item("A1", Result.PASS, "SM2-with-SM3 signature over manifest.xml verifies with archive "
                                        f"key SM3 {orgkey.fingerprint_sm3(signer)}")


@step("A2")
def file_digests(view: PackageView) -> CheckItem:
    """Size, SHA-256 and SM3 of every file listed in the manifest, recomputed."""
    problems = list(view.unreadable)
    for rel, e in view.entries.items():
        a = view.actual.get(rel)
        if a is None:
            continue  # missing: I4
        if a.size != e.size:
            problems.append(f"{rel}: size {a.size}, manifest says {e.size}")
        if a.sha256 != e.sha256:
            problems.append(f"{rel}: SHA-256 {a.sha256[:16]}… ≠ manifest {e.sha256[:16]}…")
        if a.sm3 != e.sm3:
            problems.append(f"{rel}: SM3 {a.sm3[:16]}… ≠ manifest {e.sm3[:16]}…")
    if view.manifest is None:
        problems.append("no readable manifest to compare with")
    return verdict("A2", problems, f"{len(view.entries)} files: size, SHA-256 and SM3 match the manifest")


@step("A3")
def invoice_signatures(view: PackageView) -> CheckItem:
    """Each invoice's signature verified again; ``invalid`` now, or a state other than filed, fails."""
    if not view.inv_meta:
        return make_item("A3", Result.NOT_APPLICABLE, "no invoices listed in the metadata")
    problems: list[str] = []
    ok: dict[str, int] = {}
    for name, facts in view.invoices.items():
        filed = view.inv_meta[name].get("签名状态", "")
        if facts.status == "invalid":
            problems.append(f"{name}: signature verification now says invalid (filed as {filed or '?'})")
        elif filed and facts.status != filed:
            problems.append(f"{name}: verification says {facts.status}, filed as {filed}")
        else:
            ok[facts.status] = ok.get(facts.status, 0) + 1
    note = ", ".join(f"{n} {s}" for s, n in sorted(ok.items()))
    extra = " (unsigned/indeterminate: authenticity rests on the tax platform check, 查验)" \
        if any(s in ok for s in ("unsigned", "indeterminate")) else ""
    return verdict("A3", problems, f"{len(view.inv_meta)} invoices verified again: {note}{extra}")


@step("A4")
def metadata_values(view: PackageView) -> CheckItem:
    """Every metadata value keeps its format, range, length and character rules (DA/T 94)."""
    meta = view.meta
    problems = md.value_problems(meta) if meta.package else ["no metadata to check"]
    count = len(meta.package) + sum(len(i) for i in meta.invoices) + sum(len(f) for f in meta.files)
    return verdict("A4", problems, f"{count} values well-formed and in range")


@step("A5")
def archival_code(view: PackageView) -> CheckItem:
    """The 档号 is well-formed and the same in the metadata, the manifest and the register."""
    problems: list[str] = []
    code = view.meta.package.get("档号", "")
    try:
        parse_code(code)
    except ArchiveError as exc:
        problems.append(exc.message)
    if view.manifest and view.manifest.archival_code != code:
        problems.append(f"manifest names 档号 {view.manifest.archival_code!r}, metadata {code!r}")
    expected = view.ctx.expected_code
    if expected is not None and code != expected:
        problems.append(f"metadata 档号 {code!r}, the register says {expected!r}")
    return verdict("A5", problems, f"档号 {code} well-formed and consistent with the manifest"
                                   + (" and the register" if expected else ""))


@step("A6")
def no_duplicates(view: PackageView) -> CheckItem:
    """No other live record for this 档号, voucher or invoice; no invoice listed twice."""
    if view.ctx.duplicate_problems is None:
        return make_item("A6", Result.NOT_APPLICABLE, view.ctx.duplicate_note)
    problems = list(view.ctx.duplicate_problems)
    keys = [f"{i.get('发票代码', '')}:{i.get('发票号码', '')}" for i in view.meta.invoices]
    problems += [f"invoice {k} listed twice" for k in sorted({k for k in keys if keys.count(k) > 1})]
    return verdict("A6", problems, "no other live record with this 档号, voucher or invoices")


@step("A7")
def file_properties(view: PackageView) -> CheckItem:
    """Size, digests and format in the metadata, and each invoice's number, match the files."""
    problems: list[str] = []
    listed = {**view.files_meta, **view.inv_meta}
    for name, f in listed.items():
        a = view.actual.get(name)
        if a is None:
            continue
        if f.get("大小") != str(a.size):
            problems.append(f"{name}: 大小 {f.get('大小')} but the file has {a.size} bytes")
        if f.get("SHA-256") != a.sha256:
            problems.append(f"{name}: SHA-256 in metadata differs from the file")
        if f.get("SM3") != a.sm3:
            problems.append(f"{name}: SM3 in metadata differs from the file")
        fmt = format_of(name, view.contents.get(name, b""))
        if f.get("格式") != fmt:
            problems.append(f"{name}: 格式 {f.get('格式')} but the content is {fmt}")
    for name, facts in view.invoices.items():
        if facts.number and view.inv_meta[name].get("发票号码") != facts.number:
            problems.append(f"{name}: 发票号码 {view.inv_meta[name].get('发票号码')} but the file says {facts.number}")
    return verdict("A7", problems, f"{len(listed)} file entries match size, digests, format and invoice number")


