"""XML invoice reading: files per second, ours next to four ``findtext`` calls.

Run: ``.venv/bin/python bench/xml.py [--seconds S] [--root CHECKOUT]``

Two input sets:
  samples    the hand-made 数电票 fixtures and the ``original_invoice.xml`` members of the
             sample OFDs (the set ``bench/parse.py`` uses; two of them list 100 goods lines)
  generated  500 数电票 XMLs made here from the fixture's element names: 1-8 lines each,
             random amounts and rates (13/9/6/3/1 %, 免税), every one a different invoice

Implementations:
  ours      ``invoice.parse``: format detection, the hardened parser (``invoice.xmlsafe``: no
            DTD, no entities, size limits), the full normalised ``Invoice``, canonical keys
  reader    ``invoice.xml.parse_xml_invoice`` alone (the hardened parse and the reading)
  findtext  lxml ``fromstring`` + four ``findtext(".//{*}…")`` calls: the floor, with no checks

Each (set, implementation) runs in its own process pinned to one CPU, round robin over the
set for ``--seconds``; files/s is wall clock, files/CPU-s divides by the process's CPU time
(steadier on a busy machine). ``--root`` measures another checkout's ``invoice`` package
(e.g. an older commit unpacked with ``git archive``) on the same inputs.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = (ROOT.parent / "shared" / "samples").resolve()
FIXTURES = ROOT / "tests" / "invoice" / "fixtures"
TARGET = 5000


def sample_inputs() -> list[bytes]:
    out = [p.read_bytes() for p in sorted(FIXTURES.glob("digital_*.xml")) if "no_total" not in p.name]
    for p in sorted((SAMPLES / "invoices").glob("*/*.ofd")):
        with zipfile.ZipFile(p) as z:
            out.extend(z.read(n) for n in z.namelist() if n.endswith("original_invoice.xml"))
    return out


_RATES = ("0.13", "0.09", "0.06", "0.03", "0.01", "免税")


def generated_inputs(n: int = 500, seed: int = 20240528) -> list[bytes]:
    """数电票 XMLs in the fixture's shape, each a different invoice whose sums add up."""
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        lines, total_amount, total_tax = [], 0, 0
        for j in range(rnd.randint(1, 8)):
            cents = rnd.randint(100, 5_000_000)
            rate = rnd.choice(_RATES)
            tax = 0 if rate == "免税" else round(cents * float(rate))
            total_amount, total_tax = total_amount + cents, total_tax + tax
            lines.append(
                f"<IssuItemInformation><ItemName>*服务*项目{j}</ItemName><SpecMod>M{j}</SpecMod>"
                f"<MeaUnits>次</MeaUnits><Quantity>1</Quantity><UnPrice>{cents / 100:.2f}</UnPrice>"
                f"<Amount>{cents / 100:.2f}</Amount><TaxRate>{rate}</TaxRate>"
                f"<ComTaxAm>{tax / 100:.2f}</ComTaxAm>"
                f"<TotaltaxIncludedAmount>{(cents + tax) / 100:.2f}</TotaltaxIncludedAmount>"
                "</IssuItemInformation>")
        number = f"2444{rnd.randint(0, 10**16 - 1):016d}"
        day = f"2024-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}"
        xml = (
            '<?xml version="1.0" encoding="UTF-8"?><EInvoice><Header>'
            f"<EIid>{number}</EIid><EInvoiceTag>SWEI4400</EInvoiceTag><Version>0.1</Version>"
            "<InherentLabel><GeneralOrSpecialVAT><LabelCode>02</LabelCode>"
            "<LabelName>普通发票</LabelName></GeneralOrSpecialVAT></InherentLabel></Header>"
            "<EInvoiceData><SellerInformation><SellerIdNum>91440101MA5AL52Y44</SellerIdNum>"
            f"<SellerName>销售方{i}有限公司</SellerName></SellerInformation>"
            "<BuyerInformation><BuyerIdNum>91440106068698695J</BuyerIdNum>"
            "<BuyerName>广州华栈天城科技有限公司</BuyerName></BuyerInformation>"
            f"<BasicInformation><TotalAmWithoutTax>{total_amount / 100:.2f}</TotalAmWithoutTax>"
            f"<TotalTaxAm>{total_tax / 100:.2f}</TotalTaxAm><TotalTax-includedAmount>"
            f"{(total_amount + total_tax) / 100:.2f}</TotalTax-includedAmount>"
            f"<Drawer>开票人</Drawer><RequestTime>{day} 10:11:12</RequestTime>"
            f"</BasicInformation>{''.join(lines)}<AdditionalInformation><Remark>备注{i}</Remark>"
            "</AdditionalInformation></EInvoiceData><TaxSupervisionInfo>"
            f"<InvoiceNumber>{number}</InvoiceNumber><IssueTime>{day} 10:11:13</IssueTime>"
            "</TaxSupervisionInfo></EInvoice>")
        out.append(xml.encode())
    return out


