"""PDF CMS signatures: made here with pyHanko (ECDSA) and by hand (SM2), then tampered with."""

from __future__ import annotations

import binascii
import io
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from asn1crypto import cms
from asn1crypto import keys as akeys
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from invoice.verify import VerifyStatus, sm2, verify
from tests.samples import DIGITAL_PDF

TODAY = date(2026, 1, 15)


def _ecdsa_signed_pdf(base: bytes | None = None, field_name: str = "Sig1") -> bytes:
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "测试签名")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(1234).not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.KeyUsage(True, True, False, False, False, False, False, False, False), critical=True)
        .sign(key, hashes.SHA256())
    )
    acert = ax509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
    akey = akeys.PrivateKeyInfo.load(key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    signer = signers.SimpleSigner(signing_cert=acert, signing_key=akey,
                                  cert_registry=SimpleCertificateStore.from_certs([acert]))
    out = io.BytesIO()
    src = base if base is not None else DIGITAL_PDF.read_bytes()
    signers.sign_pdf(IncrementalPdfFileWriter(io.BytesIO(src)),
                     signers.PdfSignatureMetadata(field_name=field_name), signer=signer, output=out)
    return out.getvalue()


@pytest.fixture(scope="module")
def ecdsa_pdf() -> bytes:
    return _ecdsa_signed_pdf()


def _byte_range(data: bytes) -> tuple[int, int, int, int]:
    m = re.search(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]", data)
    assert m is not None
    a, b, c, d = (int(x) for x in m.groups())
    return a, b, c, d


def _sm2_signed_pdf(signed: bytes, sign_key: int | None = None) -> bytes:
    """The ECDSA PDF with its CMS replaced by an SM2/SM3 one (GB/T 35275 style)."""
    d, _pub = sm2.generate_keypair()
    cert = ax509.Certificate.load(sm2.self_signed_certificate(d, "SM2 PDF signer"))
    a, b, c, dd = _byte_range(signed)
    covered = signed[a : a + b] + signed[c : c + dd]
    attrs = cms.CMSAttributes([
        {"type": "content_type", "values": ["data"]},
        {"type": "message_digest", "values": [sm2.sm3(covered)]},
    ])
    sig = sm2.sign(sign_key or d, b"\x31" + attrs.dump()[1:])
    sid = cms.SignerIdentifier({"issuer_and_serial_number": {
        "issuer": cert.issuer, "serial_number": cert.serial_number}})
    si = cms.SignerInfo({
        "version": "v1", "sid": sid, "digest_algorithm": {"algorithm": sm2.OID_SM3},
        "signed_attrs": attrs, "signature_algorithm": {"algorithm": sm2.OID_SM2_SIGN}, "signature": sig,
    })
    sd = cms.SignedData({
        "version": "v1", "digest_algorithms": [{"algorithm": sm2.OID_SM3}],
        "encap_content_info": {"content_type": "data"}, "certificates": [cert], "signer_infos": [si],
    })
    hexed = binascii.hexlify(cms.ContentInfo({"content_type": "signed_data", "content": sd}).dump())
    hole = c - (a + b)
    return signed[: a + b] + b"<" + hexed + b"0" * (hole - 2 - len(hexed)) + b">" + signed[c:]


def _flip_in_signed_range(data: bytes) -> bytes:
    _a, b, _c, _d = _byte_range(data)
    pos = b // 2
    out = bytearray(data)
    out[pos] = ord("A") if out[pos] != ord("A") else ord("B")
    return bytes(out)


def test_ecdsa_signature_is_valid_but_not_trusted(ecdsa_pdf: bytes) -> None:
    report = verify(ecdsa_pdf, today=TODAY)
    assert report.status is VerifyStatus.VALID
    sig = report.signatures[0]
    assert sig.signature_ok and sig.data_hash_ok and sig.trusted is False
    assert sig.signer is not None and "测试签名" in sig.signer.subject
    assert "trust not established: no trust roots are configured" in sig.reasons


def test_changed_byte_in_signed_pdf_is_invalid(ecdsa_pdf: bytes) -> None:
    report = verify(_flip_in_signed_range(ecdsa_pdf), today=TODAY)
    assert report.status is VerifyStatus.INVALID
    assert report.signatures[0].data_hash_ok is False


def test_sm2_cms_in_pdf_is_verified_by_our_code(ecdsa_pdf: bytes) -> None:
    pdf = _sm2_signed_pdf(ecdsa_pdf)
    report = verify(pdf, today=TODAY)
    assert report.status is VerifyStatus.VALID, report.summary()
    assert report.signatures[0].signature_algorithm == sm2.OID_SM2_SIGN
    tampered = verify(_flip_in_signed_range(pdf), today=TODAY)
    assert tampered.status is VerifyStatus.INVALID
    assert tampered.signatures[0].data_hash_ok is False
    intruder, _ = sm2.generate_keypair()
    forged = verify(_sm2_signed_pdf(ecdsa_pdf, sign_key=intruder), today=TODAY)
    assert forged.status is VerifyStatus.INVALID
    assert forged.signatures[0].signature_ok is False


def test_unsigned_pdf_is_unsigned() -> None:
    assert verify(DIGITAL_PDF.read_bytes(), today=TODAY).status is VerifyStatus.UNSIGNED


def test_unparsable_cms_is_indeterminate(ecdsa_pdf: bytes) -> None:
    a, b, c, _d = _byte_range(ecdsa_pdf)
    hole = c - (a + b)
    garbage = b"<" + b"ab" * ((hole - 2) // 2) + b">"
    report = verify(ecdsa_pdf[: a + b] + garbage + ecdsa_pdf[c:], today=TODAY)
    assert report.status is VerifyStatus.INDETERMINATE
    assert report.signatures and report.signatures[0].signature_ok is None
    assert report.signatures[0].reasons[0].startswith("the PDF has a /ByteRange but its signatures cannot be read")


# --- incremental updates after the signed revision (issue 10) -------------------------------


def _overlay(signed: bytes, text: bytes = b"4999.00") -> bytes:
    """An incremental update that draws ``text`` over page 1 (a new content stream)."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    w = IncrementalPdfFileWriter(io.BytesIO(signed))
    font = generic.DictionaryObject({
        generic.pdf_name("/Type"): generic.pdf_name("/Font"),
        generic.pdf_name("/Subtype"): generic.pdf_name("/Type1"),
        generic.pdf_name("/BaseFont"): generic.pdf_name("/Helvetica"),
    })
    res = generic.DictionaryObject({generic.pdf_name("/Font"): generic.DictionaryObject(
        {generic.pdf_name("/FOvl"): w.add_object(font)})})
    stream = generic.StreamObject(stream_data=b"BT /FOvl 14 Tf 480 60 Td (" + text + b") Tj ET")
    w.add_stream_to_page(0, w.add_object(stream), resources=res)
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


def _new_page(signed: bytes) -> bytes:
    """An incremental update that appends a page."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    w = IncrementalPdfFileWriter(io.BytesIO(signed))
    stream = w.add_object(generic.StreamObject(stream_data=b"0 0 m 10 10 l S"))
    page = generic.DictionaryObject({
        generic.pdf_name("/Type"): generic.pdf_name("/Page"),
        generic.pdf_name("/MediaBox"): generic.ArrayObject(map(generic.NumberObject, (0, 0, 595, 842))),
        generic.pdf_name("/Contents"): stream,
        generic.pdf_name("/Resources"): generic.DictionaryObject(),
    })
    w.insert_page(page)
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


def _revisions(data: bytes) -> int:
    from invoice.pdf.revisions import page_revisions

    revs = page_revisions(data)
    assert revs is not None
    return revs.total


def test_text_overlay_after_signing_is_invalid_naming_the_revision(ecdsa_pdf: bytes) -> None:
    n = _revisions(ecdsa_pdf)
    tampered = _overlay(ecdsa_pdf)
    assert _revisions(tampered) == n + 1
    report = verify(tampered, today=TODAY)
    assert report.status is VerifyStatus.INVALID, report.summary()
    sig = report.signatures[0]
    assert sig.data_hash_ok and sig.signature_ok  # the signed bytes themselves are intact
    text = " ".join(sig.reasons)
    assert f"revision {n + 1} (after the signed revision {n})" in text
    assert f"page 1's content was changed in revision {n + 1}" in text


def test_field_locations_name_the_unsigned_revision(ecdsa_pdf: bytes) -> None:
    from invoice import parse

    n = _revisions(ecdsa_pdf)
    signed = parse(ecdsa_pdf)
    assert signed.field_locations["number"] == f"revision {n - 1}, page 1"  # signing adds one
    assert signed.field_locations["total"].endswith("page 1")
    over = parse(_overlay(ecdsa_pdf))
    assert over.field_locations["number"] == f"revision {n + 1}, page 1"


def test_added_page_after_signing_is_invalid(ecdsa_pdf: bytes) -> None:
    report = verify(_new_page(ecdsa_pdf), today=TODAY)
    assert report.status is VerifyStatus.INVALID, report.summary()
    assert "beyond form filling or a later signature" in " ".join(report.signatures[0].reasons)


def test_second_signature_keeps_the_first_valid(ecdsa_pdf: bytes) -> None:
    twice = _ecdsa_signed_pdf(ecdsa_pdf, field_name="Sig2")
    report = verify(twice, today=TODAY)
    assert report.status is VerifyStatus.VALID, report.summary()
    assert [s.status for s in report.signatures] == [VerifyStatus.VALID, VerifyStatus.VALID]
    assert "later revisions only fill forms or add signatures" in " ".join(
        report.signatures[0].reasons)
    # ... and an overlay after the second signature breaks both.
    broken = verify(_overlay(twice), today=TODAY)
    assert [s.status for s in broken.signatures] == [VerifyStatus.INVALID, VerifyStatus.INVALID]


def test_sm2_signature_gets_the_same_difference_analysis(ecdsa_pdf: bytes) -> None:
    pdf = _sm2_signed_pdf(ecdsa_pdf)
    assert verify(pdf, today=TODAY).status is VerifyStatus.VALID
    report = verify(_overlay(pdf), today=TODAY)
    assert report.status is VerifyStatus.INVALID, report.summary()
    assert report.signatures[0].data_hash_ok is True
    assert "after the signed revision" in " ".join(report.signatures[0].reasons)
