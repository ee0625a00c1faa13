"""Benchmark: archive a fiscal year and export it.

    .venv/bin/python bench/archive.py [--vouchers 10000] [--invoices-per-voucher 3] [--home DIR]
                                      [--verify-export]

Phases, each in its own process so that each reports its own peak memory (ru_maxrss):

1. setup  — a posted year written straight into the database and the blob store (users,
   invoices, approved claims with their steps, posted vouchers with lines). The invoices are
   a realistic mix (``--mix realistic``, the default): of each voucher's invoices the first is a
   distinct 数电票 XML, the second an unsigned digital OFD (the real ``发票示例.ofd`` with a new
   number), the third on the first vouchers one of the real signed OFDs and PDFs of the corpus
   (each used once: an invoice is archived once) and XML after that. ``--mix xml`` keeps the
   old XML-only year. All are stored byte for byte in the content-addressed store, so every
   package really parses and verifies its own files (SM2 for the signed ones).
2. build  — ``archive.package.build_package`` for every voucher, one transaction each:
   gather, parse + verify each invoice, render XML/PDF, metadata, manifest, SM2 signature,
   the full four-property check of the temporary folder, rename into the store.
3. export — ``archive.export.export_year``: the four-property check of the whole year, then
   the BagIt bag with the 移交清册 (streaming).
4. verify (optional) — ``archive.export.verify_export`` on the bag, as a receiver would.

Prints packages/s, export time and peak memory per phase.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

YEAR = 2025
XML = """<?xml version="1.0" encoding="UTF-8"?>
<EInvoice>
  <Header><EIid>{number}</EIid><EInvoiceTag>SWEI1100</EInvoiceTag><Version>0.1</Version>
    <InherentLabel><GeneralOrSpecialVAT><LabelCode>02</LabelCode><LabelName>普通发票</LabelName></GeneralOrSpecialVAT></InherentLabel>
  </Header>
  <EInvoiceData>
    <SellerInformation><SellerIdNum>91440101MA5AL52Y44</SellerIdNum><SellerName>广州灵感之茶餐饮管理有限公司</SellerName></SellerInformation>
    <BuyerInformation><BuyerIdNum>91440106068698695J</BuyerIdNum><BuyerName>广州华栈天城科技有限公司</BuyerName></BuyerInformation>
    <BasicInformation><TotalAmWithoutTax>{amount}</TotalAmWithoutTax><TotalTaxAm>{tax}</TotalTaxAm>
      <TotalTax-includedAmount>{total}</TotalTax-includedAmount><Drawer>陈震瀚</Drawer><RequestTime>{day} 10:11:12</RequestTime></BasicInformation>
    <IssuItemInformation><ItemName>*餐饮服务*餐饮服务</ItemName><MeaUnits>次</MeaUnits><Quantity>1</Quantity>
      <UnPrice>{amount}</UnPrice><Amount>{amount}</Amount><TaxRate>0.06</TaxRate><ComTaxAm>{tax}</ComTaxAm>
      <TotaltaxIncludedAmount>{total}</TotaltaxIncludedAmount></IssuItemInformation>
  </EInvoiceData>
  <TaxSupervisionInfo><InvoiceNumber>{number}</InvoiceNumber><IssueTime>{day} 10:11:13</IssueTime><TaxBureauCode>11100000000</TaxBureauCode></TaxSupervisionInfo>
  <TaxBureauSignature><SignatureValue>MEUCIQ==&amp;MjAyNC0wNS0yOA==</SignatureValue><KeyInfo/></TaxBureauSignature>
