"""Attack files built inside the tests from the real samples (never stored in the repo).

* ``strip_and_raise``: remove every signature of an OFD (the ``Signs`` folder and its entry in
  ``OFD.xml``) and raise the printed total, so that amount + tax no longer equals the total.
* ``lookalike``: the same invoice with its number spelled in other Unicode digits
  (full-width ２４４…, Arabic-Indic ٢٤٤…), which NFKC folding must turn back into ASCII.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable

FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
_SIGNATURES = re.compile(rb"<(?:ofd:)?Signatures>.*?</(?:ofd:)?Signatures>", re.S)


def rewrite_ofd(data: bytes, member: Callable[[str, bytes], bytes | None]) -> bytes:
    """A copy of the OFD zip with each member passed through ``member`` (None drops it)."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            new = member(info.filename, src.read(info))
            if new is not None:
                z.writestr(info, new)
    return out.getvalue()


def strip_and_raise(data: bytes, total: str, new_total: str) -> bytes:
    """The OFD without its signatures and with ``total`` printed as ``new_total`` everywhere
    it is a text value (XML element text, page text after ¥), not in drawing coordinates."""
    pattern = re.compile(rb"(?<=[>\xa5])" + re.escape(total.encode()) + rb"(?=[<\]])")

    def member(name: str, body: bytes) -> bytes | None:
        if "/signs/" in f"/{name.lower()}":
            return None
        if name.lower().endswith("ofd.xml"):
            body = _SIGNATURES.sub(b"", body)
        if name.lower().endswith(".xml"):
            body = pattern.sub(new_total.encode(), body)
        return body

    return rewrite_ofd(data, member)


def lookalike(data: bytes, number: str, digits: dict[int, int]) -> bytes:
    """The OFD with its invoice number written in other digits in every XML member."""
    spelled = number.translate(digits).encode("utf-8")

    def member(name: str, body: bytes) -> bytes | None:
        return body.replace(number.encode(), spelled) if name.lower().endswith(".xml") else body

    return rewrite_ofd(data, member)
