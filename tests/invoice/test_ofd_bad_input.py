"""Hostile or broken OFD input: each case is refused with a clear ParseError, quickly.

Nothing here may expand an entity, inflate past the limits, extract a file or hang: every
case runs well under a second, and the message names the file part and the reason.
"""

from __future__ import annotations

import io
import os
import time
import zipfile

import pytest

from core.settings import Settings
from invoice.errors import ErrorCode, ParseError
from invoice.ofd import OfdPackage, parse_ofd
from tests.samples import V4SIGNED

OFD_XML = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<ofd:OFD xmlns:ofd="http://www.ofdspec.org/2016" DocType="OFD" Version="1.1">'
    b"<ofd:DocBody><ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot></ofd:DocBody></ofd:OFD>"
)


def make_zip(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as zf:
        for name, data in members.items():
            zf.writestr(zipfile.ZipInfo(name), data, compress_type=method)
    return buf.getvalue()


def refused(data: bytes, where: str = "upload.ofd") -> ParseError:
    start = time.perf_counter()
    with pytest.raises(ParseError) as err:
        parse_ofd(data, where=where)
    assert time.perf_counter() - start < 1.0, "refusing bad input must be quick"
    assert where in str(err.value)  # the message names the file …
    return err.value


def test_empty_file() -> None:
    err = refused(b"")
    assert err.code is ErrorCode.EMPTY_FILE
    assert "empty" in err.message


def test_random_bytes() -> None:
    err = refused(os.urandom(4096))
    assert err.code is ErrorCode.CORRUPT_ZIP
    assert "zip" in err.message


def test_truncated_zip() -> None:
    data = V4SIGNED.read_bytes()
    err = refused(data[: len(data) // 2])  # the central directory is gone
    assert err.code is ErrorCode.CORRUPT_ZIP
    assert "not a readable zip" in err.message


def test_corrupt_member_data_names_the_member() -> None:
    data = bytearray(make_zip({"OFD.xml": OFD_XML * 20}))
    start = data.index(b"OFD.xml") + len(b"OFD.xml")  # compressed bytes follow the local header
    for i in range(start, start + 40):
        data[i] ^= 0x5A
    err = refused(bytes(data))
    assert err.code is ErrorCode.CORRUPT_ZIP
    assert err.where == "upload.ofd:OFD.xml"
    assert "cannot be read" in err.message


def test_member_named_dot_dot() -> None:
    err = refused(make_zip({"OFD.xml": OFD_XML, "../x": b"evil"}))
    assert err.code is ErrorCode.UNSAFE_PATH
    assert "'../x'" in err.message and "climbs out" in err.message


def test_member_with_dot_dot_inside_the_path() -> None:
    err = refused(make_zip({"OFD.xml": OFD_XML, "Doc_0/../../etc/cron.d/x": b"evil"}))
    assert err.code is ErrorCode.UNSAFE_PATH


@pytest.mark.parametrize("name", ["/etc/passwd", "C:/Windows/win.ini", "\\\\server\\share\\x"])
def test_absolute_member_name(name: str) -> None:
    err = refused(make_zip({"OFD.xml": OFD_XML, name: b"evil"}))
    assert err.code is ErrorCode.UNSAFE_PATH
    assert "absolute" in err.message and repr(name) in err.message


def test_zip_bomb_by_ratio() -> None:
    bomb = make_zip({"OFD.xml": OFD_XML, "Doc_0/Res/bomb.xml": b"\0" * (8 * 1024 * 1024)})
    assert len(bomb) < 100_000  # 8 MB of zeros packs to a few KB: ratio ~1000
    err = refused(bomb)
    assert err.code is ErrorCode.ZIP_BOMB
    assert "expands" in err.message and "Doc_0/Res/bomb.xml" in str(err)


def test_zip_bomb_by_total_size(settings: Settings) -> None:
    settings.max_uncompressed_bytes = 64 * 1024
    members = {"OFD.xml": OFD_XML} | {f"Doc_0/Res/{i}.bin": os.urandom(20_000) for i in range(5)}
    err = refused(make_zip(members, zipfile.ZIP_STORED))
    assert err.code is ErrorCode.ZIP_BOMB
    assert "uncompressed" in err.message


def test_too_many_members(settings: Settings) -> None:
    settings.max_zip_members = 50
    members = {"OFD.xml": OFD_XML} | {f"Doc_0/{i}.xml": b"<a/>" for i in range(60)}
    err = refused(make_zip(members))
    assert err.code is ErrorCode.ZIP_BOMB
    assert "61 members" in err.message


def test_declared_size_cannot_be_exceeded() -> None:
    """A header that understates a member's size: zipfile stops at the declared size."""
    data = bytearray(make_zip({"OFD.xml": OFD_XML}, zipfile.ZIP_STORED))
    real = len(OFD_XML).to_bytes(4, "little")
    fake = (10).to_bytes(4, "little")
    # patch the uncompressed size in the local header (offset 22) and central directory
    data[22:26] = fake
    cd = data.index(b"PK\x01\x02")
    assert data[cd + 24:cd + 28] == real
    data[cd + 24:cd + 28] = fake
    err = refused(bytes(data))
    assert err.code in (ErrorCode.CORRUPT_ZIP, ErrorCode.BAD_XML)
    assert "OFD.xml" in str(err)


XXE = (b'<?xml version="1.0"?><!DOCTYPE ofd [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
       b'<ofd:OFD xmlns:ofd="http://www.ofdspec.org/2016"><ofd:DocBody>'
       b"<ofd:DocRoot>&xxe;</ofd:DocRoot></ofd:DocBody></ofd:OFD>")
LAUGHS = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
          + b"".join(b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
                     for i in range(1, 10))
          + b']><ofd:OFD xmlns:ofd="http://www.ofdspec.org/2016"><ofd:DocBody>'
          b"<ofd:DocRoot>&lol9;</ofd:DocRoot></ofd:DocBody></ofd:OFD>")


@pytest.mark.parametrize("ofd_xml", [XXE, LAUGHS], ids=["external-entity", "billion-laughs"])
def test_entities_in_ofd_xml_are_never_expanded(ofd_xml: bytes) -> None:
    err = refused(make_zip({"OFD.xml": ofd_xml, "Doc_0/Document.xml": b"<a/>"}))
    assert err.code is ErrorCode.FORBIDDEN_XML
    assert err.where == "upload.ofd:OFD.xml"
    assert "DOCTYPE" in err.message or "entity" in err.message


def test_entity_in_an_inner_member_is_refused_too() -> None:
    members = {"OFD.xml": OFD_XML, "Doc_0/Document.xml": XXE}
    err = refused(make_zip(members))
    assert err.code is ErrorCode.FORBIDDEN_XML
    assert err.where == "upload.ofd:Doc_0/Document.xml"


def test_zip_without_ofd_xml() -> None:
    err = refused(make_zip({"Doc_0/Document.xml": b"<a/>", "readme.txt": b"hello"}))
    assert err.code is ErrorCode.BAD_OFD
    assert "no OFD.xml" in err.message


def test_doc_root_pointing_nowhere() -> None:
    err = refused(make_zip({"OFD.xml": OFD_XML}))
    assert err.code is ErrorCode.BAD_OFD
    assert "DocRoot" in err.message


def test_ofd_xml_that_is_not_xml() -> None:
    err = refused(make_zip({"OFD.xml": b"\x00\x01 not xml at all"}))
    assert err.code is ErrorCode.BAD_XML


def _no_extract(*args: object, **kwargs: object) -> None:
    raise AssertionError("a member was extracted to disk")


def test_package_never_writes_to_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reading members goes through memory only: any attempt to extract would fail here."""
    monkeypatch.setattr(zipfile.ZipFile, "extract", _no_extract)
    monkeypatch.setattr(zipfile.ZipFile, "extractall", _no_extract)
    pkg = OfdPackage(V4SIGNED.read_bytes(), "v4signed.ofd")
    assert all(pkg.read(name) is not None for name in pkg.names())
    assert parse_ofd(V4SIGNED.read_bytes()).number == "99999951"


def test_duplicate_member_names_are_refused() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf, pytest.warns(UserWarning, match="Duplicate name"):
        zf.writestr("OFD.xml", OFD_XML)
        zf.writestr("OFD.xml", OFD_XML)
    err = refused(buf.getvalue())
    assert err.code is ErrorCode.CORRUPT_ZIP
    assert "twice" in err.message


def test_huge_declared_directory_is_refused_before_reading_it() -> None:
    data = bytearray(make_zip({"OFD.xml": OFD_XML}))
    eocd = data.rfind(b"PK\x05\x06")
    data[eocd + 8:eocd + 12] = (60000).to_bytes(2, "little") * 2  # entries on disk / total
    err = refused(bytes(data))
    assert err.code is ErrorCode.ZIP_BOMB
    assert "60000 members" in err.message


def test_encrypted_member_is_refused() -> None:
    data = bytearray(make_zip({"OFD.xml": OFD_XML}))
    cd = data.index(b"PK\x01\x02")
    data[cd + 8] |= 0x1  # general purpose flag: encrypted
    err = refused(bytes(data))
    assert err.code is ErrorCode.CORRUPT_ZIP
    assert "encrypted" in err.message and err.where == "upload.ofd:OFD.xml"


def test_mangled_samples_give_a_result_or_a_parse_error() -> None:
    """Random damage to a real OFD (zip bytes or one member's XML) never escapes as a crash."""
    import random

    from tests.samples import INVOICES

    rnd = random.Random(20260101)
    samples = [p.read_bytes() for p in sorted(INVOICES.rglob("*.ofd"))]
    for _ in range(150):
        data = bytearray(rnd.choice(samples))
        if rnd.random() < 0.5:
            for _ in range(rnd.randint(1, 8)):
                data[rnd.randrange(len(data))] = rnd.randrange(256)
            damaged = bytes(data)
        else:
            src = zipfile.ZipFile(io.BytesIO(bytes(data)))
            target = rnd.choice(src.namelist())
            members = {}
            for name in src.namelist():
                body = bytearray(src.read(name))
                if name == target and body:
                    at = rnd.randrange(len(body))
                    body[at:at + rnd.randint(1, 40)] = rnd.choice([b"<", b"&", b"\xe5", b""])
                members[name] = bytes(body)
            damaged = make_zip(members)
        try:
            parse_ofd(damaged)
        except ParseError as err:
            assert err.message