</EInvoice>
"""


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _env(home: Path) -> None:
    from core.settings import Settings, override_settings

    override_settings(Settings(home=home, environment="test", org_name="广州华栈天城科技有限公司",
                               org_tax_id="91440106068698695J"))


def _fields(data: bytes) -> dict:
    """The registry columns of one real file, from the real parser and verifier."""
    import invoice
    from invoice.verify import verify

    inv = invoice.parse(data)
    return {"key": inv.key, "kind": str(inv.kind), "source_format": str(inv.source_format), "number": inv.number,
            "code": inv.code, "issue_date": date.fromisoformat(inv.issue_date) if inv.issue_date else None,
            "buyer_name": inv.buyer.name, "buyer_tax_id": inv.buyer.tax_id, "seller_name": inv.seller.name,
            "seller_tax_id": inv.seller.tax_id, "amount": inv.amount, "tax": inv.tax, "total": inv.total,
            "verification_status": str(verify(data, inv).status)}


def _real_files() -> list[tuple[bytes, dict]]:
    """The corpus's signed OFDs and PDFs with distinct invoice keys (each can be archived once)."""
    sys.path.append(str(ROOT / "bench"))
    from mix import PDFS, SIGNED_OFDS

    out, keys = [], set()
    for p in [*SIGNED_OFDS, *PDFS]:
        data = p.read_bytes()
        f = _fields(data)
        # an invoice without both tax ids fails 必要元数据齐全 (I1): it cannot be archived at all
        if f["key"] and f["key"] not in keys and f["buyer_tax_id"] and f["seller_tax_id"]:
            keys.add(f["key"])
            out.append((data, f))
    return out


_OFD_FIELDS: dict = {}


def _ofd_variant(template: bytes, n: int) -> tuple[bytes, dict]:
    """The unsigned OFD with a new number; its fields are the template's with that number."""
    sys.path.append(str(ROOT / "bench"))
    from mix import ofd_variant

    data = ofd_variant(template, 10_000_000 + n)
    if not _OFD_FIELDS:
        _OFD_FIELDS.update(_fields(data))
    number = f"24112{10_000_000 + n:015d}"
    return data, {**_OFD_FIELDS, "number": number, "key": number}


