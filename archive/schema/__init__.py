"""The archive's own XML schemas: versioned, shipped with the code and carried in every package.

A package is read decades after it was written, by programs that never saw this code, so its
XML must be described by a schema that travels with it. Each schema has a *kind* (``record``:
voucher and claims; ``metadata``: DA/T 94 metadata), a version and a namespace
``urn:fapiao-archive:<kind>:<version>``; its file is ``<kind>-<version>.xsd``, shipped in this
folder (package data) and copied into every package under ``schema/``.

A published version is never edited: a change gets a new version (a new file and namespace),
and old packages keep theirs. Validation therefore picks the XSD by the namespace a document
declares — the one shipped here when this code knows the version, otherwise the one the
package carries (a package written by a newer release) — and a package whose carried XSD
differs from the published one of the same version is reported, since the archive would then
be described by two different schemas.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from lxml import etree

from core import messages

NS_PREFIX = "urn:fapiao-archive:"
PACKAGE_SCHEMA_DIR = "schema"
# The version of content/*.xml this code writes (archive.records); raising it means adding
# record-<new>.xsd here. metadata.xml's version is archive.metadata.SCHEMA_REF.
CURRENT: dict[str, int] = {"record": 2}  # 2: voucher/payments (付款回单, issue 13)
# Folders searched for shipped XSD files, in order (tests may add one for a future version).
SCHEMA_DIRS: list[Path] = [Path(__file__).parent]

_NS_RE = re.compile(r"^urn:fapiao-archive:([a-z]+):([1-9][0-9]{0,3})$")
# The XML files of a package that are written under one of these schemas.
PACKAGE_XML = ("metadata.xml", "content/voucher.xml", "content/claims.xml")


@dataclass(frozen=True)
class SchemaRef:
    """One version of one schema kind."""

    kind: str
    version: int

    @property
    def namespace(self) -> str:
        return f"{NS_PREFIX}{self.kind}:{self.version}"

    @property
    def file_name(self) -> str:
        return f"{self.kind}-{self.version}.xsd"

    @property
    def package_path(self) -> str:
        """Where a package carries this XSD."""
        return f"{PACKAGE_SCHEMA_DIR}/{self.file_name}"


def current(kind: str) -> SchemaRef:
    """The schema version this code writes for ``kind``."""
    return SchemaRef(kind, CURRENT[kind])


def ref_of_namespace(namespace: str | None) -> SchemaRef | None:
    """The schema a namespace names; None when it is not one of this project's."""
    m = _NS_RE.match(namespace or "")
    return SchemaRef(m.group(1), int(m.group(2))) if m else None


def shipped_xsd(ref: SchemaRef) -> bytes | None:
    """The published XSD of a version, as shipped with this code; None when this code predates it."""
    for folder in SCHEMA_DIRS:
        path = folder / ref.file_name
        if path.is_file():
            return path.read_bytes()
    return None


def _parser() -> etree.XMLParser:
    # Schemas and documents are read without network, DTDs or entity expansion.
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


@lru_cache(maxsize=32)
def _compile(xsd: bytes) -> etree.XMLSchema:
    return etree.XMLSchema(etree.fromstring(xsd, _parser()))


def schema_for(xsd: bytes) -> etree.XMLSchema:
    """The compiled schema of an XSD document (cached by content)."""
    return _compile(xsd)


def validate_bytes(data: bytes, xsd: bytes) -> list[str]:
    """Schema errors of one XML document: ``line N: message`` each; empty when it is valid."""
    try:
        doc = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        return [str(exc)]
    schema = schema_for(xsd)
    if schema.validate(doc):
        return []
    return [f"line {e.line}: {e.message}" for e in schema.error_log][:20]


def validate_written(data: bytes, kind: str, where: str) -> None:
    """Validate a document this code has just written against its current XSD.

    Raises ``SchemaError`` so that a package is never filed with a record its own schema does
    not describe (a writer bug, or data the schema version cannot hold: a new schema version).
    """
    ref = current(kind)
    xsd = shipped_xsd(ref)
    if xsd is None:
        raise SchemaError(where, [f"{ref.file_name} is not shipped"])
    problems = validate_bytes(data, xsd)
    if problems:
        raise SchemaError(where, problems)


