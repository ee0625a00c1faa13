"""The package manifest: every file with its size, SHA-256 and SM3 digest.

The manifest is the thing signed at filing (固化): its bytes are exactly what the SM2
signature covers, so it is written once, canonically (sorted paths, UTF-8, no pretty-print
variance), and read back with the hardened XML parser. SM3 (GB/T 32905) is the digest the
Chinese archive standards expect beside SHA-256.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from lxml import etree

from invoice.errors import ErrorCode, ParseError
from invoice.xmlsafe import parse_xml

MANIFEST_NAME = "manifest.xml"
SIGNATURE_NAME = "manifest.sig"
NS = "urn:fapiao-archive:manifest:1"
CHUNK = 1 << 20


@dataclass(frozen=True)
class FileEntry:
    path: str  # relative, "/"-separated
    size: int
    sha256: str
    sm3: str


def sm3_hex(data: bytes) -> str:
    h = hashes.Hash(hashes.SM3())
    h.update(data)
    return h.finalize().hex()


def digest_bytes(path: str, data: bytes) -> FileEntry:
    return FileEntry(path, len(data), hashlib.sha256(data).hexdigest(), sm3_hex(data))


def digest_file(root: Path, rel: str) -> FileEntry:
    """Digest a file in chunks (flat memory for large originals)."""
    sha = hashlib.sha256()
    sm3 = hashes.Hash(hashes.SM3())
    size = 0
    with open(root / rel, "rb") as f:
        while chunk := f.read(CHUNK):
            sha.update(chunk)
            sm3.update(chunk)
            size += len(chunk)
    return FileEntry(rel, size, sha.hexdigest(), sm3.finalize().hex())


def manifest_xml(entries: list[FileEntry], archival_code: str) -> bytes:
    root = etree.Element(f"{{{NS}}}manifest", nsmap={None: NS})
    root.set("archivalCode", archival_code)
    for e in sorted(entries, key=lambda e: e.path):
        el = etree.SubElement(root, f"{{{NS}}}file")
        el.set("path", e.path)
        el.set("size", str(e.size))
        el.set("sha256", e.sha256)
        el.set("sm3", e.sm3)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


@dataclass(frozen=True)
class Manifest:
    archival_code: str
    entries: list[FileEntry]

    def by_path(self) -> dict[str, FileEntry]:
        return {e.path: e for e in self.entries}


def read_manifest(data: bytes) -> Manifest:
    """Parse a manifest; raise ParseError when it is not one (the check reports it)."""
    root = parse_xml(data, MANIFEST_NAME)
    if root.tag != f"{{{NS}}}manifest":
        raise ParseError(ErrorCode.BAD_XML, f"root element is {root.tag}, not manifest", MANIFEST_NAME)
    entries = []
    for el in root.findall(f"{{{NS}}}file"):
        try:
            entries.append(FileEntry(el.get("path", ""), int(el.get("size", "-1")), el.get("sha256", ""),
                                     el.get("sm3", "")))
        except ValueError as exc:
            raise ParseError(ErrorCode.BAD_XML, f"file entry {el.get('path')!r}: bad size", MANIFEST_NAME) from exc
    return Manifest(root.get("archivalCode", ""), entries)


def list_files(root: Path) -> list[str]:
    """Every regular file under ``root`` as relative "/" paths (links and odd types included)."""
    out = []
    for p in sorted(root.rglob("*")):
        if p.is_file() or p.is_symlink():
            out.append(p.relative_to(root).as_posix())
    return out