def setup(home: Path, vouchers: int, per: int, mix: str = "realistic") -> dict:
    _env(home)
    sys.path.append(str(ROOT / "bench"))
    from mix import UNSIGNED_OFD

    unsigned = UNSIGNED_OFD.read_bytes()
    reals = _real_files() if mix == "realistic" else []
    from accounting.claims import Claim, ClaimLine, ClaimStep
    from accounting.ledger import Voucher, VoucherClaim, VoucherInvoice, VoucherLine
    from archive import signing
    from core import db
    from core.blobstore import get_blobstore
    from core.users import create_user
    from invoice.registry import InvoiceRecord, StoredFile

    home.mkdir(parents=True, exist_ok=True)
    engine = db.make_engine()
    db.migrate(engine)
    db.set_engine(engine)
    signing.ensure_archive_key()
    with db.session_scope() as s:
        users = {r: create_user(s, r, r.rstrip("2")) for r in ("clerk", "approver", "approver2", "accountant", "archivist")}
    store = get_blobstore()
    t0 = time.perf_counter()
    base = 25442000000100000000
    seq_by_month: dict[int, int] = {}
    batch = 250
    for start in range(0, vouchers, batch):
        with db.session_scope() as s:
            for i in range(start, min(vouchers, start + batch)):
                month = i * 12 // vouchers + 1
                seq_by_month[month] = seq_by_month.get(month, 0) + 1
                day = date(YEAR, month, 1 + i % 28)
                at = datetime(YEAR, month, day.day, 9, tzinfo=UTC)
                claim = Claim(title=f"差旅费报销 {i}", claimant="clerk", claimant_id=users["clerk"].id,
                              department="财务部", purpose="出差", state="approved", total=Decimal("0.00"),
                              created_at=at, updated_at=at)
                s.add(claim)
                total = Decimal("0.00")
                inv_ids = []
                for j in range(per):
                    n = i * per + j
                    real = mix == "realistic" and j == 2 and reals
                    if mix == "realistic" and (j == 1 or real):
                        data, f = (reals.pop(0) if real else _ofd_variant(unsigned, n))
                        sha = store.put(data)
                        s.add(StoredFile(sha256=sha, size=len(data), content_type="application/octet-stream"))
                        rec = InvoiceRecord(sha256=sha, unique_sha256=sha, status="ok", uploaded_by="clerk",
                                            original_filename=f"{f['key']}.{f['source_format']}", size=len(data),
                                            data={}, verification={}, unique_key=f["key"], **f)
                        s.add(rec)
                        tot = Decimal(rec.total or 0)
                        inv_ids.append((rec.id, tot))
                        total += tot
                        continue
                    amount = Decimal(100 + n % 900) + Decimal(n % 100) / 100
                    tax = (amount * Decimal("0.06")).quantize(Decimal("0.01"))
                    tot = amount + tax
                    number = str(base + n)
                    data = XML.format(number=number, amount=amount, tax=tax, total=tot, day=day.isoformat()).encode()
                    sha = store.put(data)
                    s.add(StoredFile(sha256=sha, size=len(data), content_type="application/xml"))
                    rec = InvoiceRecord(key=number, unique_key=number, sha256=sha, unique_sha256=sha,
                                        kind="digital_ordinary", source_format="xml", number=number, issue_date=day,
                                        buyer_name="广州华栈天城科技有限公司", buyer_tax_id="91440106068698695J",
                                        seller_name="广州灵感之茶餐饮管理有限公司", seller_tax_id="91440101MA5AL52Y44",
                                        amount=amount, tax=tax, total=tot, data={}, verification_status="indeterminate",
                                        verification={}, status="ok", uploaded_by="clerk",
                                        original_filename=f"{number}.xml", size=len(data))
                    s.add(rec)
                    inv_ids.append((rec.id, tot))
                    total += tot
                claim.total = total
                s.flush()
                for j, (iid, tot) in enumerate(inv_ids):
                    s.add(ClaimLine(claim_id=claim.id, line_no=j + 1, invoice_id=iid, category="差旅费", amount=tot))
                for k, (action, actor, frm, to) in enumerate([("create", "clerk", None, "draft"),
                                                              ("submit", "clerk", "draft", "submitted"),
                                                              ("review", "approver", "submitted", "reviewed"),
                                                              ("approve", "approver2", "reviewed", "approved")]):
                    s.add(ClaimStep(claim_id=claim.id, seq=k + 1, action=action, from_state=frm, to_state=to,
                                    actor=actor, at=at + timedelta(hours=k)))
                sq = seq_by_month[month]
                v = Voucher(number=f"记-{YEAR}-{month:02d}-{sq:04d}", word="记", period=f"{YEAR}-{month:02d}", seq=sq,
                            date=day, summary=f"报销 clerk: 差旅费报销 {i}", state="posted", source="claims",
                            total_debit=total, total_credit=total, created_by="accountant",
                            created_at=at + timedelta(hours=5), posted_by="accountant",
                            posted_at=at + timedelta(hours=6), posting_flag="02")
                s.add(v)
                s.flush()
                claim.voucher_id = v.id
                s.add(VoucherLine(voucher_id=v.id, line_no=1, summary="差旅费", account_code="6602",
                                  account_name="管理费用", debit=total, credit=Decimal("0.00"), aux={}))
                s.add(VoucherLine(voucher_id=v.id, line_no=2, summary="差旅费", account_code="2241",
                                  account_name="其他应付款", debit=Decimal("0.00"), credit=total, aux={}))
                s.add(VoucherClaim(voucher_id=v.id, claim_id=claim.id))
                for iid, _tot in inv_ids:
                    s.add(VoucherInvoice(voucher_id=v.id, invoice_id=iid))
    return {"vouchers": vouchers, "invoices": vouchers * per, "seconds": round(time.perf_counter() - t0, 1),
            "peak_mb": round(peak_mb(), 1)}


def build(home: Path) -> dict:
    _env(home)
    from sqlmodel import col, select

    from accounting.ledger import Voucher
    from archive.package import build_package
    from core import db
    from core.users import get_user

    db.set_engine(db.make_engine())
    with db.session_scope() as s:
        ids = list(s.exec(select(Voucher.id).order_by(col(Voucher.period), col(Voucher.seq))).all())
        user = get_user(s, "archivist")
    assert user is not None
    t0 = time.perf_counter()
    c0 = time.process_time()
    for n, vid in enumerate(ids, 1):
        with db.session_scope() as s:
            build_package(s, user, vid)
        if n % 1000 == 0:
            el = time.perf_counter() - t0
            print(f"  built {n} packages, {n / el:.1f}/s, peak {peak_mb():.0f} MB", file=sys.stderr, flush=True)
    el = time.perf_counter() - t0
    cpu = time.process_time() - c0
    return {"packages": len(ids), "seconds": round(el, 1), "packages_per_s": round(len(ids) / el, 1),
            "cpu_seconds": round(cpu, 1), "packages_per_cpu_s": round(len(ids) / cpu, 1),
            "load": round(os.getloadavg()[0], 1), "peak_mb": round(peak_mb(), 1)}


