"""The organisation's archive key as the archive uses it: manifests signed at filing (固化).

Each package manifest is signed with the organisation key (SM2-with-SM3, GB/T 32918 /
GM/T 0009 DER), so a receiving archive can check where a package came from and that nothing
changed since filing. The key itself — files, fingerprint (SM3 of the DER
SubjectPublicKeyInfo), rotation and the signed key history — lives in :mod:`core.orgkey`,
because the audit chain signs its anchors with the same key and ``core`` imports nothing
above it. This module keeps the archive's names and adds what an export carries.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from core import audit, messages, orgkey, sm2
from core.orgkey import (  # noqa: F401 - the archive's names for the organisation key
    ALGORITHM,
    CERT_NAME,
    CERT_PEM_NAME,
    CERT_VALIDITY_YEARS,
    HISTORY_NAME,
    PRIVATE_NAME,
    PUBLIC_PEM_NAME,
    KeyHistory,
    OrgKey,
    Trust,
    _cache,
    fingerprint_sm3,
    normalise_fingerprint,
    private_dir,
    public_dir,
    rotate_key,
    sign,
    verify,
)
from core.users import User

ArchiveKey = OrgKey


def public_fingerprint(pub: sm2.Point) -> str:
    """SHA-256 of the DER SubjectPublicKeyInfo (the name package rows carry)."""
    return orgkey.fingerprint_sha256(pub)


def ensure_archive_key() -> OrgKey:
    """Make the archive key pair, certificate and history if they do not exist yet (``fapiao init``)."""
    return orgkey.ensure_key()


def load_archive_key() -> OrgKey:
    return orgkey.load_key()


def public_from_certificate(cert_der: bytes) -> sm2.Point:
    return sm2.point_from_certificate(cert_der)


def public_materials(key: OrgKey) -> dict[str, bytes]:
    """The files a receiving archive needs to check package signatures, rotated keys included."""
    return {
        CERT_NAME: key.cert_der,
        CERT_PEM_NAME: orgkey.pem("CERTIFICATE", key.cert_der),
        PUBLIC_PEM_NAME: sm2.public_key_pem(key.public).encode("ascii"),
        HISTORY_NAME: orgkey.load_history().to_json(),
    }


def key_info() -> dict[str, Any]:
    """``GET /archive/key`` and ``fapiao archive key``: the current key and its history."""
    key = orgkey.load_key()
    history = orgkey.load_history()
    trust = history.trust_from(key.fingerprint_sm3)
    trusted = set(trust.fingerprints())
    return {
        "fingerprint_sm3": key.fingerprint_sm3,
        "fingerprint_rule": orgkey.FINGERPRINT_RULE,
        "fingerprint_sha256": key.fingerprint,
        "certificate": orgkey.pem("CERTIFICATE", key.cert_der).decode("ascii"),
        "algorithm": ALGORITHM,
        "history": [{"seq": r.seq, "fingerprint_sm3": r.fingerprint_sm3,
                     "fingerprint_sha256": orgkey.fingerprint_sha256(r.public), "created_at": r.created_at,
                     "previous": r.previous, "current": r.fingerprint_sm3 == key.fingerprint_sm3,
                     "trusted": r.fingerprint_sm3 in trusted,
                     "certificate": orgkey.pem("CERTIFICATE", r.certificate).decode("ascii")}
                    for r in history.records],
        "history_problems": list(trust.problems),
    }


def sm3_by_sha256(sha256_fp: str) -> str | None:
    """The SM3 fingerprint of a key known by its SHA-256 name (package rows), via the history."""
    try:
        records = orgkey.load_history().records
    except orgkey.OrgKeyError:
        return None
    for r in records:
        if orgkey.fingerprint_sha256(r.public) == sha256_fp:
            return r.fingerprint_sm3
    return None


def rotate(session: Session, user: User) -> dict[str, Any]:
    """``fapiao archive rotate-key``: a new key, joined to the history; audited and anchored.

    The audit entry records both fingerprints; the anchor written right after is signed by the
    new key, so the chain's anchors cross the rotation through the history like the packages.
    """
    old, new = orgkey.rotate_key()
    seq = len(orgkey.load_history().records)
    audit.append(session, user.username, "archive.key_rotated", "archive_key", new.fingerprint_sm3[:64],
                 {"previous_fingerprint_sm3": old.fingerprint_sm3, "fingerprint_sm3": new.fingerprint_sm3,
                  "history_seq": seq})
    session.flush()
    info = key_info()
    info["message"] = messages.text("archive.key.rotated", new=new.fingerprint_sm3, old=old.fingerprint_sm3,
                                    seq=seq)
    info["previous_fingerprint_sm3"] = old.fingerprint_sm3
    return info

