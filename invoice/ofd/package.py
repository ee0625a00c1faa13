"""The OFD container: a zip read safely, in memory, lazily.

An OFD file comes from outside, so the zip is treated as hostile: member names that climb out
of the package (``../x``) or are absolute are refused, member count, total uncompressed size
and compression ratio are capped (zip bombs), and nothing is ever extracted to disk. Only the
central directory is read up front; a member is inflated only when someone asks for it, which
keeps parsing fast (an invoice needs two or three of its twenty members).

OFD references (GB/T 33190 ``ST_Loc``) are either absolute from the package root
(``/Doc_0/Pages/Page_0/Content.xml``) or relative to the referring file's folder. Vendors are
inconsistent about case (``v4signed.ofd`` refers to ``TPLS/`` but stores ``Tpls/``), so
``resolve`` falls back to a case-insensitive match when the exact name is missing.

Speed: ``zipfile`` builds a ``ZipInfo`` per member and a file object per read, which costs
more than the XML an invoice needs. Plain packages (no ZIP64, no archive comment, stored or
deflated members: every OFD seen so far) are read by ``_fast_directory`` and ``_inflate``
straight from the bytes, with the same checks ``zipfile`` makes (signatures, local header
name, declared size, CRC-32); anything unusual goes through ``zipfile`` exactly as before.
"""

from __future__ import annotations

import io
import posixpath
import re
import struct
import zipfile
import zlib
from typing import TYPE_CHECKING

from core.settings import get_settings
from invoice.errors import ErrorCode, ParseError

if TYPE_CHECKING:
    from lxml import etree

# Below this size a high compression ratio is normal (an XML file of repeated tags packs
# 100:1); ratio checks apply only to members big enough to matter.
_RATIO_FLOOR = 1024 * 1024
_DRIVE = re.compile(r"^[A-Za-z]:")


def _local(tag: object) -> str:
    """The local name of an lxml tag (``{ns}DocRoot`` -> ``DocRoot``); '' for comments/PIs."""
    if not isinstance(tag, str):
        return ""
    return tag.rpartition("}")[2]


def _declared_entries(data: bytes) -> int | None:
    """Entry count from the end-of-central-directory record, or None if not found/ZIP64."""
    tail_start = max(0, len(data) - (22 + 65535))
    pos = data.rfind(b"PK\x05\x06", tail_start)
    if pos < 0 or pos + 12 > len(data):
        return None
    count = int.from_bytes(data[pos + 10:pos + 12], "little")
    return None if count == 0xFFFF else count


# A member as the central directory describes it (the fast path's ``ZipInfo``): raw name,
# local header offset, compressed size, size, CRC-32, method (0 stored, 8 deflated).
_Entry = tuple[bytes, int, int, int, int, int]


_EOCD = struct.Struct("<4s4H2LH")
_CENTRAL = struct.Struct("<4s2xBx2H4x3L3H8xL")  # the fields _fast_directory uses
_LOCAL = struct.Struct("<4s2B4HL2L2H")
_MAX_EXTRACT_VERSION = 63  # zipfile's limit: a newer format is refused, not guessed at
_UNSUPPORTED_FLAGS = 0x1 | 0x20 | 0x40  # encrypted, patched data, strong encryption
_Member = tuple[str, int, int, int, "_Entry | zipfile.ZipInfo"]  # name, flags, sizes, handle


def _extra_ok(extra: bytes) -> bool:
    """True when the extra field is well formed and carries no ZIP64 sizes."""
    at, end = 0, len(extra)
    while end - at >= 4:
        tp = extra[at] | extra[at + 1] << 8
        ln = extra[at + 2] | extra[at + 3] << 8
        if tp == 0x0001 or at + 4 + ln > end:
            return False
        at += 4 + ln
    return True


