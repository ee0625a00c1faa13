"""E-seal signature structures (ASN.1, DER) and their cryptographic checks.

Three formats occur inside OFD ``SignedValue.dat`` files:

* ``SES_Signature`` V4, GB/T 38540-2020 (every signed VAT e-invoice and most bank receipts)::

    SES_Signature ::= SEQUENCE { toSign TBS_Sign, cert OCTET STRING,
                                 signatureAlgID OBJECT IDENTIFIER, signature BIT STRING,
                                 timeStamp [0] EXPLICIT BIT STRING OPTIONAL }
    TBS_Sign      ::= SEQUENCE { version INTEGER, eseal SESeal, timeInfo GeneralizedTime,
                                 dataHash BIT STRING, propertyInfo IA5String,
                                 extDatas ExtensionDatas OPTIONAL }
    SESeal        ::= SEQUENCE { eSealInfo SES_SealInfo, cert OCTET STRING,
                                 signAlgID OBJECT IDENTIFIER, signedValue BIT STRING }

* ``SES_Signature`` V1, GM/T 0031-2014 (older e-seals)::

    SES_Signature ::= SEQUENCE { toSign TBS_Sign, signature BIT STRING }
    TBS_Sign      ::= SEQUENCE { version INTEGER, eseal SESeal, timeInfo BIT STRING,
                                 dataHash BIT STRING, propertyInfo IA5String,
                                 cert OCTET STRING, signatureAlgorithm OBJECT IDENTIFIER }
    SESeal        ::= SEQUENCE { esealInfo SES_SealInfo, signInfo SES_SignInfo }

* GB/T 35275-2017 ``SignedData`` (PKCS#7 with SM2/SM3, OID 1.2.156.10197.6.1.4.2.2), used by
  the railway e-tickets and some bank receipts for plain digital signatures without a seal.

The definitions below are asn1crypto classes. Vendors bend the time types (a UTCTime or a
zone-less string inside a GeneralizedTime tag), so times are declared ``Any`` and read
leniently; every signature is checked over the bytes exactly as stored, never re-encoded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, ClassVar

from asn1crypto import core, parser, x509

from invoice.verify import sm2

OID_GBT35275_SIGNED_DATA = "1.2.156.10197.6.1.4.2.2"
OID_GBT35275_DATA = "1.2.156.10197.6.1.4.2.1"
SM2_SIGNATURE_OIDS = {sm2.OID_SM2_WITH_SM3, sm2.OID_SM2_SIGN, "1.2.156.10197.1.301"}
SM3_OIDS = {sm2.OID_SM3, "sm3"}


class SesError(ValueError):
    """The structure cannot be evaluated: the signature is indeterminate, not invalid.

    ``partial`` carries what could be read before the failure (signer, seal, data hash), with
    ``signature_valid`` None, so that a report can still say whose signature it was.
    """

    def __init__(self, message: str, partial: SignedValueResult | None = None) -> None:
        super().__init__(message)
        self.partial = partial


# -- ASN.1 ------------------------------------------------------------------------------


class SesHeader(core.Sequence):
    _fields: ClassVar[list[Any]] = [("id", core.IA5String), ("version", core.Integer), ("vid", core.IA5String)]


class ExtData(core.Sequence):
    _fields: ClassVar[list[Any]] = [
        ("extn_id", core.ObjectIdentifier),
        ("critical", core.Boolean, {"default": False}),
        ("extn_value", core.OctetString),
    ]


class ExtensionDatas(core.SequenceOf):
    _child_spec = ExtData


class PictureInfo(core.Sequence):
    _fields: ClassVar[list[Any]] = [
        ("type", core.IA5String),
        ("data", core.OctetString),
        ("width", core.Integer),
        ("height", core.Integer),
    ]


class CertList(core.SequenceOf):
    _child_spec = core.OctetString


class CertDigestObj(core.Sequence):
    _fields: ClassVar[list[Any]] = [("type", core.PrintableString), ("value", core.OctetString)]


class CertDigestList(core.SequenceOf):
    _child_spec = CertDigestObj


class PropertyInfoV4(core.Sequence):
    _fields: ClassVar[list[Any]] = [
        ("type", core.Integer),
        ("name", core.Any),  # UTF8String by the standard; some vendors use other strings
        ("cert_list_type", core.Integer),  # 1: certificates, 2: certificate digests
        ("cert_list", core.Any),
        ("create_date", core.Any),
        ("valid_start", core.Any),
        ("valid_end", core.Any),
    ]


class PropertyInfoV1(core.Sequence):
    _fields: ClassVar[list[Any]] = [
        ("type", core.Integer),
        ("name", core.Any),
        ("cert_list", CertList),
        ("create_date", core.Any),
        ("valid_start", core.Any),
        ("valid_end", core.Any),
    ]


def _seal_info_fields(property_info: type[core.Sequence]) -> list[Any]:
    """SES_SealInfo: the same in V1 and V4 but for the layout of its property."""
    return [
        ("header", SesHeader),
        ("es_id", core.Any),
        ("property", property_info),
        ("picture", PictureInfo),
        ("ext_datas", ExtensionDatas, {"optional": True}),
    ]


class SealInfoV4(core.Sequence):
    _fields: ClassVar[list[Any]] = _seal_info_fields(PropertyInfoV4)


class SealInfoV1(core.Sequence):
    _fields: ClassVar[list[Any]] = _seal_info_fields(PropertyInfoV1)


class SESealV4(core.Sequence):
    _fields: ClassVar[list[Any]] = [
        ("e_seal_info", SealInfoV4),
        ("cert", core.OctetString),
        ("sign_alg_id", core.ObjectIdentifier),
        ("signed_value", core.BitString),
    ]


class SignInfoV1(core.Sequence):
    _fields: ClassVar[list[Any]] = [
        ("cert", core.OctetString),
        ("signature_algorithm", core.ObjectIdentifier),
        ("sign_data", core.BitString),
    ]


class SESealV1(core.Sequence):
    _fields: ClassVar[list[Any]] = [("e_seal_info", SealInfoV1), ("sign_info", SignInfoV1)]


class TBSSignV4(core.Sequence):
    _fields: ClassVar[list[Any]] = [
        ("version", core.Integer),
        ("eseal", SESealV4),
        ("time_info", core.Any),  # GeneralizedTime
        ("data_hash", core.BitString),
        ("property_info", core.Any),  # IA5String
        ("ext_datas", ExtensionDatas, {"optional": True}),
    ]


class TBSSignV1(core.Sequence):
    _fields: ClassVar[list[Any]] = [
        ("version", core.Integer),
        ("eseal", SESealV1),
        ("time_info", core.BitString),  # UTCTime text (or a time stamp) in a BIT STRING
        ("data_hash", core.BitString),
        ("property_info", core.Any),
        ("cert", core.OctetString),
        ("signature_algorithm", core.ObjectIdentifier),
    ]


class SESSignatureV4(core.Sequence):
    _fields: ClassVar[list[Any]] = [
        ("to_sign", TBSSignV4),
        ("cert", core.OctetString),
        ("signature_alg_id", core.ObjectIdentifier),
        ("signature", core.BitString),
        ("time_stamp", core.Any, {"explicit": 0, "optional": True}),
    ]


class SESSignatureV1(core.Sequence):
    _fields: ClassVar[list[Any]] = [("to_sign", TBSSignV1), ("signature", core.BitString)]


# GB/T 35275 SignedData, declared here rather than with asn1crypto.cms: parsing with cms's
# classes would fix asn1crypto's reverse OID maps before pyHanko registers its CMS attributes
# on import, which breaks pyHanko later in the same process.
class AlgId(core.Sequence):
    _fields: ClassVar[list[Any]] = [
        ("algorithm", core.ObjectIdentifier),
        ("parameters", core.Any, {"optional": True}),
    ]


class AlgIds(core.SetOf):
    _child_spec = AlgId


class Attribute(core.Sequence):
    _fields: ClassVar[list[Any]] = [("type", core.ObjectIdentifier), ("values", core.SetOf, {"spec": core.Any})]


class Attributes(core.SetOf):
    _child_spec = Attribute


class IssuerAndSerial(core.Sequence):
    _fields: ClassVar[list[Any]] = [("issuer", core.Any), ("serial_number", core.Integer)]


class SignerInfo35275(core.Sequence):
    _fields: ClassVar[list[Any]] = [
        ("version", core.Integer),
        ("sid", core.Any),
        ("digest_algorithm", AlgId),
        ("signed_attrs", Attributes, {"implicit": 0, "optional": True}),
        ("signature_algorithm", AlgId),
        ("signature", core.OctetString),
        ("unsigned_attrs", core.Any, {"implicit": 1, "optional": True}),
    ]


class SignerInfos35275(core.SetOf):
    _child_spec = SignerInfo35275


class AnySet(core.SetOf):
    _child_spec = core.Any


class SignedData35275(core.Sequence):
    _fields: ClassVar[list[Any]] = [
        ("version", core.Integer),
        ("digest_algorithms", AlgIds),
        ("encap_content_info", core.Any),
        ("certificates", AnySet, {"implicit": 0, "optional": True}),
        ("crls", AnySet, {"implicit": 1, "optional": True}),
        ("signer_infos", SignerInfos35275),
    ]


# -- results --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CertInfo:
    """What a reader needs to know about a certificate (no trust is implied)."""

    subject: str
    issuer: str
    serial: str
    not_before: str | None
    not_after: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "issuer": self.issuer,
            "serial": self.serial,
            "not_before": self.not_before,
            "not_after": self.not_after,
        }


@dataclass(frozen=True)
class SealInfo:
    name: str | None
    es_id: str | None
    vid: str | None
    version: int | None
    valid_start: str | None
    valid_end: str | None
    maker: CertInfo | None
    signature_valid: bool | None  # the seal maker's signature over the seal
    der: bytes = field(repr=False, default=b"")

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "id": self.es_id,
            "vid": self.vid,
            "version": self.version,
            "valid_start": self.valid_start,
            "valid_end": self.valid_end,
            "maker": self.maker.to_dict() if self.maker else None,
            "signature_valid": self.signature_valid,
        }


@dataclass(frozen=True)
class SignedValueResult:
    """The cryptographic facts of one SignedValue.dat (raw facts; the verdict is the caller's)."""

    format: str  # "GB/T 38540-2020" | "GM/T 0031-2014" | "GB/T 35275-2017"
    version: int | None
    signature_algorithm: str
    signer: CertInfo | None
    seal: SealInfo | None
    signing_time: str | None
    data_hash: bytes | None  # the digest the signer committed to
    property_info: str | None
    signature_valid: bool | None  # None: could not be evaluated (see SesError.partial)
    signer_in_seal: bool | None  # the signer's certificate is listed in the seal
    notes: tuple[str, ...] = ()


# -- lenient readers --------------------------------------------------------------------------

_TIME_RE = re.compile(r"^(\d{2}|\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?(?:\.\d+)?(Z|[+-]\d{4})?$")


def read_time(value: core.Asn1Value | bytes | str | None) -> str | None:
    """An ASN.1 time read leniently (GeneralizedTime, UTCTime, zone-less, or text) as ISO 8601."""
    if value is None:
        return None
    if isinstance(value, core.Asn1Value):
        if isinstance(value, core.Void):
            return None
        raw = value.contents
        text = raw.decode("ascii", "replace") if raw is not None else ""
    elif isinstance(value, bytes):
        text = value.decode("ascii", "replace")
    else:
        text = value
    text = text.strip().rstrip("\x00")
    m = _TIME_RE.match(text)
    if not m:
        # "2026-05-13 23:25:43" and similar
        try:
            dt = datetime.fromisoformat(text)
        except ValueError:
            return text or None
        return dt.isoformat()
    year, mon, day, hh, mi, ss, zone = m.groups()
    y = int(year)
    if len(year) == 2:
        y += 2000 if y < 50 else 1900
    try:
        dt = datetime(y, int(mon), int(day), int(hh), int(mi), int(ss or 0))
    except ValueError:
        return text
    if zone == "Z":
        return dt.replace(tzinfo=UTC).isoformat()
    if zone:
        return dt.isoformat() + zone[:3] + ":" + zone[3:]
    return dt.isoformat()  # no zone given: as written


def read_text(value: core.Asn1Value | None) -> str | None:
    if value is None or isinstance(value, core.Void):
        return None
    raw = value.contents or b""
    for enc in ("utf-8", "gb18030"):
        try:
            return raw.decode(enc).strip().rstrip("\x00").strip()
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1")


def cert_info(der: bytes) -> tuple[CertInfo, x509.Certificate]:
    """The certificate's facts and parsed form (cached: one platform certificate signs many)."""
    hit = _cert_cache.get(der)
    if hit is not None:
        return hit
    try:
        cert = x509.Certificate.load(der)
        tbs = cert["tbs_certificate"]
        validity = tbs["validity"]
        info = CertInfo(
            subject=tbs["subject"].human_friendly,
            issuer=tbs["issuer"].human_friendly,
            serial=format(tbs["serial_number"].native, "X"),
            not_before=read_time(validity["not_before"].chosen),
            not_after=read_time(validity["not_after"].chosen),
        )
    except (ValueError, TypeError, KeyError) as exc:
        raise SesError(f"the embedded certificate cannot be read: {exc}") from exc
    if len(_cert_cache) > 256:
        _cert_cache.clear()
    _cert_cache[der] = (info, cert)
    return info, cert


_cert_cache: dict[bytes, tuple[CertInfo, x509.Certificate]] = {}


def clear_caches() -> None:
    """Forget parsed certificates, verified seals and per-key SM2 tables (cold benchmarks)."""
    _cert_cache.clear()
    _seal_cache.clear()
    sm2.clear_caches()


def _bits(value: core.BitString) -> bytes:
    contents = value.contents or b""
    return bytes(contents[1:])  # first byte: number of unused bits


def _signature_bits(value: core.BitString, what: str, notes: list[str] | None = None) -> bytes:
    """A signature value from a BIT STRING, refusing the broken encodings seen in the wild.

    Signatures are whole bytes, so the "unused bits" count should be 0. Some vendors write a
    wrong count over a complete value (64 raw bytes r||s, or a complete DER SEQUENCE): that is
    noted and the value used. A value that is not complete (one bank's e-receipts store a DER
    signature with its last byte cut) cannot be checked at all.
    """
    contents = value.contents or b""
    if not contents:
        raise SesError(f"{what} is empty")
    unused = contents[0]
    body = bytes(contents[1:])
    complete = len(body) == 64
    if body[:1] == b"\x30" and len(body) > 2:
        if body[1] < 0x80:
            declared = body[1] + 2
        else:
            nlen = body[1] & 0x7F
            declared = int.from_bytes(body[2 : 2 + nlen], "big") + 2 + nlen
        if declared != len(body) and not complete:
            raise SesError(
                f"{what} is a DER SEQUENCE of {declared} bytes of which only {len(body)} are "
                f"present (BIT STRING with {unused} unused bits): the value is truncated and "
                "cannot be checked"
            )
        complete = True
    if not complete:
        raise SesError(f"{what} is {len(body)} bytes: neither raw r||s (64) nor DER")
    if unused and notes is not None:
        notes.append(f"{what} is a BIT STRING declaring {unused} unused bits over a whole value")
    return body


def _verify_with_cert(cert: x509.Certificate, alg_oid: str, data: bytes, sig: bytes) -> bool:
    if alg_oid not in SM2_SIGNATURE_OIDS:
        raise SesError(f"unsupported signature algorithm {alg_oid} (only SM2-with-SM3 is known)")
    try:
        pub = sm2.point_from_certificate(cert)
    except (sm2.SM2Error, ValueError, TypeError) as exc:
        raise SesError(f"the certificate's public key is not an SM2 key: {exc}") from exc
    return sm2.verify(pub, data, sig)


def _wrap_sequence(*parts: bytes) -> bytes:
    body = b"".join(parts)
    n = len(body)
    if n < 0x80:
        head = bytes([n])
    else:
        lb = n.to_bytes((n.bit_length() + 7) // 8, "big")
        head = bytes([0x80 | len(lb)]) + lb
    return b"\x30" + head + body


# -- seal --------------------------------------------------------------------------------------

_seal_cache: dict[bytes, SealInfo] = {}


def _seal_signature_ok(maker_cert: x509.Certificate, info: Any, cert: Any, alg_id: Any, sig: bytes,
                       wrapped_first: bool) -> bool:
    """The seal maker's signature, over the seal info alone (as GB/T 38540 says) or over
    SEQUENCE{info, cert, algorithm} (as GM/T 0031 and some V4 makers do): either is accepted.
    ``wrapped_first`` tries the usual form of the format first."""
    alg = alg_id.dotted
    forms = [lambda: info.dump(), lambda: _wrap_sequence(info.dump(), cert.dump(), alg_id.dump())]
    if wrapped_first:
        forms.reverse()
    return any(_verify_with_cert(maker_cert, alg, signed(), sig) for signed in forms)


def _seal_info(info: Any, maker: CertInfo, signature_valid: bool, der: bytes) -> SealInfo:
    """What a report shows of a seal, from its SES_SealInfo (the same fields in V1 and V4)."""
    header = info["header"]
    prop = info["property"]
    return SealInfo(
        name=read_text(prop["name"]),
        es_id=read_text(info["es_id"]),
        vid=header["vid"].native,
        version=header["version"].native,
        valid_start=read_time(prop["valid_start"]),
        valid_end=read_time(prop["valid_end"]),
        maker=maker,
        signature_valid=signature_valid,
        der=der,
    )


def _seal_v4(seal: SESealV4) -> tuple[SealInfo, list[bytes], list[tuple[str, bytes]]]:
    info = seal["e_seal_info"]
    prop = info["property"]
    certs: list[bytes] = []
    digests: list[tuple[str, bytes]] = []
    list_type = prop["cert_list_type"].native
    raw_list = prop["cert_list"].dump()
    if list_type == 2:
        for obj in CertDigestList.load(raw_list):
            digests.append((str(obj["type"].native), bytes(obj["value"].native)))
    else:
        certs = [bytes(c.native) for c in CertList.load(raw_list)]
    der = seal.dump()
    cached = _seal_cache.get(der)
    if cached is None:
        maker, maker_cert = cert_info(bytes(seal["cert"].native))
        sig = _signature_bits(seal["signed_value"], "the seal's signature")
        ok = _seal_signature_ok(maker_cert, info, seal["cert"], seal["sign_alg_id"], sig, wrapped_first=False)
        cached = _seal_info(info, maker, ok, der)
        if len(_seal_cache) > 64:  # seals with pictures can be 200 KB
            _seal_cache.clear()
        _seal_cache[der] = cached
    return cached, certs, digests


def _seal_v1(seal: SESealV1) -> tuple[SealInfo, list[bytes]]:
    info = seal["e_seal_info"]
    sign_info = seal["sign_info"]
    maker, maker_cert = cert_info(bytes(sign_info["cert"].native))
    sig = _signature_bits(sign_info["sign_data"], "the seal's signature")
    ok = _seal_signature_ok(maker_cert, info, sign_info["cert"], sign_info["signature_algorithm"], sig,
                            wrapped_first=True)
    certs = [bytes(c.native) for c in info["property"]["cert_list"]]
    return _seal_info(info, maker, ok, seal.dump()), certs


# -- entry -------------------------------------------------------------------------------------


def _children(data: bytes) -> list[tuple[int, int, int, bytes, bytes]]:
    """(class, method, tag, contents, whole encoding) of each element of a DER SEQUENCE."""
    try:
        cls, _method, tag, _header, contents, _trailer = parser.parse(data, strict=True)
    except ValueError as exc:
        raise SesError(f"SignedValue is not DER: {exc}") from exc
    if cls != 0 or tag != 16:
        raise SesError("SignedValue is not a DER SEQUENCE")
    out = []
    pos = 0
    while pos < len(contents):
        try:
            (c, m, t, _h, body, _tr), end = parser._parse(contents, len(contents), pos)
        except ValueError as exc:
            raise SesError(f"SignedValue element at offset {pos} is not DER: {exc}") from exc
        out.append((c, m, t, body, contents[pos:end]))
        pos = end
    return out


def detect(data: bytes) -> str:
    """'v4', 'v1', 'gbt35275' or raise SesError: which structure a SignedValue.dat holds."""
    kids = _children(data)
    n = len(kids)
    if n and kids[0][0] == 0 and kids[0][2] == 6:  # OBJECT IDENTIFIER first: a ContentInfo
        return "gbt35275"
    if n >= 4:
        return "v4"
    if n == 2:
        return "v1"
    raise SesError(f"SignedValue is a SEQUENCE of {n} elements: no known e-seal format")


def parse_and_verify(data: bytes) -> SignedValueResult:
    """Read a SignedValue.dat and check its signatures (not the document digest: the caller's).

    Raises SesError when the structure cannot be read or uses an unknown algorithm.
    """
    kind = detect(data)
    try:
        if kind == "v4":
            return _verify_v4(data)
        if kind == "v1":
            return _verify_v1(data)
        return _verify_35275(data)
    except SesError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        raise SesError(f"unreadable {kind} structure: {exc}") from exc


def _verify_v4(data: bytes) -> SignedValueResult:
    sig = SESSignatureV4.load(data)
    tbs = sig["to_sign"]
    version = tbs["version"].native
    seal, seal_certs, seal_digests = _seal_v4(tbs["eseal"])
    signer_der = bytes(sig["cert"].native)
    signer, signer_cert = cert_info(signer_der)
    alg = sig["signature_alg_id"].dotted
    notes: list[str] = []
    in_seal: bool | None
    if seal_certs:
        in_seal = signer_der in seal_certs
    elif seal_digests:
        in_seal = any(sm2.sm3(signer_der) == value for _t, value in seal_digests)
    else:
        in_seal = None
    if version != 4:
        notes.append(f"TBS_Sign version {version} read with the GB/T 38540 (V4) layout")
    result = SignedValueResult(
        format="GB/T 38540-2020",
        version=version,
        signature_algorithm=alg,
        signer=signer,
        seal=seal,
        signing_time=read_time(tbs["time_info"]),
        data_hash=_bits(tbs["data_hash"]),
        property_info=read_text(tbs["property_info"]),
        signature_valid=None,
        signer_in_seal=in_seal,
    )
    try:
        value = _signature_bits(sig["signature"], "the signature", notes)
        ok = _verify_with_cert(signer_cert, alg, tbs.dump(), value)
    except SesError as exc:
        raise SesError(str(exc), partial=replace(result, notes=tuple(notes))) from exc
    return replace(result, signature_valid=ok, notes=tuple(notes))


def _verify_v1(data: bytes) -> SignedValueResult:
    sig = SESSignatureV1.load(data)
    tbs = sig["to_sign"]
    seal, seal_certs = _seal_v1(tbs["eseal"])
    signer_der = bytes(tbs["cert"].native)
    signer, signer_cert = cert_info(signer_der)
    alg = tbs["signature_algorithm"].dotted
    notes: list[str] = []
    ok = _verify_with_cert(
        signer_cert, alg, tbs.dump(), _signature_bits(sig["signature"], "the signature", notes)
    )
    return SignedValueResult(
        format="GM/T 0031-2014",
        version=tbs["version"].native,
        signature_algorithm=alg,
        signer=signer,
        seal=seal,
        signing_time=read_time(_bits(tbs["time_info"])),
        data_hash=_bits(tbs["data_hash"]),
        property_info=read_text(tbs["property_info"]),
        signature_valid=ok,
        signer_in_seal=(signer_der in seal_certs) if seal_certs else None,
        notes=tuple(notes),
    )


def _verify_35275(data: bytes) -> SignedValueResult:
    kids = _children(data)
    ctype = core.ObjectIdentifier.load(kids[0][4]).dotted
    if ctype not in (OID_GBT35275_SIGNED_DATA, "1.2.840.113549.1.7.2"):
        raise SesError(f"content type {ctype} is not signed data")
    if len(kids) < 2 or kids[1][0] != 2 or kids[1][2] != 0:
        raise SesError("signed data content is not [0] EXPLICIT")
    sd = SignedData35275.load(kids[1][3])
    infos = list(sd["signer_infos"])
    if len(infos) != 1:
        raise SesError(f"{len(infos)} signer infos; exactly one is expected")
    si = infos[0]
    certs: list[x509.Certificate] = []
    if not isinstance(sd["certificates"], core.Void):
        for c in sd["certificates"]:
            der = c.dump()
            if der[:1] == b"\x30":  # a plain Certificate (not an attribute certificate)
                certs.append(x509.Certificate.load(der))
    signer_cert = None
    sid = si["sid"]
    if sid.dump()[:1] == b"\x30":  # IssuerAndSerialNumber ([0] would be a key identifier)
        want = IssuerAndSerial.load(sid.dump())["serial_number"].native
        for c in certs:
            if c.serial_number == want:
                signer_cert = c
                break
    if signer_cert is None:
        raise SesError("the signer's certificate is not in the signed data")
    signer, _ = cert_info(signer_cert.dump())
    digest_alg = si["digest_algorithm"]["algorithm"].dotted
    if digest_alg not in SM3_OIDS:
        raise SesError(f"unsupported digest algorithm {digest_alg} (only SM3 is known)")
    alg = si["signature_algorithm"]["algorithm"].dotted
    attrs = si["signed_attrs"]
    if isinstance(attrs, core.Void):
        raise SesError("signed data without signed attributes: detached content is not in the file")
    message_digest: bytes | None = None
    signing_time: str | None = None
    for attr in attrs:
        kind = attr["type"].dotted
        values = attr["values"]
        if not len(values):
            continue
        if kind == "1.2.840.113549.1.9.4":
            message_digest = bytes(values[0].contents or b"")  # OCTET STRING contents
        elif kind == "1.2.840.113549.1.9.5":
            signing_time = read_time(values[0])
    if message_digest is None:
        raise SesError("signed attributes carry no messageDigest")
    raw_attrs = attrs.dump()
    to_verify = b"\x31" + raw_attrs[1:]  # signed over SET OF, not the [0] IMPLICIT tag
    ok = _verify_with_cert(signer_cert, alg, to_verify, bytes(si["signature"].native))
    return SignedValueResult(
        format="GB/T 35275-2017",
        version=sd["version"].native,
        signature_algorithm=alg,
        signer=signer,
        seal=None,
        signing_time=signing_time,
        data_hash=message_digest,
        property_info=None,
        signature_valid=ok,
        signer_in_seal=None,
    )
