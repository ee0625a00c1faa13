"""A realistic mix of invoice files for the benches: what an office's inbox really holds.

Per 20 files (the cycle repeats; numbers differ on every round):

==========  =====  ====================================================================
share       files  what
==========  =====  ====================================================================
45 %        9      数电票 XML, each a distinct invoice (new 20-digit number, amount, seller)
15 %        3      unsigned digital OFD (the real ``发票示例.ofd`` with its number changed)
10 %        2      **signed** OFD: the real signed samples byte for byte (SM2/SES verification
                   runs in full; after the first round they are duplicates of themselves)
10 %        2      PDF 数电票: the real PDF samples (text layout, QR code, revisions)
5 %         1      an exact re-upload of an earlier XML (same SHA-256)
5 %         1      the same invoice as an earlier XML in another file (same number, new bytes)
10 %        2      bad files: a truncated OFD zip, random bytes named ``.pdf``
==========  =====  ====================================================================

Every file goes through the whole pipeline (sandboxed parse and verify come before the
duplicate screen), so duplicates and bad files cost what they cost in production. The corpus
holds only 7 genuinely signed OFDs and 5 PDFs, so those rows repeat; the README says so.
"""

from __future__ import annotations

import io
import random
import zipfile
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT.parent / "shared" / "samples" / "invoices"
UNSIGNED_OFD = SAMPLES / "ofdrw__ofdrw" / "发票示例.ofd"
UNSIGNED_NO = b"24112000000048542163"
SIGNED_OFDS = [SAMPLES / "ofdrw__ofdrw" / n for n in
               ("1.ofd", "999.ofd", "SignScaleError.ofd", "draw_param_ref.ofd", "keyword2.ofd", "v4signed.ofd")] + [
    SAMPLES / "renoyuan__easyofd" / "增值税电子专票5.ofd"]
PDFS = [SAMPLES / "MARSCHEN-CN__FapiaoGO" / "test.pdf", SAMPLES / "ljfdufe__fapiao-print" / "7.22底座.pdf",
        SAMPLES / "renoyuan__easyofd" / "test.pdf", SAMPLES / "renoyuan__easyofd" / "blob-8295d3f8-test.pdf",
        SAMPLES / "renoyuan__easyofd" / "blob-cc0d1a40-test.pdf"]
ORG_NAME = "无锡天鹏菜篮子工程有限公司"
ORG_TAX_ID = "91320200796148368W"
SELLERS = [("91440101MA5AL52Y44", "广州灵感之茶餐饮管理有限公司"),
           ("92320213MACRYAKN16", "梁溪苏翼智能产品中心"),
           ("91440106068698695J", "广州华栈天城科技有限公司")]

XML = """<?xml version="1.0" encoding="UTF-8"?>
<EInvoice>
  <Header><EIid>{number}</EIid>
    <InherentLabel><GeneralOrSpecialVAT><LabelCode>02</LabelCode><LabelName>普通发票</LabelName></GeneralOrSpecialVAT></InherentLabel>
  </Header>
  <EInvoiceData>
    <SellerInformation><SellerIdNum>{seller_id}</SellerIdNum><SellerName>{seller}</SellerName></SellerInformation>
    <BuyerInformation><BuyerIdNum>{buyer_id}</BuyerIdNum><BuyerName>{buyer}</BuyerName></BuyerInformation>
    <BasicInformation>
      <TotalAmWithoutTax>{amount}</TotalAmWithoutTax><TotalTaxAm>{tax}</TotalTaxAm>
      <TotalTax-includedAmount>{total}</TotalTax-includedAmount>
      <Drawer>压测</Drawer><RequestTime>{date} 10:11:12</RequestTime>
    </BasicInformation>
    <IssuItemInformation>
      <ItemName>*办公用品*打印纸</ItemName><MeaUnits>箱</MeaUnits><Quantity>1</Quantity><UnPrice>{amount}</UnPrice>
      <Amount>{amount}</Amount><TaxRate>0.13</TaxRate><ComTaxAm>{tax}</ComTaxAm><TotaltaxIncludedAmount>{total}</TotaltaxIncludedAmount>
    </IssuItemInformation>
  </EInvoiceData>
  <TaxSupervisionInfo><InvoiceNumber>{number}</InvoiceNumber><IssueTime>{date} 10:11:13</IssueTime><TaxBureauCode>13200000000</TaxBureauCode></TaxSupervisionInfo>
  <TaxBureauSignature><SignatureValue>MEUCIQ==&amp;MjAyNS0wNy0yMg==</SignatureValue><KeyInfo/></TaxBureauSignature>
</EInvoice>
"""


