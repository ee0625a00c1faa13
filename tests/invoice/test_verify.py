"""Signature verification on the real samples and on files tampered with here."""

from __future__ import annotations

import io
import zipfile
from datetime import date

import pytest
from asn1crypto import core

from invoice.verify import VerifyStatus, ses, verify
from invoice.verify.report import RefResult
from tests.samples import DIGITAL_OFD, EXPECTED, OTHER, SAMPLES, TAMPERED, V4SIGNED

TODAY = date(2026, 1, 15)
SIGNED_VALID = [e["file"] for e in EXPECTED if e["signature"] == "present-valid"]
ABSENT = [e["file"] for e in EXPECTED if e["signature"] == "absent"]
OTHER_OFDS = sorted(p.relative_to(SAMPLES).as_posix() for p in OTHER.rglob("*.ofd"))
# The one sample of samples/other whose signature cannot be evaluated, and why.
TRUNCATED = "other/itlabers__ofd-go/gonghang_1.ofd"
TRUNCATED_REASON = (
    "Doc_0/Signs/Sign_0/SignedValue.dat: the signature is a DER SEQUENCE of 72 bytes of which "
    "only 71 are present (BIT STRING with 7 unused bits): the value is truncated and cannot be checked"
)


def rezip(data: bytes, replace: dict[str, bytes]) -> bytes:
    """The same zip with some members' bytes replaced (names and order kept)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = replace.get(info.filename, src.read(info.filename))
            dst.writestr(info.filename, body)
    return out.getvalue()


def member(data: bytes, name: str) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return z.read(name)


@pytest.mark.parametrize("rel", SIGNED_VALID)
def test_signed_invoice_samples_are_valid(rel: str) -> None:
    report = verify((SAMPLES / rel).read_bytes(), today=TODAY)
    assert report.status is VerifyStatus.VALID, report.summary()
    assert report.signatures
    for sig in report.signatures:
        assert sig.status is VerifyStatus.VALID
        assert sig.format == "GB/T 38540-2020" and sig.version == 4
        assert sig.signature_ok and sig.data_hash_ok
        assert sig.seal is not None and sig.seal.name and sig.seal.signature_valid
        assert sig.signer is not None and sig.signer.serial and sig.signer.not_after
        assert sig.signing_time
        assert sig.references and all(r.result is RefResult.OK for r in sig.references)
    d = report.to_dict()
    assert d["status"] == "valid" and d["sha256"] == report.sha256 and d["checks"]


def test_v4signed_reports_seal_signer_and_time() -> None:
    report = verify(V4SIGNED.read_bytes(), today=TODAY)
    sig = report.signatures[0]
    assert sig.seal is not None
    assert sig.seal.name == "测试全国统一发票监制章国家税务总局重庆市税务局"
    assert sig.seal.es_id == "50011200000399"
    assert sig.signer is not None and "全国统一发票监制章国家税务总局重庆市税务局" in sig.signer.subject
    assert sig.signer.serial == "300000112D1"
    assert sig.signing_time == "2020-10-10T07:11:20+00:00"
    assert len(sig.references) == 13


def test_edited_invoice_is_invalid_and_names_document_xml() -> None:
    report = verify(TAMPERED.read_bytes(), today=TODAY)
    assert report.status is VerifyStatus.INVALID
    sig = report.signatures[0]
    assert sig.tampered_members == ["Doc_0/Document.xml"]
    assert any("Doc_0/Document.xml" in p for p in report.problems)
    # the cryptographic signature itself still holds: it is the content that changed
    assert sig.signature_ok is True


@pytest.mark.parametrize("rel", ABSENT)
def test_unsigned_samples_are_unsigned(rel: str) -> None:
    report = verify((SAMPLES / rel).read_bytes(), today=TODAY)
    assert report.status is VerifyStatus.UNSIGNED
    assert report.signatures == ()


def test_digital_invoice_ofd_is_unsigned_and_number_checked() -> None:
    report = verify(DIGITAL_OFD.read_bytes(), today=TODAY)
    assert report.status is VerifyStatus.UNSIGNED
    by_id = {c.id: c for c in report.checks}
    assert by_id["number_structure"].result.value == "pass"
    assert "24112000000048542163" in by_id["number_structure"].message


@pytest.mark.parametrize("rel", OTHER_OFDS)
def test_other_signed_files_verify_or_say_why_not(rel: str) -> None:
    report = verify((SAMPLES / rel).read_bytes(), today=TODAY)
    if rel == TRUNCATED:
        assert report.status is VerifyStatus.INDETERMINATE
        sig = report.signatures[0]
        assert sig.reasons[0] == TRUNCATED_REASON
        # what could be read is still reported: whose seal, and that it covers this file
        assert sig.seal is not None and sig.seal.name == "中国工商银行股份有限公司电子回单专用章"
        assert sig.signature_ok is None and sig.data_hash_ok is True
        assert all(r.result is RefResult.OK for r in sig.references)
    else:
        assert report.status is VerifyStatus.VALID, report.summary()
        assert all(s.signature_ok for s in report.signatures)


def test_gbt35275_signed_data_is_read_as_such() -> None:
    rel = "other/itlabers__ofd-go/售票换开样例.ofd"
    sig = verify((SAMPLES / rel).read_bytes(), today=TODAY).signatures[0]
    assert sig.format == "GB/T 35275-2017"
    assert sig.seal is None and sig.signer is not None and "铁路电子客票" in sig.signer.subject
    assert sig.signing_time == "2022-03-17T07:20:54+00:00"


# -- tampering ---------------------------------------------------------------------------


def test_one_byte_of_a_signed_member_makes_it_invalid() -> None:
    data = V4SIGNED.read_bytes()
    name = "Doc_0/Pages/Page_0/Content.xml"
    body = bytearray(member(data, name))
    body[200] ^= 0x01
    report = verify(rezip(data, {name: bytes(body)}), today=TODAY)
    assert report.status is VerifyStatus.INVALID
    assert report.signatures[0].tampered_members == [name]


def test_changed_amount_in_original_invoice_xml_is_invalid() -> None:
    data = V4SIGNED.read_bytes()
    name = "Doc_0/Attachs/original_invoice.xml"
    xml = member(data, name)
    assert b">318.00<" in xml
    report = verify(rezip(data, {name: xml.replace(b">318.00<", b">918.00<")}), today=TODAY)
    assert report.status is VerifyStatus.INVALID
    assert report.signatures[0].tampered_members == [name]


def test_forger_who_recomputes_the_digests_is_caught_by_the_data_hash() -> None:
    import base64

    from invoice.verify.sm2 import sm3

    data = V4SIGNED.read_bytes()
    name = "Doc_0/Attachs/original_invoice.xml"
    old = member(data, name)
    new = old.replace(b">318.00<", b">918.00<")
    sig_name = "Doc_0/Signs/Sign_0/Signature.xml"
    sig_xml = member(data, sig_name).replace(
        base64.b64encode(sm3(old)), base64.b64encode(sm3(new))
    )
    report = verify(rezip(data, {name: new, sig_name: sig_xml}), today=TODAY)
    sig = report.signatures[0]
    assert report.status is VerifyStatus.INVALID
    assert sig.tampered_members == [] and sig.data_hash_ok is False
    assert "dataHash" in sig.reasons[0]


def test_swapped_certificate_is_invalid() -> None:
    data = V4SIGNED.read_bytes()
    sv_name = "Doc_0/Signs/Sign_0/SignedValue.dat"
    other = ses.SESSignatureV4.load(
        member((SAMPLES / "invoices/ofdrw__ofdrw/keyword2.ofd").read_bytes(), sv_name)
    )
    sig = ses.SESSignatureV4.load(member(data, sv_name))
    assert sig["cert"].native != other["cert"].native
    swapped = ses.SESSignatureV4(
        {
            "to_sign": sig["to_sign"],
            "cert": other["cert"].native,
            "signature_alg_id": sig["signature_alg_id"].dotted,
            "signature": sig["signature"],
        }
    ).dump()
    report = verify(rezip(data, {sv_name: swapped}), today=TODAY)
    s = report.signatures[0]
    assert report.status is VerifyStatus.INVALID
    assert s.signature_ok is False
    assert any("does not verify" in r for r in s.reasons)
    assert any("not one the e-seal lists" in r for r in s.reasons)


def test_flipped_signature_bit_is_invalid() -> None:
    data = V4SIGNED.read_bytes()
    sv_name = "Doc_0/Signs/Sign_0/SignedValue.dat"
    raw = bytearray(member(data, sv_name))
    raw[-5] ^= 0x01  # inside s of the outer signature
    report = verify(rezip(data, {sv_name: bytes(raw)}), today=TODAY)
    assert report.status is VerifyStatus.INVALID
    assert report.signatures[0].signature_ok is False


@pytest.mark.parametrize(
    ("garble", "expected"),
    [
        (lambda b: b[: len(b) // 2], "SignedValue.dat: "),
        (lambda b: b"\x00" * len(b), "SignedValue.dat: "),
        (lambda b: b"", "SignedValue.dat: "),
    ],
)
def test_corrupted_signed_value_is_indeterminate(garble: object, expected: str) -> None:
    data = V4SIGNED.read_bytes()
    sv_name = "Doc_0/Signs/Sign_0/SignedValue.dat"
    bad = garble(member(data, sv_name))  # type: ignore[operator]
    report = verify(rezip(data, {sv_name: bad}), today=TODAY)
    assert report.status is VerifyStatus.INDETERMINATE
    assert expected in report.signatures[0].reasons[0]
    assert report.signatures[0].signature_ok is None


def test_replaced_seal_file_is_invalid() -> None:
    rel = "invoices/ofdrw__ofdrw/draw_param_ref.ofd"
    data = (SAMPLES / rel).read_bytes()
    assert verify(data, today=TODAY).signatures[0].seal_file_ok is True
    esl = bytearray(member(data, "Doc_0/Signs/Sign_0/Seal.esl"))
    esl[-3] ^= 0x01
    report = verify(rezip(data, {"Doc_0/Signs/Sign_0/Seal.esl": bytes(esl)}), today=TODAY)
    assert report.status is VerifyStatus.INVALID
    assert report.signatures[0].seal_file_ok is False
    assert any("differs from the e-seal" in r for r in report.signatures[0].reasons)


def test_removed_signed_member_is_invalid() -> None:
    data = V4SIGNED.read_bytes()
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            if info.filename != "Doc_0/Res/qr.png":
                dst.writestr(info.filename, src.read(info.filename))
    report = verify(out.getvalue(), today=TODAY)
    assert report.status is VerifyStatus.INVALID
    ref = next(r for r in report.signatures[0].references if r.path == "Doc_0/Res/qr.png")
    assert ref.result is RefResult.MISSING


def test_unknown_digest_method_is_indeterminate_not_valid() -> None:
    data = V4SIGNED.read_bytes()
    sig_name = "Doc_0/Signs/Sign_0/Signature.xml"
    xml = member(data, sig_name).replace(
        b'CheckMethod="1.2.156.10197.1.401"', b'CheckMethod="1.2.3.4"'
    )
    report = verify(rezip(data, {sig_name: xml}), today=TODAY)
    # Signature.xml changed, so the data hash fails too: a forgery, not just an unknown method
    assert report.status is VerifyStatus.INVALID
    assert all(r.result is RefResult.UNSUPPORTED for r in report.signatures[0].references)


def test_xml_tax_bureau_signature_is_indeterminate() -> None:
    xml = (
        b"<EInvoice><Header><EIid>25442000000127444519</EIid></Header>"
        b"<TaxBureauSignature><SignatureValue>abc&amp;MjAyNQ==</SignatureValue><KeyInfo/>"
        b"</TaxBureauSignature></EInvoice>"
    )
    from invoice.verify import verify_signatures

    sigs, _ = verify_signatures(xml)
    assert len(sigs) == 1 and sigs[0].status is VerifyStatus.INDETERMINATE
    assert "documented nowhere public" in sigs[0].reasons[0]


def test_xml_without_signature_is_unsigned_and_broken_lists_are_indeterminate() -> None:
    from invoice.verify import verify_signatures

    assert verify_signatures(b"<EInvoice><Header/></EInvoice>") == ([], [])
    data = V4SIGNED.read_bytes()
    report = verify(rezip(data, {"Doc_0/Signs/Signatures.xml": b"<ofd:Signatures><broken"}), today=TODAY)
    assert report.status is VerifyStatus.INDETERMINATE
    assert report.signatures[0].reasons[0].startswith("the signature list cannot be read: invalid XML")


@pytest.mark.parametrize(
    ("signatures_xml", "reason"),
    [
        (b'<ofd:Signatures xmlns:ofd="http://www.ofdspec.org/2016"><ofd:Signature ID="1"/></ofd:Signatures>',
         "Doc_0/Signs/Signatures.xml: signature 1 has no BaseLoc"),
        (b'<ofd:Signatures xmlns:ofd="http://www.ofdspec.org/2016">'
         b'<ofd:Signature ID="1" BaseLoc="Sign_9/Signature.xml"/></ofd:Signatures>',
         "the signature file Doc_0/Signs/Sign_9/Signature.xml named by the signature list is missing"),
    ],
)
def test_declared_but_unlocatable_signature_is_indeterminate(signatures_xml: bytes, reason: str) -> None:
    data = rezip(V4SIGNED.read_bytes(), {"Doc_0/Signs/Signatures.xml": signatures_xml})
    report = verify(data, today=TODAY)
    assert report.status is VerifyStatus.INDETERMINATE
    assert report.signatures[0].reasons[0] == reason


def test_unknown_bytes_raise_parse_error() -> None:
    from invoice.errors import ParseError

    with pytest.raises(ParseError, match="not an OFD, PDF or XML"):
        verify(b"\x89PNG not an invoice")
    with pytest.raises(ParseError, match="empty"):
        verify(b"")


def test_asn1_any_fields_read_leniently() -> None:
    assert ses.read_time(core.GeneralizedTime.load(b"\x18\x0e20220318213217")) == "2022-03-18T21:32:17"
    assert ses.read_time(b"220725214639Z") == "2022-07-25T21:46:39+00:00"
    assert ses.read_time("2026-05-13 23:25:43") == "2026-05-13T23:25:43"


def test_no_single_bit_flip_in_signed_bytes_verifies() -> None:
    """Seeded flips in the signed TBS, in Signature.xml and in a signed member: never valid."""
    import random

    rnd = random.Random(20240501)
    data = V4SIGNED.read_bytes()
    sv_name = "Doc_0/Signs/Sign_0/SignedValue.dat"
    sv = member(data, sv_name)
    tbs_len = len(ses.SESSignatureV4.load(sv)["to_sign"].dump())
    head = len(sv) - len(ses.SESSignatureV4.load(sv).contents)
    targets = [
        (sv_name, range(head, head + tbs_len)),
        ("Doc_0/Signs/Sign_0/Signature.xml", range(len(member(data, "Doc_0/Signs/Sign_0/Signature.xml")))),
        ("Doc_0/Attachs/original_invoice.xml", range(len(member(data, "Doc_0/Attachs/original_invoice.xml")))),
    ]
    seen: set[VerifyStatus] = set()
    for name, span in targets:
        body = member(data, name)
        for _ in range(12):
            flipped = bytearray(body)
            flipped[rnd.choice(span)] ^= 1 << rnd.randrange(8)
            ses.clear_caches()
            status = verify(rezip(data, {name: bytes(flipped)}), today=TODAY).status
            assert status is not VerifyStatus.VALID, (name, status)
            seen.add(status)
    assert VerifyStatus.INVALID in seen
