"""The archival code (档号) scheme, DA/T 13-2022 by item: ``全宗号-类别号·年度-保管期限-件号``.

``-`` separates levels and ``·`` joins parts within one level; the year has 4 digits, the
retention code is ``Y``/``D30``/``D10``, the 件号 4 digits zero-padded (more digits once a
year passes 9999). The 全宗号 and the category (``KU·PZ``: 会计·凭证 — vendor practice,
unconfirmed against the standard) come from settings so an archive can change them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from archive.errors import bad_input

_PART = r"[A-Za-z0-9]+"
CODE_RE = re.compile(
    rf"^(?P<fonds>{_PART})-(?P<category>{_PART}(?:·{_PART})*)·(?P<year>\d{{4}})"
    r"-(?P<retention>Y|D\d{1,3})-(?P<item>\d{4,})$"
)


@dataclass(frozen=True)
class ArchivalCode:
    fonds: str
    category: str
    year: int
    retention: str
    item_no: int

    @property
    def series(self) -> str:
        """The running-number sequence this code belongs to (件号 is gap-free within it)."""
        return f"{self.fonds}-{self.category}·{self.year}"

    def __str__(self) -> str:
        return f"{self.series}-{self.retention}-{self.item_no:04d}"


def series_for(fonds: str, category: str, year: int) -> str:
    return f"{fonds}-{category}·{year}"


def make_code(fonds: str, category: str, year: int, retention: str, item_no: int) -> ArchivalCode:
    code = ArchivalCode(fonds, category, year, retention, item_no)
    parse_code(str(code))  # validates the settings' parts
    return code


def parse_code(text: str) -> ArchivalCode:
    """Read a 档号; raise a bad-input error naming what does not fit the scheme."""
    m = CODE_RE.match(text or "")
    if not m:
        raise bad_input("bad_archival_code",
                        f"档号 {text!r} does not match 全宗号-类别号·年度-保管期限-件号 "
                        "(e.g. Z001-KU·PZ·2025-D30-0001)")
    item = int(m["item"])
    if item < 1:
        raise bad_input("bad_archival_code", f"档号 {text!r}: 件号 starts at 0001")
    return ArchivalCode(m["fonds"], m["category"], int(m["year"]), m["retention"], item)


def dir_name(code: ArchivalCode | str, version: int = 1) -> str:
    """A file-system-safe folder name for a package (``·`` → ``.``)."""
    name = str(code).replace("·", ".")
    return name if version == 1 else f"{name}.v{version}"