def _fast_directory(data: bytes) -> list[_Member] | None:
    """The members of a plain zip, or None to let ``zipfile`` handle (or refuse) the file.

    "Plain": the end record is the last 22 bytes (no archive comment), no ZIP64 record, no
    prepended bytes, every entry stored or deflated, unencrypted, with a well-formed extra
    field and a name free of NUL bytes. The entries are walked like ``zipfile`` walks them
    (by the directory's byte size); the limits are checked by the caller on the result.
    """
    n = len(data)
    if n < 22 or data[n - 22:n - 18] != b"PK\x05\x06" or data[n - 2:] != b"\x00\x00":
        return None
    if n >= 42 and data[n - 42:n - 38] == b"PK\x06\x07":
        return None  # ZIP64 locator
    _, disk, disk_cd, _, total_entries, size_cd, offset_cd, _ = _EOCD.unpack_from(data, n - 22)
    if disk or disk_cd or total_entries == 0xFFFF or size_cd == 0xFFFFFFFF \
            or offset_cd == 0xFFFFFFFF or offset_cd + size_cd != n - 22:
        return None
    out: list[_Member] = []
    pos, end = offset_cd, offset_cd + size_cd
    unpack = _CENTRAL.unpack_from
    while pos < end:
        if pos + 46 > end:
            return None
        (sig, extract_version, flags, method, crc, csize, fsize, name_len, extra_len,
         comment_len, offset) = unpack(data, pos)
        if sig != b"PK\x01\x02" or extract_version > _MAX_EXTRACT_VERSION \
                or flags & _UNSUPPORTED_FLAGS or (method != 8 and method != 0) \
                or csize == 0xFFFFFFFF or fsize == 0xFFFFFFFF or offset == 0xFFFFFFFF:
            return None
        name_at = pos + 46
        raw = data[name_at:name_at + name_len]
        pos = name_at + name_len + extra_len + comment_len
        if pos > end or b"\x00" in raw:
            return None
        if extra_len and not _extra_ok(data[name_at + name_len:name_at + name_len + extra_len]):
            return None
        if raw.isascii():  # the usual case; the same string in UTF-8 and cp437
            name = raw.decode("ascii")
        else:
            try:
                name = raw.decode("utf-8") if flags & 0x800 else raw.decode("cp437")
            except UnicodeDecodeError:
                return None
        out.append((name, flags, fsize, csize, (raw, offset, csize, fsize, crc, method)))
    return out