def export(home: Path, out: Path) -> dict:
    _env(home)
    from archive.export import export_year
    from core import db
    from core.users import get_user

    db.set_engine(db.make_engine())
    with db.session_scope() as s:
        user = get_user(s, "archivist")
    assert user is not None
    from archive.store import CheckRun

    t0 = time.perf_counter()
    job = export_year(YEAR, out, user)
    el = time.perf_counter() - t0
    check_s = None
    with db.session_scope() as s:
        run = s.get(CheckRun, job.check_run_id) if job.check_run_id else None
        if run is not None:
            check_s = round((run.at - job.created_at).total_seconds(), 1)
    return {"status": job.status, "error": job.error, "packages": job.package_count, "bytes": job.total_size,
            "seconds": round(el, 1), "check_seconds": check_s, "bag": job.bag_path, "peak_mb": round(peak_mb(), 1)}


def verify(home: Path, bag: str) -> dict:
    _env(home)
    from archive.export import verify_export

    t0 = time.perf_counter()
    r = verify_export(Path(bag))
    return {"status": r["status"], "packages": r["packages"], "seconds": round(time.perf_counter() - t0, 1),
            "failed": [i["id"] for i in r["items"] if i["result"] == "fail"], "peak_mb": round(peak_mb(), 1)}


def _phase(args: list[str]) -> dict:
    out = subprocess.run([sys.executable, __file__, *args], check=False, capture_output=True, text=True)
    sys.stderr.write(out.stderr)
    if out.returncode != 0:
        raise SystemExit(f"phase {args[-1]} failed (exit {out.returncode})")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--vouchers", type=int, default=10000)
    p.add_argument("--invoices-per-voucher", type=int, default=3)
    p.add_argument("--home", type=Path)
    p.add_argument("--verify-export", action="store_true")
    p.add_argument("--mix", choices=["realistic", "xml"], default="realistic")
    p.add_argument("--only", default="setup,build,export",
                   help="phases to run on --home (e.g. export to re-export an archived year)")
    p.add_argument("--phase", choices=["setup", "build", "export", "verify"], help=argparse.SUPPRESS)
    p.add_argument("--bag", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.phase:
        home = a.home
        assert home is not None
        result = {"setup": lambda: setup(home, a.vouchers, a.invoices_per_voucher, a.mix), "build": lambda: build(home),
                  "export": lambda: export(home, home / "export"), "verify": lambda: verify(home, a.bag)}[a.phase]()
        print(json.dumps(result, ensure_ascii=False))
        return
    home = a.home or Path(tempfile.mkdtemp(prefix="fapiao-bench-"))
    os.environ.pop("DATABASE_URL", None) if not os.environ.get("DATABASE_URL") else None
    common = ["--home", str(home), "--vouchers", str(a.vouchers), "--invoices-per-voucher", str(a.invoices_per_voucher),
              "--mix", a.mix]
    print(f"home {home}; {a.vouchers} vouchers x {a.invoices_per_voucher} invoices; {os.cpu_count()} cores",
          flush=True)
    only = set(a.only.split(","))
    if "setup" in only:
        s = _phase([*common, "--phase", "setup"])
        print(f"setup : {s['invoices']} invoices, {s['vouchers']} posted vouchers in {s['seconds']} s "
              f"(peak {s['peak_mb']} MB)", flush=True)
    if "build" in only:
        b = _phase([*common, "--phase", "build"])
        print(f"build : {b['packages']} packages in {b['seconds']} s = {b['packages_per_s']} packages/s wall "
              f"({b['packages_per_cpu_s']} per CPU-second, one process; load average {b['load']}; "
              f"peak {b['peak_mb']} MB)", flush=True)
    if "export" not in only:
        return
    e = _phase([*common, "--phase", "export"])
    print(f"export: {e['status']} {e['packages']} packages, {e['bytes']} payload bytes in {e['seconds']} s "
          f"(four-property check of the year {e['check_seconds']} s, then the bag; peak {e['peak_mb']} MB) "
          f"{e['error'] or ''}", flush=True)
    if a.verify_export and e["bag"]:
        v = _phase([*common, "--phase", "verify", "--bag", e["bag"]])
        print(f"verify: {v['status']} {v['packages']} packages in {v['seconds']} s (peak {v['peak_mb']} MB) "
              f"failed={v['failed']}", flush=True)


if __name__ == "__main__":
    main()
