"""E-seal signatures built here with our own SM2 keys: V4 and V1 layouts end to end.

No sample carries a GM/T 0031 (V1) signature, so one is made: an unsigned real OFD
(``fptpl.ofd``, whose OFD.xml already names ``/Doc_0/Signs/Signatures.xml``) gets a seal, a
Signature.xml over all its members and a SignedValue.dat, then ``verify`` must accept it and
catch each kind of forgery.
"""

from __future__ import annotations

import base64
import io
import zipfile
from datetime import UTC, date, datetime

import pytest
from asn1crypto import core

from invoice.verify import VerifyStatus, ses, sm2, verify
from tests.samples import INVOICES

TODAY = date(2026, 1, 15)
BASE = (INVOICES / "ofdrw__ofdrw" / "fptpl.ofd").read_bytes()
WHEN = datetime(2024, 5, 1, 8, 30, tzinfo=UTC)


def _bits(data: bytes) -> core.BitString:
    body = b"\x00" + data
    n = len(body)
    head = bytes([n]) if n < 0x80 else bytes([0x80 | ((n.bit_length() + 7) // 8)]) + n.to_bytes((n.bit_length() + 7) // 8, "big")
    return core.BitString.load(b"\x03" + head + body)


class Keys:
    def __init__(self) -> None:
        self.maker, _ = sm2.generate_keypair()
        self.maker_cert = sm2.self_signed_certificate(self.maker, "测试制章系统")
        self.signer, _ = sm2.generate_keypair()
        self.signer_cert = sm2.self_signed_certificate(self.signer, "测试单位发票专用章")


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys()


def _seal_v4(k: Keys, maker_key: int | None = None) -> ses.SESealV4:
    info = ses.SealInfoV4(
        {
            "header": {"id": "ES", "version": 4, "vid": "TEST"},
            "es_id": core.IA5String("44010000000001"),
            "property": ses.PropertyInfoV4(
                {
                    "type": 1,
                    "name": core.UTF8String("测试单位发票专用章"),
                    "cert_list_type": 1,
                    "cert_list": ses.CertList([k.signer_cert]),
                    "create_date": core.GeneralizedTime(WHEN),
                    "valid_start": core.GeneralizedTime(WHEN),
                    "valid_end": core.GeneralizedTime(WHEN.replace(year=2030)),
                }
            ),
            "picture": {"type": "png", "data": b"\x89PNG", "width": 40, "height": 40},
        }
    )
    sig = sm2.sign(maker_key or k.maker, info.dump())
    assert isinstance(sig, bytes)
    return ses.SESealV4(
        {"e_seal_info": info, "cert": k.maker_cert, "sign_alg_id": sm2.OID_SM2_WITH_SM3,
         "signed_value": _bits(sig)}
    )


def _seal_v1(k: Keys) -> ses.SESealV1:
    info = ses.SealInfoV1(
        {
            "header": {"id": "ES", "version": 2, "vid": "TEST"},
            "es_id": core.IA5String("44010000000002"),
            "property": ses.PropertyInfoV1(
                {
                    "type": 1,
                    "name": core.UTF8String("旧版测试章"),
                    "cert_list": ses.CertList([k.signer_cert]),
                    "create_date": core.UTCTime(WHEN),
                    "valid_start": core.UTCTime(WHEN),
                    "valid_end": core.UTCTime(WHEN.replace(year=2030)),
                }
            ),
            "picture": {"type": "png", "data": b"\x89PNG", "width": 40, "height": 40},
        }
    )
    cert = core.OctetString(k.maker_cert)
    alg = core.ObjectIdentifier(sm2.OID_SM2_WITH_SM3)
    to_sign = ses._wrap_sequence(info.dump(), cert.dump(), alg.dump())
    sig = sm2.sign(k.maker, to_sign)
    assert isinstance(sig, bytes)
    return ses.SESealV1(
        {"e_seal_info": info,
         "sign_info": {"cert": k.maker_cert, "signature_algorithm": sm2.OID_SM2_WITH_SM3,
                       "sign_data": _bits(sig)}}
    )


def sign_ofd(k: Keys, version: int = 4, signer_key: int | None = None, maker_key: int | None = None,
             with_seal_file: bool = True) -> bytes:
    """BASE signed with our keys: Signatures.xml, Signature.xml, SignedValue.dat, Seal.esl."""
    with zipfile.ZipFile(io.BytesIO(BASE)) as z:
        members = {i.filename: z.read(i.filename) for i in z.infolist() if not i.is_dir()}
    refs = "".join(
        f'<ofd:Reference FileRef="/{name}"><ofd:CheckValue>'
        f"{base64.b64encode(sm2.sm3(body)).decode()}</ofd:CheckValue></ofd:Reference>"
        for name, body in members.items()
    )
    seal = _seal_v4(k, maker_key) if version == 4 else _seal_v1(k)
    seal_xml = "<ofd:Seal><ofd:BaseLoc>Seal.esl</ofd:BaseLoc></ofd:Seal>" if with_seal_file else ""
    sig_xml = (
        '<?xml version="1.0" encoding="UTF-8"?><ofd:Signature xmlns:ofd="http://www.ofdspec.org/2016">'
        '<ofd:SignedInfo><ofd:Provider ProviderName="fapiao-archive-test" Version="1" Company="test"/>'
        "<ofd:SignatureMethod>1.2.156.10197.1.501</ofd:SignatureMethod>"
        "<ofd:SignatureDateTime>20240501083000Z</ofd:SignatureDateTime>"
        f'<ofd:References CheckMethod="1.2.156.10197.1.401">{refs}</ofd:References>{seal_xml}'
        "</ofd:SignedInfo><ofd:SignedValue>/Doc_0/Signs/Sign_0/SignedValue.dat</ofd:SignedValue>"
        "</ofd:Signature>"
    ).encode()
    data_hash = sm2.sm3(sig_xml)
    key = signer_key or k.signer
    if version == 4:
        tbs4 = ses.TBSSignV4(
            {"version": 4, "eseal": seal, "time_info": core.GeneralizedTime(WHEN),
             "data_hash": _bits(data_hash),
             "property_info": core.IA5String("/Doc_0/Signs/Sign_0/Signature.xml")}
        )
        sig = sm2.sign(key, tbs4.dump())
        assert isinstance(sig, bytes)
        signed_value = ses.SESSignatureV4(
            {"to_sign": tbs4, "cert": k.signer_cert, "signature_alg_id": sm2.OID_SM2_WITH_SM3,
             "signature": _bits(sig)}
        ).dump()
    else:
        tbs1 = ses.TBSSignV1(
            {"version": 2, "eseal": seal, "time_info": _bits(b"240501083000Z"),
             "data_hash": _bits(data_hash),
             "property_info": core.IA5String("/Doc_0/Signs/Sign_0/Signature.xml"),
             "cert": k.signer_cert, "signature_algorithm": sm2.OID_SM2_WITH_SM3}
        )
        sig = sm2.sign(key, tbs1.dump())
        assert isinstance(sig, bytes)
        signed_value = ses.SESSignatureV1({"to_sign": tbs1, "signature": _bits(sig)}).dump()
    signatures = (
        b'<?xml version="1.0" encoding="UTF-8"?><ofd:Signatures xmlns:ofd="http://www.ofdspec.org/2016">'
        b'<ofd:MaxSignId>1</ofd:MaxSignId><ofd:Signature ID="1" Type="Seal" '
        b'BaseLoc="Sign_0/Signature.xml"/></ofd:Signatures>'
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, body in members.items():
            z.writestr(name, body)
        z.writestr("Doc_0/Signs/Signatures.xml", signatures)
        z.writestr("Doc_0/Signs/Sign_0/Signature.xml", sig_xml)
        z.writestr("Doc_0/Signs/Sign_0/SignedValue.dat", signed_value)
        if with_seal_file:
            z.writestr("Doc_0/Signs/Sign_0/Seal.esl", seal.dump())
    return out.getvalue()


def test_unsigned_base_is_unsigned() -> None:
    assert verify(BASE, today=TODAY).status is VerifyStatus.UNSIGNED


@pytest.mark.parametrize(("version", "fmt", "name"), [(4, "GB/T 38540-2020", "测试单位发票专用章"),
                                                      (1, "GM/T 0031-2014", "旧版测试章")])
def test_own_signature_verifies(keys: Keys, version: int, fmt: str, name: str) -> None:
    report = verify(sign_ofd(keys, version), today=TODAY)
    sig = report.signatures[0]
    assert report.status is VerifyStatus.VALID, report.summary()
    assert sig.format == fmt
    assert sig.seal is not None and sig.seal.name == name and sig.seal.signature_valid
    assert sig.seal_file_ok is True and sig.data_hash_ok is True
    assert sig.signer is not None and "测试单位发票专用章" in sig.signer.subject
    assert sig.signing_time is not None and sig.signing_time.startswith("2024-05-01T08:30:00")


def test_signed_by_a_key_other_than_the_certificate_is_invalid(keys: Keys) -> None:
    intruder, _ = sm2.generate_keypair()
    report = verify(sign_ofd(keys, 4, signer_key=intruder), today=TODAY)
    assert report.status is VerifyStatus.INVALID
    assert report.signatures[0].signature_ok is False


def test_seal_not_made_by_its_maker_is_invalid(keys: Keys) -> None:
    intruder, _ = sm2.generate_keypair()
    ses.clear_caches()
    report = verify(sign_ofd(keys, 4, maker_key=intruder), today=TODAY)
    sig = report.signatures[0]
    assert report.status is VerifyStatus.INVALID
    assert sig.signature_ok is True and sig.seal is not None and sig.seal.signature_valid is False
    assert any("seal maker's signature" in r for r in sig.reasons)


def test_unknown_signature_algorithm_is_indeterminate(keys: Keys) -> None:
    data = sign_ofd(keys, 4, with_seal_file=False)
    name = "Doc_0/Signs/Sign_0/SignedValue.dat"
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        sv = ses.SESSignatureV4.load(z.read(name))
        members = {i.filename: z.read(i.filename) for i in z.infolist()}
    members[name] = ses.SESSignatureV4(
        {"to_sign": sv["to_sign"], "cert": sv["cert"].native,
         "signature_alg_id": "1.2.840.10045.4.3.2",  # ECDSA-with-SHA256
         "signature": sv["signature"]}
    ).dump()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for n, b in members.items():
            z.writestr(n, b)
    report = verify(out.getvalue(), today=TODAY)
    assert report.status is VerifyStatus.INDETERMINATE
    assert "unsupported signature algorithm 1.2.840.10045.4.3.2" in report.signatures[0].reasons[0]