class OfdPackage:
    """Read-only view of an OFD zip with limits from ``core.settings``.

    ``where`` names the file in error messages (the upload's name or just "ofd").
    Raises ``ParseError`` (EMPTY_FILE, CORRUPT_ZIP, UNSAFE_PATH, ZIP_BOMB) on construction;
    only the central directory is read then, members are inflated on ``read``.
    """

    def __init__(self, data: bytes, where: str = "ofd") -> None:
        self.where = where
        if not data:
            raise ParseError(ErrorCode.EMPTY_FILE, "the OFD file is empty", where)
        settings = get_settings()
        self._max_total = settings.max_uncompressed_bytes
        self._max_ratio = settings.max_zip_ratio
        declared = _declared_entries(data)
        if declared is not None and declared > settings.max_zip_members:
            # checked before zipfile builds an object per entry of a hostile directory
            raise ParseError(
                ErrorCode.ZIP_BOMB,
                f"the zip has {declared} members; the limit is {settings.max_zip_members}",
                where,
            )
        self._data = data
        self._zip: zipfile.ZipFile | None = None
        members = _fast_directory(data)
        if members is None:
            members = self._zip_directory(data)
        if len(members) > settings.max_zip_members:
            raise ParseError(
                ErrorCode.ZIP_BOMB,
                f"the zip has {len(members)} members; the limit is {settings.max_zip_members}",
                where,
            )
        self._infos: dict[str, _Entry | zipfile.ZipInfo] = {}
        self._sizes: dict[str, int] = {}
        self._lower: dict[str, str] = {}
        total = 0
        for raw_name, flags, file_size, compress_size, handle in members:
            name = self._check_name(raw_name)
            if name.endswith("/"):
                continue
            if flags & 0x1:
                raise ParseError(ErrorCode.CORRUPT_ZIP,
                                 "the member is encrypted (an OFD never is); it cannot be read",
                                 f"{where}:{name}")
            total += file_size
            if total > self._max_total:
                raise ParseError(
                    ErrorCode.ZIP_BOMB,
                    f"the members expand to more than {self._max_total} bytes "
                    f"(the limit on uncompressed size)",
                    f"{where}:{name}",
                )
            if file_size > _RATIO_FLOOR:
                ratio = file_size / max(compress_size, 1)
                if ratio > self._max_ratio:
                    raise ParseError(
                        ErrorCode.ZIP_BOMB,
                        f"the member expands {ratio:.0f} times ({compress_size} -> "
                        f"{file_size} bytes); the limit is {self._max_ratio}",
                        f"{where}:{name}",
                    )
            if name in self._infos:
                # a second copy could shadow a signed member: no honest OFD has one
                raise ParseError(ErrorCode.CORRUPT_ZIP, f"the zip holds member {name!r} twice",
                                 f"{where}:{name}")
            self._infos[name] = handle
            self._sizes[name] = file_size
            self._lower.setdefault(name.lower(), name)
        self._budget = self._max_total  # bytes still allowed to be inflated by read()
        self._cache: dict[str, bytes] = {}
        self._resolved: dict[tuple[str, str], str | None] = {}
        self._ofd_xml: etree._Element | None = None

    def _zip_directory(self, data: bytes) -> list[_Member]:
        """The members as ``zipfile`` reads them: the path for every zip that is not plain."""
        try:
            self._zip = zipfile.ZipFile(io.BytesIO(data))
            infos = self._zip.infolist()
        except Exception as exc:  # hostile bytes: zipfile raises BadZipFile, struct.error,
            # NotImplementedError ("zip file version 21.5"), OverflowError … all mean unreadable
            raise ParseError(
                ErrorCode.CORRUPT_ZIP,
                f"not a readable zip (an OFD is a zip package): {exc or type(exc).__name__}",
                self.where,
            ) from exc
        return [(i.filename, i.flag_bits, i.file_size, i.compress_size, i) for i in infos]

    def _check_name(self, raw: str) -> str:
        """Normalise a stored member name and refuse any that could escape the package."""
        name = raw.replace("\\", "/")
        if "\x00" in name:
            raise ParseError(ErrorCode.UNSAFE_PATH, f"zip member name {raw!r} contains a NUL byte",
                             f"{self.where}:{raw!r}")
        if name.startswith("/") or _DRIVE.match(name):
            raise ParseError(
                ErrorCode.UNSAFE_PATH,
                f"zip member {raw!r} has an absolute path; members must be relative to the package",
                f"{self.where}:{raw}",
            )
        if ".." in name.split("/"):
            raise ParseError(
                ErrorCode.UNSAFE_PATH,
                f"zip member {raw!r} climbs out of the package with '..'",
                f"{self.where}:{raw}",
            )
        return name

    def names(self) -> list[str]:
        """Member file paths as stored ('/'-separated, no leading '/', folders left out)."""
        return list(self._infos)

    def resolve(self, ref: str, base: str = "") -> str | None:
        """The member a reference points at, or None.

        ``ref`` is absolute (``/Doc_0/x.xml``) or relative to the folder ``base``; a relative
        reference that does not resolve under ``base`` is also tried from the root, since
        some vendors write root-relative paths without the leading slash.
        """
        key = (ref, base)
        if key in self._resolved:  # the readers ask for the same few references repeatedly
            return self._resolved[key]
        found = self._resolve(ref, base)
        if len(self._resolved) < 4096:
            self._resolved[key] = found
        return found

    def _resolve(self, ref: str, base: str) -> str | None:
        ref = ref.strip().replace("\\", "/")
        if not ref:
            return None
        if ref.startswith("/"):
            candidates = [ref.lstrip("/")]
        else:
            base = base.strip("/")
            candidates = [posixpath.join(base, ref), ref] if base else [ref]
        for cand in candidates:
            path = posixpath.normpath(cand)
            if path.startswith("../") or path == ".." or path == ".":
                continue
            if path in self._infos:
                return path
            found = self._lower.get(path.lower())
            if found is not None:
                return found
        return None

    def has(self, path: str) -> bool:
        return self.resolve(path) is not None

    def read(self, path: str) -> bytes:
        """The bytes of a member (exact or case-insensitive path); ParseError if absent."""
        name = self.resolve(path)
        if name is None:
            raise ParseError(ErrorCode.BAD_OFD, f"the OFD package has no member {path!r}",
                             f"{self.where}:{path}")
        cached = self._cache.get(name)
        if cached is not None:
            return cached
        info = self._infos[name]
        if self._sizes[name] > self._budget:
            raise ParseError(ErrorCode.ZIP_BOMB,
                             f"reading the member would exceed {self._max_total} uncompressed bytes",
                             f"{self.where}:{name}")
        try:
            if isinstance(info, tuple):
                data = self._inflate(info, name)
            else:
                # ZipExtFile never returns more than the declared size, and zipfile checks
                # the CRC at the end, so a lying header cannot make us inflate past the budget.
                assert self._zip is not None
                with self._zip.open(info) as fh:
                    data = fh.read(info.file_size + 1)
        except Exception as exc:  # BadZipFile (CRC), zlib.error, NotImplementedError (method) …
            raise ParseError(ErrorCode.CORRUPT_ZIP, f"the member cannot be read: {exc}",
                             f"{self.where}:{name}") from exc
        self._budget -= len(data)
        self._cache[name] = data
        return data

    def _inflate(self, entry: _Entry, name: str) -> bytes:
        """A member's bytes, checked as ``zipfile`` checks them, without its file objects.

        The local header must be there and name the same member; at most the declared size
        is inflated (``max_length``), and the CRC-32 of what came out must match, so a
        header that lies about the size fails here instead of inflating past the budget.
        """
        data = self._data
        raw_name, at, compress_size, size, crc, method = entry
        if at + 30 > len(data):
            raise zipfile.BadZipFile("Truncated file header")
        sig, _, _, flags, _, _, _, _, _, _, name_len, extra_len = _LOCAL.unpack_from(data, at)
        if sig != b"PK\x03\x04":
            raise zipfile.BadZipFile("Bad magic number for file header")
        local_name = data[at + 30:at + 30 + name_len]
        if local_name != raw_name:
            decoded = local_name.decode("utf-8" if flags & 0x800 else "cp437")
            if decoded != name:
                raise zipfile.BadZipFile(
                    f"File name in directory {name!r} and header {local_name!r} differ.")
        start = at + 30 + name_len + extra_len
        cut_short = start + compress_size > len(data)  # the zip itself is truncated
        if method == 0:
            out = data[start:start + min(compress_size, size)]
            if len(out) < min(compress_size, size):
                raise EOFError("the member's data is cut short")
        elif size == 0:
            out = b""
        else:
            inflater = zlib.decompressobj(-15)
            out = inflater.decompress(memoryview(data)[start:start + compress_size], size)
            if len(out) < size and not inflater.eof:
                if cut_short:
                    raise EOFError("the member's data is cut short")
                out = (out + inflater.flush())[:size]  # input used up: what the stream holds
        if zlib.crc32(out) != crc:
            raise zipfile.BadZipFile(f"Bad CRC-32 for file {name!r}")
        return out

    def ofd_xml(self) -> etree._Element:
        """The parsed ``OFD.xml`` entry file (cached); ParseError if missing or unsafe."""
        if self._ofd_xml is None:
            from invoice.xmlsafe import parse_xml, parse_xml_recover

            name = self.resolve("OFD.xml")
            if name is None:
                raise ParseError(ErrorCode.BAD_OFD,
                                 "not an OFD: the package has no OFD.xml entry file", self.where)
            data = self.read(name)
            where = f"{self.where}:{name}"
            try:
                root = parse_xml(data, where)
            except ParseError as exc:
                if exc.code is not ErrorCode.BAD_XML:
                    raise
                recovered = parse_xml_recover(data, where)
                if recovered is None:
                    raise
                root = recovered
            self._ofd_xml = root
        return self._ofd_xml

    def doc_roots(self) -> list[str]:
        """Member paths of the documents' ``Document.xml`` files named by OFD.xml DocBody/DocRoot.

        References that point at no member are left out; an empty list means the package
        names no readable document.
        """
        roots: list[str] = []
        for el in self.ofd_xml().iter():
            if _local(el.tag) == "DocRoot" and el.text:
                path = self.resolve(el.text)
                if path is not None and path not in roots:
                    roots.append(path)
        return roots
