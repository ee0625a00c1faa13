"""The organisation key: one SM2 key pair that signs archive manifests and audit-chain anchors.

Why in ``core``: the audit chain (``core/audit.py``) signs its anchors with this key and
``core`` imports nothing above it; the archive (``archive/signing.py``) uses the same key for
package manifests and re-exports what it needs from here.

Files. The private key stays under the data folder (``home/keys``, mode 0600) and is never
exported. The public side lives in the archive store (``archive_dir/keys``) and travels with
every year-end export: the current certificate (DER and PEM), the public key (PEM) and the
**key history** ``key-history.json``.

Fingerprint. A key is named by the **SM3 of its DER SubjectPublicKeyInfo** (64 hex digits),
``fingerprint_sm3``: it names the key that signs, so re-issuing a certificate for the same key
does not change it, and swapping the certificate for one with another key always does.
(Package rows keep their older name, the SHA-256 of the same bytes; the history carries both.)

Rotation and the key history. ``rotate_key`` makes a new key; the history gets one record per
key, in order. A record holds the key's self-issued certificate, its predecessor's
fingerprint and two SM2 signatures over the same canonical statement (format, sequence
number, certificate, predecessor, time): one by the **previous key** (the old key hands over:
it vouches for its successor) and one by the **new key itself** (the new key names its
predecessor: it vouches for the keys before it). With both, trust runs either way from the
key a receiver pinned: a package signed by an earlier key verifies when an unbroken run of
valid records joins that key to the pinned one, and only then. A key merely listed in a
history, or joined by a record with a wrong signature, is not trusted.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import functools
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from core import clock, messages, sm2
from core.errors import ErrorKind, ServiceError
from core.filemodes import private_file
from core.fsutil import fsync_path
from core.settings import get_settings

PRIVATE_NAME = "archive_sm2.key"
CERT_NAME = "archive_cert.der"
CERT_PEM_NAME = "archive_cert.pem"
PUBLIC_PEM_NAME = "archive_public.pem"
HISTORY_NAME = "key-history.json"
HISTORY_FORMAT = "fapiao-archive key history 1"
RETIRED_DIR = "retired"
# The key signs packages kept 30 years from the year after filing, and one key may serve many
# years' packages: 50 years leaves room for late filing and the final audits. (Validity is
# informative — the check uses the key — but an expired certificate alarms receiving tools.)
CERT_VALIDITY_YEARS = 50
# Signature files name the algorithm so a reader need not guess.
ALGORITHM = "SM2-with-SM3 (1.2.156.10197.1.501), user id 1234567812345678, DER SM2Signature"
FINGERPRINT_RULE = "SM3 over the DER SubjectPublicKeyInfo of the SM2 public key (hex)"


class OrgKeyError(ServiceError):
    """The organisation key is missing or its files disagree (the message says which)."""

    def __init__(self, code: str, **params: Any) -> None:
        super().__init__(ErrorKind.REFUSED, code, messages.text(code, **params), {k: str(v) for k, v in params.items()})


@functools.lru_cache(maxsize=64)
def fingerprint_sm3(pub: sm2.Point) -> str:
    """SM3 of the DER SubjectPublicKeyInfo: the name of a key in reports, bags and pins."""
    return sm2.sm3(sm2.public_key_der(pub)).hex()


@functools.lru_cache(maxsize=64)
def fingerprint_sha256(pub: sm2.Point) -> str:
    """SHA-256 of the DER SubjectPublicKeyInfo (the name package rows have always used)."""
    return hashlib.sha256(sm2.public_key_der(pub)).hexdigest()


def normalise_fingerprint(fp: str) -> str:
    """Accept ``AB:CD…``, spaces and upper case, as people copy fingerprints."""
    return "".join(c for c in fp.strip().lower() if c not in ": ")


@dataclass(frozen=True)
class OrgKey:
    private: int
    public: sm2.Point
    cert_der: bytes

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the DER SubjectPublicKeyInfo: names the key in package rows."""
        return fingerprint_sha256(self.public)

    @property
    def fingerprint_sm3(self) -> str:
        return fingerprint_sm3(self.public)


def private_dir() -> Path:
    return get_settings().home / "keys"


def public_dir() -> Path:
    return get_settings().archive_dir / "keys"


