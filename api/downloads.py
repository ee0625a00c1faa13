"""``Content-Disposition`` for files whose names came from users (RFC 6266, RFC 5987).

An uploaded file's name is whatever the uploader's system sent: it can hold a newline
(``a\\nSet-Cookie: x.ofd``), quotes, backslashes, path separators, bidi overrides that flip
``fdp.exe`` into view, or only Chinese. The header gets two forms of it:
``filename*=UTF-8''…`` (percent-encoded UTF-8, what current browsers use) with every
control, format and separator character replaced by ``_``, and a plain ``filename="…"``
fallback of ASCII letters, digits and ``._-()`` only. A folder part is dropped. Neither can break the header, so the
original stays downloadable whatever it was called.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

MAX_NAME = 150
_ASCII_UNSAFE = re.compile(r"[^A-Za-z0-9._()\-]+")


def clean_filename(name: str | None, fallback: str) -> str:
    """The name with nothing a header, a file system or a reader could be fooled by."""
    # only the last path component: a name stored with its folder (the CLI imports paths)
    # must not tell the downloader where the file once lived
    text = re.split(r"[/\\]", unicodedata.normalize("NFC", name or ""))[-1]
    out = []
    for ch in text:
        cat = unicodedata.category(ch)
        unsafe = (cat[0] in ("C", "Z") and ch != " ") or ch in '/\\"'
        out.append("_" if unsafe else ch)
    cleaned = "".join(out).strip(" ._")
    if not cleaned:
        return fallback
    if len(cleaned) > MAX_NAME:
        stem, dot, ext = cleaned.rpartition(".")
        if dot and 0 < len(ext) <= 10:
            cleaned = stem[: MAX_NAME - len(ext) - 1] + "." + ext
        else:
            cleaned = cleaned[:MAX_NAME]
    return cleaned


def ascii_filename(name: str, fallback: str) -> str:
    """An ASCII-only stand-in for old clients: ``发票 (1).ofd`` becomes ``_(1).ofd``."""
    text = _ASCII_UNSAFE.sub("_", name).strip("_ ")
    stem = text.rsplit(".", 1)[0].strip("_")
    return text if stem else fallback


def content_disposition(name: str | None, fallback: str, inline: bool = False) -> str:
    """The header value: ``attachment; filename="ascii"; filename*=UTF-8''percent-encoded``."""
    clean = clean_filename(name, fallback)
    return (f"{'inline' if inline else 'attachment'}; filename=\"{ascii_filename(clean, fallback)}\"; "
            f"filename*=UTF-8''{quote(clean, safe='')}")