class SchemaError(Exception):
    """A written document does not validate against the schema it declares."""

    def __init__(self, where: str, problems: list[str]) -> None:
        super().__init__(f"{where}: " + "; ".join(problems))
        self.where = where
        self.problems = problems


def root_namespace(data: bytes) -> str | None:
    """The namespace of a document's root element (None: no namespace or not XML)."""
    try:
        return etree.QName(etree.fromstring(data, _parser())).namespace
    except (etree.XMLSyntaxError, ValueError):
        return None


_XS = "{http://www.w3.org/2001/XMLSchema}"


def self_contained(xsd: bytes) -> bool:
    """Whether an XSD stands alone: no include, import or redefine that would make the
    validator read other files or the network (a received package's XSD is not trusted)."""
    try:
        doc = etree.fromstring(xsd, _parser())
    except etree.XMLSyntaxError:
        return False
    return next(doc.iter(f"{_XS}include", f"{_XS}import", f"{_XS}redefine", f"{_XS}override"), None) is None


def validate_package_xml(root: Path) -> list[str]:
    """Every schema problem of a package folder's XML, in Chinese; empty when all validate.

    For the checker (四性检测) and for receiving a package. Each of ``metadata.xml``,
    ``content/voucher.xml`` and ``content/claims.xml`` is validated against the XSD of the
    namespace it declares: the published one shipped with this code, else the one the package
    carries under ``schema/``. A document without a namespace is a record written before the
    schema existed (version 0) and has no XSD to validate against; a document in this
    project's namespace with no XSD anywhere, a carried XSD that differs from the published
    one, and every schema error are problems. Missing files are the integrity items' business.
    """
    problems: list[str] = []
    reported: set[SchemaRef] = set()
    for rel in PACKAGE_XML:
        path = root / rel
        if not path.is_file():
            continue
        data = path.read_bytes()
        ns = root_namespace(data)
        if ns is None:
            continue  # a record from before the schema (version 0), or not XML (U2 reports it)
        ref = ref_of_namespace(ns)
        if ref is None:
            problems.append(messages.text("records.schema.unknown_namespace", file=rel, namespace=ns))
            continue
        carried_path = root / ref.package_path
        carried = carried_path.read_bytes() if carried_path.is_file() else None
        published = shipped_xsd(ref)
        if published is not None and carried is not None and carried != published and ref not in reported:
            reported.add(ref)  # one problem per schema file, however many documents use it
            problems.append(messages.text("records.schema.carried_differs", file=ref.package_path,
                                          version=ref.version,
                                          kind=messages.label("record_schema_kind", ref.kind)))
        xsd = published or carried
        if published is None and carried is not None and not self_contained(carried):
            problems.append(messages.text("records.schema.not_self_contained", xsd=ref.package_path))
            continue
        if xsd is None:
            problems.append(messages.text("records.schema.missing", file=rel, namespace=ns,
                                          xsd=ref.package_path))
            continue
        try:
            errors = validate_bytes(data, xsd)
        except etree.XMLSchemaParseError as exc:
            problems.append(messages.text("records.schema.unreadable", xsd=ref.package_path, error=str(exc)))
            continue
        if errors:
            problems.append(messages.text("records.schema.invalid", file=rel, xsd=ref.file_name,
                                          errors="；".join(errors[:5])))
    return problems


def package_schemas(refs: list[SchemaRef]) -> list[tuple[str, bytes]]:
    """The XSD files a package carries for the given versions: (path in the package, bytes)."""
    out = []
    for ref in refs:
        xsd = shipped_xsd(ref)
        if xsd is None:
            raise SchemaError(ref.package_path, [f"{ref.file_name} is not shipped"])
        out.append((ref.package_path, xsd))
    return out


__all__ = ["CURRENT", "SCHEMA_DIRS", "SchemaError", "SchemaRef", "current", "package_schemas",
           "ref_of_namespace", "root_namespace", "shipped_xsd", "validate_bytes", "validate_package_xml",
           "validate_written"]