def pem(label: str, der: bytes) -> bytes:
    b64 = base64.b64encode(der).decode("ascii")
    lines = [b64[i:i + 64] for i in range(0, len(b64), 64)]
    return (f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----\n").encode("ascii")


def _years_after(start: datetime, years: int) -> datetime:
    """The same calendar day ``years`` later (29 February becomes 28 February)."""
    try:
        return start.replace(year=start.year + years)
    except ValueError:
        return start.replace(year=start.year + years, day=28)


def _new_certificate(d: int) -> bytes:
    org = get_settings().org_name or "fapiao-archive"
    start = clock.now()
    days = (_years_after(start, CERT_VALIDITY_YEARS) - start).days
    return sm2.self_signed_certificate(d, f"{org} 电子会计档案归档密钥", organization=org,
                                       days=days, not_before=start)


def _write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_path(path.parent)


def _write_public(cert: bytes, pub: sm2.Point, history: KeyHistory) -> None:
    pub_dir = public_dir()
    pub_dir.mkdir(parents=True, exist_ok=True)
    _write_atomic(pub_dir / HISTORY_NAME, history.to_json())
    _write_atomic(pub_dir / CERT_NAME, cert)
    _write_atomic(pub_dir / CERT_PEM_NAME, pem("CERTIFICATE", cert))
    _write_atomic(pub_dir / PUBLIC_PEM_NAME, sm2.public_key_pem(pub).encode("ascii"))


@contextlib.contextmanager
def _keys_lock() -> Iterator[None]:
    """One process at a time makes or rotates the key (an flock on the private folder)."""
    d = private_dir()
    d.mkdir(parents=True, exist_ok=True)
    os.chmod(d, 0o700)
    with open(private_file(d / ".lock"), "a") as f:  # 0600 like the key beside it, whatever the umask
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def ensure_key() -> OrgKey:
    """Make the key pair, certificate and history if they do not exist yet (``fapiao init``)."""
    priv_path = private_dir() / PRIVATE_NAME
    if priv_path.exists():
        return load_key()
    with _keys_lock():
        if priv_path.exists():  # another process made it while we waited
            return load_key()
        d, pub = sm2.generate_keypair()
        cert = _new_certificate(d)
        history = KeyHistory((KeyRecord.make(1, cert, None, None, d),))
        _write_atomic(priv_path.with_suffix(".new"), f"{d:064x}\n".encode("ascii"), 0o600)
        _write_public(cert, pub, history)
        os.replace(priv_path.with_suffix(".new"), priv_path)
        fsync_path(priv_path.parent)
    _cache.clear()
    return load_key()


_cache: dict[str, OrgKey] = {}


def _read_private(path: Path) -> int:
    return int(path.read_text(encoding="ascii").strip(), 16)


def load_key() -> OrgKey:
    """The current key (cached per data folder); refuses when its files disagree."""
    priv_path = private_dir() / PRIVATE_NAME
    cache_key = str(priv_path.resolve())
    if cache_key in _cache:
        return _cache[cache_key]
    try:
        cert = (public_dir() / CERT_NAME).read_bytes()
        cert_pub = sm2.point_from_certificate(cert)
        pending = priv_path.with_suffix(".new")
        if pending.exists() and sm2.public_key_of(_read_private(pending)) == cert_pub:
            # a rotation stopped after publishing the new certificate: finish it
            _retire(priv_path)
            os.replace(pending, priv_path)
        d = _read_private(priv_path)
    except FileNotFoundError:
        raise OrgKeyError("no_archive_key", path=priv_path) from None
    pub = sm2.public_key_of(d)
    if cert_pub != pub:
        raise OrgKeyError("archive_key_mismatch", path=public_dir() / CERT_NAME)
    key = OrgKey(d, pub, cert)
    _cache[cache_key] = key
    return key


def key_exists() -> bool:
    return (private_dir() / PRIVATE_NAME).exists()


def _retire(priv_path: Path) -> None:
    """Keep a replaced private key out of use (``keys/retired``), for the administrator to destroy."""
    if not priv_path.exists():
        return
    old = _read_private(priv_path)
    retired = priv_path.parent / RETIRED_DIR
    retired.mkdir(mode=0o700, exist_ok=True)
    target = retired / f"archive_sm2-{fingerprint_sm3(sm2.public_key_of(old))[:16]}.key"
    os.replace(priv_path, target)


def rotate_key() -> tuple[OrgKey, OrgKey]:
    """Make a new current key, joined to the history by a record both keys sign.

    Returns (previous, new). Packages and anchors signed before keep verifying through the
    history; the previous private key is moved to ``keys/retired``.
    """
    with _keys_lock():
        _cache.clear()
        old = load_key()
        history = load_history()
        if not history.records or history.records[-1].fingerprint_sm3 != old.fingerprint_sm3:
            raise OrgKeyError("key_history_mismatch", path=public_dir() / HISTORY_NAME)
        d, pub = sm2.generate_keypair()
        cert = _new_certificate(d)
        rec = KeyRecord.make(len(history.records) + 1, cert, old.fingerprint_sm3, old.private, d)
        new_history = KeyHistory((*history.records, rec))
        priv_path = private_dir() / PRIVATE_NAME
        _write_atomic(priv_path.with_suffix(".new"), f"{d:064x}\n".encode("ascii"), 0o600)
        _write_public(cert, pub, new_history)
        _retire(priv_path)
        os.replace(priv_path.with_suffix(".new"), priv_path)
        fsync_path(priv_path.parent)
        _cache.clear()
        new = load_key()
    return old, new


def sign(key: OrgKey, data: bytes) -> bytes:
    sig = sm2.sign(key.private, data, pub=key.public)
    assert isinstance(sig, bytes)
    return sig


def verify(pub: sm2.Point, data: bytes, signature: bytes) -> bool:
    try:
        return sm2.verify(pub, data, signature)
    except (ValueError, TypeError):
        return False


# --- the key history ---------------------------------------------------------------------------


def _b64(data: bytes | None) -> str | None:
    return base64.b64encode(data).decode("ascii") if data is not None else None


def _unb64(value: Any, what: str) -> bytes:
    if not isinstance(value, str):
        raise ValueError(f"{what} is not base64 text")
    try:
        return base64.b64decode(value, validate=True)
    except ValueError as exc:
        raise ValueError(f"{what} is not base64: {exc}") from None


@dataclass(frozen=True)
class KeyRecord:
    """One key of the history and the signatures that join it to its predecessor."""

    seq: int
    certificate: bytes
    previous: str | None  # fingerprint_sm3 of the key before, None for the first
    created_at: str
    signature_previous: bytes | None  # by the previous key over statement()
    signature_self: bytes  # by this key over statement()
    fingerprint_claimed: str = ""  # as written in the file (checked against the certificate)

    @functools.cached_property
    def public(self) -> sm2.Point:
        return sm2.point_from_certificate(self.certificate)

    @property
    def fingerprint_sm3(self) -> str:
        return fingerprint_sm3(self.public)

    def statement(self) -> bytes:
        """The exact bytes both signatures cover (canonical JSON)."""
        return json.dumps({"format": HISTORY_FORMAT, "seq": self.seq, "certificate": _b64(self.certificate),
                           "fingerprint_sm3": self.fingerprint_sm3, "previous": self.previous,
                           "created_at": self.created_at},
                          sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")

    @classmethod
    def make(cls, seq: int, cert: bytes, previous: str | None, previous_private: int | None,
             private: int) -> KeyRecord:
        unsigned = cls(seq, cert, previous, clock.now().isoformat(timespec="seconds"), None, b"")
        stmt = unsigned.statement()
        pub = sm2.public_key_of(private)
        sig_prev = None
        if previous_private is not None:
            s = sm2.sign(previous_private, stmt, pub=sm2.public_key_of(previous_private))
            assert isinstance(s, bytes)
            sig_prev = s
        own = sm2.sign(private, stmt, pub=pub)
        assert isinstance(own, bytes)
        return cls(seq, cert, previous, unsigned.created_at, sig_prev, own, fingerprint_sm3(pub))

    def to_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "fingerprint_sm3": self.fingerprint_sm3,
                "fingerprint_sha256": fingerprint_sha256(self.public), "created_at": self.created_at,
                "previous": self.previous, "certificate": _b64(self.certificate),
                "signature_previous": _b64(self.signature_previous), "signature_self": _b64(self.signature_self)}

    def own_problem(self) -> str | None:
        """Why this record does not hold on its own (certificate, fingerprint, own signature)."""
        try:
            pub = self.public
        except (ValueError, TypeError) as exc:
            return f"certificate unreadable: {exc}"
        if not sm2.verify_certificate_signature(self.certificate, pub):
            return "the certificate's self-signature does not verify"
        if self.fingerprint_claimed and normalise_fingerprint(self.fingerprint_claimed) != self.fingerprint_sm3:
            return f"fingerprint {self.fingerprint_claimed[:16]}… does not match its certificate"
        if not verify(pub, self.statement(), self.signature_self):
            return "the record is not signed by its own key"
        return None


@dataclass(frozen=True)
class Trust:
    """Which keys a pin (or the current key) trusts through the history, and why others not."""

    anchor: str  # the fingerprint trust starts from
    trusted: tuple[KeyRecord, ...]
    problems: tuple[str, ...]

    def fingerprints(self) -> list[str]:
        return [r.fingerprint_sm3 for r in self.trusted]

    def publics(self) -> list[sm2.Point]:
        return [r.public for r in self.trusted]


@dataclass(frozen=True)
class KeyHistory:
    records: tuple[KeyRecord, ...]

    @classmethod
    def parse(cls, data: bytes) -> KeyHistory:
        """Read ``key-history.json``; ValueError when it is not one."""
        try:
            doc = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"{HISTORY_NAME} is not JSON: {exc}") from None
        if not isinstance(doc, dict) or doc.get("format") != HISTORY_FORMAT or not isinstance(doc.get("keys"), list):
            raise ValueError(f"{HISTORY_NAME} is not a key history ({HISTORY_FORMAT})")
        records = []
        for i, k in enumerate(doc["keys"]):
            if not isinstance(k, dict):
                raise ValueError(f"key {i + 1}: not an object")
            sp = k.get("signature_previous")
            prev = k.get("previous")
            if prev is not None and not isinstance(prev, str):
                raise ValueError(f"key {i + 1}: previous is not a fingerprint")
            seq = k.get("seq")
            if not isinstance(seq, int):
                raise ValueError(f"key {i + 1}: seq is not a number")
            records.append(KeyRecord(seq, _unb64(k.get("certificate"), f"key {i + 1} certificate"), prev,
                                     str(k.get("created_at", "")),
                                     None if sp is None else _unb64(sp, f"key {i + 1} signature_previous"),
                                     _unb64(k.get("signature_self"), f"key {i + 1} signature_self"),
                                     str(k.get("fingerprint_sm3", ""))))
        return cls(tuple(records))

    def to_json(self) -> bytes:
        doc = {"format": HISTORY_FORMAT, "fingerprint_rule": FINGERPRINT_RULE, "algorithm": ALGORITHM,
               "keys": [r.to_dict() for r in self.records]}
        return (json.dumps(doc, ensure_ascii=False, indent=2) + "\n").encode("utf-8")

    def index_of(self, fp: str) -> int | None:
        fp = normalise_fingerprint(fp)
        for i, r in enumerate(self.records):
            with contextlib.suppress(ValueError, TypeError):
                if r.fingerprint_sm3 == fp:
                    return i
        return None

    def link_problem(self, i: int) -> str | None:
        """Why record ``i`` is not joined to record ``i - 1`` (None: both signatures hold)."""
        r = self.records[i]
        if r.seq != i + 1:
            return f"key {i + 1} carries sequence number {r.seq}"
        if i == 0:
            return None if r.previous is None else "the first key names a predecessor"
        prev = self.records[i - 1]
        try:
            prev_fp = prev.fingerprint_sm3
        except (ValueError, TypeError):
            return f"key {i}: certificate unreadable"
        if r.previous is None or normalise_fingerprint(r.previous) != prev_fp:
            return f"key {i + 1} names predecessor {str(r.previous)[:16]}…, the history has {prev_fp[:16]}…"
        if r.signature_previous is None or not verify(prev.public, r.statement(), r.signature_previous):
            return f"key {i + 1} ({r.fingerprint_sm3[:16]}…) is not signed by the previous key {prev_fp[:16]}…"
        return None

    def trust_from(self, fp: str) -> Trust:
        """The keys joined to ``fp`` by unbroken runs of valid records, before and after it."""
        fp = normalise_fingerprint(fp)
        problems: list[str] = []
        p = self.index_of(fp)
        if p is None:
            return Trust(fp, (), (f"key {fp[:16]}… is not in the key history",))
        own = self.records[p].own_problem()
        if own:
            return Trust(fp, (), (f"key {p + 1}: {own}",))
        trusted = [self.records[p]]
        j = p
        while j > 0:  # backwards: record j names and is signed by key j - 1
            why = self.link_problem(j) or self.records[j - 1].own_problem()
            if why:
                problems.append(f"keys before {j + 1} not trusted: {why}")
                break
            trusted.insert(0, self.records[j - 1])
            j -= 1
        j = p
        while j + 1 < len(self.records):  # forwards: key j signed record j + 1
            why = self.link_problem(j + 1) or self.records[j + 1].own_problem()
            if why:
                problems.append(f"keys after {j + 1} not trusted: {why}")
                break
            trusted.append(self.records[j + 1])
            j += 1
        return Trust(fp, tuple(trusted), tuple(problems))


_history_cache: dict[str, tuple[tuple[int, int], KeyHistory]] = {}


def load_history() -> KeyHistory:
    """The local key history; a data folder from before rotation gets its first record made now.

    Cached on the file's size and mtime (package listings look fingerprints up per row).
    """
    path = public_dir() / HISTORY_NAME
    try:
        st = path.stat()
        stamp = (st.st_size, st.st_mtime_ns)
        cached = _history_cache.get(str(path))
        if cached and cached[0] == stamp:
            return cached[1]
        history = KeyHistory.parse(path.read_bytes())
        _history_cache[str(path)] = (stamp, history)
        return history
    except FileNotFoundError:
        pass
    key = load_key()
    history = KeyHistory((KeyRecord.make(1, key.cert_der, None, None, key.private),))
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_atomic(path, history.to_json())
    return history


def current_trust() -> Trust:
    """What this installation trusts: the current key and every key joined to it."""
    return load_history().trust_from(load_key().fingerprint_sm3)
