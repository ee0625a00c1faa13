"""完整性 (integrity): I1–I5.

Required metadata (I1), an unbroken 件号 series (I2, from the register the caller passes in),
the process records that make a voucher a record (I3: submission and approval of each claim,
or the accounting system's reference, and the posting), and a one-to-one match between the
files, the manifest and the metadata (I4, I5).
"""

from __future__ import annotations

from archive import metadata as md
from archive.checks.base import CheckItem, PackageView, Result, make_item, read_file, step, verdict
from invoice.errors import InvoiceError
from invoice.xmlsafe import parse_xml


@step("I1")
def required_metadata(view: PackageView) -> CheckItem:
    """Every element DA/T 94 (as this project applies it) requires is present and not empty."""
    problems = md.missing_required(view.meta) if view.metadata_bytes is not None else ["metadata.xml missing"]
    return verdict("I1", problems, f"all required elements present ({len(md.PACKAGE_ELEMENTS)} per package, "
                                   f"{len(md.INVOICE_ELEMENTS)} per invoice, {len(md.FILE_ELEMENTS)} per file)")


@step("I2")
def item_sequence(view: PackageView) -> CheckItem:
    """No 件号 missing from the series (the register's facts, passed in by the caller)."""
    if view.ctx.gap_problems is None:
        return make_item("I2", Result.NOT_APPLICABLE, "no register of the series to compare with")
    return verdict("I2", view.ctx.gap_problems, "件号 sequence of the series has no gaps")


@step("I3")
def process_records(view: PackageView) -> CheckItem:
    """The posting (who, when) and, per claim, its submit and approve steps are recorded."""
    problems: list[str] = []
    evidence: list[str] = []
    vx = read_file(view.root, "content/voucher.xml")
    if vx is None:
        return make_item("I3", Result.FAIL, "content/voucher.xml (the voucher and its posting) is missing")
    try:
        v = parse_xml(vx, "voucher.xml")
    except InvoiceError as exc:
        return make_item("I3", Result.FAIL, f"content/voucher.xml: {exc}")
    for field_name in ("posted_at", "posted_by", "created_by"):
        el = v.find(field_name)
        if el is None or not (el.text or "").strip():
            problems.append(f"voucher.xml: {field_name} missing (posting record)")
    evidence.append(f"posted by {v.findtext('posted_by')} at {v.findtext('posted_at')}")
    cx = read_file(view.root, "content/claims.xml")
    external = (v.findtext("external_ref") or "").strip()
    if cx is None:
        problems.append("content/claims.xml missing")
    else:
        try:
            claims = parse_xml(cx, "claims.xml").findall("claim")
        except InvoiceError as exc:
            return make_item("I3", Result.FAIL, f"content/claims.xml: {exc}")
        if not claims and not external:
            problems.append("no claim and no external reference: the approval record is missing")
        for c in claims:
            # "steps/*": the list's children, whatever the schema version names them
            actions = [(s.findtext("action") or "").lower() for s in c.iterfind("steps/*")]
            cid = c.findtext("id")
            for need in ("submit", "approve"):
                if not any(a.startswith(need) for a in actions):
                    problems.append(f"claim {cid}: no {need} step")
            evidence.append(f"claim {cid}: {len(actions)} steps ({', '.join(actions)})")
        if not claims:
            evidence.append(f"pushed by the accounting system, external reference {external}")
    return verdict("I3", problems, "; ".join(evidence))


@step("I4")
def entries_have_files(view: PackageView) -> CheckItem:
    """Every file the manifest or the metadata lists is in the folder."""
    listed = {**view.files_meta, **view.inv_meta}
    problems = [f"{rel}: in the manifest but missing" for rel in view.entries if rel not in view.actual]
    problems += [f"{n}: in the metadata but missing" for n in listed if n not in view.actual]
    return verdict("I4", problems, f"all {len(view.entries)} manifest and {len(listed)} "
                                   "metadata entries have their file")


@step("I5")
def files_have_entries(view: PackageView) -> CheckItem:
    """Every file in the folder is listed in the manifest and (but metadata.xml) in the metadata."""
    problems = [f"{rel}: present but not in the manifest" for rel in view.present if rel not in view.entries]
    problems += [f"{rel}: present but not in the metadata" for rel in view.present
                 if rel != md.METADATA_NAME and rel not in view.files_meta and rel not in view.inv_meta]
    return verdict("I5", problems, f"all {len(view.present)} files are in the manifest and the metadata")
