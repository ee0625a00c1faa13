"""SM2 digital signatures (GB/T 32918.2-2016 / GM/T 0003.2-2012) over plain Python integers.

``cryptography`` has SM3 but refuses the SM2 curve, and the pure-Python packages verify a
few dozen signatures a second; an archive that re-verifies every e-seal on import and on
year-end export needs better. This module is therefore written for speed without leaving
Python:

* Jacobian coordinates (no inversion per point operation; ``a = -3`` doubling formula for
  the recommended curve, the general one for other curves such as the standard's test curve);
* a fixed-base table for the generator: ``k·G`` is the sum of one precomputed affine point
  per byte of ``k`` (32 mixed additions, no doubling at all);
* width-5 wNAF for the variable point ``u2·P``, whose odd multiples are made affine with one
  shared inversion, and the two products summed at the end.

Signing (used for the organisation key: archive packages and audit anchors) uses the same code with a secret
``k`` from :mod:`secrets`. The functions take the message, not its digest: ``e = SM3(Z_A ||
M)`` with ``Z_A`` built from the user id (default ``1234567812345678``) and the public key,
as every Chinese e-seal and e-signature does.
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from asn1crypto import algos, keys, x509
from cryptography.hazmat.primitives import hashes

DEFAULT_UID = b"1234567812345678"
OID_SM2_CURVE = "1.2.156.10197.1.301"
OID_SM2_SIGN = "1.2.156.10197.1.301.1"  # "sm2sign" (bare SM2 algorithm id, used in CMS)
OID_SM2_WITH_SM3 = "1.2.156.10197.1.501"
OID_SM3 = "1.2.156.10197.1.401"
OID_EC_PUBLIC_KEY = "1.2.840.10045.2.1"

Point = tuple[int, int]
_Jac = tuple[int, int, int]


class SM2Error(ValueError):
    """A key, point or signature encoding that is not valid SM2 (not a failed check)."""


def sm3(data: bytes) -> bytes:
    """SM3 digest (GB/T 32905) through ``cryptography``."""
    h = hashes.Hash(hashes.SM3())
    h.update(data)
    return h.finalize()


@dataclass(eq=False)
class Curve:
    """A short Weierstrass curve y² = x³ + ax + b over GF(p) with a generator of prime order n."""

    name: str
    p: int
    a: int
    b: int
    n: int
    gx: int
    gy: int
    _table: list[list[Point | None]] | None = field(default=None, repr=False)

    @property
    def g(self) -> Point:
        return (self.gx, self.gy)

    @property
    def a_is_minus_3(self) -> bool:
        return (self.a + 3) % self.p == 0

    def contains(self, pt: Point) -> bool:
        x, y = pt
        p = self.p
        return 0 <= x < p and 0 <= y < p and (y * y - (x * x * x + self.a * x + self.b)) % p == 0

    # -- fixed-base table ---------------------------------------------------------------
    def base_table(self) -> list[list[Point | None]]:
        """``table[i][j] = j · 256^i · G`` in affine form (``j`` 1..255), built on first use.

        About 8,000 additions and one shared inversion per row: a few tenths of a second once
        per process, after which ``k·G`` needs only 32 mixed additions.
        """
        if self._table is None:
            self._table = _build_table(self, self.g, 8)
        return self._table


def _build_table(c: Curve, pt: Point, bits: int) -> list[list[Point | None]]:
    """``table[i][j] = j · 2^(bits·i) · P`` (affine) for every window of a scalar below n."""
    rows: list[list[Point | None]] = []
    nwin = (c.n.bit_length() + bits - 1) // bits
    size = 1 << bits
    base: _Jac = (pt[0], pt[1], 1)
    for _ in range(nwin):
        jac: list[_Jac] = [base]
        for _j in range(2, size):
            jac.append(_add(c, jac[-1], base))
        rows.append([None, *_to_affine_many(c, jac)])
        nxt = base
        for _k in range(bits):
            nxt = _double(c, nxt)
        base = nxt
    return rows


def _mul_table(c: Curve, table: list[list[Point | None]], bits: int, k: int, acc: _Jac) -> _Jac:
    """acc + k·P from P's window table: one mixed addition per non-zero window."""
    mask = (1 << bits) - 1
    i = 0
    while k:
        w = k & mask
        if w:
            q = table[i][w]
            assert q is not None
            acc = _add_affine(c, acc, q[0], q[1])
        k >>= bits
        i += 1
    return acc


