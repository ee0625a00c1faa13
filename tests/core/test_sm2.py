"""SM2 against published known answers, gmssl (cross-check only) and itself."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone

import pytest
from asn1crypto import core, keys, x509

from core import sm2

# GB/T 32918.2-2016 Annex A (= GM/T 0003.2-2012 Annex A): the Fp-256 *test* curve, user
# "ALICE123@YAHOO.COM", message "message digest", fixed k.
TEST_CURVE = sm2.Curve(
    name="gbt32918-annex-a",
    p=0x8542D69E4C044F18E8B92435BF6FF7DE457283915C45517D722EDB8B08F1DFC3,
    a=0x787968B4FA32C3FD2417842E73BBFEFF2F3C848B6831D7E0EC65228B3937E498,
    b=0x63E4C6D3B23B0C849CF84241484BFE48F61D59A5B16BA06E6E12D1DA27C5249A,
    n=0x8542D69E4C044F18E8B92435BF6FF7DD297720630485628D5AE74EE7C32E79B7,
    gx=0x421DEBD61B62EAB6746434EBC3CC315E32220B3BADD50BDC4C4E6C147FEDD43D,
    gy=0x0680512BCBB42C07D47349D2153B70C4E5D7FDFCBFA36EA1A85841B9E46E09A2,
)
ANNEX_A = {
    "d": 0x128B2FA8BD433C6C068C8D803DFF79792A519A55171B1B650C23661D15897263,
    "px": 0x0AE4C7798AA0F119471BEE11825BE46202BB79E2A5844495E97C04FF4DF2548A,
    "py": 0x7C0240F88F1CD4E16352A73C17B7F16F07353E53A176D684A9FE0C6BB798E857,
    "za": "F4A38489E32B45B6F876E3AC2168CA392362DC8F23459C1D1146FC3DBFB7BC9A",
    "e": 0xB524F552CD82B8B028476E005C377FB19A87E6FC682D48BB5D42E3D9B9EFFE76,
    "k": 0x6CB28D99385C175C94F94E934817663FC176D925DD72B727260DBAAE1FB2F96F,
    "r": 0x40F1EC59F793D9F49E09DCEF49130D4194F79FB1EED2CAA55BACDB49C4E755D1,
    "s": 0x6FC6DAC32C5D5CF10C77DFB20F7C2EB667A457872FB09EC56327A67EC7DEEBE7,
}

# OpenSSL test/recipes/30-test_evp_data/evppkey_sm2.txt, key SM2_key1 on the recommended
# curve, two "Verify" rows (Input is the digest e, Output the DER signature).
OPENSSL_SM2_KEY1 = (
    "MIGHAgEAMBMGByqGSM49AgEGCCqBHM9VAYItBG0wawIBAQQg0JFWczAXva2An9m72MaT9gIwWTFptvlKrxyO4TjM"
    "mbWhRANCAAQ5OirZ4n5DrKqrhaGdO4VZHhRAYVcXWt3Te/d/8Mr57Tf886i09VwDhSMmH8pmNq/mp6+ioUgqYG9cs6GLLioe"
)
OPENSSL_PUB = (
    0x393A2AD9E27E43ACAAAB85A19D3B85591E14406157175ADDD37BF77FF0CAF9ED,
    0x37FCF3A8B4F55C038523261FCA6636AFE6A7AFA2A1482A606F5CB3A18B2E2A1E,
)
OPENSSL_VERIFY = [
    (
        "D7AD397F6FFA5D4F7F11E7217F241607DC30618C236D2C09C1B9EA8FDADEE2E8",
        "3046022100AB1DB64DE7C40EDBDE6651C9B8EBDB804673DB836E5D5C7FE15DCF9ED2725037022100EBA714451FF69B0BB930B379E192E7CD5FA6E3C41C7FBD8303B799AB54A54621",
    ),
    (
        "B1139602C6ECC9E15E2F3F9C635A1AFE737058BC15387479C1EA0D0B3D90E9E5",
        "3045022100E6E0414EBD3A656C35602AF14AB20287DBF30D57AF75C49A188ED4B42391F22402202F54F277C606F4605E1CE9514947FFDDF94C67A539804A4ED17F852288BDBE2E",
    ),
]


def test_annex_a_public_key_za_digest_and_signature() -> None:
    pub = sm2.mul_base(ANNEX_A["d"], TEST_CURVE)
    assert pub == (ANNEX_A["px"], ANNEX_A["py"])
    uid = b"ALICE123@YAHOO.COM"
    assert sm2.za(pub, uid, TEST_CURVE).hex().upper() == ANNEX_A["za"]
    e = sm2.message_digest(pub, b"message digest", uid, TEST_CURVE)
    assert e == ANNEX_A["e"]
    r, s = sm2.sign_digest(ANNEX_A["d"], e, TEST_CURVE, k=ANNEX_A["k"])
    assert (r, s) == (ANNEX_A["r"], ANNEX_A["s"])
    assert sm2.verify(pub, b"message digest", (r, s), uid, TEST_CURVE)
    assert not sm2.verify(pub, b"message digesT", (r, s), uid, TEST_CURVE)
    assert not sm2.verify(pub, b"message digest", (r, s), b"BOB", TEST_CURVE)


def _openssl_key() -> int:
    outer = core.Sequence.load(base64.b64decode(OPENSSL_SM2_KEY1))
    assert outer[1][0].dotted == sm2.OID_EC_PUBLIC_KEY  # PKCS#8 AlgorithmIdentifier
    return int(keys.ECPrivateKey.load(outer[2].native)["private_key"].native)


@pytest.mark.parametrize(("e_hex", "sig_hex"), OPENSSL_VERIFY)
def test_openssl_known_answers_on_the_recommended_curve(e_hex: str, sig_hex: str) -> None:
    d = _openssl_key()
    assert sm2.public_key_of(d) == OPENSSL_PUB
    r, s = sm2.decode_signature(bytes.fromhex(sig_hex))
    assert sm2.verify_digest(OPENSSL_PUB, int(e_hex, 16), r, s)
    assert not sm2.verify_digest(OPENSSL_PUB, int(e_hex, 16) ^ 1, r, s)
    assert not sm2.verify_digest(OPENSSL_PUB, int(e_hex, 16), r, (s + 1) % sm2.SM2_CURVE.n)


def test_fixed_base_and_variable_base_agree_with_double_and_add() -> None:
    for k in (1, 2, 3, 255, 256, 2**200 + 12345, sm2.SM2_CURVE.n - 1):
        slow = sm2._to_affine(sm2.SM2_CURVE, sm2._mul_slow(sm2.SM2_CURVE, sm2.SM2_CURVE.g, k))
        assert sm2.mul_base(k) == slow
        assert sm2.mul_point(sm2.SM2_CURVE.g, k) == slow
    assert sm2.mul_base(sm2.SM2_CURVE.n) is None  # n·G is the point at infinity


def test_sign_verify_round_trip_and_tamper() -> None:
    d, pub = sm2.generate_keypair()
    msg = "发票 round trip".encode()
    sig = sm2.sign(d, msg)
    assert isinstance(sig, bytes) and sig[0] == 0x30
    assert sm2.verify(pub, msg, sig)
    assert not sm2.verify(pub, msg + b"x", sig)
    _other_d, other_pub = sm2.generate_keypair()
    assert not sm2.verify(other_pub, msg, sig)
    r, s = sm2.decode_signature(sig)
    raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    assert sm2.verify(pub, msg, raw)  # raw r||s as some e-seal vendors store it
    assert not sm2.verify(pub, msg, b"\x30\x03garbage")


def test_repeated_key_uses_its_window_table_and_still_rejects_forgeries() -> None:
    sm2.clear_caches()
    d, pub = sm2.generate_keypair()
    msgs = [f"invoice {i}".encode() for i in range(sm2._KEY_TABLE_AFTER + 2)]
    sigs = [sm2.sign(d, m) for m in msgs]
    for m, sig in zip(msgs, sigs, strict=True):  # first use: wNAF; later uses: the key's table
        assert sm2.verify(pub, m, sig)
        assert not sm2.verify(pub, m + b"!", sig)
    assert sm2._key_tables  # the table was built and used
    table = sm2._key_tables[next(iter(sm2._key_tables))]
    k = 2**255 + 987654321
    got = sm2._to_affine(sm2.SM2_CURVE, sm2._mul_table(sm2.SM2_CURVE, table, 4, k, (1, 1, 0)))
    assert got == sm2.mul_point(pub, k)


def test_gmssl_agrees_both_ways() -> None:
    from gmssl import func
    from gmssl import sm2 as gsm2

    d, pub = sm2.generate_keypair()
    g = gsm2.CryptSM2(private_key=f"{d:064x}", public_key=f"{pub[0]:064x}{pub[1]:064x}")
    msg = b"cross-check with gmssl"
    r, s = sm2.decode_signature(sm2.sign(d, msg))
    assert g.verify_with_sm3(f"{r:064x}{s:064x}", msg)
    theirs = g.sign_with_sm3(msg, func.random_hex(g.para_len))
    assert sm2.verify(pub, msg, (int(theirs[:64], 16), int(theirs[64:], 16)))


def test_point_decoding_refuses_points_off_the_curve() -> None:
    _d, pub = sm2.generate_keypair()
    enc = sm2.encode_point(pub)
    assert sm2.decode_point(enc) == pub
    bad = enc[:-1] + bytes([enc[-1] ^ 1])
    with pytest.raises(sm2.SM2Error, match="not on the SM2 curve"):
        sm2.decode_point(bad)
    compressed = bytes([2 + (pub[1] & 1)]) + enc[1:33]
    assert sm2.decode_point(compressed) == pub


def test_self_signed_certificate_carries_the_key_and_verifies() -> None:
    d, pub = sm2.generate_keypair()
    der = sm2.self_signed_certificate(d, "fapiao-archive test", organization="测试单位", days=30)
    cert = x509.Certificate.load(der)
    assert cert["signature_algorithm"]["algorithm"].dotted == sm2.OID_SM2_WITH_SM3
    assert cert.subject.native["common_name"] == "fapiao-archive test"
    assert sm2.point_from_certificate(der) == pub
    assert sm2.verify_certificate_signature(der, pub)
    _d2, other = sm2.generate_keypair()
    assert not sm2.verify_certificate_signature(der, other)
    assert sm2.point_from_spki(sm2.public_key_der(pub)) == pub
    assert sm2.public_key_pem(pub).startswith("-----BEGIN PUBLIC KEY-----\n")


def test_certificate_validity_past_2049_uses_generalized_time() -> None:
    """RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050 (archive keys live 50 years)."""
    d, pub = sm2.generate_keypair()
    start = datetime(2026, 11, 25, 8, 30, 15, 123456, tzinfo=UTC)
    days = (datetime(2076, 11, 25, tzinfo=UTC) - datetime(2026, 11, 25, tzinfo=UTC)).days
    der = sm2.self_signed_certificate(d, "long-lived", not_before=start, days=days)
    validity = x509.Certificate.load(der)["tbs_certificate"]["validity"]
    assert validity["not_before"].name == "utc_time"
    assert validity["not_before"].chosen.contents == b"261125083015Z"
    assert validity["not_after"].name == "general_time"
    assert validity["not_after"].chosen.contents == b"20761125083015Z"
    assert validity["not_after"].native == datetime(2076, 11, 25, 8, 30, 15, tzinfo=UTC)
    assert sm2.verify_certificate_signature(der, pub)
    assert sm2.point_from_certificate(der) == pub


@pytest.mark.parametrize(
    ("when", "kind", "text"),
    [
        (datetime(1950, 1, 1, tzinfo=UTC), "utc_time", b"500101000000Z"),
        (datetime(2049, 12, 31, 23, 59, 59, tzinfo=UTC), "utc_time", b"491231235959Z"),
        (datetime(2050, 1, 1, tzinfo=UTC), "general_time", b"20500101000000Z"),
        # 2050-01-01 07:30 in Beijing is still 2049 in UTC: the year is judged in UTC
        (datetime(2050, 1, 1, 7, 30, tzinfo=timezone(timedelta(hours=8))), "utc_time", b"491231233000Z"),
        (datetime(1949, 12, 31, 23, 59, 59, tzinfo=UTC), "general_time", b"19491231235959Z"),
    ],
)
def test_certificate_time_picks_the_rfc5280_form(when: datetime, kind: str, text: bytes) -> None:
    t = sm2.certificate_time(when)
    assert t.name == kind
    assert t.chosen.contents == text
    assert x509.Time.load(t.dump()).native == when.astimezone(UTC)


def test_certificate_time_refuses_naive_datetimes() -> None:
    with pytest.raises(sm2.SM2Error, match="no time zone"):
        sm2.certificate_time(datetime(2060, 1, 1))  # naive on purpose