def xml_invoice(i: int, rng: random.Random) -> bytes:
    number = f"2532200000{i:010d}"
    amount = Decimal(rng.randint(1000, 500000)) / 100
    tax = (amount * Decimal("0.13")).quantize(Decimal("0.01"))
    seller_id, seller = SELLERS[i % len(SELLERS)]
    xml = XML.format(number=number, seller_id=seller_id, seller=seller, buyer_id=ORG_TAX_ID, buyer=ORG_NAME,
                     amount=amount, tax=tax, total=amount + tax, date=f"2025-{1 + i % 12:02d}-{1 + i % 28:02d}")
    return xml.encode("utf-8")


def ofd_variant(template: bytes, i: int) -> bytes:
    """The unsigned OFD sample with a new 20-digit number in every XML member."""
    number = f"24112{i:015d}".encode()
    src = zipfile.ZipFile(io.BytesIO(template))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.lower().endswith(".xml"):
                data = data.replace(UNSIGNED_NO, number)
            z.writestr(info, data)
    return out.getvalue()


def make_mix(n: int, seed: int = 7, start: int = 0) -> Iterator[tuple[str, bytes, str]]:
    """``n`` files as (name, bytes, category); ``start`` offsets the numbers (several runs)."""
    rng = random.Random(seed + start)
    unsigned = UNSIGNED_OFD.read_bytes()
    signed = [p.read_bytes() for p in SIGNED_OFDS]
    pdfs = [p.read_bytes() for p in PDFS]
    recent: list[bytes] = []  # the last XML files, for the duplicate rows
    for k in range(n):
        i = start + k
        slot = i % 20
        if slot <= 8:
            data = xml_invoice(i, rng)
            recent = [*recent[-49:], data]
            yield f"{i:08d}.xml", data, "xml"
        elif slot <= 11:
            yield f"{i:08d}.ofd", ofd_variant(unsigned, i + 1), "ofd"
        elif slot <= 13:
            yield f"{i:08d}-signed.ofd", signed[(i // 20 * 2 + slot - 12) % len(signed)], "signed_ofd"
        elif slot <= 15:
            yield f"{i:08d}.pdf", pdfs[(i // 20 * 2 + slot - 14) % len(pdfs)], "pdf"
        elif slot == 16:
            yield f"{i:08d}-again.xml", rng.choice(recent), "dup_bytes"
        elif slot == 17:
            yield f"{i:08d}-copy.xml", recent[-1].replace(b"\n", b"\r\n"), "dup_invoice"
        elif slot == 18:
            yield f"{i:08d}-truncated.ofd", unsigned[: len(unsigned) // 3], "bad"
        else:
            yield f"{i:08d}-noise.pdf", rng.randbytes(4096), "bad"


def write_mix(folder: Path, n: int, seed: int = 7, start: int = 0, per_dir: int = 500) -> dict[str, int]:
    """Write the mix into nested folders; returns how many files of each category."""
    counts: dict[str, int] = {}
    for k, (name, data, cat) in enumerate(make_mix(n, seed, start)):
        d = folder / f"d{k // per_dir:04d}"
        d.mkdir(parents=True, exist_ok=True)
        (d / name).write_bytes(data)
        counts[cat] = counts.get(cat, 0) + 1
    return counts
