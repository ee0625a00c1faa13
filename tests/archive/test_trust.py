"""Pinned archive trust: a re-signed export fails against the pinned key; rotation keeps old packages.

The attack (issue 10): change a record in an exported year, re-sign every manifest with a new
key, swap the certificate (and the key history), fix the 移交清册 and rebag. Internally the bag
is then consistent, so only the fingerprint the receiver got out of band can expose it.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import bagit
import pytest
from openpyxl import load_workbook

from api.cli import main
from archive import export, package
from archive import manifest as mf
from archive.check import check_year
from core import audit, orgkey, sm2
from core.db import session_scope
from tests.archive.conftest import SAMPLE_SETS, People

Posted = Callable[[list[Path]], str]


def _build(people: People, posted: Posted, sets: list[list[Path]]) -> int:
    year = 0
    for files in sets:
        vid = posted(files)
        with session_scope() as s:
            year = package.build_package(s, people.archivist, vid).year
    return year


def _export(people: People, year: int, out: Path) -> Path:
    job = export.export_year(year, out, people.archivist)
    assert job.status == "done", job.error
    return Path(job.bag_path)


def _history_for(d: int, cert: bytes, records: tuple[orgkey.KeyRecord, ...] = ()) -> bytes:
    return orgkey.KeyHistory((*records, orgkey.KeyRecord.make(len(records) + 1, cert, None, None, d))).to_json()


def _forge(bag: Path, dest: Path, history: Callable[[int, bytes, bytes], bytes] | None = None) -> str:
    """Change a record, re-sign every manifest with a new key, swap key files, fix the lists, rebag.

    Returns the forger's fingerprint. ``history(d, cert, real_history)`` makes the key history
    the forger ships (default: a fresh one holding only the forger's key).
    """
    shutil.copytree(bag, dest)
    d, pub = sm2.generate_keypair()
    cert = sm2.self_signed_certificate(d, "伪造的归档密钥", organization="伪造单位", days=3650)
    fp = orgkey.fingerprint_sm3(pub)
    # the changed record: the voucher's maker in one package (same length: sizes stay)
    pkg = sorted((dest / "data" / "packages").iterdir())[0]
    voucher = pkg / "content" / "voucher.xml"
    old = mf.digest_bytes("content/voucher.xml", voucher.read_bytes())
    data = voucher.read_bytes()
    assert b"accountant" in data
    voucher.write_bytes(data.replace(b"accountant", b"mallory000"))
    new = mf.digest_bytes("content/voucher.xml", voucher.read_bytes())
    meta = pkg / "metadata.xml"
    meta.write_bytes(meta.read_bytes().replace(old.sha256.encode(), new.sha256.encode())
                     .replace(old.sm3.encode(), new.sm3.encode()))
    # every manifest re-signed with the forger's key
    new_manifest_sha: dict[str, str] = {}
    new_size: dict[str, int] = {}
    for p in sorted((dest / "data" / "packages").iterdir()):
        code = mf.read_manifest((p / mf.MANIFEST_NAME).read_bytes()).archival_code
        entries = [mf.digest_file(p, rel) for rel in mf.list_files(p)
                   if rel not in (mf.MANIFEST_NAME, mf.SIGNATURE_NAME)]
        body = mf.manifest_xml(entries, code)
        (p / mf.MANIFEST_NAME).write_bytes(body)
        sig = sm2.sign(d, body, pub=pub)
        assert isinstance(sig, bytes)
        (p / mf.SIGNATURE_NAME).write_bytes(sig)
        new_manifest_sha[code] = hashlib.sha256(body).hexdigest()
        new_size[code] = sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
    # the certificate, public key and history swapped
    keys = dest / "data" / "archive-key"
    real_history = (keys / orgkey.HISTORY_NAME).read_bytes()
    (keys / orgkey.CERT_NAME).write_bytes(cert)
    (keys / orgkey.CERT_PEM_NAME).write_bytes(orgkey.pem("CERTIFICATE", cert))
    (keys / orgkey.PUBLIC_PEM_NAME).write_text(sm2.public_key_pem(pub), encoding="ascii")
    (keys / orgkey.HISTORY_NAME).write_bytes(history(d, cert, real_history) if history else _history_for(d, cert))
    # the 移交清册 (manifest digests, fingerprint), bag-info.txt, and the bag manifests
    xlsx = next((dest / "data").glob("移交清册-*.xlsx"))
    wb = load_workbook(xlsx)
    ws = wb[export.LIST_SHEET]
    total_delta = 0
    for row in ws.iter_rows():
        vals = [c.value for c in row]
        if export.LIST_FINGERPRINT_LABEL in vals:
            row[vals.index(export.LIST_FINGERPRINT_LABEL) + 1].value = fp
        if len(vals) > 10 and vals[1] in new_manifest_sha:
            row[10].value = new_manifest_sha[vals[1]]
            total_delta += new_size[vals[1]] - int(vals[9])
            row[9].value = new_size[vals[1]]
        if vals and vals[0] == "合计":
            row[9].value = int(vals[9]) + total_delta
    wb.save(xlsx)
    # the audit anchors re-signed too
    anchors, _bad = audit.parse_anchors((dest / export.ANCHORS_IN_BAG).read_bytes())
    lines = b""
    for a in anchors:
        u = audit.Anchor(a.seq, a.hash, a.at, fp, a.reason)
        sig_a = sm2.sign(d, u.statement(), pub=pub)
        assert isinstance(sig_a, bytes)
        lines += audit.Anchor(u.seq, u.hash, u.at, u.key, u.reason, sig_a).to_line()
    (dest / export.ANCHORS_IN_BAG).write_bytes(lines)
    b = bagit.Bag(str(dest))
    b.info[export.BAG_INFO_FINGERPRINT] = fp
    b.save(manifests=True)
    bagit.Bag(str(dest)).validate()
    return fp


@pytest.fixture
def year_bag(people: People, posted: Posted, tmp_path: Path) -> tuple[int, Path]:
    year = _build(people, posted, SAMPLE_SETS[:2])
    return year, _export(people, year, tmp_path / "out")


def _failed(d: dict) -> set[str]:
    return {i["id"] for i in d["items"] if i["result"] == "fail"}


def test_export_carries_the_fingerprint_everywhere(people: People, year_bag: tuple[int, Path]) -> None:
    year, bag = year_bag
    fp = orgkey.load_key().fingerprint_sm3
    assert len(fp) == 64 and fp == sm2.sm3(sm2.public_key_der(orgkey.load_key().public)).hex()
    assert f"{export.BAG_INFO_FINGERPRINT}: {fp}" in (bag / "bag-info.txt").read_text(encoding="utf-8")
    wb = load_workbook(bag / "data" / export.list_name(year), read_only=True)
    row2 = [list(r) for r in wb[export.LIST_SHEET].iter_rows(values_only=True)][1]
    wb.close()
    assert row2[row2.index(export.LIST_FINGERPRINT_LABEL) + 1] == fp
    report = json.loads((bag / "data" / "check-report.json").read_text(encoding="utf-8"))
    assert report["key_fingerprint_sm3"] == fp and fp in report["summary_text"]
    assert report["items"][0]["result_label"] == "通过" and report["items"][0]["name"].startswith("固化信息")
    assert fp in (bag / "data" / "check-report.html").read_text(encoding="utf-8")
    history = orgkey.KeyHistory.parse((bag / "data" / "archive-key" / orgkey.HISTORY_NAME).read_bytes())
    assert [r.fingerprint_sm3 for r in history.records] == [fp]
    anchors = (bag / export.ANCHORS_IN_BAG).read_bytes().splitlines()
    assert json.loads(anchors[-1])["reason"] == f"export:{year}"


def test_genuine_bag_passes_with_the_right_key_and_says_when_not_pinned(year_bag: tuple[int, Path]) -> None:
    _year, bag = year_bag
    fp = orgkey.load_key().fingerprint_sm3
    pinned = export.verify_export(bag, expect_key=fp.upper())
    assert pinned["status"] == "pass", _failed(pinned)
    e4 = next(i for i in pinned["items"] if i["id"] == "E4")
    assert e4["result"] == "pass" and pinned["trust"]["pinned"] and pinned["trust"]["code"] is None
    e5 = next(i for i in pinned["items"] if i["id"] == "E5")
    assert e5["result"] == "pass"
    loose = export.verify_export(bag)
    assert loose["status"] == "pass"
    assert loose["key_fingerprint_sm3"] == fp and loose["trust"]["pinned"] is False
    assert loose["trust"]["code"] == "key_not_pinned" and "未固定信任" in loose["trust"]["message"]
    assert next(i for i in loose["items"] if i["id"] == "E4")["result"] == "not_run"


def test_forged_export_with_swapped_key_fails_when_pinned(year_bag: tuple[int, Path], tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    _year, bag = year_bag
    real = orgkey.load_key().fingerprint_sm3
    forged = tmp_path / "forged"
    fake = _forge(bag, forged)
    # internally consistent: without a pin only the fingerprint in the report gives it away
    loose = export.verify_export(forged)
    assert loose["status"] == "pass", _failed(loose)
    assert loose["key_fingerprint_sm3"] == fake != real and loose["trust"]["pinned"] is False
    pinned = export.verify_export(forged, expect_key=real)
    assert pinned["status"] == "fail"
    assert pinned["trust"]["code"] == "key_mismatch" and {"E4", "A1"} <= _failed(pinned)
    assert fake in pinned["trust"]["message"] and real in pinned["trust"]["message"]
    # the CLI: exit 1 and the named reason
    assert main(["archive", "verify-export", str(forged), "--expect-key", real, "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["trust"]["code"] == "key_mismatch"
    assert main(["archive", "verify-export", str(bag), "--expect-key", real, "--json"]) == 0
    capsys.readouterr()
    assert main(["archive", "verify-export", str(bag), "--expect-key", "not-a-fingerprint"]) == 2


def test_forged_history_link_fails(year_bag: tuple[int, Path], tmp_path: Path) -> None:
    """The forger appends his key to the real history, but cannot sign the link with the real key."""
    _year, bag = year_bag
    real = orgkey.load_key().fingerprint_sm3

    def appended(d: int, cert: bytes, real_history: bytes) -> bytes:
        records = orgkey.KeyHistory.parse(real_history).records
        rec = orgkey.KeyRecord.make(len(records) + 1, cert, records[-1].fingerprint_sm3, d, d)  # own key signs
        return orgkey.KeyHistory((*records, rec)).to_json()

    forged = tmp_path / "forged-link"
    _forge(bag, forged, appended)
    pinned = export.verify_export(forged, expect_key=real)
    assert pinned["status"] == "fail" and pinned["trust"]["code"] == "key_mismatch"
    assert {"E3", "E4", "A1"} <= _failed(pinned)
    loose = export.verify_export(forged)
    assert loose["status"] == "fail" and "E3" in _failed(loose)  # the broken link is named even unpinned
    e3 = next(i for i in loose["items"] if i["id"] == "E3")
    assert "not signed by the previous key" in e3["evidence"]


def test_certificate_swapped_without_history_fails(year_bag: tuple[int, Path], tmp_path: Path) -> None:
    """A cruder forger leaves the real key history in place: the certificate is not in it."""
    _year, bag = year_bag
    forged = tmp_path / "forged-cert"
    _forge(bag, forged, lambda d, cert, real_history: real_history)
    loose = export.verify_export(forged)
    assert loose["status"] == "fail" and {"E3", "A1"} <= _failed(loose)
    assert export.verify_export(forged, expect_key=orgkey.load_key().fingerprint_sm3)["trust"]["code"] == "key_mismatch"


def test_rotated_key_old_packages_still_verify(people: People, posted: Posted, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    year = _build(people, posted, SAMPLE_SETS[:2])
    first = orgkey.load_key().fingerprint_sm3
    assert main(["archive", "rotate-key", "--as", "archivist", "--json"]) == 1  # admin only
    capsys.readouterr()
    assert main(["archive", "rotate-key", "--as", "admin", "--json"]) == 0
    rotated = json.loads(capsys.readouterr().out)
    second = rotated["fingerprint_sm3"]
    assert second != first and rotated["previous_fingerprint_sm3"] == first
    assert [h["fingerprint_sm3"] for h in rotated["history"]] == [first, second]
    assert all(h["trusted"] for h in rotated["history"]) and not rotated["history_problems"]
    assert main(["archive", "key", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["fingerprint_sm3"] == second and shown["certificate"].startswith("-----BEGIN CERTIFICATE-----")
    _build(people, posted, SAMPLE_SETS[2:])  # one package signed by the new key
    with session_scope() as s:
        report = check_year(s, year, people.archivist)
    assert report.status == "pass", [i for i in report.items if i.result.value == "fail"]
    bag = _export(people, year, tmp_path / "out")
    for pin in (first, second):  # a receiver that pinned the old key, or the new one
        d = export.verify_export(bag, expect_key=pin)
        assert d["status"] == "pass", (pin, _failed(d))
        assert d["trust"]["trusted"] == [first, second]
    # a key outside the chain trusts nothing in this bag
    _d, other = sm2.generate_keypair()
    d = export.verify_export(bag, expect_key=orgkey.fingerprint_sm3(other))
    assert d["status"] == "fail" and d["trust"]["code"] == "key_mismatch"


def test_history_verification_runs_both_ways_and_stops_at_a_bad_record(settings: object, tmp_path: Path) -> None:
    k1, p1 = sm2.generate_keypair()
    k2, p2 = sm2.generate_keypair()
    k3, p3 = sm2.generate_keypair()
    certs = [sm2.self_signed_certificate(k, f"k{i}", days=365) for i, k in enumerate((k1, k2, k3))]
    r1 = orgkey.KeyRecord.make(1, certs[0], None, None, k1)
    r2 = orgkey.KeyRecord.make(2, certs[1], r1.fingerprint_sm3, k1, k2)
    r3 = orgkey.KeyRecord.make(3, certs[2], r2.fingerprint_sm3, k2, k3)
    good = orgkey.KeyHistory.parse(orgkey.KeyHistory((r1, r2, r3)).to_json())
    fps = [orgkey.fingerprint_sm3(p) for p in (p1, p2, p3)]
    for fp in fps:
        assert good.trust_from(fp).fingerprints() == fps
    # record 3 handed over by a key that is not key 2: key 3 is cut off from keys 1 and 2
    bad3 = orgkey.KeyRecord.make(3, certs[2], r2.fingerprint_sm3, k3, k3)
    bad = orgkey.KeyHistory((r1, r2, bad3))
    assert bad.trust_from(fps[0]).fingerprints() == fps[:2]
    assert bad.trust_from(fps[2]).fingerprints() == [fps[2]]
    assert "not signed by the previous key" in bad.trust_from(fps[0]).problems[0]
    # a forger cannot prepend his key: record 1 names no predecessor and is signed by key 1
    kx, px = sm2.generate_keypair()
    rx = orgkey.KeyRecord.make(1, sm2.self_signed_certificate(kx, "x", days=365), None, None, kx)
    r1x = orgkey.KeyRecord(2, r1.certificate, rx.fingerprint_sm3, r1.created_at, None, r1.signature_self)
    prepended = orgkey.KeyHistory((rx, r1x, r2, r3))
    assert orgkey.fingerprint_sm3(px) not in prepended.trust_from(fps[2]).fingerprints()
