"""Benchmark: OFD e-seal verification throughput and raw SM2 speed beside gmssl.

Run: ``.venv/bin/python bench/verify.py [seconds-per-figure]``. Pinned to one CPU.

* full OFD verification (every reference digest, Seal.esl, dataHash, the seal maker's SM2
  signature and the signer's SM2 signature) over the signed samples, with the seal cache
  cleared before each file (cold) and kept (warm: the usual case, one seller's seal signs
  all its invoices);
* ``invoice.verify.verify`` (signatures + parsing + cross-checks) for comparison;
* raw SM2-with-SM3 verifications per second, ours and gmssl's ``CryptSM2.verify_with_sm3``,
  on the same (key, message, signature) triples taken from the samples.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from asn1crypto import x509  # noqa: E402

from invoice.ofd.package import OfdPackage  # noqa: E402
from invoice.verify import VerifyStatus, ses, sm2, verify, verify_signatures  # noqa: E402
from tests.samples import EXPECTED, OTHER, SAMPLES  # noqa: E402


def rate(fn: Callable[[], int], seconds: float) -> str:
    """Items per second of wall time and per second of this process's CPU time.

    The machine is shared, so wall time also counts other processes' turns on the core;
    CPU time is what one dedicated core would need.
    """
    fn()  # warm up (fixed-base table, imports)
    n = 0
    start, cpu0 = time.perf_counter(), time.process_time()
    while (elapsed := time.perf_counter() - start) < seconds:
        n += fn()
    cpu = time.process_time() - cpu0
    return f"{n / elapsed:8.1f}/s wall, {n / cpu:8.1f}/s CPU"


def signed_samples(invoices_only: bool) -> list[tuple[str, bytes]]:
    files = [SAMPLES / e["file"] for e in EXPECTED if e["signature"] == "present-valid"]
    if not invoices_only:
        files += sorted(OTHER.rglob("*.ofd"))
    out = []
    for f in files:
        data = f.read_bytes()
        sigs, _ = verify_signatures(data)
        if sigs and all(s.status is VerifyStatus.VALID for s in sigs):
            out.append((f.name, data))
    return out


def sm2_triples(samples: list[tuple[str, bytes]]) -> list[tuple[sm2.Point, bytes, tuple[int, int]]]:
    """(public key, signed message, (r, s)) of every V4 signature and seal in the samples."""
    triples = []
    for _name, data in samples:
        pkg = OfdPackage(data)
        for member in pkg.names():
            if not member.lower().endswith(".dat"):
                continue
            raw = pkg.read(member)
            if ses.detect(raw) != "v4":
                continue
            sig = ses.SESSignatureV4.load(raw)
            tbs = sig["to_sign"]
            pub = sm2.point_from_certificate(x509.Certificate.load(sig["cert"].native))
            triples.append((pub, tbs.dump(), sm2.decode_signature(ses._bits(sig["signature"]))))
            seal = tbs["eseal"]
            maker = sm2.point_from_certificate(x509.Certificate.load(seal["cert"].native))
            triples.append((maker, seal["e_seal_info"].dump(),
                            sm2.decode_signature(ses._bits(seal["signed_value"]))))
    return [t for t in triples if sm2.verify(*t)]


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 5.0
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    for label, invoices_only in (("signed invoices", True), ("all signed OFDs incl. bank receipts", False)):
        samples = signed_samples(invoices_only)
        n_sigs = sum(len(verify_signatures(d)[0]) for _n, d in samples)
        print(f"{label}: {len(samples)} files, {n_sigs} signatures (all valid)")

        def full_cold(samples: list[tuple[str, bytes]] = samples) -> int:
            for _n, d in samples:
                ses.clear_caches()
                verify_signatures(d)
            return len(samples)

        def full_warm(samples: list[tuple[str, bytes]] = samples) -> int:
            for _n, d in samples:
                verify_signatures(d)
            return len(samples)

        def with_checks(samples: list[tuple[str, bytes]] = samples) -> int:
            for _n, d in samples:
                verify(d)
            return len(samples)

        print(f"  full OFD verification, cold: no caches (2 SM2 each)  : {rate(full_cold, seconds)} files")
        print(f"  full OFD verification, warm: caches (1 SM2, key table): {rate(full_warm, seconds)} files")
        print(f"  verify() incl. parsing and cross-checks (warm)     : {rate(with_checks, seconds)} files")

    samples = signed_samples(True)
    triples = sm2_triples(samples)

    def ours() -> int:
        for pub, msg, rs in triples:
            sm2.clear_caches()  # like for like: no per-key table, u2·P by wNAF every time
            assert sm2.verify(pub, msg, rs)
        return len(triples)

    def ours_warm() -> int:
        for pub, msg, rs in triples:
            assert sm2.verify(pub, msg, rs)
        return len(triples)

    from gmssl import sm2 as gsm2

    gm = []
    crashed = 0
    for p, m, (r, s) in triples:
        crypt = gsm2.CryptSM2(private_key="", public_key=f"{p[0]:064x}{p[1]:064x}")
        sig_hex = f"{r:064x}{s:064x}"
        try:
            ok = crypt.verify_with_sm3(sig_hex, m)
        except TypeError:  # gmssl 3.2 hits the point at infinity on some valid signatures
            crashed += 1
            continue
        if ok:
            gm.append((crypt, m, sig_hex))
    if crashed:
        print(f"  (gmssl raised TypeError on {crashed} of {len(triples)} valid signatures; "
              "both sides are timed on the rest)")
    kept = {(m, h) for _c, m, h in gm}
    triples = [(p, m, (r, s)) for p, m, (r, s) in triples if (m, f"{r:064x}{s:064x}") in kept]

    def theirs() -> int:
        for crypt, msg, sig in gm:
            assert crypt.verify_with_sm3(sig, msg)
        return len(gm)

    print(f"raw SM2-with-SM3 verify (incl. Z_A and SM3 of the message), {len(triples)} real "
          "signatures from the signed invoices:")
    print(f"  invoice.verify.sm2 (no key table): {rate(ours, seconds)} verifications")
    print(f"  invoice.verify.sm2 (key tables)  : {rate(ours_warm, seconds)} verifications")
    print(f"  gmssl CryptSM2.verify_with_sm3   : {rate(theirs, seconds)} verifications")

    # the same comparison on 32-byte messages, where hashing is negligible for both
    d, pub = sm2.generate_keypair()
    short = [os.urandom(32) for _ in range(20)]
    signed = [(m, sm2.decode_signature(sm2.sign(d, m))) for m in short]
    gcrypt = gsm2.CryptSM2(private_key="", public_key=f"{pub[0]:064x}{pub[1]:064x}")
    gshort = []
    for m, (r, s) in signed:
        try:
            if gcrypt.verify_with_sm3(f"{r:064x}{s:064x}", m):
                gshort.append((m, f"{r:064x}{s:064x}"))
        except TypeError:  # the gmssl bug seen above
            continue

    def ours_short() -> int:
        for m, rs in signed:
            sm2.clear_caches()
            assert sm2.verify(pub, m, rs)
        return len(signed)

    def theirs_short() -> int:
        for m, sig_hex in gshort:
            assert gcrypt.verify_with_sm3(sig_hex, m)
        return len(gshort)

    print("raw SM2-with-SM3 verify on 32-byte messages, one key:")
    print(f"  invoice.verify.sm2 (no key table): {rate(ours_short, seconds)} verifications")
    print(f"  gmssl CryptSM2.verify_with_sm3   : {rate(theirs_short, seconds)} verifications")


if __name__ == "__main__":
    main()
