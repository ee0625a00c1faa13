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
"""

from __future__ import annotations

import io
import posixpath
import re
import zipfile
from collections.abc import Callable
from typing import TYPE_CHECKING

from core.settings import get_settings
from invoice.errors import ErrorCode, ParseError

if TYPE_CHECKING:
    from lxml import etree

    from invoice.ofd.layout import Face
    from invoice.ofd.xml import TextObj

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
        try:
            self._zip = zipfile.ZipFile(io.BytesIO(data))
            infos = self._zip.infolist()
        except Exception as exc:  # hostile bytes: zipfile raises BadZipFile, struct.error,
            # NotImplementedError ("zip file version 21.5"), OverflowError … all mean unreadable
            raise ParseError(
                ErrorCode.CORRUPT_ZIP,
                f"not a readable zip (an OFD is a zip package): {exc or type(exc).__name__}",
                where,
            ) from exc
        if len(infos) > settings.max_zip_members:
            raise ParseError(
                ErrorCode.ZIP_BOMB,
                f"the zip has {len(infos)} members; the limit is {settings.max_zip_members}",
                where,
            )
        self._infos: dict[str, zipfile.ZipInfo] = {}
        self._lower: dict[str, str] = {}
        total = 0
        for info in infos:
            name = self._check_name(info.filename)
            if info.is_dir() or name.endswith("/"):
                continue
            if info.flag_bits & 0x1:
                raise ParseError(ErrorCode.CORRUPT_ZIP,
                                 "the member is encrypted (an OFD never is); it cannot be read",
                                 f"{where}:{name}")
            total += info.file_size
            if total > self._max_total:
                raise ParseError(
                    ErrorCode.ZIP_BOMB,
                    f"the members expand to more than {self._max_total} bytes "
                    f"(the limit on uncompressed size)",
                    f"{where}:{name}",
                )
            if info.file_size > _RATIO_FLOOR:
                ratio = info.file_size / max(info.compress_size, 1)
                if ratio > self._max_ratio:
                    raise ParseError(
                        ErrorCode.ZIP_BOMB,
                        f"the member expands {ratio:.0f} times ({info.compress_size} -> "
                        f"{info.file_size} bytes); the limit is {self._max_ratio}",
                        f"{where}:{name}",
                    )
            if name in self._infos:
                # a second copy could shadow a signed member: no honest OFD has one
                raise ParseError(ErrorCode.CORRUPT_ZIP, f"the zip holds member {name!r} twice",
                                 f"{where}:{name}")
            self._infos[name] = info
            self._lower.setdefault(name.lower(), name)
        self._budget = self._max_total  # bytes still allowed to be inflated by read()
        self._cache: dict[str, bytes] = {}
        self._resolved: dict[tuple[str, str], str | None] = {}
        self._ofd_xml: etree._Element | None = None
        self._digests: dict[tuple[str, str], bytes] = {}
        # parsed members shared by every reading of this package (the reader and the
        # verifier get the one container, DESIGN §5): page trees and their text objects
        self.trees: dict[str, etree._Element] = {}
        self.objects: dict[str, list[TextObj]] = {}
        self.faces: dict[tuple[str, ...], Face] = {}  # page text read by position, per members

    def _check_name(self, raw: str) -> str:
        """Normalise a stored member name and refuse any that could escape the package."""
        name = raw.replace("\\", "/")
        if not name:
            raise ParseError(ErrorCode.CORRUPT_ZIP, "a zip member has an empty name",
                             f"{self.where}:{raw!r}")
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
        some vendors write root-relative paths without the leading slash. Answers are cached:
        parsers resolve the same few references many times per file.
        """
        key = (ref, base)
        if key not in self._resolved:
            self._resolved[key] = self._resolve(ref, base)
        return self._resolved[key]

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
        if info.file_size > self._budget:
            raise ParseError(ErrorCode.ZIP_BOMB,
                             f"reading the member would exceed {self._max_total} uncompressed bytes",
                             f"{self.where}:{name}")
        try:
            # ZipExtFile never returns more than the declared size, and zipfile checks the
            # CRC at the end, so a lying header cannot make us inflate past the budget.
            with self._zip.open(info) as fh:
                data = fh.read(info.file_size + 1)
        except Exception as exc:  # BadZipFile (CRC), zlib.error, NotImplementedError (method) …
            raise ParseError(ErrorCode.CORRUPT_ZIP, f"the member cannot be read: {exc}",
                             f"{self.where}:{name}") from exc
        self._budget -= len(data)
        self._cache[name] = data
        return data

    def digest(self, path: str, method: str, fn: Callable[[bytes], bytes]) -> bytes:
        """``fn(member bytes)``, computed once per member and method however many signature
        references name it (400 references to one 50 MB member cost one hash, not 400)."""
        name = self.resolve(path) or path
        key = (name, method)
        found = self._digests.get(key)
        if found is None:
            found = self._digests[key] = fn(self.read(name))
        return found

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
