"""OCR'd tax IDs: kept only when their check character holds, repaired only when unambiguous.

A unified social credit code (GB 32100-2015) carries a check character, so a misread is
detected rather than believed: a wrong buyer tax ID would make a genuine invoice "not ours",
a wrong seller tax ID would fail the invoice's cross-checks. OCR's usual slips are tried in
turn, and a repair is accepted only when exactly one candidate checks:

* look-alikes outside the code's alphabet (O→0, I→1, Z→2, S→5, V→U, 了→J ...);
* one character read as another look-alike inside the alphabet (8↔B, 0↔D, 1↔L/T, ...);
* one or two characters too many (a stroke read as a letter: ``MA5AL`` → ``MRA5RAL``).

What cannot be repaired is dropped (``None``) and noted: an empty field asks a person to
look, a wrong one misleads.
"""

from __future__ import annotations

from itertools import combinations

from invoice.verify.taxid import USCC_CHARS, uscc_check_char

_OUTSIDE = str.maketrans({"O": "0", "I": "1", "Z": "2", "S": "5", "V": "U", "了": "J", "丁": "J",
                          "口": "0", "o": "0", "l": "1", "|": "1"})
_LOOKALIKES: dict[str, str] = {
    "0": "DQU", "1": "LT7", "2": "", "5": "", "6": "G", "7": "1T", "8": "B3", "3": "8",
    "B": "8", "D": "0", "G": "6", "L": "1", "T": "17", "U": "0", "Q": "0",
}


def is_uscc(code: str) -> bool:
    """18 characters of the code's alphabet whose check character holds."""
    return (len(code) == 18 and all(c in USCC_CHARS for c in code)
            and uscc_check_char(code[:17]) == code[17])


def repair_uscc(text: str) -> str | None:
    """The credit code OCR read as ``text``, repaired if that is unambiguous; else None.

    A 15- or 20-character legacy tax number (no check character) is returned as read when
    it is made of digits and capitals only; it cannot be verified either way.
    """
    raw = "".join(text.split()).upper().translate(_OUTSIDE)
    if is_uscc(raw):
        return raw
    if len(raw) == 15 and raw.isdigit():
        return raw  # old tax registration number: no check character
    candidates: set[str] = set()
    if len(raw) == 18:
        for i, c in enumerate(raw):
            for alt in _LOOKALIKES.get(c, ""):
                cand = raw[:i] + alt + raw[i + 1:]
                if is_uscc(cand):
                    candidates.add(cand)
    elif 19 <= len(raw) <= 20:
        extra = len(raw) - 18
        for drop in combinations(range(len(raw)), extra):
            cand = "".join(c for i, c in enumerate(raw) if i not in drop)
            if is_uscc(cand) and cand[2:8].isdigit():  # the region code is digits
                candidates.add(cand)
    return candidates.pop() if len(candidates) == 1 else None