# Public keys seen more than once (a province's e-invoice platform signs every invoice with one
# key) get their own 4-bit window table: 64 mixed additions instead of 256 doublings.
_KEY_TABLE_BITS = 4
_KEY_TABLE_AFTER = 8  # build on the 8th use: a table costs about as much as 10 wNAF runs
_KEY_TABLES_MAX = 64
_key_tables: OrderedDict[tuple[int, ...], list[list[Point | None]]] = OrderedDict()
_key_uses: dict[tuple[int, ...], int] = {}
_key_lock = threading.Lock()


def _key_table(c: Curve, pt: Point) -> list[list[Point | None]] | None:
    key = (c.p, c.a, c.b, pt[0], pt[1])
    with _key_lock:
        table = _key_tables.get(key)
        if table is not None:
            _key_tables.move_to_end(key)
            return table
        uses = _key_uses.get(key, 0) + 1
        if uses < _KEY_TABLE_AFTER:
            if len(_key_uses) > 4 * _KEY_TABLES_MAX:
                _key_uses.clear()
            _key_uses[key] = uses
            return None
        _key_uses.pop(key, None)
    table = _build_table(c, pt, _KEY_TABLE_BITS)  # outside the lock: pure, a few ms
    with _key_lock:
        _key_tables[key] = table
        if len(_key_tables) > _KEY_TABLES_MAX:
            _key_tables.popitem(last=False)
    return table


def clear_caches() -> None:
    """Forget per-key tables (benchmarks of the cold path; tests)."""
    with _key_lock:
        _key_tables.clear()
        _key_uses.clear()


SM2_CURVE = Curve(
    name="sm2p256v1",
    p=0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF,
    a=0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC,
    b=0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93,
    n=0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123,
    gx=0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7,
    gy=0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0,
)


# -- point arithmetic (Jacobian: x = X/Z², y = Y/Z³; Z == 0 is the point at infinity) -------


def _double(c: Curve, pt: _Jac) -> _Jac:
    x1, y1, z1 = pt
    if z1 == 0 or y1 == 0:
        return (1, 1, 0)
    p = c.p
    delta = z1 * z1 % p
    gamma = y1 * y1 % p
    beta = x1 * gamma % p
    if c.a_is_minus_3:
        alpha = 3 * (x1 - delta) * (x1 + delta) % p
    else:
        alpha = (3 * x1 * x1 + c.a * delta * delta) % p
    x3 = (alpha * alpha - 8 * beta) % p
    z3 = ((y1 + z1) * (y1 + z1) - gamma - delta) % p
    y3 = (alpha * (4 * beta - x3) - 8 * gamma * gamma) % p
    return (x3, y3, z3)


def _add(c: Curve, p1: _Jac, p2: _Jac) -> _Jac:
    """General Jacobian addition (add-2007-bl), handling infinity and doubling."""
    x1, y1, z1 = p1
    x2, y2, z2 = p2
    if z1 == 0:
        return p2
    if z2 == 0:
        return p1
    p = c.p
    z1z1 = z1 * z1 % p
    z2z2 = z2 * z2 % p
    u1 = x1 * z2z2 % p
    u2 = x2 * z1z1 % p
    s1 = y1 * z2 * z2z2 % p
    s2 = y2 * z1 * z1z1 % p
    h = (u2 - u1) % p
    r = 2 * (s2 - s1) % p
    if h == 0:
        if r == 0:
            return _double(c, p1)
        return (1, 1, 0)
    i = 4 * h * h % p
    j = h * i % p
    v = u1 * i % p
    x3 = (r * r - j - 2 * v) % p
    y3 = (r * (v - x3) - 2 * s1 * j) % p
    z3 = ((z1 + z2) * (z1 + z2) - z1z1 - z2z2) * h % p
    return (x3, y3, z3)