def implementation(name: str) -> Callable[[bytes], Any]:
    if name == "ours":
        from invoice import parse

        return parse
    if name == "reader":
        from invoice.xml import parse_xml_invoice

        return parse_xml_invoice
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    tags = ("InvoiceNumber", "TotalTax-includedAmount", "InvoiceNo", "TaxInclusiveTotalAmount")

    def findtext(data: bytes) -> dict[str, Any]:
        root = etree.fromstring(data, parser=parser)
        return {t: root.findtext(f".//{{*}}{t}") for t in tags}

    return findtext


def worker(input_set: str, impl: str, seconds: float) -> dict[str, Any]:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[-1]})
    inputs = sample_inputs() if input_set == "samples" else generated_inputs()
    fn = implementation(impl)
    for data in inputs:  # warm up and prove every file reads
        fn(data)
    n = 0
    cpu0, t0 = time.process_time(), time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for data in inputs:
            fn(data)
        n += len(inputs)
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    return {"set": input_set, "impl": impl, "files": len(inputs), "parses": n,
            "files_per_s": n / wall, "files_per_cpu_s": n / cpu}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--root", type=Path, default=ROOT,
                    help="checkout whose invoice package is measured (default: this one)")
    ap.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        input_set, impl, seconds = args.worker
        print(json.dumps(worker(input_set, impl, float(seconds))))
        return
    env = dict(os.environ, PYTHONPATH=f"{args.root.resolve()}{os.pathsep}{ROOT}")
    rows = []
    for input_set in ("samples", "generated"):
        for impl in ("ours", "reader", "findtext"):
            proc = subprocess.run([sys.executable, __file__, "--worker", input_set, impl,
                                   str(args.seconds)], capture_output=True, text=True, env=env,
                                  cwd=args.root)
            if proc.returncode != 0:
                raise SystemExit(f"worker {input_set}/{impl} failed:\n{proc.stderr}")
            rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
            print(f"  ran {input_set}/{impl}", file=sys.stderr)
    load = os.getloadavg()
    print(f"\nXML reading, one CPU each, {args.seconds:g} s per row; code: {args.root.resolve()}; "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs")
    head = (f"{'inputs':<10} {'impl':<9} {'files':>5} {'files/s':>9} {'files/CPU-s':>12} "
            f"{'vs findtext (CPU)':>18}")
    print(head)
    print("-" * len(head))
    floor = {r["set"]: r["files_per_cpu_s"] for r in rows if r["impl"] == "findtext"}
    for r in rows:
        print(f"{r['set']:<10} {r['impl']:<9} {r['files']:>5} {r['files_per_s']:>9.0f} "
              f"{r['files_per_cpu_s']:>12.0f} {r['files_per_cpu_s'] / floor[r['set']]:>17.2f}x")
    print(f"\ntarget: ours >= {TARGET} files/s. files/CPU-s is what one free core gives; "
          "files/s also counts the time other processes took the core.")


if __name__ == "__main__":
    main()
