"""The organisation's archive key: SM2 key pair and self-issued certificate (固化).

Each package manifest is signed with it (SM2-with-SM3, GB/T 32918 / GM/T 0009 DER), so a
receiving archive can check where a package came from and that nothing changed since filing.
The private key stays under the data folder (``home/keys``, mode 0600) and is never
exported; the public key and the certificate live in the archive store
(``archive_dir/keys``) and travel with every year-end export.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from archive.errors import refused
from core import clock
from core.settings import get_settings
from invoice.verify import sm2

PRIVATE_NAME = "archive_sm2.key"
CERT_NAME = "archive_cert.der"
CERT_PEM_NAME = "archive_cert.pem"
PUBLIC_PEM_NAME = "archive_public.pem"
# The key signs packages kept 30 years from the year after filing, and one key serves every
# year's packages: 50 years leaves room for late filing and the final audits. (Validity is
# informative — the check uses the key — but an expired certificate alarms receiving tools.)
CERT_VALIDITY_YEARS = 50
# Signature files name the algorithm so a reader need not guess.
ALGORITHM = "SM2-with-SM3 (1.2.156.10197.1.501), user id 1234567812345678, DER SM2Signature"


@dataclass(frozen=True)
class ArchiveKey:
    private: int
    public: sm2.Point
    cert_der: bytes

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the DER SubjectPublicKeyInfo: names the key in package rows."""
        return public_fingerprint(self.public)


@functools.lru_cache(maxsize=16)
def public_fingerprint(pub: sm2.Point) -> str:
    return hashlib.sha256(sm2.public_key_der(pub)).hexdigest()


def private_dir() -> Path:
    return get_settings().home / "keys"


def public_dir() -> Path:
    return get_settings().archive_dir / "keys"


def _pem(label: str, der: bytes) -> bytes:
    b64 = base64.b64encode(der).decode("ascii")
    lines = [b64[i:i + 64] for i in range(0, len(b64), 64)]
    return (f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----\n").encode("ascii")


def _years_after(start: datetime, years: int) -> datetime:
    """The same calendar day ``years`` later (29 February becomes 28 February)."""
    try:
        return start.replace(year=start.year + years)
    except ValueError:
        return start.replace(year=start.year + years, day=28)


def ensure_archive_key() -> ArchiveKey:
    """Make the archive key pair and certificate if they do not exist yet (``fapiao init``)."""
    priv_path = private_dir() / PRIVATE_NAME
    if priv_path.exists():
        return load_archive_key()
    settings = get_settings()
    private_dir().mkdir(parents=True, exist_ok=True)
    os.chmod(private_dir(), 0o700)
    d, pub = sm2.generate_keypair()
    org = settings.org_name or "fapiao-archive"
    start = clock.now()
    days = (_years_after(start, CERT_VALIDITY_YEARS) - start).days
    cert = sm2.self_signed_certificate(d, f"{org} 电子会计档案归档密钥", organization=org,
                                       days=days, not_before=start)
    try:  # O_EXCL: two processes starting at once never get two different keys
        fd = os.open(priv_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return load_archive_key()
    with os.fdopen(fd, "w") as f:
        f.write(f"{d:064x}\n")
        f.flush()
        os.fsync(f.fileno())
    pub_dir = public_dir()
    pub_dir.mkdir(parents=True, exist_ok=True)
    (pub_dir / CERT_NAME).write_bytes(cert)
    (pub_dir / CERT_PEM_NAME).write_bytes(_pem("CERTIFICATE", cert))
    (pub_dir / PUBLIC_PEM_NAME).write_text(sm2.public_key_pem(pub), encoding="ascii")
    _cache.clear()
    return load_archive_key()


_cache: dict[str, ArchiveKey] = {}


def load_archive_key() -> ArchiveKey:
    priv_path = private_dir() / PRIVATE_NAME
    cache_key = str(priv_path.resolve())
    if cache_key in _cache:
        return _cache[cache_key]
    try:
        d = int(priv_path.read_text(encoding="ascii").strip(), 16)
        cert = (public_dir() / CERT_NAME).read_bytes()
    except FileNotFoundError:
        raise refused("no_archive_key", "the organisation archive key is missing: run `fapiao init` "
                                        f"(looked for {priv_path})") from None
    pub = sm2.public_key_of(d)
    if sm2.point_from_certificate(cert) != pub:
        raise refused("archive_key_mismatch", "the archive certificate does not hold the archive public key")
    key = ArchiveKey(d, pub, cert)
    _cache[cache_key] = key
    return key


def sign(key: ArchiveKey, data: bytes) -> bytes:
    sig = sm2.sign(key.private, data, pub=key.public)
    assert isinstance(sig, bytes)
    return sig


def verify(pub: sm2.Point, data: bytes, signature: bytes) -> bool:
    return sm2.verify(pub, data, signature)


def public_from_certificate(cert_der: bytes) -> sm2.Point:
    return sm2.point_from_certificate(cert_der)


def public_materials(key: ArchiveKey) -> dict[str, bytes]:
    """The files a receiving archive needs to check package signatures."""
    return {
        CERT_NAME: key.cert_der,
        CERT_PEM_NAME: _pem("CERTIFICATE", key.cert_der),
        PUBLIC_PEM_NAME: sm2.public_key_pem(key.public).encode("ascii"),
    }