def _add_affine(c: Curve, p1: _Jac, x2: int, y2: int) -> _Jac:
    """Mixed addition Jacobian + affine (madd-2007-bl)."""
    x1, y1, z1 = p1
    if z1 == 0:
        return (x2, y2, 1)
    p = c.p
    z1z1 = z1 * z1 % p
    u2 = x2 * z1z1 % p
    s2 = y2 * z1 * z1z1 % p
    h = (u2 - x1) % p
    r = 2 * (s2 - y1) % p
    if h == 0:
        if r == 0:
            return _double(c, p1)
        return (1, 1, 0)
    hh = h * h % p
    i = 4 * hh
    j = h * i % p
    v = x1 * i % p
    x3 = (r * r - j - 2 * v) % p
    y3 = (r * (v - x3) - 2 * y1 * j) % p
    z3 = ((z1 + h) * (z1 + h) - z1z1 - hh) % p
    return (x3, y3, z3)


def _to_affine(c: Curve, pt: _Jac) -> Point | None:
    x, y, z = pt
    if z == 0:
        return None
    p = c.p
    zi = pow(z, -1, p)
    zi2 = zi * zi % p
    return (x * zi2 % p, y * zi2 * zi % p)


def _to_affine_many(c: Curve, pts: Sequence[_Jac]) -> list[Point | None]:
    """Affine forms of many points with one inversion (Montgomery's trick)."""
    p = c.p
    prefix: list[int] = []
    acc = 1
    for _x, _y, z in pts:
        prefix.append(acc)
        if z:
            acc = acc * z % p
    inv = pow(acc, -1, p) if acc != 0 else 0
    out: list[Point | None] = [None] * len(pts)
    for idx in range(len(pts) - 1, -1, -1):
        x, y, z = pts[idx]
        if z == 0:
            continue
        zi = inv * prefix[idx] % p
        inv = inv * z % p
        zi2 = zi * zi % p
        out[idx] = (x * zi2 % p, y * zi2 * zi % p)
    return out


def _wnaf(k: int, w: int = 5) -> list[int]:
    """Width-w non-adjacent form, least significant digit first."""
    digits: list[int] = []
    full = 1 << w
    half = full >> 1
    while k:
        if k & 1:
            d = k & (full - 1)
            if d >= half:
                d -= full
            k -= d
        else:
            d = 0
        digits.append(d)
        k >>= 1
    return digits


def _mul_base_jac(c: Curve, k: int) -> _Jac:
    return _mul_table(c, c.base_table(), 8, k, (1, 1, 0))


