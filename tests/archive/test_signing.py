"""The archive key's certificate outlives the 30-year retention of what it signs."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from asn1crypto import pem, x509

from archive import signing
from core import clock
from core.settings import Settings
from invoice.verify import sm2


@pytest.fixture
def pinned_clock() -> Iterator[None]:
    yield
    clock.set_clock(None)


def _validity(cert_der: bytes) -> tuple[datetime, datetime, str]:
    validity = x509.Certificate.load(cert_der)["tbs_certificate"]["validity"]
    return validity["not_before"].native, validity["not_after"].native, validity["not_after"].name


def test_archive_certificate_covers_thirty_year_retention_and_verifies(settings: Settings) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    key = signing.ensure_archive_key()
    not_before, not_after, form = _validity(key.cert_der)
    assert before <= not_before <= datetime.now(UTC)
    assert not_after >= datetime.now(UTC) + timedelta(days=30 * 366)
    assert not_after.year == not_before.year + signing.CERT_VALIDITY_YEARS
    assert form == "general_time"  # past 2049: RFC 5280 GeneralizedTime
    # the certificate holds the archive key and is signed by it
    assert sm2.point_from_certificate(key.cert_der) == key.public
    assert sm2.verify_certificate_signature(key.cert_der, key.public)
    # what receiving archives get: the PEM copy is the same certificate, and it checks signatures
    materials = signing.public_materials(key)
    _label, _headers, der = pem.unarmor(materials[signing.CERT_PEM_NAME])
    assert der == key.cert_der == (signing.public_dir() / signing.CERT_NAME).read_bytes()
    data = "manifest 归档".encode()
    sig = signing.sign(key, data)
    assert signing.verify(signing.public_from_certificate(der), data, sig)
    assert not signing.verify(signing.public_from_certificate(der), data + b".", sig)
    # a second start loads the same key and certificate instead of minting new ones
    signing._cache.clear()
    again = signing.ensure_archive_key()
    assert again.cert_der == key.cert_der and again.private == key.private


def test_archive_certificate_made_on_29_february(settings: Settings, pinned_clock: None) -> None:
    clock.set_clock(lambda: datetime(2028, 2, 29, 12, 0, tzinfo=UTC))
    key = signing.ensure_archive_key()
    not_before, not_after, _form = _validity(key.cert_der)
    assert not_before == datetime(2028, 2, 29, 12, 0, tzinfo=UTC)
    assert not_after == datetime(2078, 2, 28, 12, 0, tzinfo=UTC)
    assert sm2.verify_certificate_signature(key.cert_der, key.public)
