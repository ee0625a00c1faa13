"""Where an OFD's e-seals are stamped, and the seal pictures to stamp there.

A signed OFD carries no picture of its seal on the page: the picture lives inside the
signature. ``Signature.xml`` names the spot (``SignedInfo/StampAnnot`` with ``PageRef`` and a
``Boundary`` in mm) and the ``SignedValue.dat`` (a DER ``SES_Signature``) holds the seal
(``ESeal`` → ``SES_SealInfo`` → ``picture{type, data, width, height}``). The picture is
``ofd`` (a small OFD whose one page draws the seal: the usual case for tax-bureau invoices),
``png``/``jpg``/``gif`` or ``bmp`` (bank receipts). A reader stamps it at the boundary; this
module finds the pairs, reading the ASN.1 with the structures of ``invoice.verify.ses`` (no
signature is checked here: that is ``fapiao verify``'s job, and the page says its verdict).
"""

from __future__ import annotations

import logging
import posixpath
from dataclasses import dataclass
from typing import Any

from invoice.errors import InvoiceError
from invoice.ofd import graphics
from invoice.ofd.package import OfdPackage
from invoice.ofd.xml import local, parse_member
from invoice.verify import ses

log = logging.getLogger(__name__)

MAX_STAMPS = 32


@dataclass(frozen=True, slots=True)
class Stamp:
    """One seal to draw: the page (its ``ID`` in Document.xml), the box (mm) and the picture."""

    page_id: str
    box: tuple[float, float, float, float]
    picture_type: str  # lower case: 'ofd', 'png', 'jpg', 'gif', 'bmp', …
    picture: bytes
    signature: str  # the Signature.xml member, for logs and tests


def seal_picture(signed_value: bytes) -> tuple[str, bytes] | None:
    """(type, bytes) of the seal picture inside a ``SignedValue.dat``; None if it has none.

    GB/T 38540 (V4) and GM/T 0031 (V1) signatures embed the seal; a GB/T 35275 signed data
    (some bank receipts) carries no picture.
    """
    try:
        kind = ses.detect(signed_value)
        sig: Any
        if kind == "v4":
            sig = ses.SESSignatureV4.load(signed_value)
        elif kind == "v1":
            sig = ses.SESSignatureV1.load(signed_value)
        else:
            return None
        picture = sig["to_sign"]["eseal"]["e_seal_info"]["picture"]
        kind_text = str(picture["type"].native or "").strip().lower()
        data = bytes(picture["data"].native or b"")
    except (ses.SesError, ValueError, TypeError, KeyError, AttributeError) as exc:
        log.info("no seal picture: %s", exc)
        return None
    return (kind_text, data) if data else None


def _signature_lists(pkg: OfdPackage) -> list[str]:
    lists: list[str] = []
    for el in pkg.ofd_xml().iter():
        if local(el.tag) == "Signatures" and el.text and el.text.strip():
            path = pkg.resolve(el.text.strip())
            if path is not None and path not in lists:
                lists.append(path)
    return lists


def stamps(pkg: OfdPackage) -> list[Stamp]:
    """Every seal of the package with a readable spot and picture, at most MAX_STAMPS.

    A signature that cannot be read is left out (the page then shows no seal there, and
    the verification report says why); it never stops the page from being drawn.
    """
    found: list[Stamp] = []
    for lst in _signature_lists(pkg):
        try:
            root = parse_member(pkg, lst, recover=True)
        except InvoiceError:
            continue
        base = posixpath.dirname(lst)
        for el in root.iter():
            if local(el.tag) != "Signature" or not el.get("BaseLoc"):
                continue
            path = pkg.resolve(el.get("BaseLoc") or "", base)
            if path is None:
                continue
            found.extend(_stamps_of(pkg, path))
            if len(found) >= MAX_STAMPS:
                return found[:MAX_STAMPS]
    return found


def _stamps_of(pkg: OfdPackage, path: str) -> list[Stamp]:
    try:
        root = parse_member(pkg, path, recover=True)
    except InvoiceError:
        return []
    folder = posixpath.dirname(path)
    value_ref = next((e.text.strip() for e in root.iter()
                      if local(e.tag) == "SignedValue" and e.text and e.text.strip()), None)
    if value_ref is None:
        return []
    value_path = pkg.resolve(value_ref, folder)
    if value_path is None:
        return []
    try:
        picture = seal_picture(pkg.read(value_path))
    except InvoiceError:
        return []
    if picture is None:
        return []
    out: list[Stamp] = []
    for el in root.iter():
        if local(el.tag) != "StampAnnot":
            continue
        b = graphics.box(el.get("Boundary"))
        if b is None or b[2] <= 0 or b[3] <= 0:
            continue
        out.append(Stamp((el.get("PageRef") or "").strip(), b, picture[0], picture[1], path))
    return out