def _mul_var_jac(c: Curve, pt: Point, k: int) -> _Jac:
    """k·P by width-5 wNAF with affine odd multiples P, 3P, …, 15P (inlined hot loop)."""
    x, y = pt
    p = c.p
    twice = _double(c, (x, y, 1))
    odd: list[_Jac] = [(x, y, 1)]
    for _ in range(7):
        odd.append(_add(c, odd[-1], twice))
    aff = _to_affine_many(c, odd)
    pos: dict[int, Point] = {}
    neg: dict[int, Point] = {}
    for idx, q in enumerate(aff):
        if q is None:  # only for points of tiny order, which SM2 keys never are
            return _mul_slow(c, pt, k)
        pos[2 * idx + 1] = q
        neg[2 * idx + 1] = (q[0], (-q[1]) % p)
    digits = _wnaf(k)
    if not c.a_is_minus_3:
        acc: _Jac = (1, 1, 0)
        for d in reversed(digits):
            acc = _double(c, acc)
            if d:
                qx, qy = pos[d] if d > 0 else neg[-d]
                acc = _add_affine(c, acc, qx, qy)
        return acc
    # a = -3 (the SM2 curve): doubling dbl-2001-b and mixed addition madd-2007-bl inlined,
    # since this loop is the verifier's hot path (≈256 doublings, ≈43 additions)
    x1, y1, z1 = 1, 1, 0
    for d in reversed(digits):
        if z1:
            delta = z1 * z1 % p
            gamma = y1 * y1 % p
            beta = x1 * gamma % p
            alpha = 3 * (x1 - delta) * (x1 + delta) % p
            z1 = 2 * y1 * z1 % p
            x1 = (alpha * alpha - 8 * beta) % p
            y1 = (alpha * (4 * beta - x1) - 8 * gamma * gamma) % p
        if d:
            qx, qy = pos[d] if d > 0 else neg[-d]
            if not z1:
                x1, y1, z1 = qx, qy, 1
                continue
            z1z1 = z1 * z1 % p
            h = (qx * z1z1 - x1) % p
            r = 2 * (qy * z1 * z1z1 - y1) % p
            if not h:
                if not r:
                    x1, y1, z1 = _double(c, (x1, y1, z1))
                else:
                    x1, y1, z1 = 1, 1, 0
                continue
            hh = h * h % p
            i = 4 * hh
            j = h * i % p
            v = x1 * i % p
            x3 = (r * r - j - 2 * v) % p
            y1 = (r * (v - x3) - 2 * y1 * j) % p
            z1 = 2 * z1 * h % p
            x1 = x3
    return (x1, y1, z1)


def _mul_slow(c: Curve, pt: Point, k: int) -> _Jac:
    acc: _Jac = (1, 1, 0)
    add: _Jac = (pt[0], pt[1], 1)
    while k:
        if k & 1:
            acc = _add(c, acc, add)
        add = _double(c, add)
        k >>= 1
    return acc


def mul_base(k: int, curve: Curve = SM2_CURVE) -> Point | None:
    """k·G (affine), ``None`` for the point at infinity."""
    return _to_affine(curve, _mul_base_jac(curve, k % curve.n))


def mul_point(pt: Point, k: int, curve: Curve = SM2_CURVE) -> Point | None:
    """k·P (affine), ``None`` for the point at infinity."""
    return _to_affine(curve, _mul_var_jac(curve, pt, k % curve.n))


# -- keys --------------------------------------------------------------------------------


def generate_keypair(curve: Curve = SM2_CURVE) -> tuple[int, Point]:
    """A fresh private key d in [1, n-2] and its public point d·G."""
    d = secrets.randbelow(curve.n - 2) + 1
    pub = mul_base(d, curve)
    assert pub is not None
    return d, pub


def public_key_of(d: int, curve: Curve = SM2_CURVE) -> Point:
    if not 1 <= d <= curve.n - 2:
        raise SM2Error("SM2 private key out of range")
    pub = mul_base(d, curve)
    assert pub is not None
    return pub


def encode_point(pt: Point, curve: Curve = SM2_CURVE) -> bytes:
    """Uncompressed SEC1 encoding 04 || X || Y."""
    size = (curve.p.bit_length() + 7) // 8
    return b"\x04" + pt[0].to_bytes(size, "big") + pt[1].to_bytes(size, "big")


def decode_point(data: bytes, curve: Curve = SM2_CURVE) -> Point:
    """Read an uncompressed (04) or compressed (02/03) point and check it lies on the curve."""
    size = (curve.p.bit_length() + 7) // 8
    if len(data) == 2 * size + 1 and data[0] == 4:
        pt = (int.from_bytes(data[1 : size + 1], "big"), int.from_bytes(data[size + 1 :], "big"))
    elif len(data) == size + 1 and data[0] in (2, 3):
        x = int.from_bytes(data[1:], "big")
        p = curve.p
        rhs = (x * x * x + curve.a * x + curve.b) % p
        if p % 4 != 3:
            raise SM2Error("compressed points are supported only when p ≡ 3 (mod 4)")
        y = pow(rhs, (p + 1) // 4, p)
        if y * y % p != rhs:
            raise SM2Error("compressed point is not on the curve")
        if (y & 1) != (data[0] & 1):
            y = p - y
        pt = (x, y)
    else:
        raise SM2Error(f"unsupported EC point encoding ({len(data)} bytes, first byte {data[:1].hex()})")
    if not curve.contains(pt):
        raise SM2Error("public key point is not on the SM2 curve")
    return pt


# -- Z_A and e -----------------------------------------------------------------------------


def za(pub: Point, uid: bytes = DEFAULT_UID, curve: Curve = SM2_CURVE) -> bytes:
    """Z_A = SM3(ENTL_A || ID_A || a || b || x_G || y_G || x_A || y_A) (GB/T 32918.2 §5.5)."""
    entl = len(uid) * 8
    if entl > 0xFFFF:
        raise SM2Error("SM2 user id longer than 8191 bytes")
    size = (curve.p.bit_length() + 7) // 8
    parts = [entl.to_bytes(2, "big"), uid]
    for v in (curve.a, curve.b, curve.gx, curve.gy, pub[0], pub[1]):
        parts.append(v.to_bytes(size, "big"))
    return sm3(b"".join(parts))


def message_digest(pub: Point, msg: bytes, uid: bytes = DEFAULT_UID, curve: Curve = SM2_CURVE) -> int:
    """e = SM3(Z_A || M) as an integer."""
    return int.from_bytes(sm3(za(pub, uid, curve) + msg), "big")


# -- signatures ----------------------------------------------------------------------------


def encode_signature(r: int, s: int) -> bytes:
    """DER SEQUENCE { r INTEGER, s INTEGER } (GM/T 0009 SM2Signature)."""
    return algos.DSASignature({"r": r, "s": s}).dump()


def decode_signature(sig: bytes | tuple[int, int], curve: Curve = SM2_CURVE) -> tuple[int, int]:
    """(r, s) from DER, from raw 64-byte r||s (some e-seal vendors), or from a tuple."""
    if isinstance(sig, tuple):
        return sig
    size = (curve.n.bit_length() + 7) // 8
    if len(sig) == 2 * size and sig[:1] != b"\x30":
        return int.from_bytes(sig[:size], "big"), int.from_bytes(sig[size:], "big")
    try:
        parsed = algos.DSASignature.load(sig, strict=True)
        # read the INTEGER bytes as unsigned: some signers omit the 00 before a high bit
        r = int.from_bytes(parsed["r"].contents, "big")
        s = int.from_bytes(parsed["s"].contents, "big")
    except (ValueError, TypeError) as exc:
        if len(sig) == 2 * size:
            return int.from_bytes(sig[:size], "big"), int.from_bytes(sig[size:], "big")
        raise SM2Error(f"signature is neither DER nor raw r||s ({len(sig)} bytes)") from exc
    return r, s


def sign_digest(d: int, e: int, curve: Curve = SM2_CURVE, k: int | None = None) -> tuple[int, int]:
    """Sign the digest e (already SM3(Z_A || M)). ``k`` only for known-answer tests."""
    n = curve.n
    if not 1 <= d <= n - 2:
        raise SM2Error("SM2 private key out of range")
    dinv = pow(1 + d, -1, n)
    while True:
        kk = k if k is not None else secrets.randbelow(n - 1) + 1
        pt = mul_base(kk, curve)
        assert pt is not None
        r = (e + pt[0]) % n
        if r == 0 or r + kk == n:
            if k is not None:
                raise SM2Error("the given k yields an invalid signature")
            continue
        s = dinv * (kk - r * d) % n
        if s == 0:
            if k is not None:
                raise SM2Error("the given k yields an invalid signature")
            continue
        return r, s


def sign(
    d: int,
    msg: bytes,
    uid: bytes = DEFAULT_UID,
    curve: Curve = SM2_CURVE,
    der: bool = True,
    pub: Point | None = None,
) -> bytes | tuple[int, int]:
    """SM2-with-SM3 signature of ``msg``: DER bytes by default, (r, s) with ``der=False``."""
    pub = pub or public_key_of(d, curve)
    e = message_digest(pub, msg, uid, curve)
    r, s = sign_digest(d, e, curve)
    return encode_signature(r, s) if der else (r, s)


def verify_digest(pub: Point, e: int, r: int, s: int, curve: Curve = SM2_CURVE) -> bool:
    """GB/T 32918.2 §7.1 B3-B7 on the digest e: does (r, s) hold for public key ``pub``?"""
    n = curve.n
    if not (1 <= r < n and 1 <= s < n):
        return False
    t = (r + s) % n
    if t == 0:
        return False
    if not curve.contains(pub):
        return False
    table = _key_table(curve, pub)
    if table is not None:
        acc = _mul_table(curve, table, _KEY_TABLE_BITS, t, (1, 1, 0))
    else:
        acc = _mul_var_jac(curve, pub, t)
    acc = _mul_table(curve, curve.base_table(), 8, s, acc)  # + s·G
    x, _y, z = acc
    if z == 0:
        return False
    p = curve.p
    # x1 = X/Z² without inverting: compare X with x·Z² for both candidates x ≡ r - e (mod n)
    z2 = z * z % p
    cand = (r - e) % n
    while cand < p:
        if (cand * z2 - x) % p == 0:
            return True
        cand += n
    return False


def verify(
    pub: Point,
    msg: bytes,
    sig: bytes | tuple[int, int],
    uid: bytes = DEFAULT_UID,
    curve: Curve = SM2_CURVE,
) -> bool:
    """True when ``sig`` (DER, raw r||s or (r, s)) is a valid SM2-with-SM3 signature of ``msg``.

    A malformed signature encoding is simply not valid (False); a malformed key raises
    ``SM2Error`` because it says nothing about the message.
    """
    try:
        r, s = decode_signature(sig, curve)
    except SM2Error:
        return False
    e = message_digest(pub, msg, uid, curve)
    return verify_digest(pub, e, r, s, curve)


# -- keys and certificates in ASN.1 ------------------------------------------------------


def public_key_info(pub: Point) -> keys.PublicKeyInfo:
    """SubjectPublicKeyInfo: id-ecPublicKey with the SM2 named curve."""
    return keys.PublicKeyInfo(
        {
            "algorithm": keys.PublicKeyAlgorithm(
                {
                    "algorithm": OID_EC_PUBLIC_KEY,
                    "parameters": keys.ECDomainParameters(name="named", value=OID_SM2_CURVE),
                }
            ),
            "public_key": encode_point(pub),
        }
    )


def public_key_der(pub: Point) -> bytes:
    """DER SubjectPublicKeyInfo of an SM2 public key."""
    return public_key_info(pub).dump()


def public_key_pem(pub: Point) -> str:
    import base64

    b64 = base64.encodebytes(public_key_der(pub)).decode("ascii").replace("\n", "")
    lines = [b64[i : i + 64] for i in range(0, len(b64), 64)]
    return "-----BEGIN PUBLIC KEY-----\n" + "\n".join(lines) + "\n-----END PUBLIC KEY-----\n"


def point_from_spki(spki: keys.PublicKeyInfo | bytes) -> Point:
    """The SM2 point of a SubjectPublicKeyInfo; raises SM2Error for any other key."""
    info = keys.PublicKeyInfo.load(spki) if isinstance(spki, bytes) else spki
    alg = info["algorithm"]["algorithm"].dotted
    if alg not in (OID_EC_PUBLIC_KEY, OID_SM2_CURVE):
        raise SM2Error(f"not an EC/SM2 public key (algorithm {alg})")
    params = info["algorithm"]["parameters"]
    curve_oid = None
    if params.native is not None and params.name == "named":
        curve_oid = params.chosen.dotted
    if curve_oid not in (None, OID_SM2_CURVE):
        raise SM2Error(f"EC key on curve {curve_oid}, not SM2 ({OID_SM2_CURVE})")
    raw = info["public_key"]
    # SPKI's key is a BIT STRING: the first content byte counts unused bits (always 0 here)
    data = raw.contents[1:]
    return decode_point(bytes(data))


def point_from_certificate(cert: x509.Certificate | bytes) -> Point:
    c = x509.Certificate.load(cert) if isinstance(cert, bytes) else cert
    return point_from_spki(c["tbs_certificate"]["subject_public_key_info"])


def certificate_time(when: datetime) -> x509.Time:
    """An X.509 ``Time`` for ``when`` in the form RFC 5280 §4.1.2.5 requires.

    UTCTime (two-digit year) for 1950 through 2049, GeneralizedTime for every other year;
    both in UTC to the second. The archive key must outlive the 30-year retention period,
    so certificate validity routinely runs past 2049.
    """
    if when.tzinfo is None or when.utcoffset() is None:
        raise SM2Error(f"certificate time {when.isoformat()} has no time zone")
    utc = when.astimezone(UTC).replace(microsecond=0)
    kind = "utc_time" if 1950 <= utc.year <= 2049 else "general_time"
    return x509.Time(name=kind, value=utc)


def self_signed_certificate(
    d: int,
    common_name: str,
    organization: str | None = None,
    days: int = 3650,
    not_before: datetime | None = None,
    serial: int | None = None,
) -> bytes:
    """A self-issued X.509 v3 certificate (DER) for an SM2 key, signed with SM2-with-SM3.

    For the archive's own package signatures: it carries the public key in the standard
    place so that any SM2-aware tool can check them; nobody should trust it beyond that.
    """
    pub = public_key_of(d)
    start = not_before or datetime.now(UTC)
    names: dict[str, str] = {"common_name": common_name}
    if organization:
        names["organization_name"] = organization
    name = x509.Name.build(names, use_printable=False)
    sig_alg = algos.SignedDigestAlgorithm({"algorithm": OID_SM2_WITH_SM3})
    tbs = x509.TbsCertificate(
        {
            "version": "v3",
            "serial_number": serial if serial is not None else secrets.randbits(63) + 1,
            "signature": sig_alg,
            "issuer": name,
            "validity": x509.Validity(
                {
                    "not_before": certificate_time(start),
                    "not_after": certificate_time(start + timedelta(days=days)),
                }
            ),
            "subject": name,
            "subject_public_key_info": public_key_info(pub),
            "extensions": [
                {"extn_id": "basic_constraints", "critical": True, "extn_value": {"ca": False}},
                {
                    "extn_id": "key_usage",
                    "critical": True,
                    "extn_value": {"digital_signature", "non_repudiation"},
                },
            ],
        }
    )
    sig = sign(d, tbs.dump(), pub=pub)
    assert isinstance(sig, bytes)
    cert = x509.Certificate(
        {"tbs_certificate": tbs, "signature_algorithm": sig_alg, "signature_value": sig}
    )
    return cert.dump()


def verify_certificate_signature(cert: bytes, issuer_pub: Point) -> bool:
    """Does ``issuer_pub`` verify the certificate's SM2-with-SM3 signature over its TBS part?"""
    c = x509.Certificate.load(cert)
    alg = c["signature_algorithm"]["algorithm"].dotted
    if alg != OID_SM2_WITH_SM3:
        raise SM2Error(f"certificate is signed with {alg}, not SM2-with-SM3")
    return verify(issuer_pub, c["tbs_certificate"].dump(), c["signature_value"].native)
